package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/metrics"
	"github.com/vipd/vipd/pkg/vrrp"
)

// The daemon is the control API's backend and the metrics' source.
var (
	_ control.Backend = (*Daemon)(nil)
	_ metrics.Source  = (*Daemon)(nil)
)

// Status returns the state of every instance and check for vipctl.
func (d *Daemon) Status() control.Status {
	d.mu.Lock()
	rs := d.routers
	started := d.started
	drained := maps.Clone(d.drained) // setDrained writes it
	waiting := d.waiting
	d.mu.Unlock()
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
		}
		switch {
		case rst.State == vrrp.Master:
			inst.Master = r.rt.Config().Machine.Primary.String()
		case rst.Master.IsValid():
			inst.Master = rst.Master.String()
		}
		for _, p := range rst.VIPs {
			inst.VIPs = append(inst.VIPs, p.String())
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
			Counters:    control.Counters{Dropped: map[string]uint64{}},
		}
		if w.fam.IPv6 {
			inst.Family = control.FamilyIPv6
		}
		for _, p := range w.fam.VIPs {
			inst.VIPs = append(inst.VIPs, p.String())
		}
		for _, t := range w.inst.Track {
			inst.Tracks = append(inst.Tracks, control.Track{Check: t.Check, Weight: t.Weight})
		}
		st.Instances = append(st.Instances, inst)
	}
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
	var all []string
	for _, inst := range d.cfg.Instances {
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
		d.mu.Unlock()
		return nil, control.UnknownInstances(unknown...)
	}
	for _, n := range names {
		if drained {
			d.drained[n] = true
		} else {
			delete(d.drained, n)
		}
	}
	err := d.saveDrainedLocked()
	d.mu.Unlock()
	verb := "drained"
	if !drained {
		verb = "resumed"
	}
	d.log.Info("instances "+verb, "instances", names)
	d.updateHealth()
	return names, err
}

// drainedFile is where the drained instances are kept, one JSON list.
func (d *Daemon) drainedFile() string {
	if d.opts.StateDir == "" {
		return ""
	}
	return filepath.Join(d.opts.StateDir, "drained.json")
}

func (d *Daemon) loadDrained() {
	path := d.drainedFile()
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var names []string
	if err == nil {
		err = json.Unmarshal(b, &names)
	}
	if err != nil {
		d.log.Error("cannot read drained instances; starting with none drained", "file", path, "error", err)
		return
	}
	d.mu.Lock()
	for _, n := range names {
		d.drained[n] = true
	}
	d.mu.Unlock()
	if len(names) > 0 {
		d.log.Info("instances still drained from before the restart", "instances", names, "file", path)
	}
}

// saveDrainedLocked writes the drained instances atomically.
func (d *Daemon) saveDrainedLocked() error {
	path := d.drainedFile()
	if path == "" {
		return nil
	}
	names := make([]string, 0, len(d.drained))
	for n := range d.drained {
		names = append(names, n)
	}
	sort.Strings(names)
	b, _ := json.Marshal(names)
	if err := os.MkdirAll(d.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("keep drain state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("keep drain state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("keep drain state: %w", err)
	}
	return nil
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
