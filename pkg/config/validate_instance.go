package config

// The [[instance]] tables: each alone, then all of them together.

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/pkg/health"
)

// instance validates one [[instance]] and fills in its defaults. cl is nil
// without [cluster]; clusterOK is false when [cluster] had problems, to
// skip the checks that would only repeat them. checks are the names of
// the [[check]]s the instance may track.
func (p *parser) instance(ri rawInstance, i int, cl *Cluster, clusterOK bool, checks []string) (Instance, bool) {
	before := len(p.errs)
	path := fmt.Sprintf("instance[%d]", i)
	at := func(key string) string { return path + "." + key }
	label := ri.label(i)
	bad := func(key, format string, args ...any) {
		p.errorf(at(key), "%s: %s", label, fmt.Sprintf(format, args...))
	}

	inst := Instance{
		Name:           ri.Name,
		Version:        DefaultVersion,
		AdvertInterval: DefaultAdvertInterval,
		Preempt:        true,
		GARPRepeat:     DefaultGARPRepeat,
		GARPDelay:      DefaultGARPDelay,
	}

	if ri.Name == "" {
		p.errorf(path, "%s: name is required", label)
	} else if err := checkName(ri.Name); err != nil {
		bad("name", "name %v", err)
	}

	inst.Announce = AnnounceVRRP
	badAnnounce := false
	if v := ri.Announce; v != nil {
		switch *v {
		case AnnounceVRRP, AnnounceBGP, AnnounceRoute:
			inst.Announce = *v
		default:
			badAnnounce = true
			bad("announce", "announce %q is not one of \"vrrp\", \"bgp\", \"route\"", *v)
		}
	}
	if inst.Routed() {
		inst.Interface = "lo"
		inst.WithdrawDelay = DefaultWithdrawDelay
		if inst.Announce == AnnounceRoute {
			inst.RouteTable, inst.RouteProtocol = DefaultRouteTable, DefaultRouteProtocol
		}
	} else {
		notRouted(ri, bad)
	}

	switch v := ri.VRID; {
	case inst.Routed(), badAnnounce && v == nil:
	case v == nil:
		p.errorf(path, "%s: vrid is required (1..255)", label)
	case *v < 1 || *v > 255:
		bad("vrid", "vrid %d is out of range 1..255", *v)
	default:
		inst.VRID = uint8(*v)
	}

	switch {
	case ri.Interface != nil:
		inst.Interface = *ri.Interface
		if err := checkIfName(inst.Interface); err != nil {
			bad("interface", "interface %q %v", inst.Interface, err)
		}
	case inst.Routed():
	case cl != nil && cl.Interface != "":
		inst.Interface = cl.Interface
	default:
		p.errorf(path, "%s: no interface: set interface here or in [cluster]", label)
	}

	if v := ri.Version; v != nil {
		if *v != 2 && *v != 3 {
			bad("version", "version %d is not supported; use 3 (the default) or 2", *v)
		} else {
			inst.Version = uint8(*v)
		}
	}

	if !inst.Routed() {
		p.advertInterval(ri, path, label, cl, &inst)
	}

	vipsOK := len(ri.VIPs) > 0
	if len(ri.VIPs) == 0 {
		p.errorf(at("vips"), "%s: vips is empty; list at least one address, such as vips = [\"192.0.2.100/24\"]", label)
	}
	for _, s := range ri.VIPs {
		vip, dev, err := parseVIPEntry(s)
		switch {
		case err != nil:
			bad("vips", "vip %q %v", s, err)
		case slices.ContainsFunc(inst.VIPs, func(q netip.Prefix) bool { return q.Addr() == vip.Addr() }):
			where := ""
			if other := inst.VIPInterface(vip.Addr()); dev.Interface != "" && dev.Interface != other {
				where = fmt.Sprintf(" (on %s and on %s); an address is bound on one interface", other, dev.Interface)
			}
			bad("vips", "vip %s is listed twice%s", vip.Addr(), where)
		case vip.Addr().Is6() && inst.Version == 2:
			bad("vips", "vip %s is IPv6, which VRRPv2 does not carry; use version = 3", vip)
		case dev.Interface != "" && inst.Routed():
			bad("vips", "vip %q: dev applies to announce = \"vrrp\"; a VIP announced by routing is bound on %s", s, inst.Interface)
		case dev.NoTrack && (dev.Interface == "" || dev.Interface == inst.Interface):
			bad("vips", "vip %q: no_track has no effect on the instance's interface, which is always tracked; remove it", s)
		default:
			inst.VIPs = append(inst.VIPs, vip)
			if dev.Interface != "" && dev.Interface != inst.Interface {
				if inst.VIPDevs == nil {
					inst.VIPDevs = make(map[netip.Addr]VIPDev)
				}
				inst.VIPDevs[vip.Addr()] = dev
			}
			continue
		}
		vipsOK = false
	}

	if v := ri.Priority; v != nil {
		switch {
		case *v < 1 || *v > 255:
			bad("priority", "priority %d is out of range 1..255", *v)
		case *v == 255 && cl != nil:
			bad("priority", "priority 255 (address owner) would apply to every node of [cluster]; leave priority out to derive it from the node order")
		default:
			inst.Priority = uint8(*v)
		}
	} else if cl == nil {
		p.errorf(path, "%s: priority is required without [cluster] (1..255; 255 = address owner)", label)
	}

	if len(ri.Order) > 0 {
		switch {
		case cl == nil:
			bad("order", "order lists [[cluster.node]] names, but the file has no [cluster]")
		case ri.Priority != nil:
			bad("order", "order has no effect with an explicit priority; remove one of them")
		}
		for j, name := range ri.Order {
			switch {
			case cl == nil:
			case slices.Contains(ri.Order[:j], name):
				bad("order", "order names %q twice", name)
			default:
				if _, ok := cl.node(name); !ok {
					bad("order", "order names %q, which is not a [[cluster.node]] (nodes: %s)", name, strings.Join(cl.names(), ", "))
				}
			}
		}
		inst.Order = slices.Clone(ri.Order)
	}

	if ri.Preempt != nil {
		inst.Preempt = *ri.Preempt
	}
	if v := ri.PreemptDelay; v != nil {
		d := time.Duration(*v)
		switch {
		case d < 0:
			bad("preempt_delay", "preempt_delay %s is negative", d)
		case d > maxPreemptDelay:
			bad("preempt_delay", "preempt_delay %s is above the maximum of 1h", d)
		case d > 0 && !inst.Preempt:
			bad("preempt_delay", "preempt_delay has no effect with preempt = false; remove one of them")
		default:
			inst.PreemptDelay = d
		}
	}

	switch {
	case inst.Routed():
		p.routed(ri, &inst, bad)
	case vipsOK:
		// Unicast peers are checked against the VIP families.
		p.unicast(ri, path, label, cl, clusterOK, &inst)
	}

	if v := ri.AuthPassword; v != nil {
		switch {
		case inst.Version != 2:
			bad("auth_password", "auth_password is VRRPv2 only (VRRPv3 has no authentication); remove it or set version = 2")
		case len(*v) < 1 || len(*v) > maxAuthPassword:
			bad("auth_password", "auth_password is %d bytes long; it must be 1 to %d", len(*v), maxAuthPassword)
		default:
			inst.AuthPassword = *v
		}
	}

	if v := ri.GARPRepeat; v != nil {
		if *v < 1 || *v > maxGARPRepeat {
			bad("garp_repeat", "garp_repeat %d is out of range 1..%d", *v, maxGARPRepeat)
		} else {
			inst.GARPRepeat = int(*v)
		}
	}
	if v := ri.GARPRefresh; v != nil {
		d := time.Duration(*v)
		if d < 0 || d > 0 && d < minGARPRefresh {
			bad("garp_refresh", "garp_refresh %s must be 0s (off) or at least 1s", d)
		} else {
			inst.GARPRefresh = d
		}
	}
	if v := ri.GARPDelay; v != nil {
		d := time.Duration(*v)
		if d < 0 || d > 0 && d < minGARPRefresh || d > maxGARPDelay {
			bad("garp_delay", "garp_delay %s must be 0s (no second round) or 1s to %s", d, maxGARPDelay)
		} else {
			inst.GARPDelay = d
		}
	}

	if ri.Notify != nil {
		switch {
		case len(ri.Notify) == 0 || ri.Notify[0] == "":
			bad("notify", "notify must name a program and its arguments, such as [\"/usr/local/lib/vipd/on-change\"]")
		case !strings.HasPrefix(ri.Notify[0], "/"):
			bad("notify", "notify program %q must be an absolute path (it runs without a shell)", ri.Notify[0])
		default:
			inst.Notify = ri.Notify
		}
	}

	if v := ri.SyncGroup; v != nil {
		switch err := checkName(*v); {
		case *v == "":
			bad("sync_group", "sync_group is empty; name the group, such as sync_group = \"lb\"")
		case err != nil:
			bad("sync_group", "sync_group %v", err)
		case inst.Routed():
			bad("sync_group", "sync_group needs announce = \"vrrp\": a routed instance has no state to share")
			// Still a member: its partners are not reported alone.
			inst.SyncGroup = *v
		default:
			inst.SyncGroup = *v
		}
	}

	p.track(ri, path, label, checks, &inst)
	return inst, len(p.errs) == before
}

