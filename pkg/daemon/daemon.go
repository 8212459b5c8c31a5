package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vipd/vipd/internal/hrtimer"
	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/hooks"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
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
}

// Config is what a Daemon runs: the checks and the instances resolved for
// this node (see config.Config.ForNode).
type Config struct {
	Checks    []health.Spec
	Instances []config.Instance
}

// Daemon runs every instance of one node.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	addrs   *netif.Addrs
	reloads chan reloadReq
	// phase is the grid every master advertises on (vrrp.Config.Phase):
	// routers of one interval send together.
	phase time.Time
	// timers is the routers' Sleeper: the few about to take over sleep
	// the last milliseconds on it.
	timers hrtimer.Pool

	mu        sync.Mutex // guards the fields below
	cfg       Config
	started   time.Time
	routers   []*running
	vipOwners map[netip.Addr][]*router.Router // the routers of each VIP, for the guard
	// moving are the VIPs that move between nodes: all but an address
	// owner's (priority 255), which are the node's own addresses. It is
	// replaced, never changed, so readers may keep it.
	moving      map[netip.Addr]bool
	socks       map[sockKey]*sock
	anns        map[string]*netif.Announcer
	monitor     *health.Monitor
	stopMon     func()
	hooks       *hooks.Runner
	hooksCancel context.CancelFunc
	hooksDone   chan struct{}
	drained     map[string]bool
	// waiting are the routers that cannot run yet: their interface, or
	// its address they advertise from, is not there (at boot, a VLAN or
	// bond made later). Any link or address event retries them.
	waiting []waitingRouter
	retry   chan struct{}
	errs    chan error // listener failures
	// changed tells Run that a router changed state since it last
	// looked.
	changed chan struct{}
}

// statusDelay is how long the summary for OnChange may lag behind a
// transition: the transitions of a burst (hundreds of routers starting or
// taking over, over tens of milliseconds) are summed up once.
const statusDelay = 100 * time.Millisecond

// settleWait is how long the routers must keep their states after a burst
// of transitions, or a reload, before the daemon hands the burst's memory
// back to the system.
const settleWait = time.Second

// sockKey names one shared VRRP socket: an interface and a family.
type sockKey struct {
	ifname string
	ipv6   bool
}

type sock struct {
	conn     *netif.Conn
	listener *router.Listener
	stop     context.CancelFunc
	done     chan struct{}
}

// waitingRouter is a router that waits for its interface or source
// address; status shows it in FAULT with the reason.
type waitingRouter struct {
	key    string
	inst   config.Instance
	fam    config.Family
	ifname string
	reason string
	since  time.Time
}

// running is one router and what it was built from.
type running struct {
	key    string // instance name and family
	inst   config.Instance
	sock   sockKey
	rt     *router.Router
	track  tracking
	cancel context.CancelFunc
	done   chan struct{}
}

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
	return &Daemon{
		opts:    opts,
		log:     log,
		cfg:     cfg,
		reloads: make(chan reloadReq),
		phase:   time.Now(),
		socks:   make(map[sockKey]*sock),
		anns:    make(map[string]*netif.Announcer),
		drained: make(map[string]bool),
		errs:    make(chan error, 1),
		changed: make(chan struct{}, 1),
		retry:   make(chan struct{}, 1),
	}
}

