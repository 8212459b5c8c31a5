package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/metrics"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/routed"
)

// Instances announced by routing (announce = "bgp" or "route") run beside
// the virtual routers: one routed.Instance each, and one BGP speaker for
// those announced over BGP. A reload keeps those whose settings did not
// change, and the speaker while [bgp] did not change.

// Speaker announces routes over BGP: gobgp.Speaker, which vipd links in
// only when built with the bgp tag (see Options.NewSpeaker).
type Speaker interface {
	Run(ctx context.Context) error
	Announce(p netip.Prefix, pref bgp.Pref) error
	Withdraw(p netip.Prefix) error
	Status() bgp.Status
}

// ErrNoBGP is returned for a configuration with an instance announced over
// BGP by a daemon that has no BGP speaker.
var ErrNoBGP = fmt.Errorf(`announce = "bgp" needs vipd-bgp, vipd built with GoBGP (the bgp tag; make build makes both); announce = "route" needs none`)

// routedRunning is a routed instance and what it was built from.
type routedRunning struct {
	inst  config.Instance
	spec  routedSpec
	ri    *routed.Instance
	track tracking
	*task
}

// routedSpec is what a routed instance is built from: a change of it
// replaces the instance.
type routedSpec struct {
	rc       routed.Config
	announce string
	table    int
	protocol int
}

// speakerTask is the running BGP speaker.
type speakerTask struct {
	cfg bgp.Config
	sp  Speaker
	*task
}

// speakerOf returns the running speaker, nil when none.
func (d *Daemon) speakerOf() Speaker {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.speaker == nil {
		return nil
	}
	return d.speaker.sp
}

// bgpPublisher announces through the daemon's current speaker, which a
// reload may replace.
type bgpPublisher struct{ d *Daemon }

func (p bgpPublisher) Announce(prefix netip.Prefix, pref bgp.Pref) error {
	if sp := p.d.speakerOf(); sp != nil {
		return sp.Announce(prefix, pref)
	}
	return nil
}

func (p bgpPublisher) Withdraw(prefix netip.Prefix) error {
	if sp := p.d.speakerOf(); sp != nil {
		return sp.Withdraw(prefix)
	}
	return nil
}

// routedChange is the part of a prepared reload that concerns routed
// instances.
type routedChange struct {
	keep    []*routedRunning // running ones to keep, with their new instance
	start   []*routedRunning
	stop    []*routedRunning // removed or replaced
	speaker *speakerTask     // a new speaker to start, nil: keep the old
	// stopSpeaker: the old speaker stops (no instance needs it, or a
	// new one replaces it).
	stopSpeaker bool
}

