package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/routed"
	"github.com/vipd/vipd/pkg/router"
)

// Options configure a Daemon.
type Options struct {
	// Node is this node's name in the cluster, for status.
	Node string
	// ConfigPath is the configuration file, for status.
	ConfigPath string
	// Version is vipd's version, for status.
	Version string
	// StateDir keeps state across restarts (the drained instances); ""
	// keeps it in memory only.
	StateDir string
	// HookTimeout bounds each notify hook run; 0 means the default.
	HookTimeout time.Duration
	// OnChange, if set, is called after state transitions with a one line
	// summary of all routers (for systemd's STATUS=), by Run's goroutine,
	// at most once per statusDelay: the transitions of a burst (every
	// router starting, or taking over at once) are summed up once, not
	// once each. It must not block.
	OnChange func(summary string)
	// Logger receives the daemon's logs; nil discards.
	Logger *slog.Logger
	// System is the host the daemon runs on; nil means this one, through
	// netlink and raw sockets.
	System System
	// NewSpeaker makes the BGP speaker of instances announced over BGP;
	// nil refuses them (ErrNoBGP), and leaves GoBGP out of the binary.
	NewSpeaker newSpeakerFunc
	// Routes installs the kernel routes of announce = "route"; nil means
	// this host's, through netlink.
	Routes routed.RouteTable
}

// Config is what a Daemon runs: the checks and the instances resolved for
// this node (see config.Config.ForNode).
type Config struct {
	Checks    []health.Spec
	Instances []config.Instance
	// BGP is the speaker of the instances announced over BGP, resolved
	// for this node (router ID, passwords read); nil without [bgp].
	BGP *bgp.Config
}

// Daemon runs every instance of one node. Run's goroutine changes what
// runs (start-up, reloads, shutdown); the control API, metrics and the
// watchdog read it concurrently.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	sys     System
	reloads chan reloadReq
	// phase is the grid every master advertises on (vrrp.Config.Phase):
	// routers of one interval send together.
	phase time.Time
	// addrs is set by Run before anything uses it.
	addrs Addrs
	// drains are the drained instances, hooks the notify runners: each
	// with its own lock.
	drains drains
	hooks  hookSet
	// healthMu serialises updateHealth, so that the latest health is
	// the one each router keeps.
	healthMu sync.Mutex
	// syncMu serialises the decisions of sync groups (sync.go), so that
	// of two members whose timers run out together, the second sees the
	// first wanting.
	syncMu sync.Mutex
	// background are the removed routers resigning after a reload.
	background sync.WaitGroup
	// retry tells Run that routers wait and an interface or address
	// may have come.
	retry chan struct{}
	errs  chan error // listener failures
	// changed tells Run that a router changed state since it last
	// looked.
	changed chan struct{}

	mu sync.Mutex // guards live
	live
}

// live is what runs: the configuration and the parts built from it.
// commit replaces its fields under Daemon.mu, and never changes what they
// hold; readers copy them under the lock and may keep them.
type live struct {
	cfg     Config
	started time.Time
	routers []*running
	// waiting are the routers that cannot run yet: their interface, or
	// its address they advertise from, is not there (at boot, a VLAN or
	// bond made later). Any link or address event retries them.
	waiting   []waitingRouter
	vipOwners map[netip.Addr][]*router.Router // the routers of each VIP, for the guard
	// moving are the VIPs that move between nodes: all but an address
	// owner's (priority 255), which are the node's own addresses.
	moving map[netip.Addr]bool
	socks  map[sockKey]*sock
	anns   map[string]Announcer
	checks *checks
	// resigning are the removed routers resigning in the background.
	resigning []*running
	// routed are the instances announced by routing, speaker the BGP
	// speaker of those announced over BGP (nil when none is).
	routed  []*routedRunning
	speaker *speakerTask
}

// statusDelay is how long the summary for OnChange may lag behind a
// transition: the transitions of a burst (hundreds of routers starting or
// taking over, over tens of milliseconds) are summed up once.
const statusDelay = 100 * time.Millisecond

// settleWait is how long the routers must keep their states after a burst
// of transitions, or a reload, before the daemon hands the burst's memory
// back to the system.
const settleWait = time.Second

type reloadReq struct {
	cfg  Config
	done chan error
}