// Run opens the sockets, removes VIPs left by a previous run, and runs
// every virtual router until ctx is done. Then each master resigns with a
// priority-0 advertisement and hands its VIPs over before Run returns.
// started, if not nil, is called once every router runs.
func (d *Daemon) Run(ctx context.Context, started func()) error {
	// One netlink socket for every address change: a socket per request
	// costs a few hundred microseconds of each takeover.
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	d.addrs = netif.NewAddrs(h)
	defer d.addrs.Close()
	defer d.timers.Close()
	d.loadDrained()

	d.mu.Lock()
	d.started = time.Now()
	instances := d.cfg.Instances
	d.mu.Unlock()
	removeStale(d.addrs, instances, d.log)
	defer func() {
		d.mu.Lock()
		instances := d.cfg.Instances
		d.mu.Unlock()
		removeStale(d.addrs, instances, d.log)
	}()
	defer d.shutdown()

	if err := d.apply(d.cfg); err != nil {
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
// of the routers whose settings did not change. It returns when done.
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

// apply brings the running routers, checks and hooks in line with cfg. On
// the first call nothing runs yet; later calls are reloads.
func (d *Daemon) apply(cfg Config) error {
	d.mu.Lock()
	old := d.routers
	oldCfg := d.cfg
	oldWaiting := d.waiting
	first := d.monitor == nil
	d.mu.Unlock()

	// Build the new routers' configurations first: a reload that cannot
	// open a socket or find an interface changes nothing.
	type planned struct {
		inst config.Instance
		fam  config.Family
		key  string
		sk   sockKey
		rc   router.Config
	}
	var plan []planned
	var waiting []waitingRouter
	look := newLookups(cfg.Instances)
	for _, inst := range cfg.Instances {
		ifi, ierr := look.iface(inst.Interface)
		for _, fam := range inst.Families() {
			key := routerKey(inst.Name, fam.IPv6)
			if ierr != nil {
				waiting = append(waiting, waitingRouter{key: key, inst: inst, fam: fam, ifname: inst.Interface,
					reason: fmt.Sprintf("waiting for interface %s: %v", inst.Interface, ierr)})
				continue
			}
			src, err := look.source(inst, fam, ifi)
			if errors.Is(err, netif.ErrNoAddress) {
				what := "an IPv4 address"
				if fam.IPv6 {
					what = "a usable IPv6 link-local address"
				}
				waiting = append(waiting, waitingRouter{key: key, inst: inst, fam: fam, ifname: ifi.Name,
					reason: fmt.Sprintf("waiting for %s on %s", what, ifi.Name)})
				continue
			}
			if err != nil {
				return err
			}
			sk := sockKey{ifi.Name, fam.IPv6}
			plan = append(plan, planned{inst, fam, key, sk, routerConfig(inst, fam, ifi, src, d.phase)})
		}
	}
	for _, p := range plan {
		if err := d.openSocket(p.sk); err != nil {
			return fmt.Errorf("instance %q: %w", p.inst.Name, err)
		}
	}

	// Checks: a new monitor only when checks or tracked links changed,
	// seeded with the states of what stayed the same.
	links := linkNames(cfg.Instances)
	if first || !reflect.DeepEqual(oldCfg.Checks, cfg.Checks) || !slices.Equal(linkNames(oldCfg.Instances), links) {
		seed := map[string]health.Status{}
		if !first {
			snap := d.monitor.Snapshot()
			for _, s := range cfg.Checks {
				if i := slices.IndexFunc(oldCfg.Checks, func(o health.Spec) bool { return o.Name == s.Name }); i >= 0 && reflect.DeepEqual(oldCfg.Checks[i], s) {
					seed[s.Name] = snap[s.Name]
				}
			}
			for _, l := range links {
				if st, ok := snap[health.LinkCheckName(l)]; ok {
					seed[health.LinkCheckName(l)] = st
				}
			}
		}
		mon, err := health.NewMonitor(cfg.Checks, health.MonitorConfig{Links: links, Logger: d.log, Seed: seed})
		if err != nil {
			return err
		}
		if !first {
			d.stopMon()
		}
		d.startMonitor(mon)
	}

	// Hooks: a new runner when any notify command changed; it starts
	// once the old one has run what it had queued, so hooks stay in order.
	if first || !sameHooks(oldCfg.Instances, cfg.Instances) {
		runner := hooks.NewRunner(hooks.Options{Timeout: d.opts.HookTimeout, Logger: d.log})
		for _, inst := range cfg.Instances {
			if len(inst.Notify) == 0 {
				continue
			}
			if err := runner.Register(inst.Name, hooks.Hook{Command: inst.Notify}); err != nil {
				return fmt.Errorf("instance %q: notify: %w", inst.Name, err)
			}
		}
		d.startHooks(runner)
	}

	// Routers: keep, reconfigure in place, or replace.
	var next []*running
	var stopping []*running
	byKey := make(map[string]*running, len(old))
	for _, r := range old {
		byKey[r.key] = r
	}
	for _, p := range plan {
		r, ok := byKey[p.key]
		if ok && r.sock == p.sk && router.Reconfigurable(r.rt.Config(), p.rc) {
			delete(byKey, p.key)
			if !reflect.DeepEqual(r.rt.Config(), p.rc) {
				r.rt.Reconfigure(p.rc)
			}
			r.inst = p.inst
			r.track = newTracking(p.inst)
			next = append(next, r)
			continue
		}
		if ok {
			// Same instance, settings the protocol cannot change in
			// place: the old router resigns first (same VRID).
			delete(byKey, p.key)
			d.stopRouters([]*running{r})
		}
		next = append(next, d.newRouter(p.inst, p.sk, p.rc))
	}
	// A removed instance whose VRID a new one takes on the same socket
	// resigns first; the others resign in the background.
	taken := make(map[sockKey]map[uint8]bool)
	for _, r := range next {
		if r.cancel == nil {
			if taken[r.sock] == nil {
				taken[r.sock] = make(map[uint8]bool)
			}
			taken[r.sock][r.rt.VRID()] = true
		}
	}
	var clash []*running
	for _, r := range byKey {
		if taken[r.sock][r.rt.VRID()] {
			clash = append(clash, r)
		} else {
			stopping = append(stopping, r)
		}
	}
	d.stopRouters(clash)

	owners := make(map[netip.Addr][]*router.Router)
	moving := make(map[netip.Addr]bool)
	for _, r := range next {
		for _, p := range r.inst.VIPs {
			owners[p.Addr()] = append(owners[p.Addr()], r.rt)
		}
	}
	for _, inst := range cfg.Instances {
		if inst.Priority == 255 {
			continue
		}
		for _, p := range inst.VIPs {
			moving[p.Addr()] = true
		}
	}
	now := time.Now()
	d.mu.Lock()
	for i, w := range waiting {
		waiting[i].since = now
		for _, o := range d.waiting {
			if o.key == w.key && o.reason == w.reason {
				waiting[i].since = o.since
			}
		}
	}
	d.cfg = cfg
	d.routers = next
	d.vipOwners = owners
	d.moving = moving
	d.waiting = waiting
	d.mu.Unlock()

	for _, r := range next {
		if r.cancel == nil {
			d.startRouter(r)
		}
	}
	d.updateHealth()
	if !first {
		// Removed instances resign in the background: the others go on.
		go d.stopRouters(stopping)
		if !reflect.DeepEqual(oldCfg, cfg) {
			d.log.Info("configuration reloaded", "routers", len(next), "removed", len(stopping))
		}
	}
	for _, w := range waiting {
		if first || !slices.ContainsFunc(oldWaiting, func(o waitingRouter) bool { return o.key == w.key && o.reason == w.reason }) {
			d.log.Warn("instance cannot run yet", "instance", w.inst.Name, "router", w.key, "reason", w.reason)
		}
	}
	return nil
}

// retryWaiting applies the configuration again when routers wait for an
// interface or address: a link or address event may have brought it.
func (d *Daemon) retryWaiting() {
	d.mu.Lock()
	cfg, before := d.cfg, len(d.waiting)
	d.mu.Unlock()
	if before == 0 {
		return
	}
	if err := d.apply(cfg); err != nil {
		d.log.Error("cannot start the instances that waited", "error", err)
		return
	}
	d.mu.Lock()
	after := len(d.waiting)
	d.mu.Unlock()
	if after < before {
		d.log.Info("instances that waited started", "started", before-after, "still waiting", after)
	}
}

// poke asks Run to retry the waiting routers, if any.
func (d *Daemon) poke() {
	d.mu.Lock()
	n := len(d.waiting)
	d.mu.Unlock()
	if n == 0 {
		return
	}
	select {
	case d.retry <- struct{}{}:
	default:
	}
}

func routerKey(name string, ipv6 bool) string {
	if ipv6 {
		return name + "/ipv6"
	}
	return name + "/ipv4"
}

// openSocket opens the VRRP socket of sk and starts its listener, unless
// it is open.
func (d *Daemon) openSocket(sk sockKey) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.socks[sk]; ok {
		return nil
	}
	ifi, err := net.InterfaceByName(sk.ifname)
	if err != nil {
		return err
	}
	if _, ok := d.anns[ifi.Name]; !ok {
		ann, err := netif.DialAnnouncer(ifi)
		if err != nil {
			return err
		}
		d.anns[ifi.Name] = ann
	}
	f := netif.IPv4
	if sk.ipv6 {
		f = netif.IPv6
	}
	conn, err := netif.Dial(ifi, f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &sock{
		conn:     conn,
		listener: router.NewListener(readerOf{conn}, d.log.With("interface", ifi.Name)),
		stop:     cancel,
		done:     make(chan struct{}),
	}
	d.socks[sk] = s
	go func() {
		defer close(s.done)
		if err := s.listener.Run(ctx); err != nil {
			select {
			case d.errs <- fmt.Errorf("%s %v: %w", sk.ifname, f, err):
			default:
			}
		}
	}()
	return nil
}

func (d *Daemon) newRouter(inst config.Instance, sk sockKey, rc router.Config) *running {
	d.mu.Lock()
	s := d.socks[sk]
	ann := d.anns[sk.ifname]
	d.mu.Unlock()
	r := &running{key: routerKey(inst.Name, sk.ipv6), inst: inst, sock: sk, track: newTracking(inst)}
	deps := router.Deps{
		Sender:       s.conn,
		Addrs:        d.addrs,
		Announcer:    ann,
		Logger:       d.log,
		OnTransition: d.transition,
		Sleeper:      &d.timers,
	}
	r.rt = router.New(rc, deps)
	return r
}

// startRouter registers r with its listener and runs it.
func (d *Daemon) startRouter(r *running) {
	d.mu.Lock()
	s := d.socks[r.sock]
	d.mu.Unlock()
	if err := s.listener.Add(r.rt); err != nil {
		// Config validation rules out two instances on one VRID and
		// socket; a router being replaced was stopped first.
		panic(fmt.Sprintf("daemon: %v", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.rt.Run(ctx)
	}()
}

// stopRouters makes the routers resign and waits until they have handed
// their VIPs over.
func (d *Daemon) stopRouters(rs []*running) {
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		<-r.done
		d.mu.Lock()
		s := d.socks[r.sock]
		d.mu.Unlock()
		s.listener.Remove(r.rt.VRID())
	}
}

func (d *Daemon) startMonitor(mon *health.Monitor) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := mon.Run(ctx); err != nil {
			d.log.Error("health monitor stopped", "error", err)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-mon.Changes():
				d.updateHealth()
			}
		}
	})
	d.mu.Lock()
	d.monitor = mon
	d.stopMon = func() { cancel(); wg.Wait() }
	d.mu.Unlock()
}

