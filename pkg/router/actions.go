package router

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// The actions carry out what the machine decided: send adverts, bind,
// announce and unbind VIPs, and guard them. They run with r.machine held.

// apply performs the machine's output, then records the router's new
// status and hands out the transition, if any.
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
	// One round of announcements goes before the advert: the advert makes
	// an old master that hands over release the VIPs, and a client not
	// yet told where they went would send to it in between (seen in the
	// lab on a loaded machine). The other rounds follow the advert.
	rounds := 0
	if out.Actions.Has(vrrp.Announce) {
		rounds = r.cfg.Load().GARPRepeat
		r.announce(r.vipAddr, 1)
		rounds--
	}
	if out.Actions.Has(vrrp.SendAdvert) {
		r.send(out.Priority)
	}
	if rounds > 0 {
		r.announce(r.vipAddr, rounds)
	}
	if out.Changed() && r.again != nil {
		// A new master announces again after a while; one that left
		// mastership has nothing to announce.
		if d := r.cfg.Load().GARPDelay; out.To == vrrp.Master && d > 0 {
			r.again.Reset(d)
		} else if out.From == vrrp.Master {
			r.again.Stop()
		}
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
	master, _ := r.m.Master()
	r.book.record(out, r.m.Priority(), r.m.Fault(), master, r.m.WantsMaster(), r.forced(out))
	if out.Changed() {
		r.counters.transitions.Add(1)
		if r.deps.OnTransition != nil {
			// After recording: the hook sees the state it is told of.
			r.deps.OnTransition(r.Status())
		}
	}
	if out.WantsMaster && r.deps.OnWantMaster != nil {
		r.deps.OnWantMaster(r.Status())
	}
}

// forced says why the router's sync group holds it in the state out
// leaves it in: the order it obeys, or its group's fault.
func (r *Router) forced(out vrrp.Output) string {
	switch {
	case r.ordered != "" && out.Changed():
		r.lastForced = r.ordered
	case r.m.Fault() != vrrp.NoFault && r.healthForced != "":
		r.lastForced = r.healthForced
	case out.Changed():
		r.lastForced = ""
	}
	return r.lastForced
}

// obey carries out an order of the router's sync group.
func (r *Router) obey(o groupOrder) {
	r.ordered = o.reason
	defer func() { r.ordered = "" }()
	now := time.Now()
	if o.promote {
		r.apply(r.m.Promote(now, o.reason))
	} else {
		r.apply(r.m.Demote(now, o.reason))
	}
}

func (r *Router) send(priority uint8) {
	r.advert.Priority = priority
	src := r.cfg.Load().Machine.Primary
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
			r.counters.sendErrors.Add(1)
			continue
		}
		if r.sendFailing {
			r.sendFailing = false
			r.log.Info("advertisements sent again", "to", dst)
		}
		r.counters.advertsOut.Add(1)
	}
}

func (r *Router) addVIPs() {
	cfg := r.cfg.Load()
	r.bound = true
	r.holds.Store(true)
	for _, p := range cfg.VIPs {
		l := cfg.link(p.Addr())
		if err := r.deps.Addrs.Add(l.Index, p, l.Label); err != nil {
			r.bound = false
			r.counters.bindErrors.Add(1)
			r.log.Error("cannot bind VIP", "vip", p, "interface", l.Name, "error", err)
		}
	}
}

func (r *Router) removeVIPs() {
	cfg := r.cfg.Load()
	r.bound = false
	r.holds.Store(false)
	for _, p := range cfg.VIPs {
		l := cfg.link(p.Addr())
		if err := r.deps.Addrs.Remove(l.Index, p); err != nil {
			r.log.Error("cannot remove VIP", "vip", p, "interface", l.Name, "error", err)
		}
	}
}

// announce announces addrs, rounds times, each on the interface it is
// bound on: a round announces on the router's interface first.
func (r *Router) announce(addrs []netip.Addr, rounds int) {
	cfg := r.cfg.Load()
	if len(cfg.VIPLinks) == 0 {
		r.announceOn(r.deps.Announcer, cfg.Interface, addrs, rounds)
		return
	}
	var links []Link
	on := make(map[Link][]netip.Addr)
	for _, a := range addrs {
		l := cfg.link(a)
		if _, ok := on[l]; !ok {
			links = append(links, l)
		}
		on[l] = append(on[l], a)
	}
	for range rounds {
		for _, l := range links {
			ann := r.deps.Announcer
			if l.Index != cfg.IfIndex {
				ann = nil
				if r.deps.AnnouncerOn != nil {
					ann = r.deps.AnnouncerOn(l.Name)
				}
			}
			r.announceOn(ann, l.Name, on[l], 1)
		}
	}
}