// track checks what the instance tracks: checks by name, and interfaces.
func (p *parser) track(ri rawInstance, path, label string, checks []string, inst *Instance) {
	bad := func(key, format string, args ...any) {
		p.errorf(path+"."+key, "%s: %s", label, fmt.Sprintf(format, args...))
	}
	for j, rt := range ri.Track {
		key := fmt.Sprintf("track[%d]", j) // the line of track when inline
		switch {
		case rt.Check == "":
			bad(key, "track #%d names no check; write { check = \"NAME\" }", j+1)
			continue
		case strings.HasPrefix(rt.Check, health.LinkPrefix):
			bad(key, "track names check %q; track interfaces with track_interfaces = [%q]",
				rt.Check, strings.TrimPrefix(rt.Check, health.LinkPrefix))
			continue
		case !slices.Contains(checks, rt.Check):
			known := "the file has no [[check]]"
			if len(checks) > 0 {
				known = "checks: " + strings.Join(checks, ", ")
			}
			bad(key, "track names check %q, which is not a [[check]] (%s)", rt.Check, known)
			continue
		case slices.ContainsFunc(inst.Track, func(t health.Track) bool { return t.Check == rt.Check }):
			bad(key, "track names check %q twice", rt.Check)
			continue
		case rt.Weight < health.MinWeight || rt.Weight > health.MaxWeight:
			bad(key+".weight", "track weight %d of check %q is out of range %d..%d",
				rt.Weight, rt.Check, health.MinWeight, health.MaxWeight)
			continue
		}
		inst.Track = append(inst.Track, health.Track{Check: rt.Check, Weight: int(rt.Weight)})
	}

	for _, entry := range ri.TrackInterfaces {
		t, err := parseTrackInterface(entry)
		if err != nil {
			bad("track_interfaces", "track_interfaces entry %q %v", entry, err)
			continue
		}
		name := t.Name
		switch {
		case slices.ContainsFunc(inst.TrackInterfaces, func(o TrackInterface) bool { return o.Name == name }):
			bad("track_interfaces", "track_interfaces names %q twice", name)
		case name == inst.Interface:
			bad("track_interfaces", "track_interfaces names %q, the instance's own interface, which is always tracked; remove it", name)
		default:
			if vip, ok := trackedVIPOn(*inst, name); ok {
				if t.Weight != 0 {
					bad("track_interfaces", "track_interfaces gives %q weight %d, but vip %s is bound there, and its interface down faults the instance, so the weight would never apply; add no_track to the VIP or remove the weight", name, t.Weight, vip)
				} else {
					bad("track_interfaces", "track_interfaces names %q, where vip %s is bound, which tracks it already; remove it", name, vip)
				}
				continue
			}
			inst.TrackInterfaces = append(inst.TrackInterfaces, t)
		}
	}
}

