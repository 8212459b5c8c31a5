package router

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// Sender sends one VRRP message from src to dst on the router's interface.
type Sender interface {
	WriteTo(b []byte, src, dst netip.Addr) error
}

// AddrManager binds and unbinds virtual addresses.
type AddrManager interface {
	Add(ifindex int, p netip.Prefix, label string) error
	Remove(ifindex int, p netip.Prefix) error
	List(ifindex int) ([]netip.Prefix, error)
}

// Announcer tells the segment where the virtual addresses now live
// (gratuitous ARP, unsolicited neighbour advertisements).
type Announcer interface {
	Announce(addrs []netip.Addr) error
}

// Config is one virtual router: one instance of the configuration in one
// address family.
type Config struct {
	// Instance is the configured instance name, for logs and status.
	Instance string
	VRID     uint8
	// IfIndex and Interface name the interface the VIPs are bound to.
	IfIndex   int
	Interface string
	// Label marks IPv4 VIPs so operators see which addresses are vipd's.
	Label string
	// Machine configures the state machine; Machine.Primary is also the
	// source address of advertisements.
	Machine vrrp.Config
	// VIPs are the virtual addresses with the prefix length to bind them with,
	// all of one family.
	VIPs []netip.Prefix
	// Peers are the unicast peers; empty means the multicast group.
	Peers []netip.Addr
	// Password is the VRRPv2 simple password (zero: no authentication).
	Password [8]byte
	// GARPRepeat is how many gratuitous ARP / NA rounds announce a new
	// master; GARPRefresh, when non-zero, repeats one round while master.
	GARPRepeat  int
	GARPRefresh time.Duration
}

// Sleeper sleeps until a time, more precisely than Go's timers, which
// fire up to a millisecond late (the netpoller waits in whole
// milliseconds), and without keeping the processor from other goroutines.
type Sleeper interface {
	SleepUntil(t time.Time) error
}

// Deps are the parts a Router drives.
type Deps struct {
	Sender    Sender
	Addrs     AddrManager
	Announcer Announcer
	// Sleeper, if set, sleeps the last stretch before a takeover
	// deadline: the router's timer wakes it early by that much. A
	// takeover is measured against the protocol's bound. Tests in a
	// synctest bubble, where timers are exact, leave it nil.
	Sleeper Sleeper
	// Logger receives transitions and errors; nil discards.
	Logger *slog.Logger
	// OnTransition, if set, is called by the router's goroutine after
	// each state change has been acted on; it must not block.
	OnTransition func(Transition)
}

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

// early is how long before a takeover deadline the router's timer wakes
// it when it has a Sleeper: more than Go's timers are late.
const early = 3 * time.Millisecond

// lateTimer is how late a timer must fire to be counted and logged;
// lateSettle how long the router then lets the listener read the socket
// before it decides.
const (
	lateTimer  = 20 * time.Millisecond
	lateSettle = 5 * time.Millisecond
)

// quiet is the least time between two log lines about the same kind of
// incident (conflicts, late timers), which can otherwise repeat at the
// advert rate.
const quiet = 10 * time.Second

// keptTransitions bounds the transition history a Status carries.
const keptTransitions = 16

// Router runs the state machine of one virtual router: it feeds it the
// advertisements the Listener accepted and its timer, and performs the
// actions it returns.
type Router struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	// filter is read by the Listener's goroutine and replaced by
	// Reconfigure.
	filter atomic.Pointer[vrrp.Filter]
	// kick tells the Run goroutine that requests wait in pending, or
	// that an advert moved the deadline before the one its timer is set
	// for. One channel for all keeps what each of hundreds of waiting
	// routers holds small: a channel and a blocked select case cost
	// about 200 bytes each.
	kick    chan struct{}
	pending pending
	// listener is the Listener the router is added to, if any.
	listener atomic.Pointer[Listener]

	// machine serialises the state machine and the actions on its
	// output between the Run goroutine and the Listener's, which hands
	// over each advert in place. It guards the fields below.
	machine sync.Mutex
	m       *vrrp.Machine
	// armed is the deadline the Run goroutine's timer is set for. An
	// advert that moves the deadline later leaves the timer alone: the
	// timer finds the new deadline when it fires and is set again. A
	// backup's timer thus fires about once per two adverts instead of
	// being reset by each.
	armed  time.Time
	advert vrrp.Advert
	// buf holds the advert being sent, allocated by the first send to
	// the advert's size: a router that is never master has none.
	buf     []byte
	dsts    []netip.Addr
	vipAddr []netip.Addr
	bound   bool
	// sendFailing is set from a failed send to the next that succeeds:
	// a master whose adverts a firewall refuses logs that once, not
	// once per advert.
	sendFailing bool
	// sleeper is Deps.Sleeper, until it fails.
	sleeper Sleeper
	// When each kind of incident was last logged; loggedLate when the
	// router has no Listener (unix nanoseconds).
	loggedConflict time.Time
	loggedLate     atomic.Int64

	mu     sync.Mutex
	status Status
	// holds: the router binds its VIPs (it was last told to add them,
	// not to remove them). Address events that agree are its own doing.
	holds bool
}