// New returns a daemon for cfg. It does no I/O; Run opens the sockets.
func New(cfg Config, opts Options) *Daemon {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sys := opts.System
	if sys == nil {
		sys = &netSystem{}
	}
	d := &Daemon{
		opts:    opts,
		log:     log,
		sys:     sys,
		reloads: make(chan reloadReq),
		phase:   time.Now(),
		errs:    make(chan error, 1),
		changed: make(chan struct{}, 1),
		retry:   make(chan struct{}, 1),
	}
	d.drains = newDrains(opts.StateDir, log)
	d.hooks.init()
	d.live = live{cfg: cfg, socks: make(map[sockKey]*sock), anns: make(map[string]Announcer)}
	return d
}

// Run opens the sockets, removes VIPs left by a previous run, and runs
// every virtual router until ctx is done. Then each master resigns with a
// priority-0 advertisement and hands its VIPs over before Run returns.
// started, if not nil, is called once every router runs.
func (d *Daemon) Run(ctx context.Context, started func()) error {
	if d.opts.System == nil {
		if c, ok := d.sys.(io.Closer); ok {
			defer c.Close()
		}
	}
	addrs, err := d.sys.OpenAddrs()
	if err != nil {
		return err
	}
	defer addrs.Close()
	d.addrs = addrs
	d.drains.load()

	d.mu.Lock()
	d.live.started = time.Now()
	instances := d.cfg.Instances
	d.mu.Unlock()
	d.removeStale(instances)
	defer func() {
		d.mu.Lock()
		instances := d.cfg.Instances
		d.mu.Unlock()
		d.removeStale(instances)
	}()
	defer d.shutdown()

	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	if err := d.apply(cfg); err != nil {
		return err
	}
	gctx, stopGuard := context.WithCancel(context.Background())
	guardDone := make(chan struct{})
	go func() {
		defer close(guardDone)
		d.guardVIPs(gctx)
	}()
	// The guard stops before the routers resign: their own removals are
	// not its business.
	defer func() { stopGuard(); <-guardDone }()
	if started != nil {
		started()
	}
	return d.loop(ctx)
}

// loop serves reloads, retries and status summaries until ctx is done or
// a socket fails.
func (d *Daemon) loop(ctx context.Context) error {
	settled := time.NewTimer(settleWait) // the start-up is a burst too
	defer settled.Stop()
	var status <-chan time.Time // the summary for OnChange is due
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-d.errs:
			// A socket that fails leaves its routers deaf: they would
			// take the VIPs from a healthy master. Stop everything.
			return err
		case r := <-d.reloads:
			r.done <- d.apply(r.cfg)
			settled.Reset(settleWait)
		case <-d.retry:
			d.retryWaiting()
		case <-d.changed:
			if d.opts.OnChange != nil && status == nil {
				status = time.After(statusDelay)
			}
			settled.Reset(settleWait)
		case <-status:
			status = nil
			d.opts.OnChange(d.summary())
		case <-settled.C:
			// Between bursts of work (the start-up, a reload, routers
			// taking over together) the heap hardly grows, so the
			// collector would leave a burst's garbage, and the
			// goroutine stacks it grew, for a long time: collect now
			// and give the free memory back to the system.
			debug.FreeOSMemory()
			d.addrs.Warm()
		}
	}
}

// Reload switches the running daemon to cfg, keeping the state and VIPs
// of the routers whose settings did not change. It returns when done; an
// error means nothing changed.
func (d *Daemon) Reload(ctx context.Context, cfg Config) error {
	r := reloadReq{cfg: cfg, done: make(chan error, 1)}
	select {
	case d.reloads <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown stops the routers (masters hand over), then the hooks, the
// checks and the sockets.
func (d *Daemon) shutdown() {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	// Routed instances withdraw and wait for the routers to converge
	// while the masters hand over.
	routedDone := make(chan struct{})
	go func() {
		defer close(routedDone)
		d.stopRouted()
	}()
	d.stopRouters(rs)
	<-routedDone
	d.background.Wait()
	if d.opts.OnChange != nil {
		// The routers resigned after Run's loop ended.
		d.opts.OnChange(d.summary())
	}
	// Hooks run what they have queued: the masters' last transitions.
	d.hooks.stop()
	d.mu.Lock()
	checks, socks, anns := d.checks, d.socks, d.anns
	d.mu.Unlock()
	checks.stop()
	for _, s := range socks {
		s.close()
	}
	for _, a := range anns {
		a.Close()
	}
}

// Live checks that every router's goroutine answers: the watchdog and
// the liveness probe.
func (d *Daemon) Live(ctx context.Context) error {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.ping(ctx))
	}
	return errors.Join(errs...)
}
