package kaconf

// The tracks of an instance, as keepalived reads them (track_interface,
// track_script, track_process) and as vipd carries them (track_interfaces,
// track); what vipd cannot track is refused.

import (
	"net/netip"
	"slices"
)

// kaTrack is a track_script or track_process entry keepalived keeps.
type kaTrack struct {
	at      *stmt
	script  *kaScript
	weight  int
	reverse bool
}

// kaTrackIf is a track_interface entry keepalived keeps.
type kaTrackIf struct {
	at      *stmt
	name    string
	weight  int
	reverse bool
}

// kaLack is a track of a kind vipd has no equivalent of (track_file,
// track_bfd), with its entry.
type kaLack struct {
	kind string
	at   *stmt
}

// vTrackIf is an element of an instance's track_interfaces.
type vTrackIf struct {
	name   string
	weight int
}

// vTrack is an element of an instance's track list.
type vTrack struct {
	check  string
	weight int
}

// readTracking reads the entries of a track_interface, track_script or
// track_process block k into ifs and tracks: an instance and a sync group
// read them alike.
func (c *fileConv) readTracking(label string, k *stmt, ifs *[]kaTrackIf, tracks *[]kaTrack) {
	for _, e := range k.block {
		switch k.keyword() {
		case "track_interface":
			if t, ok := c.readTrackIf(label, e, *ifs); ok {
				*ifs = append(*ifs, t)
			}
		case "track_script":
			if t, ok := c.readTrack(label, e, *tracks); ok {
				*tracks = append(*tracks, t)
			}
		case "track_process":
			if t, ok := c.readTrackProcess(label, e, *tracks); ok {
				*tracks = append(*tracks, t)
			}
		}
	}
}

// readTrackIf reads a track_interface entry as keepalived's alloc_track_if:
// IFNAME [weight W [reverse]].
func (c *fileConv) readTrackIf(label string, e *stmt, have []kaTrackIf) (kaTrackIf, bool) {
	t := kaTrackIf{at: e, name: e.keyword()}
	if slices.ContainsFunc(have, func(o kaTrackIf) bool { return o.name == t.name }) {
		c.n.at(e, "%s: track_interface %s is listed twice: keepalived ignores this one", label, t.name)
		return t, false
	}
	if len(e.words) >= 2 {
		if e.arg(1) != "weight" {
			c.n.at(e, "%s: track_interface %s: unknown option %s: keepalived ignores the entry", label, t.name, e.arg(1))
			return t, false
		}
		if len(e.words) == 2 {
			c.n.at(e, "%s: track_interface %s: weight without a value: keepalived ignores the entry", label, t.name)
			return t, false
		}
		v := kaInt(e.arg(2), -254, 254, true)
		if v.ok {
			t.weight = int(max(min(v.val, 253), -253))
		} else {
			c.n.at(e, "%s: track_interface %s: weight %s is not from -253 to 253: keepalived uses 0", label, t.name, e.arg(2))
		}
		t.reverse = e.arg(3) == "reverse"
	}
	return t, true
}

// readTrack reads a track_script entry as keepalived's alloc_track_script:
// NAME [weight W [reverse|noreverse]], NAME a vrrp_script defined before.
func (c *fileConv) readTrack(label string, e *stmt, have []kaTrack) (kaTrack, bool) {
	name := e.keyword()
	sc := c.findScript(name)
	t := kaTrack{at: e, script: sc}
	switch {
	case sc == nil:
		c.n.at(e, "%s: track_script %s: there is no vrrp_script %s before it (with a script), so keepalived ignores it (\"track script not found\")", label, name, name)
		return t, false
	case slices.ContainsFunc(have, func(o kaTrack) bool { return o.script == sc }):
		c.n.at(e, "%s: track_script %s is listed twice: keepalived ignores this one", label, name)
		return t, false
	}
	sc.tracked = true
	t.weight, t.reverse = sc.weight, sc.reverse
	return t, c.readTrackWeight(label, "track_script", "script's", 253, e, &t)
}

// readTrackWeight reads the options of a track_script or track_process
// entry e, as keepalived's alloc_track_script and alloc_track_process:
// [weight W [reverse|noreverse]]. A weight out of -254..254 leaves the
// script's or process's (of), one within it is clamped to ±limit. It
// reports false when keepalived ignores the whole entry.
func (c *fileConv) readTrackWeight(label, kw, of string, limit int64, e *stmt, t *kaTrack) bool {
	name := e.keyword()
	if len(e.words) < 2 {
		return true
	}
	if e.arg(1) != "weight" {
		c.n.at(e, "%s: %s %s: unknown option %s: keepalived ignores the entry", label, kw, name, e.arg(1))
		return false
	}
	if len(e.words) == 2 {
		c.n.at(e, "%s: %s %s: weight without a value: keepalived ignores the entry", label, kw, name)
		return false
	}
	if v := kaInt(e.arg(2), -254, 254, true); v.ok {
		t.weight = int(max(min(v.val, limit), -limit))
	} else {
		c.n.at(e, "%s: %s %s: weight %s is not from -%d to %d: keepalived uses the %s, %d", label, kw, name, e.arg(2), limit, limit, of, t.weight)
	}
	switch e.arg(3) {
	case "reverse":
		t.reverse = true
	case "noreverse":
		t.reverse = false
	case "":
	default:
		c.n.at(e, "%s: %s %s: weight option %s: keepalived ignores it", label, kw, name, e.arg(3))
	}
	return true
}