// pending holds the requests made to a router until its Run goroutine
// serves them. Of each kind but pings, only the latest matters.
type pending struct {
	sync.Mutex
	health *Health
	reconf *Config
	guard  bool
	pings  []chan struct{}
}

// take returns the pending requests and clears them.
func (p *pending) take() (health *Health, reconf *Config, guard bool, pings []chan struct{}) {
	p.Lock()
	defer p.Unlock()
	health, reconf, guard, pings = p.health, p.reconf, p.guard, p.pings
	p.health, p.reconf, p.guard, p.pings = nil, nil, false, nil
	return
}

// New returns a router; Run starts it.
func New(cfg Config, deps Deps) *Router {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fam := "ipv4"
	if cfg.Machine.Primary.Is6() {
		fam = "ipv6"
	}
	log = log.With("instance", cfg.Instance, "vrid", cfg.VRID, "family", fam)

	addrs := make([]netip.Addr, len(cfg.VIPs))
	for i, p := range cfg.VIPs {
		addrs[i] = p.Addr()
	}
	dsts := cfg.Peers
	if len(dsts) == 0 {
		dsts = []netip.Addr{vrrp.GroupIPv4}
		if fam == "ipv6" {
			dsts = []netip.Addr{vrrp.GroupIPv6}
		}
	}
	if cfg.GARPRepeat < 1 {
		cfg.GARPRepeat = 1
	}
	r := &Router{
		cfg:     cfg,
		deps:    deps,
		log:     log,
		kick:    make(chan struct{}, 1),
		m:       vrrp.NewMachine(cfg.Machine),
		dsts:    dsts,
		vipAddr: addrs,
		advert: vrrp.Advert{
			Version:  cfg.Machine.Version,
			VRID:     cfg.VRID,
			Interval: cfg.Machine.Interval,
			Addrs:    addrs,
		},
		sleeper: deps.Sleeper,
	}
	r.filter.Store(&vrrp.Filter{
		Version:  cfg.Machine.Version,
		Password: cfg.Password,
		Interval: cfg.Machine.Interval,
		Addrs:    addrs,
		Peers:    cfg.Peers,
		Local:    []netip.Addr{cfg.Machine.Primary},
	})
	var none [8]byte
	if cfg.Machine.Version == 2 && cfg.Password != none {
		r.advert.AuthType = vrrp.AuthPassword
		r.advert.Password = cfg.Password
	}
	r.status = Status{
		Instance: cfg.Instance, VRID: cfg.VRID, Interface: cfg.Interface, Family: fam,
		Version: cfg.Machine.Version, State: vrrp.Initialize,
		BasePriority: cfg.Machine.Priority, Priority: cfg.Machine.Priority, VIPs: cfg.VIPs,
	}
	return r
}

// VRID returns the router's virtual router identifier.
func (r *Router) VRID() uint8 { return r.cfg.VRID }

// Status returns a snapshot of the router.
func (r *Router) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.Transitions = slices.Clone(st.Transitions)
	return st
}

// State returns the router's state: Status without the copy.
func (r *Router) State() vrrp.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status.State
}

// Health is what the router's tracked checks and interfaces make of it.
type Health struct {
	// Priority is the effective priority while not faulted.
	Priority uint8
	Fault    vrrp.FaultKind
}

// SetHealth hands the router the result of its tracked checks. Only the
// latest matters: a pending one is replaced.
func (r *Router) SetHealth(h Health) {
	r.pending.Lock()
	r.pending.health = &h
	r.pending.Unlock()
	r.poke()
}

