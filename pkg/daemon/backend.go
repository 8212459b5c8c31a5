package daemon

import (
	"slices"
	"sort"

	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/metrics"
	"github.com/vipd/vipd/pkg/vrrp"
)

// The daemon is the control API's backend and the metrics' source: this
// file maps what runs to their types.
var (
	_ control.Backend = (*Daemon)(nil)
	_ metrics.Source  = (*Daemon)(nil)
)

// Status returns the state of every instance and check for vipctl.
func (d *Daemon) Status() control.Status {
	d.mu.Lock()
	rs, waiting, started := d.routers, d.waiting, d.live.started
	d.mu.Unlock()
	drained := d.drains.set()
	checks := d.Checks()
	states := make(map[string]health.State, len(checks))
	for n, c := range checks {
		states[n] = c.State
	}
	st := control.Status{
		Version: d.opts.Version,
		Node:    d.opts.Node,
		Config:  d.opts.ConfigPath,
		Started: started,
	}
	for _, r := range rs {
		rst := r.rt.Status()
		inst := control.Instance{
			Name:              rst.Instance,
			Family:            rst.Family,
			VRID:              rst.VRID,
			Interface:         rst.Interface,
			VRRPVersion:       rst.Version,
			State:             rst.State.String(),
			Drained:           drained[r.inst.Name],
			Priority:          rst.BasePriority,
			EffectivePriority: rst.Priority,
			Since:             rst.Since,
			Reason:            rst.Reason,
			SyncGroup:         rst.Group,
			Forced:            rst.Forced,
			WantsMaster:       rst.WantsMaster,
			Counters: control.Counters{
				AdvertsOut:    rst.Counters.AdvertsOut,
				AdvertsIn:     rst.Counters.AdvertsIn,
				SendErrors:    rst.Counters.SendErrors,
				Transitions:   rst.Counters.Transitions,
				Announcements: rst.Counters.Announcements,
				BindErrors:    rst.Counters.BindErrors,
				Conflicts:     rst.Counters.Conflicts,
				Collisions:    rst.Counters.Collisions,
				GuardRestored: rst.Counters.GuardRestored,
				GuardRemoved:  rst.Counters.GuardRemoved,
				LateTimers:    rst.Counters.LateTimers,
				Dropped:       map[string]uint64{},
			},
			Hooks: d.hookCounters(r.inst.Name, len(r.inst.Notify) > 0),
		}
		switch {
		case rst.State == vrrp.Master:
			inst.Master = r.rt.Config().Machine.Primary.String()
		case rst.Master.IsValid():
			inst.Master = rst.Master.String()
		}
		for _, p := range rst.VIPs {
			inst.VIPs = append(inst.VIPs, p.String())
			if dev, ok := rst.VIPDevs[p.Addr()]; ok {
				if inst.VIPDevs == nil {
					inst.VIPDevs = make(map[string]string)
				}
				inst.VIPDevs[p.String()] = dev
			}
		}
		for _, t := range r.track.checks {
			inst.Tracks = append(inst.Tracks, control.Track{Check: t.Check, Weight: t.Weight})
		}
		for _, t := range append(slices.Clone(r.track.checks), r.track.links...) {
			if states[t.Check] != health.Healthy {
				inst.FailingChecks = append(inst.FailingChecks, t.Check)
			}
		}
		for _, t := range rst.Transitions {
			inst.Transitions = append(inst.Transitions, control.Transition{At: t.At, From: t.From.String(), To: t.To.String(), Reason: t.Reason})
		}
		for reason, n := range d.socketDrops(r.sock) {
			inst.Counters.Dropped[reason.String()] = n
		}
		st.Instances = append(st.Instances, inst)
	}
	for _, w := range waiting {
		inst := control.Instance{
			Name:        w.inst.Name,
			Family:      control.FamilyIPv4,
			VRID:        w.inst.VRID,
			Interface:   w.ifname,
			VRRPVersion: w.inst.Version,
			State:       control.StateFault,
			Drained:     drained[w.inst.Name],
			Priority:    w.inst.Priority,
			Since:       w.since,
			Reason:      w.reason,
			SyncGroup:   w.inst.SyncGroup,
			Counters:    control.Counters{Dropped: map[string]uint64{}},
			Hooks:       d.hookCounters(w.inst.Name, len(w.inst.Notify) > 0),
		}
		if w.fam.IPv6 {
			inst.Family = control.FamilyIPv6
		}
		for _, p := range w.fam.VIPs {
			inst.VIPs = append(inst.VIPs, p.String())
			if dev, ok := w.fam.Devs[p.Addr()]; ok {
				if inst.VIPDevs == nil {
					inst.VIPDevs = make(map[string]string)
				}
				inst.VIPDevs[p.String()] = dev
			}
		}
		for _, t := range w.inst.Track {
			inst.Tracks = append(inst.Tracks, control.Track{Check: t.Check, Weight: t.Weight})
		}
		st.Instances = append(st.Instances, inst)
	}
	st.Routed, st.BGP = d.routedStatus(drained, func(names []string) []string {
		var out []string
		for _, n := range names {
			if states[n] != health.Healthy {
				out = append(out, n)
			}
		}
		return out
	})
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := checks[n]
		st.Checks = append(st.Checks, control.Check{
			Name: n, State: c.State.String(), LastError: c.LastError, LastOutput: c.LastOutput,
			LastProbe: c.LastProbe, Duration: c.Duration, Since: c.Since, Probes: c.Probes,
		})
	}
	return st
}