// startHooks makes runner the one notified of transitions. The previous
// runner is told to stop: it runs what it has queued, and only then does
// the new one start, so that hooks never run out of order.
func (d *Daemon) startHooks(runner *hooks.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	d.mu.Lock()
	prev, prevCancel := d.hooksDone, d.hooksCancel
	d.hooks, d.hooksCancel = runner, cancel
	done := make(chan struct{})
	d.hooksDone = done
	d.mu.Unlock()
	if prevCancel != nil {
		prevCancel()
	}
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		runner.Run(ctx)
	}()
}

// shutdown stops the routers (masters hand over), then the hooks, the
// checks and the sockets.
func (d *Daemon) shutdown() {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	var started []*running
	for _, r := range rs {
		if r.cancel != nil {
			started = append(started, r)
		}
	}
	d.stopRouters(started)
	if d.opts.OnChange != nil {
		// The routers resigned after Run's loop ended.
		d.opts.OnChange(d.summary())
	}
	d.mu.Lock()
	d.hooks = nil
	if d.hooksCancel != nil {
		d.hooksCancel()
	}
	hooksDone := d.hooksDone
	stopMon := d.stopMon
	socks := d.socks
	anns := d.anns
	d.mu.Unlock()
	if hooksDone != nil {
		<-hooksDone
	}
	if stopMon != nil {
		stopMon()
	}
	for _, s := range socks {
		s.stop()
		s.conn.SetReadDeadline(time.Unix(1, 0))
		<-s.done
		s.conn.Close()
	}
	for _, a := range anns {
		a.Close()
	}
}