// poke wakes the Run goroutine, unless it is due to wake already.
func (r *Router) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run runs the router until ctx is done, then resigns: a master sends a
// priority-0 advertisement and removes its VIPs once another router has
// taken over, or after a master down interval: Run returns then. The
// listener feeding the router must run until Run returns.
func (r *Router) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var refresh <-chan time.Time
	if r.cfg.GARPRefresh > 0 {
		t := time.NewTicker(r.cfg.GARPRefresh)
		defer t.Stop()
		refresh = t.C
	}
	r.start()
	// The loop waits with a small frame, the work being done in
	// methods: the collector then halves the goroutine's stack, which
	// hundreds of routers each hold while they wait.
	done := ctx.Done()
	for r.rearm(timer, done == nil) {
		select {
		case <-done:
			// A master hands over before it stops: the loop goes on
			// until the machine reaches Initialize.
			done = nil
			r.stop()
		case <-r.kick:
			// Also after an advert that moved the deadline earlier:
			// rearm sets the timer for it.
			r.serve()
		case <-timer.C:
			r.expire()
		case <-refresh:
			r.refreshVIPs()
		}
	}
	return nil
}

// start starts the machine; checks decided before the start count from
// the start.
func (r *Router) start() {
	r.machine.Lock()
	defer r.machine.Unlock()
	r.pending.Lock()
	h := r.pending.health
	r.pending.health = nil
	r.pending.Unlock()
	if h != nil {
		r.setHealth(*h)
	}
	r.apply(r.m.Start(time.Now()))
}

// serve serves the pending requests; pings last, as proof that the
// others were served.
func (r *Router) serve() {
	health, reconf, guard, pings := r.pending.take()
	if health != nil || reconf != nil || guard {
		r.machine.Lock()
		if reconf != nil {
			r.reconfigure(*reconf)
		}
		if health != nil {
			r.setHealth(*health)
		}
		if guard {
			r.checkVIPs()
		}
		r.machine.Unlock()
	}
	for _, p := range pings {
		close(p)
	}
}

// stop has the machine resign.
func (r *Router) stop() {
	r.machine.Lock()
	defer r.machine.Unlock()
	r.apply(r.m.Stop(time.Now()))
}

// rearm sets the timer for the machine's deadline, and reports whether
// Run goes on: not once a stopping machine reached Initialize.
func (r *Router) rearm(timer *time.Timer, stopping bool) bool {
	r.machine.Lock()
	defer r.machine.Unlock()
	if stopping && r.m.State() == vrrp.Initialize {
		return false
	}
	r.arm(timer)
	return true
}

// refreshVIPs announces a master's VIPs once more.
func (r *Router) refreshVIPs() {
	r.machine.Lock()
	defer r.machine.Unlock()
	if r.m.State() == vrrp.Master {
		r.announce(1)
	}
}

