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
}

// Reader is the receiving side of a VRRP socket. ReadPacket returns the
// VRRP message without the IP header.
type Reader interface {
	ReadPacket(b []byte) (n int, p Packet, err error)
	SetReadDeadline(t time.Time) error
}

// Listener reads one VRRP socket (one interface and address family) and
// dispatches accepted advertisements to the routers registered for their
// VRID. Invalid packets cost a parse and a counter increment, never a log
// line, so a flood of them cannot starve valid advertisements.
type Listener struct {
	r   Reader
	log *slog.Logger

	mu      sync.RWMutex
	routers [256]*Router

	drops [vrrp.DropBacklog + 1]atomic.Uint64

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
	return nil
}

// Remove unregisters the router of vrid.
func (l *Listener) Remove(vrid uint8) {
	l.mu.Lock()
	l.routers[vrid] = nil
	l.mu.Unlock()
}

// Dropped returns how many packets were dropped for reason.
func (l *Listener) Dropped(reason vrrp.DropReason) uint64 {
	if int(reason) >= len(l.drops) {
		return 0
	}
	return l.drops[reason].Load()
}

// Run reads packets until ctx is done or the socket fails.
func (l *Listener) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		// Unblock the read in progress.
		_ = l.r.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()

	buf := make([]byte, 9000)
	var a vrrp.Advert
	for {
		n, p, err := l.r.ReadPacket(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("router: read: %w", err)
		}
		l.handle(time.Now(), buf[:n], p, &a)
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
	if !rt.deliver(received{at: now, src: p.Src, priority: a.Priority, interval: a.Interval}) {
		return vrrp.DropBacklog
	}
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
		"instance", rt.cfg.Instance, "vrid", a.VRID, "from", src,
		"theirs", fmt.Sprint(a.Addrs), "ours", fmt.Sprint(rt.filter.Load().Addrs))
}
