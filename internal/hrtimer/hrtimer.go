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