// trackedVIPOn returns a VIP of inst bound on ifname whose link is
// tracked (no no_track).
func trackedVIPOn(inst Instance, ifname string) (netip.Addr, bool) {
	for _, p := range inst.VIPs {
		if d, ok := inst.VIPDevs[p.Addr()]; ok && d.Interface == ifname && !d.NoTrack {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// advertInterval checks the instance's advert interval (its own, or the
// cluster's) against the limits of its version.
func (p *parser) advertInterval(ri rawInstance, path, label string, cl *Cluster, inst *Instance) {
	key, from := path+".advert_interval", ""
	switch {
	case ri.AdvertInterval != nil:
		inst.AdvertInterval = time.Duration(*ri.AdvertInterval)
	case cl != nil && cl.AdvertInterval != 0:
		inst.AdvertInterval = cl.AdvertInterval
		key, from = "cluster.advert_interval", " (from [cluster])"
	default:
		return
	}
	d := inst.AdvertInterval
	var problem string
	switch {
	case inst.Version == 3 && d < minAdvertV3:
		problem = "is below the VRRPv3 minimum of 10ms"
	case inst.Version == 3 && d > maxAdvertV3:
		problem = "is above the VRRPv3 maximum of 40.95s"
	case inst.Version == 3 && d%minAdvertV3 != 0:
		problem = "is not a multiple of 10ms, the VRRPv3 unit"
	case inst.Version == 2 && d < minAdvertV2:
		problem = "is below the VRRPv2 minimum of 1s"
	case inst.Version == 2 && d > maxAdvertV2:
		problem = "is above the VRRPv2 maximum of 255s"
	case inst.Version == 2 && d%time.Second != 0:
		problem = "is not a whole number of seconds, as VRRPv2 requires"
	default:
		return
	}
	p.errorf(key, "%s: advert_interval %s%s %s", label, d, from, problem)
}

// unicast checks the unicast settings of an instance whose VIPs are valid.
func (p *parser) unicast(ri rawInstance, path, label string, cl *Cluster, clusterOK bool, inst *Instance) {
	bad := func(key, format string, args ...any) {
		p.errorf(path+"."+key, "%s: %s", label, fmt.Sprintf(format, args...))
	}
	has := func(is6 bool) bool {
		return slices.ContainsFunc(inst.VIPs, func(v netip.Prefix) bool { return v.Addr().Is6() == is6 })
	}

	inst.Unicast = ri.Unicast != nil && *ri.Unicast
	if len(ri.UnicastPeers) > 0 {
		if ri.Unicast != nil && !*ri.Unicast {
			bad("unicast", "unicast = false contradicts unicast_peers; remove one of them")
			return
		}
		inst.Unicast = true
	}
	if !inst.Unicast {
		if ri.UnicastSource != nil {
			bad("unicast_source", "unicast_source has no effect without unicast; set unicast_peers")
		}
		return
	}

	peersOK := true
	for _, s := range ri.UnicastPeers {
		a, err := parseHostAddr(s)
		switch {
		case err != nil:
			bad("unicast_peers", "unicast peer %q %v", s, err)
		case slices.Contains(inst.UnicastPeers, a):
			bad("unicast_peers", "unicast peer %s is listed twice", a)
		case !has(a.Is6()):
			bad("unicast_peers", "unicast peer %s is %s, but the instance has no %s VIP", a, family(a.Is6()), family(a.Is6()))
		default:
			inst.UnicastPeers = append(inst.UnicastPeers, a)
			continue
		}
		peersOK = false
	}

	if ri.UnicastSource != nil {
		a, err := parseHostAddr(*ri.UnicastSource)
		switch {
		case cl != nil:
			bad("unicast_source", "unicast_source cannot be used with [cluster], where each node sends from its own address or address6")
		case err != nil:
			bad("unicast_source", "unicast_source %q %v", *ri.UnicastSource, err)
		case !has(a.Is6()):
			bad("unicast_source", "unicast_source %s is %s, but the instance has no %s VIP", a, family(a.Is6()), family(a.Is6()))
		case a.Is6():
			inst.UnicastSource6 = a
		default:
			inst.UnicastSource = a
		}
	}

	for _, is6 := range []bool{false, true} {
		if !has(is6) {
			continue
		}
		switch {
		case len(ri.UnicastPeers) > 0:
			if !peersOK {
				break
			}
			if !slices.ContainsFunc(inst.UnicastPeers, func(a netip.Addr) bool { return a.Is6() == is6 }) {
				bad("unicast_peers", "unicast_peers has no %s address for the %s VIPs", family(is6), family(is6))
				break
			}
			if cl == nil || !clusterOK {
				break
			}
			// Each node skips its own address: none may be left alone.
			for _, n := range cl.Nodes {
				if !slices.ContainsFunc(inst.UnicastPeers, func(a netip.Addr) bool {
					return a.Is6() == is6 && a != n.Address && a != n.Address6
				}) {
					bad("unicast_peers", "unicast_peers leaves node %q no %s peer but itself", n.Name, family(is6))
				}
			}
		case cl == nil:
			bad("unicast", "unicast = true needs unicast_peers in a file without [cluster]")
			return
		case !clusterOK:
		case len(cl.Nodes) < 2:
			bad("unicast", "unicast = true, but [cluster] has a single node and so no peer")
			return
		default:
			var lacking []string
			for _, n := range cl.Nodes {
				if is6 && !n.Address6.IsValid() || !is6 && !n.Address.IsValid() {
					lacking = append(lacking, strconv.Quote(n.Name))
				}
			}
			if len(lacking) > 0 {
				key := "address"
				if is6 {
					key = "address6"
				}
				bad("unicast", "unicast needs the %s of every node for the %s VIPs, and node %s has none",
					key, family(is6), strings.Join(lacking, ", node "))
			}
		}
	}
}

// instancesTogether checks what no instance can check alone: names, VRIDs
// and VIPs used twice. raw and insts are in the same order, all valid.
func (p *parser) instancesTogether(raw []rawInstance, insts []Instance) {
	type router struct {
		ifname string
		vrid   uint8
		is6    bool
	}
	names := make(map[string]int)
	routers := make(map[router]int)
	vips := make(map[netip.Addr]int)
	lineOf := func(i int) int { return p.lines.line(fmt.Sprintf("instance[%d]", i)) }
	groups := make(map[string][]int)
	for i, inst := range insts {
		if inst.SyncGroup != "" {
			groups[inst.SyncGroup] = append(groups[inst.SyncGroup], i)
		}
	}
	for _, is := range groups {
		if len(is) == 1 {
			// keepalived runs a group of one as no group, with a
			// warning; here it is a typo in the other member's name.
			i := is[0]
			p.errorf(fmt.Sprintf("instance[%d].sync_group", i), "%s: sync_group %q has no other instance; a group needs at least two (or remove sync_group)",
				raw[i].label(i), insts[i].SyncGroup)
		}
	}
	for i, inst := range insts {
		path := fmt.Sprintf("instance[%d]", i)
		label := raw[i].label(i)
		if j, dup := names[inst.Name]; dup {
			p.errorf(path+".name", "%s: name %q is already used by the instance on line %d", label, inst.Name, lineOf(j))
		} else {
			names[inst.Name] = i
		}
		for _, f := range inst.Families() {
			if inst.Routed() {
				break
			}
			r := router{inst.Interface, inst.VRID, f.IPv6}
			if j, dup := routers[r]; dup {
				p.errorf(path+".vrid", "%s: vrid %d is already used on %s for %s by instance %q (line %d)",
					label, inst.VRID, inst.Interface, family(f.IPv6), insts[j].Name, lineOf(j))
			} else {
				routers[r] = i
			}
		}
		for _, v := range inst.VIPs {
			if j, dup := vips[v.Addr()]; dup {
				p.errorf(path+".vips", "%s: vip %s is also in instance %q (line %d)", label, v.Addr(), insts[j].Name, lineOf(j))
			} else {
				vips[v.Addr()] = i
			}
		}
	}
}