// transition runs with a router's state machine locked after each state
// change; st is the router's status after it.
func (d *Daemon) transition(st router.Status) {
	d.mu.Lock()
	runner := d.hooks
	d.mu.Unlock()
	if runner != nil {
		t := st.Transitions[len(st.Transitions)-1]
		runner.Notify(st.Instance, hooks.Event{
			Instance: st.Instance, Family: st.Family, VRID: st.VRID,
			From: t.From.String(), To: t.To.String(), Reason: t.Reason,
			VIPs: st.VIPs, Priority: st.Priority, At: t.At,
		})
	}
	select {
	case d.changed <- struct{}{}:
	default: // Run has yet to see an earlier change.
	}
}

// summary is one line of every router's state, e.g.
// "api/ipv4 MASTER, ingress/ipv4 BACKUP".
func (d *Daemon) summary() string {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	var b []byte
	for i, r := range rs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s %v", r.key, r.rt.State())
	}
	d.mu.Lock()
	ws := d.waiting
	d.mu.Unlock()
	for _, w := range ws {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s %v (%s)", w.key, vrrp.Fault, w.reason)
	}
	return string(b)
}

// updateHealth hands every router the result of its tracked checks and
// interfaces, and of drains.
func (d *Daemon) updateHealth() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.monitor == nil {
		return
	}
	states := d.monitor.States()
	for _, r := range d.routers {
		h := r.track.health(states)
		if d.drained[r.inst.Name] && h.Fault < vrrp.Drained {
			h.Fault = vrrp.Drained
		}
		r.rt.SetHealth(h)
	}
}

