package kaconf

// What keepalived decides once it has read every instance
// (vrrp_complete_instance and the checks around it): defaults, fallbacks,
// and the instances it refuses to run.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// chkMinCfg applies keepalived's chk_min_cfg: without a VRID or an
// interface, keepalived does not start.
func (c *fileConv) chkMinCfg() {
	for _, in := range c.nd.instances {
		switch {
		case in.vrid == 0:
			c.refuseFile(in.at, "vrrp_instance %s has no valid virtual_router_id (\"the virtual router id must be set\")", in.kaName)
		case in.iface == "":
			c.refuseFile(in.at, "vrrp_instance %s has no usable interface (\"Unknown interface!\")", in.kaName)
		}
	}
}

// complete applies keepalived's vrrp_complete_instance to an instance:
// strict mode, version, priority and state, authentication, preemption
// and the advert interval, each as keepalived settles it.
func (c *fileConv) complete(in *vInstance) {
	label := "vrrp_instance " + in.kaName
	in.strict = c.strict
	in.checkSrc = in.checkSrc || c.checkSrc
	if in.strictMode >= 0 {
		in.strict = in.strictMode == 1
	}
	if in.family == 6 {
		if in.version == 2 && in.strict {
			c.n.at(in.at, "%s: VRRPv2 with IPv6 in strict mode: keepalived uses version 3", label)
			in.version = 3
		} else if in.version == 0 {
			in.version = 3
		}
	}
	if in.family == 0 {
		in.family = 4
	}
	if in.version == 0 {
		in.version = c.version
		if in.version == 0 {
			in.version = 2
		}
	}
	if len(in.kaVIPs) == 0 && (in.version == 3 || in.strict) {
		c.refuseFile(in.at, "vrrp_instance %s has no virtual_ipaddress keepalived can use, which VRRPv3 and strict mode require (\"No VIP specified; at least one is required\")", in.kaName)
		return
	}
	if in.basePriority == 0 {
		in.basePriority = defaultPriority
		if in.state == "MASTER" {
			in.basePriority = ownerPriority
			c.n.at(in.stateAt, "%s: state MASTER without priority: keepalived's priority is then 255 (the address owner), and so is vipd's; write the priority meant", label)
		}
	}
	switch {
	case in.state == "":
		in.state = "BACKUP"
		if in.basePriority == ownerPriority {
			in.state = "MASTER"
		}
	case in.strict && (in.state == "MASTER") != (in.basePriority == ownerPriority):
		c.n.at(in.stateAt, "%s: state %s in strict mode: keepalived says \"State MASTER must match being address owner\" and ignores it", label, in.state)
		in.state = "BACKUP"
		if in.basePriority == ownerPriority {
			in.state = "MASTER"
		}
	}
	if in.authType != "" {
		at := in.authAt
		switch {
		case in.strict:
			c.n.at(at, "%s: authentication in strict mode: keepalived says \"Strict mode does not support authentication. Ignoring.\" and sends no password; neither does vipd", label)
			in.authType = ""
		case in.version == 3:
			c.n.at(at, "%s: authentication with VRRPv3: keepalived says \"VRRP version 3 does not support authentication. Ignoring.\"; so does vipd", label)
			in.authType = ""
		case in.authPass == "":
			c.n.at(at, "%s: authentication without auth_pass: keepalived says \"Authentication specified but no password given. Ignoring\"", label)
			in.authType = ""
		case in.family == 6 && in.authType == "AH":
			c.n.at(at, "%s: auth_type AH with IPv6: keepalived ignores it", label)
			in.authType = ""
		case in.authType == "AH" && in.state == "MASTER" && in.basePriority != ownerPriority:
			in.state = "BACKUP"
		}
	}
	in.unicast = in.unicastConfigured && len(in.kaPeers) > 0
	if in.strict && in.unicast {
		c.refuseFile(in.peersAt, "vrrp_instance %s has unicast peers in strict mode (\"Unicast peers are not supported in strict mode\"), on an interface that can multicast", in.kaName)
		return
	}
	if in.unicastConfigured && !in.unicast && !in.faultNoPeer {
		c.n.at(in.at, "%s: a unicast keyword without unicast peers: keepalived uses multicast (\"This usage is deprecated\")", label)
	}
	maxAddrs := maxAddrsV4
	if in.family == 6 {
		maxAddrs = maxAddrsV6
	}
	if len(in.kaVIPs) > maxAddrs {
		for _, v := range in.kaVIPs[maxAddrs:] {
			in.evips = append(in.evips, v.at)
		}
		c.n.at(in.kaVIPs[maxAddrs].at, "%s: more VIPs than fit in an advert: keepalived moves those from here on to virtual_ipaddress_excluded", label)
		in.kaVIPs = in.kaVIPs[:maxAddrs]
	}
	if in.basePriority == ownerPriority && in.nopreempt {
		c.n.at(in.nopreemptAt, "%s: nopreempt with priority 255: keepalived says \"nopreempt is incompatible with priority 255\" and preempts; so does vipd", label)
		in.nopreempt = false
	}
	if in.state == "MASTER" {
		if in.nopreempt {
			c.n.at(in.nopreemptAt, "%s: nopreempt with state MASTER: keepalived says \"nopreempt will not work with initial state MASTER\" and preempts; so does vipd (for no preemption, write state BACKUP in keepalived)", label)
			in.nopreempt = false
		}
		if in.delay > 0 {
			c.n.at(in.delayAt, "%s: preempt_delay with state MASTER: keepalived says \"preempt delay will not work with initial state MASTER\" and ignores it", label)
			in.delay = 0
		}
	}
	if in.delay > 0 {
		switch {
		case in.strict:
			c.n.at(in.delayAt, "%s: preempt_delay in strict mode: keepalived says \"preempt_delay is incompatible with strict mode\" and ignores it", label)
			in.delay = 0
		case in.nopreempt:
			c.n.at(in.delayAt, "%s: preempt_delay with nopreempt: keepalived ignores it", label)
			in.delay = 0
		}
	}
	if c.downTimer != nil && !slices.ContainsFunc(in.differs, func(d Note) bool { return strings.HasPrefix(d.Msg, "down_timer_adverts") }) {
		d := c.downTimer
		in.differs = append(in.differs, Note{d.file, d.line, "down_timer_adverts (vrrp_down_timer_adverts): vipd takes over after the RFC's master down interval (3 adverts and the skew time)"})
	}
	if in.strict {
		in.differs = slices.DeleteFunc(in.differs, func(d Note) bool {
			if strings.HasPrefix(d.Msg, "down_timer_adverts") {
				c.n.add(d.File, d.Line, label+": down_timer_adverts in strict mode: keepalived ignores it")
				return true
			}
			return false
		})
		if in.basePriority != ownerPriority {
			c.n.at(in.at, "%s: strict mode: keepalived's master drops traffic to the VIPs (firewall rules of no_accept); a vipd master accepts it", label)
		}
	}
	if in.mcastDst != nil && in.unicast {
		c.n.at(in.mcastDst, "%s: mcast_dst_ip with unicast peers: keepalived ignores it", label)
		in.mcastDst = nil
	}
	c.advert(in, label)

	// Weighted tracking of a sync group's member or of the address
	// owner is ignored (the owner's tracked interfaces dropped, a
	// member's made unweighted).
	inGroup := in.group != nil && !in.group.keepWeights
	if inGroup || in.basePriority == ownerPriority {
		why := "as the address owner (priority 255)"
		if inGroup {
			why = fmt.Sprintf("as a member of vrrp_sync_group %s (no sync_group_tracking_weight)", in.group.name)
		}
		in.trackIfs = slices.DeleteFunc(in.trackIfs, func(t kaTrackIf) bool {
			if t.weight == 0 {
				return false
			}
			if inGroup {
				c.n.at(t.at, "%s: track_interface %s: keepalived ignores its weight %s; a down link faults the instance", label, t.name, why)
				t.weight = 0
				return false
			}
			c.n.at(t.at, "%s: track_interface %s: keepalived ignores the weighted interface %s", label, t.name, why)
			return true
		})
		for i := range in.trackIfs {
			if inGroup {
				in.trackIfs[i].weight = 0
			}
		}
		in.tracks = slices.DeleteFunc(in.tracks, func(t kaTrack) bool {
			// vrrp_complete_instance leaves weighted processes alone.
			if t.weight == 0 || t.script.proc != nil {
				return false
			}
			c.n.at(t.at, "%s: track_script %s: keepalived ignores the weighted script %s; not converted", label, t.script.name, why)
			return true
		})
	}
}