// expire serves the timer: the machine times out if its deadline has come,
// and is left alone if adverts moved it meanwhile.
func (r *Router) expire() {
	r.machine.Lock()
	defer r.machine.Unlock()
	if r.late() {
		// After a stall the Listener has a socket backlog to read, and
		// adverts waiting there must win over the late timer, so that a
		// healthy master is not usurped: let it read them first. With
		// nothing waiting, the lateness is the process's own work
		// (hundreds of routers taking over at once): go on.
		if r.unread() {
			r.logLate("reading waiting adverts before acting")
			r.machine.Unlock()
			time.Sleep(lateSettle)
			r.machine.Lock()
		} else {
			r.logLate("no advert waiting")
		}
	}
	if d := r.m.Deadline(); !d.IsZero() && r.sleeper != nil && r.m.State() == vrrp.Backup && time.Until(d) <= early {
		// Sleep the rest precisely, with the machine unlocked: the
		// Listener hands over adverts meanwhile, and one that comes
		// moves the deadline, which Timeout then finds not reached.
		r.machine.Unlock()
		err := r.sleeper.SleepUntil(d)
		r.machine.Lock()
		if err != nil {
			r.log.Error("precise timer failed: takeovers may come up to a millisecond late", "error", err)
			r.sleeper = nil
		}
	}
	r.apply(r.m.Timeout(time.Now()))
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

// Reconfigurable reports whether a router running with cfg can switch to
// next in place, keeping its state and VIPs: only the VIP list, the
// preemption settings and the announcement count may differ. Anything
// else (VRID, interface, version, interval, peers, password, source)
// needs a new router.
func Reconfigurable(cfg, next Config) bool {
	cfg.VIPs, next.VIPs = nil, nil
	cfg.Machine.Preempt, next.Machine.Preempt = false, false
	cfg.Machine.PreemptDelay, next.Machine.PreemptDelay = 0, 0
	cfg.Machine.Priority, next.Machine.Priority = 0, 0
	cfg.GARPRepeat, next.GARPRepeat = 0, 0
	return reflect.DeepEqual(cfg, next)
}

// Config returns the router's configuration.
func (r *Router) Config() Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// Reconfigure switches the router to next, which must be Reconfigurable
// from its configuration. A master binds the added VIPs, announces them,
// unbinds the removed ones and advertises the new list at once. The
// priority is not taken from next: it comes with SetHealth.
func (r *Router) Reconfigure(next Config) {
	r.pending.Lock()
	r.pending.reconf = &next
	r.pending.Unlock()
	r.poke()
}

func (r *Router) reconfigure(next Config) {
	if next.GARPRepeat < 1 {
		next.GARPRepeat = 1
	}
	old := r.cfg.VIPs
	addrs := make([]netip.Addr, len(next.VIPs))
	for i, p := range next.VIPs {
		addrs[i] = p.Addr()
	}
	f := *r.filter.Load()
	f.Addrs = addrs
	r.filter.Store(&f)
	r.m.SetPreempt(next.Machine.Preempt, next.Machine.PreemptDelay)
	r.mu.Lock()
	next.Machine.Priority = r.cfg.Machine.Priority
	r.cfg = next
	r.status.VIPs = next.VIPs
	r.mu.Unlock()
	r.vipAddr = addrs
	r.advert.Addrs = addrs
	if r.m.State() != vrrp.Master {
		return
	}
	var added []netip.Addr
	for _, p := range next.VIPs {
		if !slices.Contains(old, p) {
			if err := r.deps.Addrs.Add(r.cfg.IfIndex, p, r.cfg.Label); err != nil {
				r.log.Error("cannot bind VIP", "vip", p, "interface", r.cfg.Interface, "error", err)
				r.bound = false
			}
			added = append(added, p.Addr())
		}
	}
	for _, p := range old {
		if !slices.Contains(next.VIPs, p) {
			if err := r.deps.Addrs.Remove(r.cfg.IfIndex, p); err != nil {
				r.log.Error("cannot remove VIP", "vip", p, "interface", r.cfg.Interface, "error", err)
			}
		}
	}
	if !r.m.Stopping() {
		r.send(r.m.Priority())
	}
	if len(added) > 0 {
		for range r.cfg.GARPRepeat {
			if err := r.deps.Announcer.Announce(added); err != nil {
				r.log.Warn("cannot announce VIPs", "error", err)
				break
			}
		}
	}
	r.log.Info("reconfigured", "vips", fmt.Sprint(next.VIPs))
}

func (r *Router) setHealth(h Health) {
	now := time.Now()
	// Fault first: a router leaving fault must elect with the new
	// priority, and one entering it resigns whatever its priority.
	if h.Fault != vrrp.NoFault {
		r.apply(r.m.SetFault(now, h.Fault))
		r.apply(r.m.SetPriority(now, h.Priority))
	} else {
		r.apply(r.m.SetPriority(now, h.Priority))
		r.apply(r.m.SetFault(now, h.Fault))
	}
}

// receive hands the machine an accepted advertisement, on the Listener's
// goroutine.
func (r *Router) receive(at time.Time, src netip.Addr, priority uint8, interval time.Duration) {
	r.machine.Lock()
	out := r.m.Receive(at, src, priority, interval)
	r.mu.Lock()
	r.status.Counters.AdvertsIn++
	if out.Conflict {
		r.status.Counters.Conflicts++
	}
	r.mu.Unlock()
	if out.Conflict && time.Since(r.loggedConflict) > quiet {
		r.loggedConflict = time.Now()
		r.log.Warn("another master with lower priority: answering at once and announcing the VIPs again",
			"other", src, "their_priority", priority, "our_priority", r.m.Priority())
	}
	r.apply(out)
	d := r.m.Deadline()
	earlier := !d.IsZero() && (r.armed.IsZero() || d.Before(r.armed))
	r.machine.Unlock()
	if earlier {
		r.poke()
	}
}

// late counts a timer served well after the deadline it was set for, and
// reports whether it was.
func (r *Router) late() bool {
	d := r.armed
	if d.IsZero() {
		return false
	}
	if time.Since(d) < lateTimer {
		return false
	}
	r.mu.Lock()
	r.status.Counters.LateTimers++
	r.mu.Unlock()
	return true
}

// unread reports whether the router's Listener may have adverts received
// before now still to hand over; true if unknown.
func (r *Router) unread() bool {
	l := r.listener.Load()
	return l == nil || l.pending()
}

// logLate logs a late timer, at most once per quiet period and Listener:
// a stall, or a burst of takeovers, makes every router's timer late.
func (r *Router) logLate(then string) {
	last := &r.loggedLate
	if l := r.listener.Load(); l != nil {
		last = &l.loggedLate
	}
	now := time.Now()
	if prev := last.Load(); prev != 0 && now.Sub(time.Unix(0, prev)) <= quiet {
		return
	}
	last.Store(now.UnixNano())
	r.log.Warn("timer fired late: the process was stopped or starved; "+then,
		"late", time.Since(r.armed).Round(time.Millisecond), "state", r.m.State().String())
}

// collision counts an advert on our VRID with another address list; the
// Listener logs it once per source.
func (r *Router) collision() {
	r.mu.Lock()
	r.status.Counters.Collisions++
	r.mu.Unlock()
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
	r.mu.Lock()
	holds := r.holds
	mine := slices.ContainsFunc(r.status.VIPs, func(p netip.Prefix) bool { return p.Addr() == addr })
	r.mu.Unlock()
	if mine && added != holds {
		r.CheckVIPs()
	}
}

// checkVIPs puts back the VIPs someone removed from a master (and
// announces them again), and removes VIPs found on a router that is not
// master.
func (r *Router) checkVIPs() {
	if r.cfg.Machine.Priority == 255 {
		// The address owner holds its VIPs as real addresses.
		return
	}
	have, err := r.deps.Addrs.List(r.cfg.IfIndex)
	if err != nil {
		r.log.Warn("VIP guard: cannot list addresses", "interface", r.cfg.Interface, "error", err)
		return
	}
	master := r.m.State() == vrrp.Master
	var restored, removed []netip.Prefix
	for _, p := range r.cfg.VIPs {
		bound := slices.Contains(have, p)
		switch {
		case master && !bound:
			if err := r.deps.Addrs.Add(r.cfg.IfIndex, p, r.cfg.Label); err != nil {
				r.log.Error("VIP guard: cannot put the VIP back", "vip", p, "error", err)
				continue
			}
			restored = append(restored, p)
		case !master && bound:
			if err := r.deps.Addrs.Remove(r.cfg.IfIndex, p); err != nil {
				r.log.Error("VIP guard: cannot remove the VIP", "vip", p, "error", err)
				continue
			}
			removed = append(removed, p)
		}
	}
	if len(restored) == 0 && len(removed) == 0 {
		return
	}
	r.mu.Lock()
	r.status.Counters.GuardRestored += uint64(len(restored))
	r.status.Counters.GuardRemoved += uint64(len(removed))
	r.mu.Unlock()
	if len(restored) > 0 {
		r.log.Warn("VIP guard: VIPs removed by someone else put back and announced", "vips", fmt.Sprint(restored))
		r.announce(r.cfg.GARPRepeat)
	}
	if len(removed) > 0 {
		r.log.Warn("VIP guard: VIPs bound while not master removed", "vips", fmt.Sprint(removed), "state", r.m.State().String())
	}
}

// arm sets the timer to the machine's deadline, early for a
// takeover.
func (r *Router) arm(t *time.Timer) {
	d := r.m.Deadline()
	r.armed = d
	if d.IsZero() {
		t.Stop()
		return
	}
	if r.sleeper != nil && r.m.State() == vrrp.Backup {
		d = d.Add(-early)
	}
	t.Reset(time.Until(d))
}

func (r *Router) apply(out vrrp.Output) {
	// Bind first: the advert makes a resigning master release the VIPs,
	// and they must not be nowhere in between.
	if out.Actions.Has(vrrp.AddVIPs) {
		r.addVIPs()
	} else if out.Actions.Has(vrrp.SendAdvert) && r.m.State() == vrrp.Master && !r.bound {
		// Binding failed before (link not ready, say): retry with each
		// advertisement rather than hold the mastership without the VIPs.
		r.addVIPs()
	}
	if out.Actions.Has(vrrp.SendAdvert) {
		r.send(out.Priority)
	}
	if out.Actions.Has(vrrp.Announce) {
		r.announce(r.cfg.GARPRepeat)
	}
	if out.Actions.Has(vrrp.RemoveVIPs) {
		r.removeVIPs()
	}
	if out.Changed() {
		// Logged after acting: a takeover must not wait for the log.
		r.log.Info("state changed", "from", out.From.String(), "to", out.To.String(),
			"reason", out.Reason, "priority", r.m.Priority())
	}
	if out.Event != "" {
		r.log.Info(out.Event, "state", out.To.String(), "priority", r.m.Priority())
	}
	if out.Changed() && r.deps.OnTransition != nil {
		r.deps.OnTransition(Transition{At: time.Now(), From: out.From, To: out.To, Reason: out.Reason})
	}
	master, _ := r.m.Master()
	r.mu.Lock()
	r.status.Priority = r.m.Priority()
	r.status.Fault = r.m.Fault()
	if out.Changed() {
		now := time.Now()
		r.status.State = out.To
		r.status.Since = now
		r.status.Reason = out.Reason
		r.status.Counters.Transitions++
		if len(r.status.Transitions) == keptTransitions {
			r.status.Transitions = slices.Delete(r.status.Transitions, 0, 1)
		}
		r.status.Transitions = append(r.status.Transitions, Transition{At: now, From: out.From, To: out.To, Reason: out.Reason})
	} else if out.Reason != "" {
		r.status.Reason = out.Reason
	}
	r.status.Master = master
	r.mu.Unlock()
}

func (r *Router) send(priority uint8) {
	r.advert.Priority = priority
	src := r.cfg.Machine.Primary
	for _, dst := range r.dsts {
		// Encode per destination: the v3 checksum covers it.
		b, err := r.advert.Append(r.buf[:0], src, dst)
		if err != nil {
			// Config validation makes this unreachable; say so loudly if not.
			r.log.Error("cannot encode advertisement", "error", err)
			return
		}
		r.buf = b[:0]
		if err := r.deps.Sender.WriteTo(b, src, dst); err != nil {
			if !r.sendFailing {
				r.sendFailing = true
				r.log.Warn("cannot send advertisement; further failures are only counted until one succeeds", "to", dst, "error", err)
			}
			r.mu.Lock()
			r.status.Counters.SendErrors++
			r.mu.Unlock()
			continue
		}
		if r.sendFailing {
			r.sendFailing = false
			r.log.Info("advertisements sent again", "to", dst)
		}
		r.mu.Lock()
		r.status.Counters.AdvertsOut++
		r.mu.Unlock()
	}
}

func (r *Router) addVIPs() {
	r.bound = true
	r.mu.Lock()
	r.holds = true
	r.mu.Unlock()
	for _, p := range r.cfg.VIPs {
		if err := r.deps.Addrs.Add(r.cfg.IfIndex, p, r.cfg.Label); err != nil {
			r.bound = false
			r.mu.Lock()
			r.status.Counters.BindErrors++
			r.mu.Unlock()
			r.log.Error("cannot bind VIP", "vip", p, "interface", r.cfg.Interface, "error", err)
		}
	}
}

func (r *Router) removeVIPs() {
	r.bound = false
	r.mu.Lock()
	r.holds = false
	r.mu.Unlock()
	for _, p := range r.cfg.VIPs {
		if err := r.deps.Addrs.Remove(r.cfg.IfIndex, p); err != nil {
			r.log.Error("cannot remove VIP", "vip", p, "interface", r.cfg.Interface, "error", err)
		}
	}
}

func (r *Router) announce(rounds int) {
	for range rounds {
		if err := r.deps.Announcer.Announce(r.vipAddr); err != nil {
			r.log.Warn("cannot announce VIPs", "error", err)
			return
		}
		r.mu.Lock()
		r.status.Counters.Announcements += uint64(len(r.vipAddr))
		r.mu.Unlock()
	}
}

// String names the router for errors.
func (r *Router) String() string {
	return fmt.Sprintf("instance %q vrid %d (%s)", r.cfg.Instance, r.cfg.VRID, r.status.Family)
}