// Ping checks that every router's goroutine answers: the watchdog.
func (d *Daemon) Ping(ctx context.Context) error {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	var errs []error
	for _, r := range rs {
		if r.cancel == nil {
			continue
		}
		errs = append(errs, r.rt.Ping(ctx))
	}
	return errors.Join(errs...)
}

// Routers returns the status of every router, for metrics.
func (d *Daemon) Routers() []router.Status {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	out := make([]router.Status, len(rs))
	for i, r := range rs {
		out[i] = r.rt.Status()
	}
	return out
}

// Checks returns the state of every check and tracked interface.
func (d *Daemon) Checks() map[string]health.Status {
	d.mu.Lock()
	mon := d.monitor
	d.mu.Unlock()
	if mon == nil {
		return nil
	}
	return mon.Snapshot()
}

// SocketDrops returns the drop counters of one socket.
func (d *Daemon) socketDrops(sk sockKey) map[vrrp.DropReason]uint64 {
	d.mu.Lock()
	s := d.socks[sk]
	d.mu.Unlock()
	out := make(map[vrrp.DropReason]uint64)
	if s == nil {
		return out
	}
	for _, r := range vrrp.DropReasons() {
		out[r] = s.listener.Dropped(r)
	}
	return out
}

// sockets returns the open sockets' keys in a stable order.
func (d *Daemon) sockets() []sockKey {
	d.mu.Lock()
	keys := slices.Collect(maps.Keys(d.socks))
	d.mu.Unlock()
	slices.SortFunc(keys, func(a, b sockKey) int {
		if a.ifname != b.ifname {
			if a.ifname < b.ifname {
				return -1
			}
			return 1
		}
		if a.ipv6 == b.ipv6 {
			return 0
		}
		if b.ipv6 {
			return -1
		}
		return 1
	})
	return keys
}

// lookups reads interfaces and their source addresses once per
// configuration change: with hundreds of instances on one interface, two
// netlink dumps per instance were most of the start-up time.
type lookups struct {
	vips      map[netip.Addr]bool // of every instance
	ifaces    map[string]*net.Interface
	primary   map[int]netip.Addr // IPv4 source by interface index
	linkLocal map[int]netip.Addr // IPv6 link-local source by interface index
}

func newLookups(instances []config.Instance) *lookups {
	l := &lookups{vips: make(map[netip.Addr]bool), ifaces: make(map[string]*net.Interface),
		primary: make(map[int]netip.Addr), linkLocal: make(map[int]netip.Addr)}
	for _, inst := range instances {
		for _, p := range inst.VIPs {
			l.vips[p.Addr()] = true
		}
	}
	return l
}

func (l *lookups) iface(name string) (*net.Interface, error) {
	if ifi, ok := l.ifaces[name]; ok {
		return ifi, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	l.ifaces[name] = ifi
	return ifi, nil
}

// source returns the address the instance advertises from in family fam:
// the link-local address for IPv6 multicast (RFC 9568 requires it), the
// configured unicast source, or the interface's first IPv4 address that is
// no instance's VIP (a master holds its VIPs on the same interface).
func (l *lookups) source(inst config.Instance, fam config.Family, ifi *net.Interface) (netip.Addr, error) {
	unicast := inst.Unicast || len(fam.UnicastPeers) > 0
	if fam.IPv6 && !unicast {
		if a, ok := l.linkLocal[ifi.Index]; ok {
			return a, nil
		}
		a, err := netif.LinkLocal(ifi)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("instance %q: %w", inst.Name, err)
		}
		l.linkLocal[ifi.Index] = a
		return a, nil
	}
	if fam.UnicastSource.IsValid() {
		return fam.UnicastSource, nil
	}
	if fam.IPv6 {
		return netip.Addr{}, fmt.Errorf("instance %q: IPv6 unicast needs unicast_source or the node's address6", inst.Name)
	}
	if a, ok := l.primary[ifi.Index]; ok {
		return a, nil
	}
	a, err := netif.PrimaryIPv4(ifi, func(a netip.Addr) bool { return l.vips[a] })
	if err != nil {
		return netip.Addr{}, fmt.Errorf("instance %q: %w", inst.Name, err)
	}
	l.primary[ifi.Index] = a
	return a, nil
}

