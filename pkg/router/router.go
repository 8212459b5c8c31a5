package router

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// Router runs the state machine of one virtual router: it feeds it the
// advertisements the Listener accepted and its timer, and performs the
// actions it returns (actions.go). Its status is kept in a book for
// readers (status.go), its requests wait in pending (requests.go).
type Router struct {
	// name, vrid and family never change: the Listener, logs and the
	// daemon read them without a lock.
	name   string
	vrid   uint8
	family string
	deps   Deps
	log    *slog.Logger
	// cfg is replaced whole by a reload, never changed.
	cfg atomic.Pointer[Config]
	// filter is read by the Listener's goroutine and replaced by
	// reconfigure.
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
	// holds: the router binds its VIPs (it was last told to add them,
	// not to remove them). Address events that agree are its own doing.
	holds atomic.Bool
	// loggedLate is when a late timer was last logged while the router
	// had no Listener (unix nanoseconds).
	loggedLate atomic.Int64
	counters   counters
	book       book

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
	// again fires Config.GARPDelay after the router became master, for
	// the second round of announcements; nil until Run made it.
	again *time.Timer
	// loggedConflict is when a conflict was last logged.
	loggedConflict time.Time
	// healthForced is Health.Forced, the last health's; ordered is the
	// reason of the group order being obeyed, while it is; lastForced
	// what status says.
	healthForced string
	ordered      string
	lastForced   string
}

// New returns a router; Run starts it.
func New(cfg Config, deps Deps) *Router {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fam := cfg.family()
	log = log.With("instance", cfg.Instance, "vrid", cfg.VRID, "family", fam)
	if cfg.GARPRepeat < 1 {
		cfg.GARPRepeat = 1
	}
	cfg.Machine.Grouped = cfg.Group != ""
	addrs := cfg.vipAddrs()
	r := &Router{
		name:    cfg.Instance,
		vrid:    cfg.VRID,
		family:  fam,
		deps:    deps,
		log:     log,
		kick:    make(chan struct{}, 1),
		m:       vrrp.NewMachine(cfg.Machine),
		dsts:    cfg.destinations(),
		vipAddr: addrs,
		advert: vrrp.Advert{
			Version:  cfg.Machine.Version,
			VRID:     cfg.VRID,
			Interval: cfg.Machine.Interval,
			Addrs:    addrs,
		},
		sleeper: deps.Sleeper,
	}
	r.cfg.Store(&cfg)
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
	r.book.st = Status{
		Instance: cfg.Instance, VRID: cfg.VRID, Interface: cfg.Interface, Family: fam,
		Version: cfg.Machine.Version, State: vrrp.Initialize,
		BasePriority: cfg.Machine.Priority, Priority: cfg.Machine.Priority, VIPs: cfg.VIPs,
		Group:   cfg.Group,
		VIPDevs: cfg.vipDevs(),
	}
	return r
}

// VRID returns the router's virtual router identifier.
func (r *Router) VRID() uint8 { return r.vrid }

// Config returns the router's configuration.
func (r *Router) Config() Config { return *r.cfg.Load() }

// String names the router for errors.
func (r *Router) String() string {
	return fmt.Sprintf("instance %q vrid %d (%s)", r.name, r.vrid, r.family)
}

// Run runs the router until ctx is done, then resigns: a master sends a
// priority-0 advertisement and removes its VIPs once another router has
// taken over, or after a master down interval: Run returns then. The
// listener feeding the router must run until Run returns.
func (r *Router) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var refresh <-chan time.Time
	if d := r.cfg.Load().GARPRefresh; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		refresh = t.C
	}
	again := time.NewTimer(time.Hour)
	again.Stop()
	defer again.Stop()
	r.machine.Lock()
	r.again = again
	r.machine.Unlock()
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
		case <-again.C:
			r.announceAgain()
		}
	}
	return nil
}

// start starts the machine; checks decided before the start count from
// the start.
func (r *Router) start() {
	r.machine.Lock()
	defer r.machine.Unlock()
	if h := r.pending.takeHealth(); h != nil {
		r.setHealth(*h)
	}
	r.apply(r.m.Start(time.Now()))
}

// serve serves the pending requests; pings last, as proof that the
// others were served.
func (r *Router) serve() {
	health, reconf, guard, order, pings := r.pending.take()
	if health != nil || reconf != nil || guard || order != nil {
		r.machine.Lock()
		if reconf != nil {
			r.reconfigure(*reconf)
		}
		if health != nil {
			r.setHealth(*health)
		}
		if order != nil {
			r.obey(*order)
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

// announceAgain is the second round of announcements of a new master:
// neighbours that missed the first (a switch port still learning after a
// link came up drops frames for seconds) learn where the VIPs are.
func (r *Router) announceAgain() {
	r.machine.Lock()
	defer r.machine.Unlock()
	if r.m.State() == vrrp.Master && !r.m.Stopping() {
		r.announce(r.vipAddr, r.cfg.Load().GARPRepeat)
	}
}

// refreshVIPs announces a master's VIPs once more.
func (r *Router) refreshVIPs() {
	r.machine.Lock()
	defer r.machine.Unlock()
	if r.m.State() == vrrp.Master {
		r.announce(r.vipAddr, 1)
	}
}

func (r *Router) setHealth(h Health) {
	if r.m.Fault() == vrrp.LinkDown && h.Fault != vrrp.LinkDown {
		r.forgetUnresolved()
	}
	now := time.Now()
	r.healthForced = h.Forced
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

// forgetUnresolved has a unicast router whose interface came back forget
// the neighbour entries probed while it was down, before it sends again.
// Packets sent to the peers meanwhile (a timer served before the link
// event, or the node's own traffic to them: etcd, the kubelet) left
// entries that the kernel probes again only after its retransmit time, a
// second by default, holding the adverts sent after the link returned: a
// returning master would hold the VIPs that long unheard, with the other
// master still holding them.
func (r *Router) forgetUnresolved() {
	cfg := r.cfg.Load()
	if len(cfg.Peers) == 0 || r.deps.Neighbors == nil {
		return
	}
	n, err := r.deps.Neighbors.ForgetUnresolved(cfg.IfIndex, cfg.Machine.Primary.Is6())
	switch {
	case err != nil:
		r.log.Warn("interface back: unresolved neighbour entries not forgotten; adverts to the peers may wait for the kernel's next probe", "error", err)
	case n > 0:
		r.log.Info("interface back: forgot the neighbour entries probed while it was down", "entries", n)
	}
}

// receive hands the machine an accepted advertisement, on the Listener's
// goroutine.
func (r *Router) receive(at time.Time, src netip.Addr, priority uint8, interval time.Duration) {
	r.machine.Lock()
	out := r.m.Receive(at, src, priority, interval)
	r.counters.advertsIn.Add(1)
	if out.Conflict {
		r.counters.conflicts.Add(1)
		if time.Since(r.loggedConflict) > quiet {
			r.loggedConflict = time.Now()
			r.log.Warn("another master with lower priority: answering at once and announcing the VIPs again",
				"other", src, "their_priority", priority, "our_priority", r.m.Priority())
		}
	}
	r.apply(out)
	d := r.m.Deadline()
	earlier := !d.IsZero() && (r.armed.IsZero() || d.Before(r.armed))
	r.machine.Unlock()
	if earlier {
		r.poke()
	}
}

// collision counts an advert on our VRID with another address list; the
// Listener logs it once per source.
func (r *Router) collision() { r.counters.collisions.Add(1) }
