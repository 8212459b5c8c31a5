package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// Packet describes a received VRRP message: where it came from and the
// TTL / hop limit it arrived with.
type Packet struct {
	Src, Dst netip.Addr
	TTL      int
	// Overflows is the socket's count of packets dropped so far for want
	// of buffer space.
	Overflows uint32
	// Received is when the kernel received the packet, by the wall
	// clock; zero if unknown.
	Received time.Time
}

// Reader is the receiving side of a VRRP socket. A Reader may also report,
// by a method Pending() bool, whether packets received so far wait to be
// read or handed over: a router whose timer fires late lets the Listener
// read them first, and without the method it always waits.
type Reader interface {
	// ReadEach calls handle with each VRRP message received (without
	// its IP header), in the calling goroutine, until the socket fails
	// or the read deadline passes, and returns that error. b is valid
	// only during the call.
	ReadEach(handle func(b []byte, p Packet)) error
	SetReadDeadline(t time.Time) error
}

// Listener reads one VRRP socket (one interface and address family) and
// hands accepted advertisements to the routers registered for their VRID,
// in its own goroutine: a goroutine switch per advert would cost more
// than the rest of its handling. Invalid packets cost a parse and a
// counter increment, never a log line, so a flood of them cannot starve
// valid advertisements.
type Listener struct {
	r   Reader
	log *slog.Logger

	mu      sync.RWMutex
	routers [256]*Router

	drops [vrrp.DropBacklog + 1]atomic.Uint64

	// loggedLate is when a router of the listener last logged a late
	// timer (unix nanoseconds).
	loggedLate atomic.Int64

	// Sources already reported for an address-list mismatch, per VRID:
	// a VRID collision is logged once, not per packet.
	reported map[mismatchKey]bool
}

type mismatchKey struct {
	vrid uint8
	src  netip.Addr
}

// maxReported bounds the memory spent remembering reported collisions when
// sources are forged.
const maxReported = 1024

// NewListener returns a listener reading r; logger nil discards.
func NewListener(r Reader, logger *slog.Logger) *Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{r: r, log: logger, reported: make(map[mismatchKey]bool)}
}

// Add registers a router for its VRID. It fails if the VRID is taken.
func (l *Listener) Add(rt *Router) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old := l.routers[rt.VRID()]; old != nil {
		return fmt.Errorf("router: VRID %d already used by %v", rt.VRID(), old)
	}
	l.routers[rt.VRID()] = rt
	rt.listener.Store(l)
	return nil
}

// Remove unregisters rt, if it is the router registered for its VRID.
func (l *Listener) Remove(rt *Router) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.routers[rt.VRID()] != rt {
		return
	}
	rt.listener.CompareAndSwap(l, nil)
	l.routers[rt.VRID()] = nil
}

// pending reports whether packets received so far may still be handed
// over: the Reader says so, or cannot tell.
func (l *Listener) pending() bool {
	p, ok := l.r.(interface{ Pending() bool })
	return !ok || p.Pending()
}

// Dropped returns how many packets were dropped for reason.
func (l *Listener) Dropped(reason vrrp.DropReason) uint64 {
	if int(reason) >= len(l.drops) {
		return 0
	}
	return l.drops[reason].Load()
}

// maxReadDelay bounds the time a packet may have waited in the socket for
// its kernel timestamp to be believed: a longer one says the wall clock
// was stepped meanwhile.
const maxReadDelay = time.Second

// arrival is when a packet read at now (with a monotonic clock reading)
// arrived, from the kernel's wall-clock timestamp received: the master
// down timer then starts when the advert arrived, not when the reader,
// woken on a busy or idle processor, got to it. Without a believable
// timestamp it is now.
func arrival(now, received time.Time) time.Time {
	if received.IsZero() {
		return now
	}
	// now.Sub(received) compares wall clocks: received has no monotonic
	// reading. now.Add keeps now's.
	if waited := now.Sub(received); waited > 0 && waited < maxReadDelay {
		return now.Add(-waited)
	}
	return now
}

// Run reads packets until ctx is done or the socket fails.
func (l *Listener) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		// Unblock the read in progress.
		_ = l.r.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()

	var a vrrp.Advert
	handle := func(b []byte, p Packet) {
		if p.Overflows != 0 {
			l.drops[vrrp.DropBacklog].Store(uint64(p.Overflows))
		}
		l.handle(arrival(time.Now(), p.Received), b, p, &a)
	}
	for {
		err := l.r.ReadEach(handle)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		return fmt.Errorf("router: read: %w", err)
	}
}

// handle checks one packet and dispatches it; it returns why it was
// dropped, or DropNone.
func (l *Listener) handle(now time.Time, b []byte, p Packet, a *vrrp.Advert) vrrp.DropReason {
	reason := l.check(now, b, p, a)
	if reason != vrrp.DropNone {
		l.drops[reason].Add(1)
	}
	return reason
}

func (l *Listener) check(now time.Time, b []byte, p Packet, a *vrrp.Advert) vrrp.DropReason {
	// TTL first: it is the cheapest and most telling check.
	if p.TTL != vrrp.TTL {
		return vrrp.DropTTL
	}
	if err := a.Unmarshal(b, p.Src, p.Dst); err != nil {
		return vrrp.DropReasonOf(err)
	}
	l.mu.RLock()
	rt := l.routers[a.VRID]
	l.mu.RUnlock()
	if rt == nil {
		return vrrp.DropUnknownVRID
	}
	reason := rt.filter.Load().Check(p.TTL, p.Src, a)
	switch reason {
	case vrrp.DropNone:
	case vrrp.DropAddrMismatch:
		l.reportMismatch(rt, p.Src, a)
		return reason
	default:
		return reason
	}
	rt.receive(now, p.Src, a.Priority, a.Interval)
	return vrrp.DropNone
}

func (l *Listener) reportMismatch(rt *Router, src netip.Addr, a *vrrp.Advert) {
	rt.collision()
	k := mismatchKey{a.VRID, src}
	if l.reported[k] || len(l.reported) >= maxReported {
		return
	}
	l.reported[k] = true
	l.log.Warn("advertisement with another address list: likely a VRID collision",
		"instance", rt.name, "vrid", a.VRID, "from", src,
		"theirs", fmt.Sprint(a.Addrs), "ours", fmt.Sprint(rt.filter.Load().Addrs))
}