func routerConfig(inst config.Instance, fam config.Family, ifi *net.Interface, src netip.Addr, phase time.Time) router.Config {
	var pw [8]byte
	copy(pw[:], inst.AuthPassword)
	var peers []netip.Addr
	if inst.Unicast || len(fam.UnicastPeers) > 0 {
		peers = fam.UnicastPeers
	}
	return router.Config{
		Instance:  inst.Name,
		VRID:      inst.VRID,
		IfIndex:   ifi.Index,
		Interface: ifi.Name,
		Label:     netif.Label(ifi.Name),
		Machine: vrrp.Config{
			Version:      inst.Version,
			Priority:     inst.Priority,
			Interval:     inst.AdvertInterval,
			Preempt:      inst.Preempt,
			PreemptDelay: inst.PreemptDelay,
			Primary:      src,
			Phase:        phase,
		},
		VIPs:        fam.VIPs,
		Peers:       peers,
		Password:    pw,
		GARPRepeat:  inst.GARPRepeat,
		GARPRefresh: inst.GARPRefresh,
	}
}

func sameHooks(a, b []config.Instance) bool {
	hooksOf := func(is []config.Instance) map[string][]string {
		m := make(map[string][]string)
		for _, i := range is {
			if len(i.Notify) > 0 {
				m[i.Name] = i.Notify
			}
		}
		return m
	}
	return reflect.DeepEqual(hooksOf(a), hooksOf(b))
}

// removeStale removes the VIPs of the instances from their interfaces: at
// start-up they were left by a daemon that crashed (this node is not
// master yet), at exit they must not outlive the daemon. An address owner
// (priority 255) holds its VIPs as real addresses and keeps them.
func removeStale(addrs *netif.Addrs, instances []config.Instance, log *slog.Logger) {
	// One listing per interface: hundreds of instances share one.
	type iface struct {
		index int
		have  []netip.Prefix
	}
	ifaces := make(map[string]*iface)
	for _, inst := range instances {
		if inst.Priority == 255 {
			continue
		}
		ifc, ok := ifaces[inst.Interface]
		if !ok {
			ifaces[inst.Interface] = nil // a failure is not retried
			ifi, err := net.InterfaceByName(inst.Interface)
			if err != nil {
				continue
			}
			have, err := addrs.List(ifi.Index)
			if err != nil {
				log.Warn("cannot list addresses", "interface", ifi.Name, "error", err)
				continue
			}
			ifc = &iface{ifi.Index, have}
			ifaces[inst.Interface] = ifc
		}
		if ifc == nil {
			continue
		}
		for _, p := range inst.VIPs {
			if !slices.Contains(ifc.have, p) {
				continue
			}
			if err := addrs.Remove(ifc.index, p); err != nil {
				log.Error("cannot remove stale VIP", "instance", inst.Name, "vip", p, "error", err)
				continue
			}
			log.Info("removed VIP not held by a running master", "instance", inst.Name, "vip", p, "interface", inst.Interface)
		}
	}
}

// readerOf adapts a netif.Conn to router.Reader.
type readerOf struct{ c *netif.Conn }

func (r readerOf) ReadEach(handle func([]byte, router.Packet)) error {
	return r.c.ReadEach(func(b []byte, m netif.Meta) {
		handle(b, router.Packet{Src: m.Src, Dst: m.Dst, TTL: m.TTL, Overflows: m.Overflows, Received: m.Received})
	})
}

func (r readerOf) SetReadDeadline(t time.Time) error { return r.c.SetReadDeadline(t) }

func (r readerOf) Pending() bool { return r.c.Pending() }
