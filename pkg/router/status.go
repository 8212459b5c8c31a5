package router

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// Status is a snapshot of a router for status output and metrics.
type Status struct {
	Instance  string
	VRID      uint8
	Interface string
	Family    string // "ipv4" or "ipv6"
	Version   uint8
	State     vrrp.State
	// BasePriority is the configured priority for this node; Priority the
	// effective one: moved by tracked check weights, and
	// vrrp.LastResortPriority while faulted.
	BasePriority uint8
	Priority     uint8
	Fault        vrrp.FaultKind
	Master       netip.Addr // the master heard from; invalid when we are master
	Since        time.Time
	Reason       string
	VIPs         []netip.Prefix
	// VIPDevs are the interfaces of the VIPs bound elsewhere than on
	// Interface, by address; nil when there are none.
	VIPDevs map[netip.Addr]string
	// Group is the sync group the router is a member of, "" for none.
	// WantsMaster: a member waits for its group to become master.
	// Forced says why the group holds it in its state, if it does.
	Group       string
	WantsMaster bool
	Forced      string
	// Transitions are the latest state changes, oldest first.
	Transitions []Transition
	Counters    Counters
}

// Transition is one state change and why it happened.
type Transition struct {
	At       time.Time
	From, To vrrp.State
	Reason   string
}

// Counters count what a router did since it started.
type Counters struct {
	AdvertsOut  uint64 // advertisements sent (one per destination)
	AdvertsIn   uint64 // advertisements accepted
	SendErrors  uint64
	Transitions uint64
	// Announcements counts gratuitous ARP / unsolicited NA packets: one
	// per VIP and round.
	Announcements uint64
	BindErrors    uint64
	// Conflicts counts adverts from another master of lower priority,
	// each answered at once.
	Conflicts uint64
	// Collisions counts adverts on this VRID with another address list:
	// another virtual router uses the same VRID.
	Collisions uint64
	// GuardRestored and GuardRemoved count VIPs put back on a master
	// after someone else removed them, and VIPs removed from a router
	// that is not master.
	GuardRestored uint64
	GuardRemoved  uint64
	// LateTimers counts timers served more than lateTimer after their
	// deadline: the process was stopped or starved.
	LateTimers uint64
}

// keptTransitions bounds the transition history a Status carries.
const keptTransitions = 16

// counters are a router's Counters, counted where the events happen,
// without a lock: the receive path counts every advert.
type counters struct {
	advertsOut, advertsIn, sendErrors, transitions, announcements  atomic.Uint64
	bindErrors, conflicts, collisions, guardRestored, guardRemoved atomic.Uint64
	lateTimers                                                     atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		AdvertsOut:    c.advertsOut.Load(),
		AdvertsIn:     c.advertsIn.Load(),
		SendErrors:    c.sendErrors.Load(),
		Transitions:   c.transitions.Load(),
		Announcements: c.announcements.Load(),
		BindErrors:    c.bindErrors.Load(),
		Conflicts:     c.conflicts.Load(),
		Collisions:    c.collisions.Load(),
		GuardRestored: c.guardRestored.Load(),
		GuardRemoved:  c.guardRemoved.Load(),
		LateTimers:    c.lateTimers.Load(),
	}
}

// book keeps the status of a router for its readers (vipctl, metrics,
// hooks, the daemon's summary): the router's goroutines write it after
// acting, readers copy it.
type book struct {
	mu sync.Mutex
	st Status // without Counters
}

// record writes what the machine's output and state leave the router
// with.
func (b *book) record(out vrrp.Output, priority uint8, fault vrrp.FaultKind, master netip.Addr, wants bool, forced string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.st.WantsMaster = wants
	b.st.Forced = forced
	b.st.Priority = priority
	b.st.Fault = fault
	b.st.Master = master
	switch {
	case out.Changed():
		now := time.Now()
		b.st.State = out.To
		b.st.Since = now
		b.st.Reason = out.Reason
		if len(b.st.Transitions) == keptTransitions {
			b.st.Transitions = slices.Delete(b.st.Transitions, 0, 1)
		}
		b.st.Transitions = append(b.st.Transitions, Transition{At: now, From: out.From, To: out.To, Reason: out.Reason})
	case out.Reason != "":
		b.st.Reason = out.Reason
	}
}

// reconfigured writes the settings a reload changed in place.
func (b *book) reconfigured(base uint8, vips []netip.Prefix, devs map[netip.Addr]string, group string) {
	b.mu.Lock()
	b.st.BasePriority = base
	b.st.VIPs = vips
	b.st.VIPDevs = devs
	b.st.Group = group
	b.mu.Unlock()
}

// snapshot returns the status without counters, the caller's to keep:
// VIPs are replaced, never written, and Transitions is copied.
func (b *book) snapshot() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	st.Transitions = slices.Clone(st.Transitions)
	return st
}

func (b *book) state() vrrp.State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st.State
}

// Status returns a snapshot of the router.
func (r *Router) Status() Status {
	st := r.book.snapshot()
	st.Counters = r.counters.snapshot()
	return st
}

// State returns the router's state: Status without the copy.
func (r *Router) State() vrrp.State { return r.book.state() }