// announceOn announces addrs with ann, the announcer of ifname, rounds
// times.
func (r *Router) announceOn(ann Announcer, ifname string, addrs []netip.Addr, rounds int) {
	if ann == nil {
		r.log.Warn("cannot announce VIPs: no announcer", "interface", ifname, "vips", fmt.Sprint(addrs))
		return
	}
	for range rounds {
		if err := ann.Announce(addrs); err != nil {
			r.log.Warn("cannot announce VIPs", "interface", ifname, "error", err)
			return
		}
		r.counters.announcements.Add(uint64(len(addrs)))
	}
}

// reconfigure switches the router to next in place. A master binds the
// added VIPs and announces those it could bind, unbinds the removed ones
// and advertises the new list.
func (r *Router) reconfigure(next Config) {
	if next.GARPRepeat < 1 {
		next.GARPRepeat = 1
	}
	old := r.cfg.Load()
	addrs := next.vipAddrs()
	f := *r.filter.Load()
	f.Addrs = addrs
	r.filter.Store(&f)
	r.m.SetPreempt(next.Machine.Preempt, next.Machine.PreemptDelay)
	r.m.SetGrouped(next.Group != "")
	next.Machine.Grouped = next.Group != ""
	r.cfg.Store(&next)
	r.book.reconfigured(next.Machine.Priority, next.VIPs, next.vipDevs(), next.Group)
	r.vipAddr = addrs
	r.advert.Addrs = addrs
	if r.m.State() != vrrp.Master {
		return
	}
	// A VIP that moved to another interface is removed from the old one
	// and added on the new one.
	var added []netip.Addr
	for _, p := range next.VIPs {
		l := next.link(p.Addr())
		if slices.Contains(old.VIPs, p) && old.link(p.Addr()) == l {
			continue
		}
		if err := r.deps.Addrs.Add(l.Index, p, l.Label); err != nil {
			r.bound = false
			r.counters.bindErrors.Add(1)
			r.log.Error("cannot bind VIP", "vip", p, "interface", l.Name, "error", err)
			continue
		}
		added = append(added, p.Addr())
	}
	for _, p := range old.VIPs {
		l := old.link(p.Addr())
		if !slices.Contains(next.VIPs, p) || next.link(p.Addr()) != l {
			if err := r.deps.Addrs.Remove(l.Index, p); err != nil {
				r.log.Error("cannot remove VIP", "vip", p, "interface", l.Name, "error", err)
			}
		}
	}
	if !r.m.Stopping() {
		r.send(r.m.Priority())
	}
	if len(added) > 0 {
		r.announce(added, next.GARPRepeat)
	}
	r.log.Info("reconfigured", "vips", fmt.Sprint(next.VIPs))
}

// checkVIPs puts back the VIPs someone removed from a master (and
// announces them again), and removes VIPs found on a router that is not
// master.
func (r *Router) checkVIPs() {
	cfg := r.cfg.Load()
	if cfg.owner() {
		// The address owner holds its VIPs as real addresses.
		return
	}
	// One listing per interface.
	have := make(map[int][]netip.Prefix)
	for _, l := range cfg.links() {
		addrs, err := r.deps.Addrs.List(l.Index)
		if err != nil {
			r.log.Warn("VIP guard: cannot list addresses", "interface", l.Name, "error", err)
			continue
		}
		have[l.Index] = addrs
	}
	master := r.m.State() == vrrp.Master
	var restored, removed []netip.Prefix
	for _, p := range cfg.VIPs {
		l := cfg.link(p.Addr())
		addrs, listed := have[l.Index]
		if !listed {
			continue
		}
		bound := slices.Contains(addrs, p)
		switch {
		case master && !bound:
			if err := r.deps.Addrs.Add(l.Index, p, l.Label); err != nil {
				r.log.Error("VIP guard: cannot put the VIP back", "vip", p, "interface", l.Name, "error", err)
				continue
			}
			restored = append(restored, p)
		case !master && bound:
			if err := r.deps.Addrs.Remove(l.Index, p); err != nil {
				r.log.Error("VIP guard: cannot remove the VIP", "vip", p, "interface", l.Name, "error", err)
				continue
			}
			removed = append(removed, p)
		}
	}
	r.counters.guardRestored.Add(uint64(len(restored)))
	r.counters.guardRemoved.Add(uint64(len(removed)))
	if len(restored) > 0 {
		r.log.Warn("VIP guard: VIPs removed by someone else put back and announced", "vips", fmt.Sprint(restored))
		r.announce(r.vipAddr, cfg.GARPRepeat)
	}
	if len(removed) > 0 {
		r.log.Warn("VIP guard: VIPs bound while not master removed", "vips", fmt.Sprint(removed), "state", r.m.State().String())
	}
}
