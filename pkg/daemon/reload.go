package daemon

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/hooks"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/router"
)

// A reload, and the start-up, is a plan applied all or nothing: prepare
// does everything that can fail (look interfaces and addresses up, open
// sockets, build the checks, register the hooks, build the routers)
// without touching what runs; commit then puts it in place, and cannot
// fail.

// change is a prepared reload.
type change struct {
	cfg     Config
	first   bool
	steps   []step
	want    map[string]wanted
	waiting []waitingRouter
	// Opened or built for the change; commit puts them in place, abort
	// closes them.
	socks   map[sockKey]*sock
	anns    map[string]Announcer
	routers map[string]*running // of start and replace steps
	monitor Monitor             // nil: the checks stay as they are
	hooks   *hooks.Runner       // nil: the hooks stay as they are
	routed  *routedChange
}

// apply brings the running routers, checks and hooks in line with cfg. On
// the first call nothing runs yet; later calls are reloads. An error means
// nothing changed.
func (d *Daemon) apply(cfg Config) error {
	c, err := d.prepare(cfg)
	if err != nil {
		return err
	}
	d.commit(c)
	return nil
}

// prepare does what can fail of a change to cfg; what runs is left alone.
func (d *Daemon) prepare(cfg Config) (_ *change, err error) {
	d.mu.Lock()
	old := d.live
	d.mu.Unlock()
	c := &change{
		cfg:     cfg,
		first:   old.checks == nil,
		want:    make(map[string]wanted),
		socks:   make(map[sockKey]*sock),
		anns:    make(map[string]Announcer),
		routers: make(map[string]*running),
	}
	defer func() {
		if err != nil {
			c.abort()
		}
	}()

	// The routers wanted, and those that must wait for their interface
	// or address.
	look := newLookups(d.sys, cfg.Instances)
	var want []wanted
	for _, inst := range cfg.Instances {
		if inst.Routed() {
			continue
		}
		ifi, ierr := look.iface(inst.Interface)
		for _, fam := range inst.Families() {
			key := routerKey(inst.Name, fam.IPv6)
			if ierr != nil {
				c.waiting = append(c.waiting, waitingRouter{key: key, inst: inst, fam: fam, ifname: inst.Interface,
					reason: fmt.Sprintf("waiting for interface %s: %v", inst.Interface, ierr)})
				continue
			}
			src, err := look.source(inst, fam, ifi)
			if errors.Is(err, netif.ErrNoAddress) {
				what := "an IPv4 address"
				if fam.IPv6 {
					what = "a usable IPv6 link-local address"
				}
				c.waiting = append(c.waiting, waitingRouter{key: key, inst: inst, fam: fam, ifname: ifi.Name,
					reason: fmt.Sprintf("waiting for %s on %s", what, ifi.Name)})
				continue
			}
			if err != nil {
				return nil, err
			}
			links, missing, lerr := look.vipLinks(fam)
			if lerr != nil {
				c.waiting = append(c.waiting, waitingRouter{key: key, inst: inst, fam: fam, ifname: ifi.Name,
					reason: fmt.Sprintf("waiting for interface %s of VIP %s: %v", fam.Devs[missing], missing, lerr)})
				continue
			}
			rc := routerConfig(inst, fam, ifi, src, d.phase)
			rc.VIPLinks = links
			w := wanted{key: key, inst: inst, sock: sockKey{ifi.Name, fam.IPv6}, rc: rc}
			want = append(want, w)
			c.want[key] = w
		}
	}

	if c.routed, err = d.prepareRouted(cfg, old, look); err != nil {
		return nil, err
	}

	// Sockets and announcers not open yet.
	for _, w := range want {
		ifi := look.ifaces[w.sock.ifname]
		// One announcer per interface, for the routers' own and those
		// their VIPs are bound on.
		for _, name := range append([]string{ifi.Name}, w.rc.LinkNames()...) {
			if old.anns[name] == nil && c.anns[name] == nil {
				ann, err := d.sys.DialAnnouncer(look.ifaces[name])
				if err != nil {
					return nil, fmt.Errorf("instance %q: %w", w.inst.Name, err)
				}
				c.anns[name] = ann
			}
		}
		if old.socks[w.sock] == nil && c.socks[w.sock] == nil {
			s, err := d.dialSock(ifi, w.sock)
			if err != nil {
				return nil, fmt.Errorf("instance %q: %w", w.inst.Name, err)
			}
			c.socks[w.sock] = s
		}
	}

	// Checks: a new monitor only when checks or tracked links changed,
	// seeded with the states of what stayed the same.
	links := linkNames(cfg.Instances)
	if c.first || !reflect.DeepEqual(old.cfg.Checks, cfg.Checks) || !slices.Equal(linkNames(old.cfg.Instances), links) {
		seed := map[string]health.Status{}
		if !c.first {
			snap := old.checks.mon.Snapshot()
			for _, s := range cfg.Checks {
				if i := slices.IndexFunc(old.cfg.Checks, func(o health.Spec) bool { return o.Name == s.Name }); i >= 0 && reflect.DeepEqual(old.cfg.Checks[i], s) {
					seed[s.Name] = snap[s.Name]
				}
			}
			for _, l := range links {
				if st, ok := snap[health.LinkCheckName(l)]; ok {
					seed[health.LinkCheckName(l)] = st
				}
			}
		}
		c.monitor, err = d.sys.NewMonitor(cfg.Checks, health.MonitorConfig{Links: links, Logger: d.log, Seed: seed})
		if err != nil {
			return nil, err
		}
	}

	// Hooks: a new runner when any notify command changed.
	if c.first || !sameHooks(old.cfg.Instances, cfg.Instances) {
		if c.hooks, err = d.newHooks(cfg.Instances); err != nil {
			return nil, err
		}
	}

	// Routers: what becomes of each, and the new ones.
	have := make([]current, len(old.routers))
	for i, r := range old.routers {
		have[i] = current{key: r.key, sock: r.sock, rc: r.rt.Config()}
	}
	c.steps = plan(have, want)
	for _, s := range c.steps {
		if s.verb != start && s.verb != replace {
			continue
		}
		w := c.want[s.key]
		sk := c.socks[w.sock]
		if sk == nil {
			sk = old.socks[w.sock]
		}
		ann := c.anns[w.sock.ifname]
		if ann == nil {
			ann = old.anns[w.sock.ifname]
		}
		c.routers[s.key] = d.newRouter(w, sk, ann)
	}
	return c, nil
}