// convertTrackIf adds a tracked interface, as keepalived's
// add_vrrp_to_interface merges it with the interfaces the instance tracks
// already: its own, and those of its VIPs, which are unweighted.
func (c *fileConv) convertTrackIf(in *vInstance, t kaTrackIf) {
	label := "vrrp_instance " + in.kaName
	switch {
	case t.reverse:
		c.refuse(in, t.at, "track_interface %s weight %d reverse: keepalived reverses the weight (a link up counts as down), which vipd does not do", t.name, t.weight)
		return
	case t.name == in.iface:
		return
	}
	if vip, ok := in.trackedVIPOn(t.name); ok {
		if t.weight != 0 {
			c.n.at(t.at, "%s: track_interface %s weight %d: VIP %s is on %s, and keepalived tracks the interface of a VIP unweighted, so it ignores the weight: a link down faults the instance; so does vipd", label, t.name, t.weight, vip, t.name)
		}
		return
	}
	in.addTrackIf(t.name, t.weight)
}

// trackedVIPOn returns a VIP of in bound on ifname whose link it tracks.
func (in *vInstance) trackedVIPOn(ifname string) (netip.Addr, bool) {
	for _, p := range in.vips {
		if d, ok := in.vipDevs[p.Addr()]; ok && d.Interface == ifname && !d.NoTrack {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// addTrackIf tracks ifname with weight, unless in tracks it already.
func (in *vInstance) addTrackIf(ifname string, weight int) {
	if ifname == in.iface || slices.ContainsFunc(in.trackIfaces, func(o vTrackIf) bool { return o.name == ifname }) {
		return
	}
	in.trackIfaces = append(in.trackIfaces, vTrackIf{name: ifname, weight: weight})
}

// convertTrack adds a tracked check.
func (c *fileConv) convertTrack(in *vInstance, label string, t kaTrack) {
	name := t.script.name
	kind, def := "track_script", "vrrp_script"
	if t.script.proc != nil {
		kind, def = "track_process", "vrrp_track_process"
	}
	ch := c.resolve(t.script)
	if t.reverse {
		c.refuse(in, t.at, "%s %s: its weight is reversed, which vipd does not do", kind, name)
		return
	}
	if ch == nil {
		c.refuse(in, t.at, "%s %s: vipd cannot run the %s as keepalived does: %s", kind, name, def, t.script.bad)
		return
	}
	if t.script.proc != nil && t.weight != 0 && in.basePriority == ownerPriority {
		// process_update_track_process_status skips the owner, but
		// initialise_process_tracking_priorities does not.
		c.refuse(in, t.at, "track_process %s weight %d on the address owner (priority 255): keepalived applies the weight as the process is when it starts and ignores every change after, which vipd cannot do", name, t.weight)
		return
	}
	for _, r := range t.script.unsafe {
		c.unsafe(in, &stmt{file: r.File, line: r.Line}, "%s", r.Msg)
	}
	if i := slices.IndexFunc(in.track, func(o vTrack) bool { return o.check == ch.name }); i >= 0 && t.script.proc != nil {
		// add_vrrp_to_track_process: the group's weight, unless the
		// instance's is 0.
		if in.track[i].weight != 0 {
			in.track[i].weight = t.weight
		}
		c.n.at(t.at, "%s: track_process %s is tracked by the instance and its sync group: keepalived tracks it once, with the group's weight unless the instance's is 0: %d", label, name, in.track[i].weight)
		return
	} else if i >= 0 {
		c.n.at(t.at, "%s: %s %s is tracked by the instance and its sync group: keepalived counts it twice; vipd once, with weight %d", label, kind, name, in.track[i].weight)
		return
	}
	in.track = append(in.track, vTrack{check: ch.name, weight: t.weight})
}

// lack refuses an instance for a track of a kind vipd does not have.
func (c *fileConv) lack(in *vInstance, l kaLack) {
	c.refuse(in, l.at, "%s %s: vipd has no tracking of files or BFD sessions: the instance would run without it", l.kind, l.at.keyword())
}
