package router

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/vipd/vipd/pkg/vrrp"
)

// pending holds the requests made to a router until its Run goroutine
// serves them. Of each kind but pings, only the latest matters.
type pending struct {
	sync.Mutex
	health *Health
	reconf *Config
	guard  bool
	order  *groupOrder
	pings  []chan struct{}
}

// groupOrder is what a router's sync group tells it to do.
type groupOrder struct {
	promote bool // else demote
	reason  string
}

// take returns the pending requests and clears them.
func (p *pending) take() (health *Health, reconf *Config, guard bool, order *groupOrder, pings []chan struct{}) {
	p.Lock()
	defer p.Unlock()
	health, reconf, guard, order, pings = p.health, p.reconf, p.guard, p.order, p.pings
	p.health, p.reconf, p.guard, p.order, p.pings = nil, nil, false, nil, nil
	return
}

// takeHealth returns the pending health, if any, and clears it.
func (p *pending) takeHealth() *Health {
	p.Lock()
	defer p.Unlock()
	h := p.health
	p.health = nil
	return h
}

// Health is what the router's tracked checks and interfaces make of it.
type Health struct {
	// Priority is the effective priority while not faulted.
	Priority uint8
	Fault    vrrp.FaultKind
	// Forced, when not empty, says that Fault is the router's sync
	// group's, not its own, and why: status shows it.
	Forced string
}

// Promote makes a backup master, soon, because its sync group becomes
// master; reason says why, for the transition and status.
func (r *Router) Promote(reason string) { r.order(groupOrder{promote: true, reason: reason}) }

// Demote makes a master backup, soon, without a word on the wire,
// because another member of its sync group heard a better master.
func (r *Router) Demote(reason string) { r.order(groupOrder{reason: reason}) }

func (r *Router) order(o groupOrder) {
	r.pending.Lock()
	r.pending.order = &o
	r.pending.Unlock()
	r.poke()
}

// SetHealth hands the router the result of its tracked checks. Only the
// latest matters: a pending one is replaced.
func (r *Router) SetHealth(h Health) {
	r.pending.Lock()
	r.pending.health = &h
	r.pending.Unlock()
	r.poke()
}

// Reconfigure switches the router to next, which must be Reconfigurable
// from its configuration. A master binds the added VIPs, announces them,
// unbinds the removed ones and advertises the new list at once. The
// effective priority is not taken from next: it comes with SetHealth.
func (r *Router) Reconfigure(next Config) {
	r.pending.Lock()
	r.pending.reconf = &next
	r.pending.Unlock()
	r.poke()
}

// CheckVIPs makes the router compare the VIPs bound on its interface with
// its state, soon: the daemon calls it when the kernel reports an address
// change of one of its VIPs.
func (r *Router) CheckVIPs() {
	r.pending.Lock()
	r.pending.guard = true
	r.pending.Unlock()
	r.poke()
}

// VIPChanged tells the router that the kernel added or removed addr on its
// interface. An event that agrees with what the router did last (it bound
// its VIPs, or removed them: the event is its own doing, mostly) costs
// nothing; one that contradicts it makes the router check all its VIPs,
// as CheckVIPs: listing the interface's addresses on every event would
// cost a netlink dump per VIP per takeover. The router's state would not
// do: it changes after the VIPs are bound, and the event may come first.
func (r *Router) VIPChanged(addr netip.Addr, added bool) {
	mine := slices.ContainsFunc(r.cfg.Load().VIPs, func(p netip.Prefix) bool { return p.Addr() == addr })
	if mine && added != r.holds.Load() {
		r.CheckVIPs()
	}
}

// Ping returns once the router's goroutine has gone round its loop: a
// watchdog's proof that the router is not stuck.
func (r *Router) Ping(ctx context.Context) error {
	p := make(chan struct{})
	r.pending.Lock()
	r.pending.pings = append(r.pending.pings, p)
	r.pending.Unlock()
	r.poke()
	select {
	case <-p:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("router %v does not answer: %w", r, ctx.Err())
	}
}

// poke wakes the Run goroutine, unless it is due to wake already.
func (r *Router) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}
