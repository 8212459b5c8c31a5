// Package hrtimer sleeps until a point in time to within microseconds.
//
// Go's timers fire up to a millisecond late: when nothing else is due, the
// netpoller waits in epoll with a timeout in whole milliseconds. A VRRP
// backup's takeover is measured against the protocol's bound, so a router
// wakes a little early on a Go timer and sleeps the rest on a Timer here: a
// timerfd, which the kernel fires on time, read through the netpoller, so
// that the sleeping goroutine leaves the processor (and the netpoller,
// which may have packets to deliver meanwhile) to others.
package hrtimer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A Timer sleeps on a timerfd. Its methods must not be called
// concurrently.
type Timer struct {
	f   *os.File
	buf [8]byte // the expiration count read from the timerfd
}

// New returns a Timer; Close releases its file descriptor.
func New() (*Timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("hrtimer: %w", os.NewSyscallError("timerfd_create", err))
	}
	// Non-blocking, the file is read through the netpoller.
	return &Timer{f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

// SleepUntil returns once t has come. It returns at once for a t in the
// past, and early with an error wrapping os.ErrClosed if the Timer is
// closed meanwhile.
func (t *Timer) SleepUntil(at time.Time) error {
	// The monotonic clock of at and of the timerfd are the same one, but
	// Go does not expose its reading: set the timer relative to now.
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	rc, err := t.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("hrtimer: %w", err)
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.TimerfdSettime(int(fd), 0, &spec, nil)
	}); err != nil {
		return fmt.Errorf("hrtimer: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("hrtimer: %w", os.NewSyscallError("timerfd_settime", serr))
	}
	if _, err := io.ReadFull(t.f, t.buf[:]); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("hrtimer: %w", os.ErrClosed)
		}
		return fmt.Errorf("hrtimer: read: %w", err)
	}
	return nil
}

// Close releases the timer; a SleepUntil in progress returns.
func (t *Timer) Close() error { return t.f.Close() }

// Pool sleeps precisely for any number of goroutines at once, each on a
// Timer taken for the time of its sleep. A backup router sleeps on one
// only in the last milliseconds before it takes over: a Timer per router
// would hold a file and a poller entry for nothing, hundreds of them on a
// node of many instances. A Pool keeps a few idle Timers for the next
// sleeps. The zero Pool is ready; its methods may be called concurrently.
type Pool struct {
	mu     sync.Mutex
	idle   []*Timer
	closed bool
}

// keepIdle is how many idle Timers a Pool keeps open.
const keepIdle = 4

// SleepUntil sleeps until at, as Timer.SleepUntil does.
func (p *Pool) SleepUntil(at time.Time) error {
	if time.Until(at) <= 0 {
		return nil
	}
	t, err := p.get()
	if err != nil {
		return err
	}
	err = t.SleepUntil(at)
	p.put(t, err)
	return err
}

func (p *Pool) get() (*Timer, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("hrtimer: %w", os.ErrClosed)
	}
	if n := len(p.idle); n > 0 {
		t := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return t, nil
	}
	p.mu.Unlock()
	return New()
}

// put takes back a Timer, unless it failed or enough are idle.
func (p *Pool) put(t *Timer, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || p.closed || len(p.idle) >= keepIdle {
		t.Close()
		return
	}
	p.idle = append(p.idle, t)
}

// Idle returns how many idle Timers the Pool holds open.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close closes the idle Timers. Sleeps in progress end on time; later
// ones fail with os.ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, t := range p.idle {
		t.Close()
	}
	p.idle = nil
	return nil
}