// prepareRouted builds what cfg's routed instances need; nothing runs yet.
func (d *Daemon) prepareRouted(cfg Config, old live, look *lookups) (*routedChange, error) {
	rc := &routedChange{}
	needBGP := slices.ContainsFunc(cfg.Instances, func(i config.Instance) bool { return i.Announce == config.AnnounceBGP })
	switch {
	case needBGP && cfg.BGP == nil:
		return nil, fmt.Errorf(`announce = "bgp" without [bgp]`)
	case needBGP && d.opts.NewSpeaker == nil:
		return nil, ErrNoBGP
	case needBGP && (old.speaker == nil || !reflect.DeepEqual(old.speaker.cfg, *cfg.BGP)):
		rc.speaker = &speakerTask{cfg: *cfg.BGP, sp: d.opts.NewSpeaker(*cfg.BGP, d.log.With("bgp", "speaker")), task: newTask()}
		rc.stopSpeaker = old.speaker != nil
	case !needBGP && old.speaker != nil:
		rc.stopSpeaker = true
	}
	byName := make(map[string]*routedRunning, len(old.routed))
	for _, r := range old.routed {
		byName[r.inst.Name] = r
	}
	wanted := make(map[string]bool)
	for _, inst := range cfg.Instances {
		if !inst.Routed() {
			continue
		}
		wanted[inst.Name] = true
		ifi, err := look.iface(inst.Interface)
		if err != nil {
			return nil, fmt.Errorf("instance %q: interface %s: %w", inst.Name, inst.Interface, err)
		}
		spec := routedSpec{
			rc: routed.Config{
				Instance: inst.Name, IfIndex: ifi.Index, Interface: ifi.Name, VIPs: slices.Clone(inst.VIPs),
				ECMP: inst.ECMP, WithdrawDelay: inst.WithdrawDelay,
				Prepend: inst.Announce == config.AnnounceBGP && cfg.BGP != nil && cfg.BGP.Prepend,
			},
			announce: inst.Announce, table: inst.RouteTable, protocol: inst.RouteProtocol,
		}
		if o := byName[inst.Name]; o != nil && reflect.DeepEqual(o.spec, spec) {
			rc.keep = append(rc.keep, &routedRunning{inst: inst, spec: spec, ri: o.ri, track: newTracking(inst), task: o.task})
			continue
		} else if o != nil {
			rc.stop = append(rc.stop, o)
		}
		var pub routed.Publisher = bgpPublisher{d}
		var addrs routed.Addrs = d.addrs
		if inst.Announce == config.AnnounceRoute {
			k := routed.KernelRoutes{Routes: d.routes(), Table: inst.RouteTable, Protocol: inst.RouteProtocol}
			pub, addrs = k, k
		}
		ri := routed.New(spec.rc, pub, addrs, d.log)
		rc.start = append(rc.start, &routedRunning{inst: inst, spec: spec, ri: ri, track: newTracking(inst), task: newTask()})
	}
	for _, r := range old.routed {
		if !wanted[r.inst.Name] {
			rc.stop = append(rc.stop, r)
		}
	}
	return rc, nil
}

// routes returns the kernel routes of announce = "route".
func (d *Daemon) routes() routed.RouteTable {
	if d.opts.Routes != nil {
		return d.opts.Routes
	}
	return netif.NewRoutes(nil)
}

// commitRouted puts the routed part of a change in place: old has the
// instances and speaker that ran; the caller has already published the
// new ones under d.mu. Removed instances withdraw and leave in the
// background; replaced ones before their successor starts.
func (d *Daemon) commitRouted(rc *routedChange, old live) {
	if rc.stopSpeaker && old.speaker != nil && rc.speaker != nil {
		// The new speaker announces what the old one did.
		for _, r := range old.speaker.sp.Status().Routes {
			rc.speaker.sp.Announce(r.Prefix, r.Pref)
		}
		old.speaker.cancel()
		<-old.speaker.done
	}
	if rc.speaker != nil {
		s := rc.speaker
		go func() {
			defer close(s.done)
			if err := s.sp.Run(s.ctx); err != nil {
				d.log.Error("BGP speaker stopped", "error", err)
			}
		}()
	}
	for _, r := range rc.stop {
		r.cancel()
	}
	for _, r := range rc.start {
		// A replaced instance leaves (withdraw, delay, unbind) before
		// its successor binds the same VIPs.
		var pred *routedRunning
		for _, o := range rc.stop {
			if o.inst.Name == r.inst.Name {
				pred = o
			}
		}
		if r.spec.announce == config.AnnounceRoute && pred == nil {
			// Routes a crashed run left behind go.
			for _, p := range r.spec.rc.VIPs {
				d.routes().Remove(netif.Route{Prefix: p, Table: r.spec.table, Protocol: r.spec.protocol})
				d.routes().RemoveLocal(p, r.spec.protocol)
			}
		}
		start := func() {
			go func() {
				defer close(r.done)
				r.ri.Run(r.ctx)
			}()
		}
		if pred == nil {
			start()
			continue
		}
		d.background.Go(func() {
			<-pred.done
			start()
		})
	}
	stopped := slices.Clone(rc.stop)
	sp := old.speaker
	if !rc.stopSpeaker || rc.speaker != nil {
		sp = nil
	}
	if len(stopped) > 0 || sp != nil {
		d.background.Go(func() {
			for _, r := range stopped {
				<-r.done
			}
			if sp == nil {
				return
			}
			// No instance needed the speaker any more: it stops once
			// the removed ones have left, unless a reload meanwhile
			// brought one back.
			d.mu.Lock()
			needed := d.speaker == sp && slices.ContainsFunc(d.routed, func(r *routedRunning) bool {
				return r.inst.Announce == config.AnnounceBGP
			})
			if !needed && d.speaker == sp {
				d.speaker = nil
			}
			d.mu.Unlock()
			if !needed {
				sp.cancel()
				<-sp.done
			}
		})
	}
}