// hookCounters returns the counters of an instance's notify hook; nil
// when it has none.
func (d *Daemon) hookCounters(name string, has bool) *control.HookCounters {
	if !has {
		return nil
	}
	c := d.hooks.counts(name)
	return &control.HookCounters{Runs: c.Runs, Failures: c.Failures, Timeouts: c.Timeouts, Dropped: c.Dropped}
}

// Drain takes the named instances (all when names is empty) out of
// service: a master hands its VIPs over at once, make before break, and
// the instance takes them back only if no other node is alive. The drain
// survives restarts.
func (d *Daemon) Drain(names []string) ([]string, error) {
	return d.setDrained(names, true)
}

// Resume puts drained instances back into service.
func (d *Daemon) Resume(names []string) ([]string, error) {
	return d.setDrained(names, false)
}

func (d *Daemon) setDrained(names []string, drained bool) ([]string, error) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	var all []string
	for _, inst := range cfg.Instances {
		all = append(all, inst.Name)
	}
	if len(names) == 0 {
		names = all
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(all, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, control.UnknownInstances(unknown...)
	}
	err := d.drains.change(names, drained)
	verb := "drained"
	if !drained {
		verb = "resumed"
	}
	d.log.Info("instances "+verb, "instances", names)
	d.updateHealth()
	return names, err
}

// Checks returns the state of every check and tracked interface.
func (d *Daemon) Checks() map[string]health.Status {
	d.mu.Lock()
	checks := d.checks
	d.mu.Unlock()
	if checks == nil {
		return nil
	}
	return checks.mon.Snapshot()
}

// Drops returns the drop counters of every socket, for metrics.
func (d *Daemon) Drops() []metrics.Drops {
	var out []metrics.Drops
	for _, sk := range d.sockets() {
		fam := "ipv4"
		if sk.ipv6 {
			fam = "ipv6"
		}
		out = append(out, metrics.Drops{Interface: sk.ifname, Family: fam, ByReason: d.socketDrops(sk)})
	}
	return out
}

// Hooks returns the counters of every instance's notify hook, for
// metrics.
func (d *Daemon) Hooks() []metrics.Hooks {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	var out []metrics.Hooks
	for _, inst := range cfg.Instances {
		if len(inst.Notify) == 0 {
			continue
		}
		c := d.hooks.counts(inst.Name)
		out = append(out, metrics.Hooks{Instance: inst.Name, Runs: c.Runs, Failures: c.Failures, Timeouts: c.Timeouts, Dropped: c.Dropped})
	}
	return out
}