// advert sets the advert interval, rounded as keepalived rounds it for
// the version.
func (c *fileConv) advert(in *vInstance, label string) {
	d := in.advertSet
	if d == 0 {
		in.advert = time.Second // keepalived's default, and vipd's
		return
	}
	was := d
	if in.version == 2 {
		if d >= 256*time.Second {
			d = maxAdvert
		} else if d%time.Second != 0 {
			d = (d + time.Second/2).Truncate(time.Second)
			d = max(d, time.Second)
		}
	} else {
		if d >= 4096*10*time.Millisecond {
			d = maxAdvertV3
		} else if d%(10*time.Millisecond) != 0 {
			d = (d + 5*time.Millisecond).Truncate(10 * time.Millisecond)
			d = max(d, minAdvert)
		}
	}
	if d != was {
		c.n.at(in.advertAt, "%s: advert_int %s is not a valid VRRPv%d interval; keepalived makes it %s, and so does vipd", label, in.advertAt.arg(1), in.version, d)
	}
	in.advert = d
}

// vridConflicts applies keepalived's check_vrid_conflicts: two multicast
// instances of one family with one VRID on one interface, or two unicast
// ones from one source to a shared peer, and keepalived does not start.
func (c *fileConv) vridConflicts() {
	ins := c.nd.instances
	for i, a := range ins {
		for _, b := range ins[i+1:] {
			if a.family != b.family || a.vrid != b.vrid || a.unicast != b.unicast || a.iface != b.iface {
				continue
			}
			if a.unicast && (a.src != b.src || !slices.ContainsFunc(a.kaPeers, func(p netip.Addr) bool { return slices.Contains(b.kaPeers, p) })) {
				continue
			}
			if !a.unicast && (a.mcastDst != nil) != (b.mcastDst != nil) {
				continue
			}
			c.refuseFile(b.at, "vrrp_instance %s and vrrp_instance %s (line %d) both use VRID %d with %s on %s (\"duplicate VRID conflict\")",
				b.kaName, a.kaName, a.at.line, b.vrid, familyOf(b.family), b.iface)
		}
	}
}