// stopRouted has the routed instances withdraw and leave, then stops the
// speaker: the sessions close once the routes are withdrawn.
func (d *Daemon) stopRouted() {
	d.mu.Lock()
	rs, sp := d.routed, d.speaker
	d.mu.Unlock()
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		<-r.done
	}
	if sp != nil {
		sp.cancel()
		<-sp.done
	}
}

// routedStatus returns the routed instances and the speaker for status.
func (d *Daemon) routedStatus(drained map[string]bool, failing func([]string) []string) ([]control.Routed, *control.BGP) {
	d.mu.Lock()
	rs, sp := d.routed, d.speaker
	d.mu.Unlock()
	var out []control.Routed
	for _, r := range rs {
		st := r.ri.Status()
		cr := control.Routed{
			Name: r.inst.Name, Announce: r.inst.Announce, Interface: r.spec.rc.Interface,
			State: st.State.String(), Drained: drained[r.inst.Name], Since: st.Since, Reason: st.Reason,
			Priority: r.inst.Priority, EffectivePriority: st.Priority, MED: st.Pref.MED, Prepend: st.Pref.Prepend,
			ECMP: r.inst.ECMP, Withdrawals: st.Withdrawals, Errors: st.Errors,
		}
		if r.inst.Announce == config.AnnounceRoute {
			cr.Table, cr.Protocol = r.inst.RouteTable, r.inst.RouteProtocol
		}
		for _, p := range st.VIPs {
			cr.VIPs = append(cr.VIPs, p.String())
		}
		var names []string
		for _, t := range append(slices.Clone(r.track.checks), r.track.links...) {
			names = append(names, t.Check)
		}
		for _, t := range r.track.checks {
			cr.Tracks = append(cr.Tracks, control.Track{Check: t.Check, Weight: t.Weight})
		}
		cr.FailingChecks = failing(names)
		out = append(out, cr)
	}
	if sp == nil {
		return out, nil
	}
	bs := sp.sp.Status()
	b := &control.BGP{ASN: bs.ASN, RouterID: bs.RouterID.String(), Withdrawals: bs.Withdrawals}
	for _, p := range bs.Peers {
		b.Peers = append(b.Peers, control.BGPPeer{
			Address: p.Address.String(), ASN: p.ASN, State: p.State.String(), Since: p.Since,
			HoldTimeMS: p.HoldTime.Milliseconds(), Advertised: p.Advertised, Ups: p.Ups,
		})
	}
	for _, r := range bs.Routes {
		b.Routes = append(b.Routes, control.BGPRoute{Prefix: r.Prefix.String(), MED: r.Pref.MED, Prepend: r.Pref.Prepend})
	}
	return out, b
}

// newSpeakerFunc is the type of Options.NewSpeaker.
type newSpeakerFunc = func(cfg bgp.Config, log *slog.Logger) Speaker

var _ metrics.RoutedSource = (*Daemon)(nil)

// Routed returns the routed instances and the BGP speaker, for metrics.
func (d *Daemon) Routed() metrics.Routed {
	d.mu.Lock()
	rs, sp := d.routed, d.speaker
	d.mu.Unlock()
	var out metrics.Routed
	for _, r := range rs {
		st := r.ri.Status()
		out.Instances = append(out.Instances, metrics.RoutedInstance{
			Name: r.inst.Name, Announce: r.inst.Announce, Announced: st.State == routed.Announced, Withdrawals: st.Withdrawals,
		})
	}
	if sp != nil {
		bs := sp.sp.Status()
		out.BGP = &bs
	}
	return out
}