// abort closes what prepare opened.
func (c *change) abort() {
	for _, s := range c.socks {
		s.close()
	}
	for _, a := range c.anns {
		a.Close()
	}
}

// commit puts a prepared change in place.
func (d *Daemon) commit(c *change) {
	d.mu.Lock()
	old := d.live
	d.mu.Unlock()
	byKey := make(map[string]*running, len(old.routers))
	for _, r := range old.routers {
		byKey[r.key] = r
	}

	// Routers replaced, and removed ones whose VRID a new router takes
	// on the same socket, resign first; the other removed ones resign
	// in the background once the new ones run.
	var first, later []*running
	for _, s := range c.steps {
		switch {
		case s.verb == replace || s.verb == stop && s.first:
			first = append(first, byKey[s.key])
		case s.verb == stop:
			later = append(later, byKey[s.key])
		}
	}
	d.stopRouters(first)

	socks := maps.Clone(old.socks)
	for sk, s := range c.socks {
		s.start(sk, d.errs)
		socks[sk] = s
	}
	anns := maps.Clone(old.anns)
	maps.Copy(anns, c.anns)
	// Before the routers reconfigure: one whose VIP moves to another
	// interface announces it there.
	d.mu.Lock()
	d.anns = anns
	d.mu.Unlock()
	checks := old.checks
	if c.monitor != nil {
		old.checks.stop()
		checks = d.startChecks(c.monitor)
	}
	if c.hooks != nil {
		d.hooks.swap(c.hooks)
	}

	var next, started []*running
	for _, s := range c.steps {
		w := c.want[s.key]
		switch s.verb {
		case keep, reconfigure:
			r := byKey[s.key]
			if s.verb == reconfigure {
				r.rt.Reconfigure(w.rc)
			}
			next = append(next, &running{key: r.key, inst: w.inst, sock: r.sock, rt: r.rt, track: newTracking(w.inst), task: r.task})
		case start, replace:
			next = append(next, c.routers[s.key])
			started = append(started, c.routers[s.key])
		}
	}
	owners := make(map[netip.Addr][]*router.Router)
	for _, r := range next {
		for _, p := range r.inst.VIPs {
			owners[p.Addr()] = append(owners[p.Addr()], r.rt)
		}
	}
	moving := make(map[netip.Addr]bool)
	for _, inst := range c.cfg.Instances {
		if inst.Priority == 255 {
			continue
		}
		for _, p := range inst.VIPs {
			moving[p.Addr()] = true
		}
	}
	now := time.Now()
	for i, w := range c.waiting {
		c.waiting[i].since = now
		if j := slices.IndexFunc(old.waiting, func(o waitingRouter) bool { return o.key == w.key && o.reason == w.reason }); j >= 0 {
			c.waiting[i].since = old.waiting[j].since
		}
	}

	d.mu.Lock()
	d.cfg = c.cfg
	d.routers = next
	d.waiting = c.waiting
	d.vipOwners = owners
	d.moving = moving
	d.socks = socks
	d.anns = anns
	d.checks = checks
	resigning := d.resigning
	d.resigning = append(slices.Clip(d.resigning), later...)
	d.routed = append(slices.Clip(c.routed.keep), c.routed.start...)
	if c.routed.speaker != nil {
		// A speaker no instance needs any more stays until the
		// removed ones have left (commitRouted).
		d.speaker = c.routed.speaker
	}
	d.mu.Unlock()

	// The routers get their health before they start: their first
	// state is then the right one.
	d.updateHealth()
	d.commitRouted(c.routed, old)
	for _, r := range started {
		// A router of an earlier reload that resigns in the background
		// on this VRID and socket goes first.
		for _, o := range resigning {
			if o.sock == r.sock && o.rt.VRID() == r.rt.VRID() {
				<-o.done
				socks[o.sock].listener.Remove(o.rt)
			}
		}
		startRouter(r, socks[r.sock])
	}
	if len(later) > 0 {
		d.background.Go(func() {
			d.stopRouters(later)
			d.mu.Lock()
			d.resigning = slices.DeleteFunc(slices.Clone(d.resigning), func(r *running) bool { return slices.Contains(later, r) })
			d.mu.Unlock()
		})
	}
	if !c.first && !reflect.DeepEqual(old.cfg, c.cfg) {
		d.log.Info("configuration reloaded", "routers", len(next), "removed", count(c.steps, stop))
	}
	for _, w := range c.waiting {
		if c.first || !slices.ContainsFunc(old.waiting, func(o waitingRouter) bool { return o.key == w.key && o.reason == w.reason }) {
			d.log.Warn("instance cannot run yet", "instance", w.inst.Name, "router", w.key, "reason", w.reason)
		}
	}
}

// count returns the number of steps of verb v.
func count(steps []step, v verb) int {
	n := 0
	for _, s := range steps {
		if s.verb == v {
			n++
		}
	}
	return n
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
