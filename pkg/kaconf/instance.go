package kaconf

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
)

// vInstance is an [[instance]] made from a vrrp_instance.
type vInstance struct {
	at            *stmt // the vrrp_instance
	kaName        string
	name          string
	vrid          int
	iface         string
	version       int
	advert        time.Duration
	priority      int
	vips          []netip.Prefix
	ipv6          bool // the family of the VIPs, as keepalived has one per instance
	preempt       bool
	preemptDelay  time.Duration
	unicastSource netip.Addr
	peers         []netip.Addr
	peersAt       *stmt
	auth          string
	garpRepeat    int // 0: vipd's default, which is keepalived's (5)
	garpRefresh   time.Duration
	notify        []string
	track         []vTrack
	trackIfaces   []string
	state         string // MASTER or BACKUP, as written; "" when not
	stateAt       *stmt
}

// vTrack is an element of an instance's track list.
type vTrack struct {
	check  string
	weight int
}

// keepalived's and VRRP's limits and defaults.
const (
	defaultPriority  = 100 // keepalived's, for an instance that is not state MASTER
	ownerPriority    = 255
	minAdvertV3      = 10 * time.Millisecond
	maxAdvertV3      = 4095 * 10 * time.Millisecond
	maxAdvertV2      = 255 * time.Second
	maxAuthPassword  = 8
	maxPreemptDelay  = 1000 * time.Second // keepalived's; vipd allows 1h
	maxTrackIfWeight = 254
)

// instance converts one vrrp_instance, or notes why it cannot.
func (c *fileConv) instance(s *stmt) *vInstance {
	in := &vInstance{at: s, kaName: s.arg(1), preempt: true}
	if in.kaName == "" {
		c.n.at(s, "vrrp_instance without a name; not converted")
		return nil
	}
	label := "vrrp_instance " + in.kaName
	in.name = safeName(in.kaName)
	if in.name == "" {
		in.name = "instance"
	}
	if in.name != in.kaName {
		c.n.at(s, "%s is named %q in vipd (names may hold letters, digits, '-', '_' and '.')", label, in.name)
	}

	// Where the keywords that interact were written, for the notes.
	var versionAt, advertAt, nopreemptAt, delayAt, srcAt, authAt, notifyAt *stmt
	var (
		version                                         int
		advert, delay, garpRef                          time.Duration
		garpRep                                         int
		garpRepSet, garpRefSet                          bool
		vipEntries, peerEntries, trackIfs, trackScripts []*stmt
	)
	for _, k := range s.block {
		switch kw := k.keyword(); kw {
		case "interface":
			in.iface = k.arg(1)
		case "virtual_router_id":
			if v, ok := c.intArg(label, k, 1, 255); ok {
				in.vrid = v
			}
		case "priority":
			if v, ok := c.intArg(label, k, 1, 255); ok {
				in.priority = v
			}
		case "advert_int":
			switch d, ok := c.durationArg(label, k); {
			case ok && d == 0:
				c.n.at(k, "%s: advert_int 0 is no interval; ignored, as keepalived does", label)
			case ok:
				advert, advertAt = d, k
			}
		case "version":
			switch v := k.arg(1); v {
			case "2", "3":
				version, versionAt = int(v[0]-'0'), k
			default:
				c.n.at(k, "%s: version %q is neither 2 nor 3; ignored, as keepalived does", label, v)
			}
		case "state":
			switch v := k.arg(1); v {
			case "MASTER", "BACKUP":
				in.state, in.stateAt = v, k
			default:
				c.n.at(k, "%s: state %q is neither MASTER nor BACKUP; ignored, as keepalived does", label, v)
			}
		case "nopreempt":
			nopreemptAt = k
		case "preempt_delay":
			if d, ok := c.durationArg(label, k); ok {
				delay, delayAt = d, k
			}
		case "virtual_ipaddress":
			vipEntries = append(vipEntries, k.block...)
		case "virtual_ipaddress_excluded":
			for _, e := range k.block {
				c.n.at(e, "%s: virtual_ipaddress_excluded %s: not converted: vipd has no excluded addresses, and as a VIP it would change the address list the routers of the VRID compare in every advert; add it to vips once every node runs vipd", label, e.keyword())
			}
		case "unicast_src_ip", "mcast_src_ip":
			srcAt = k
		case "unicast_peer":
			in.peersAt = k
			peerEntries = append(peerEntries, k.block...)
		case "authentication":
			authAt = k
		case "garp_master_repeat":
			garpRep, garpRepSet = c.garpRepeat(label, k)
		case "garp_master_refresh":
			garpRef, garpRefSet = c.durationArg(label, k)
		case "track_interface":
			trackIfs = append(trackIfs, k.block...)
		case "track_script":
			trackScripts = append(trackScripts, k.block...)
		case "notify":
			notifyAt = k
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify_master_rx_lower_pri", "notify_deleted":
			state := map[string]string{
				"notify_master": "MASTER", "notify_backup": "BACKUP", "notify_fault": "FAULT",
				"notify_stop": "INIT (vipd stopping)", "notify_master_rx_lower_pri": "MASTER",
				"notify_deleted": "INIT (vipd stopping)",
			}[kw]
			c.n.at(k, "%s: %s: not converted: vipd runs one notify program on every change, with the new state as an argument (and in $VIPD_TO): run %s from a wrapper when the new state is %s", label, kw, k.arg(1), state)
		case "accept", "native_ipv6", "check_unicast_src":
			// What vipd does anyway: a master accepts traffic to its
			// VIPs, the VIPs decide the family, and unicast adverts
			// are accepted from the listed peers only.
		default:
			c.n.at(k, "%s: %s", label, instanceReason(kw))
		}
	}

	// The VIPs decide the family, as in keepalived: the first one's.
	for _, e := range vipEntries {
		c.vip(in, label, e)
	}
	switch {
	case len(in.vips) == 0:
		c.n.at(s, "%s has no virtual_ipaddress that vipd can use; not converted", label)
		return nil
	case in.iface == "":
		c.n.at(s, "%s has no interface; not converted", label)
		return nil
	case in.vrid == 0:
		c.n.at(s, "%s has no valid virtual_router_id; not converted", label)
		return nil
	}
	for _, e := range vipEntries {
		c.vipDev(in, label, e)
	}

	switch {
	case version != 0:
		in.version = version
		if version == 2 && in.ipv6 {
			c.n.at(versionAt, "%s: VRRPv2 cannot carry IPv6 addresses; version 3, as keepalived uses", label)
			in.version = 3
		}
	case in.ipv6:
		in.version = 3
	case c.version != 0:
		in.version = c.version
	default:
		in.version = 2 // keepalived's default; vipd's is 3
	}
	c.advert(in, label, advert, advertAt)

	if in.priority == 0 {
		in.priority = defaultPriority
		if in.state == "MASTER" {
			in.priority = ownerPriority
			c.n.at(in.stateAt, "%s: state MASTER without priority: keepalived's priority is then 255 (the address owner), and so is vipd's; write the priority meant", label)
		}
	}
	c.preemption(in, label, nopreemptAt, delay, delayAt)
	c.unicast(in, label, srcAt, peerEntries)
	if authAt != nil && !c.auth(in, label, authAt) {
		return nil
	}

	in.garpRepeat, in.garpRefresh = c.garpRep, c.garpRef
	if garpRepSet {
		in.garpRepeat = garpRep
	}
	if garpRefSet {
		in.garpRefresh = garpRef
	}
	if in.garpRefresh > 0 && in.garpRefresh < time.Second {
		in.garpRefresh = time.Second
	}

	for _, e := range trackIfs {
		c.trackInterface(in, label, e)
	}
	for _, e := range trackScripts {
		c.trackScript(in, label, e, false)
	}
	c.groups(in, label)
	if notifyAt != nil {
		c.notify(in, label, notifyAt)
	}
	return in
}

// instanceReason says why an instance keyword is not converted.
func instanceReason(kw string) string {
	switch kw {
	case "use_vmac", "vmac_xmit_base":
		return kw + ": vipd does not use virtual MACs (the VIP moves with gratuitous ARP); dropped"
	case "dont_track_primary":
		return "dont_track_primary: vipd always tracks the instance's own interface; dropped"
	case "no_accept":
		return "no_accept: vipd has no non-accept mode: its master accepts traffic to the VIPs; dropped"
	case "strict_mode":
		return "strict_mode: vipd follows RFC 9568 without it and adds no firewall rules; dropped"
	case "track_file", "track_bfd", "track_process":
		return kw + ": not converted: vipd tracks checks and interfaces only; an exec check can test the same condition"
	case "virtual_routes", "virtual_rules", "promote_secondaries":
		return kw + ": not converted: vipd manages only the VIPs; a notify program can add routes and rules"
	case "smtp_alert":
		return "smtp_alert: not converted: vipd sends no email; a notify program can"
	case "garp_master_delay", "garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_master_refresh_repeat",
		"lower_prio_no_advert", "higher_prio_send_advert":
		return kw + ": not converted: vipd sends garp_repeat gratuitous ARPs at once on becoming master and answers a lower-priority advert as RFC 9568 says"
	case "debug", "skip_check_adv_addr", "track_src_ip", "old_unicast_checksum", "kernel_rx_buf_size",
		"unicast_fault_no_peer", "unicast_ttl", "vrrp_skip_check_adv_addr":
		return kw + ": not converted: no vipd equivalent"
	}
	return kw + ": not converted: unknown to the converter"
}

// vip reads one virtual_ipaddress entry: ADDRESS[/PREFIX] [options].
func (c *fileConv) vip(in *vInstance, label string, e *stmt) {
	addr := e.keyword()
	p, err := parseVIP(addr)
	if err != nil {
		why := err.Error()
		if strings.Contains(addr, "$") {
			why = "an unresolved placeholder: write the address"
		}
		c.n.at(e, "%s: virtual_ipaddress %s: %s; not converted", label, addr, why)
		return
	}
	if len(in.vips) == 0 {
		in.ipv6 = p.Addr().Is6()
	}
	switch {
	case p.Addr().Is6() != in.ipv6:
		c.n.at(e, "%s: virtual_ipaddress %s is %s, but the instance is %s (its first address): keepalived ignores it; not converted (vipd could run both families in one instance, once every node runs vipd)",
			label, addr, family(p.Addr().Is6()), family(in.ipv6))
		return
	case slices.ContainsFunc(in.vips, func(q netip.Prefix) bool { return q.Addr() == p.Addr() }):
		c.n.at(e, "%s: virtual_ipaddress %s is listed twice; once", label, addr)
		return
	}
	in.vips = append(in.vips, p)
}

// vipDev notes the options of a virtual_ipaddress entry that vipd does
// not carry; it runs when the instance's interface is known.
func (c *fileConv) vipDev(in *vInstance, label string, e *stmt) {
	addr := e.keyword()
	if _, err := parseVIP(addr); err != nil {
		return
	}
	opts := e.words[1:]
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		val := ""
		switch o {
		case "dev", "label", "scope", "brd", "broadcast", "preferred_lft", "metric":
			if i+1 < len(opts) {
				i++
				val = opts[i]
			}
		}
		switch o {
		case "dev":
			if val != in.iface {
				c.n.at(e, "%s: virtual_ipaddress %s dev %s: vipd binds all VIPs of an instance on its interface, %s; the VIP is bound there (make an instance on %s to keep it there)",
					label, addr, val, in.iface, val)
			}
		case "label":
			c.n.at(e, "%s: virtual_ipaddress %s label %s: dropped; vipd labels its IPv4 addresses %s", label, addr, val, labelOf(in.iface))
		case "scope":
			if val != "global" {
				c.n.at(e, "%s: virtual_ipaddress %s scope %s: dropped; vipd adds VIPs with global scope", label, addr, val)
			}
		case "brd", "broadcast":
			if val != "+" {
				c.n.at(e, "%s: virtual_ipaddress %s %s %s: dropped; vipd sets the broadcast address of the prefix", label, addr, o, val)
			}
		case "-nodad", "nodad":
			// vipd adds IPv6 VIPs without duplicate address detection.
		default:
			c.n.at(e, "%s: virtual_ipaddress %s: option %s: dropped; vipd adds the address with its prefix and nothing else", label, addr, strings.TrimSpace(o+" "+val))
		}
	}
}

// labelOf is the label vipd gives IPv4 VIPs (netif.Label).
func labelOf(ifname string) string {
	const max = 15
	if len(ifname) >= max-1 {
		return ifname[:min(len(ifname), max)]
	}
	return ifname + ":vipd"[:min(5, max-len(ifname))]
}

// parseVIP parses a VIP as vipd accepts it: an address, with a prefix
// length or without (/32, /128), that can belong to a host.
func parseVIP(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		q, err := netip.ParsePrefix(s)
		if err != nil {
			return p, errors.New("is not an address or address/prefix-length")
		}
		p = q
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, errors.New("is not an address or address/prefix-length")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	switch {
	case p.Bits() == 0:
		return p, errors.New("has prefix length 0")
	case a.Is4In6(), a.IsUnspecified(), a.IsMulticast(), a.IsLoopback(),
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return p, errors.New("cannot be a VIP (unspecified, multicast, loopback, broadcast or IPv4-mapped)")
	}
	return p, nil
}

// advert sets the advert interval, rounded as keepalived rounds it for
// the version.
func (c *fileConv) advert(in *vInstance, label string, d time.Duration, at *stmt) {
	if at == nil {
		in.advert = time.Second // keepalived's default, and vipd's
		return
	}
	was := d
	if in.version == 2 {
		d = min(max((d+time.Second/2).Truncate(time.Second), time.Second), maxAdvertV2)
	} else {
		d = min(max((d+5*time.Millisecond).Truncate(10*time.Millisecond), minAdvertV3), maxAdvertV3)
	}
	if d != was {
		c.n.at(at, "%s: advert_int %s is not a valid VRRPv%d interval; %s, as keepalived rounds it", label, at.arg(1), in.version, d)
	}
	in.advert = d
}

// preemption applies nopreempt and preempt_delay as keepalived does: both
// are ignored with state MASTER, nopreempt with priority 255 too.
func (c *fileConv) preemption(in *vInstance, label string, nopreemptAt *stmt, delay time.Duration, delayAt *stmt) {
	if nopreemptAt != nil {
		switch {
		case in.state == "MASTER":
			c.n.at(nopreemptAt, "%s: nopreempt with state MASTER: keepalived ignores it (\"nopreempt will not work with initial state MASTER\"), so vipd preempts too; for no preemption, write state BACKUP in keepalived and preempt = false in vipd", label)
		case in.priority == ownerPriority:
			c.n.at(nopreemptAt, "%s: nopreempt with priority 255: keepalived ignores it, so vipd preempts too", label)
		default:
			in.preempt = false
		}
	}
	if delayAt == nil || delay == 0 {
		return
	}
	switch {
	case in.state == "MASTER":
		c.n.at(delayAt, "%s: preempt_delay with state MASTER: keepalived ignores it; not converted", label)
	case !in.preempt:
		c.n.at(delayAt, "%s: preempt_delay with nopreempt: keepalived ignores it; not converted", label)
	case delay > maxPreemptDelay:
		c.n.at(delayAt, "%s: preempt_delay %s is above keepalived's maximum of 1000s: keepalived ignores it; not converted", label, delay)
	default:
		in.preemptDelay = delay
	}
}

// unicast reads unicast_src_ip and unicast_peer.
func (c *fileConv) unicast(in *vInstance, label string, srcAt *stmt, entries []*stmt) {
	var src netip.Addr
	if srcAt != nil {
		a, err := netip.ParseAddr(srcAt.arg(1))
		switch {
		case err != nil || a.Zone() != "":
			c.n.at(srcAt, "%s: %s %q is not an IP address; not converted", label, srcAt.keyword(), srcAt.arg(1))
		case a.Is6() != in.ipv6:
			c.n.at(srcAt, "%s: %s %s is %s, but the instance is %s; not converted", label, srcAt.keyword(), a, family(a.Is6()), family(in.ipv6))
		default:
			src = a
		}
	}
	for _, e := range entries {
		a, err := netip.ParseAddr(e.keyword())
		switch {
		case err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a.Is4In6():
			c.n.at(e, "%s: unicast_peer %s is not a peer's address; not converted", label, e.keyword())
			continue
		case a.Is6() != in.ipv6:
			c.n.at(e, "%s: unicast_peer %s is %s, but the instance is %s: keepalived skips it; not converted", label, a, family(a.Is6()), family(in.ipv6))
			continue
		case a == src:
			c.n.at(e, "%s: unicast_peer %s is this node's unicast_src_ip; dropped", label, a)
			continue
		case slices.Contains(in.peers, a):
			continue
		}
		if len(e.words) > 1 {
			c.n.at(e, "%s: unicast_peer %s: %s: dropped; vipd sends and accepts adverts with TTL 255 only", label, a, strings.Join(e.words[1:], " "))
		}
		in.peers = append(in.peers, a)
	}
	switch {
	case len(in.peers) > 0:
		in.unicastSource = src
	case srcAt != nil && src.IsValid() && srcAt.keyword() == "mcast_src_ip":
		c.n.at(srcAt, "%s: mcast_src_ip %s: not converted: vipd sends multicast adverts from the interface's primary address", label, src)
	case srcAt != nil && src.IsValid():
		c.n.at(srcAt, "%s: unicast_src_ip %s without unicast_peer is the source of multicast adverts: vipd sends them from the interface's primary address; not converted", label, src)
	}
}

// auth reads the authentication block; false means the instance cannot
// be converted.
func (c *fileConv) auth(in *vInstance, label string, at *stmt) bool {
	var typ, pass string
	var typAt, passAt *stmt
	for _, k := range at.block {
		switch k.keyword() {
		case "auth_type":
			typ, typAt = k.arg(1), k
		case "auth_pass":
			pass, passAt = k.arg(1), k
		default:
			c.n.at(k, "%s: authentication: %s: not converted: unknown to the converter", label, k.keyword())
		}
	}
	switch {
	case typ == "AH":
		c.n.at(typAt, "%s: auth_type AH (IPsec AH): vipd does not implement it, and without it vipd could not join the keepalived routers of the VRID; the instance is not converted (RFC 3768 removed VRRP authentication: drop it from keepalived first)", label)
		return false
	case typAt == nil:
		c.n.at(at, "%s: authentication without auth_type: keepalived ignores it; not converted", label)
	case typ != "PASS":
		c.n.at(typAt, "%s: auth_type %q is neither PASS nor AH: keepalived ignores it; not converted", label, typ)
	case pass == "":
		c.n.at(typAt, "%s: auth_type PASS without auth_pass: keepalived ignores it; not converted", label)
	case in.version != 2:
		c.n.at(typAt, "%s: authentication with VRRPv3: keepalived ignores it (VRRPv3 has none); not converted", label)
	case !utf8.ValidString(pass):
		c.n.at(passAt, "%s: auth_pass is not UTF-8 text, which a vipd configuration cannot hold; the instance is not converted", label)
		return false
	case len(pass) > maxAuthPassword && !utf8.ValidString(pass[:maxAuthPassword]):
		c.n.at(passAt, "%s: auth_pass is longer than 8 bytes, and its first 8, which keepalived uses, are not UTF-8 text, which a vipd configuration cannot hold; the instance is not converted", label)
		return false
	default:
		if len(pass) > maxAuthPassword {
			c.n.at(passAt, "%s: auth_pass is longer than 8 bytes: keepalived uses the first 8, and so does vipd", label)
			pass = pass[:maxAuthPassword]
		}
		in.auth = pass
	}
	return true
}

// trackInterface reads a track_interface entry: IFNAME [weight N].
func (c *fileConv) trackInterface(in *vInstance, label string, e *stmt) {
	ifname := e.keyword()
	weight := 0
	if e.arg(1) == "weight" {
		if w, ok := c.intArgAt(label, e, 2, -maxTrackIfWeight, maxTrackIfWeight); ok {
			weight = w
		}
	} else if len(e.words) > 1 {
		c.n.at(e, "%s: track_interface %s: %s: not converted", label, ifname, strings.Join(e.words[1:], " "))
	}
	if weight != 0 {
		c.n.at(e, "%s: track_interface %s weight %d: vipd puts the instance in fault while a tracked interface is down, as keepalived does without a weight; the weight is dropped", label, ifname, weight)
	}
	switch {
	case ifname == in.iface:
		// vipd tracks the instance's own interface, always.
	case slices.Contains(in.trackIfaces, ifname):
	default:
		in.trackIfaces = append(in.trackIfaces, ifname)
	}
}

// trackScript reads a track_script entry: NAME [weight N]. forceZero sets
// the weight to 0, as keepalived does for the tracking of sync groups.
func (c *fileConv) trackScript(in *vInstance, label string, e *stmt, forceZero bool) {
	name := e.keyword()
	sc, ok := c.scripts[name]
	if !ok {
		c.n.at(e, "%s: track_script %s: there is no vrrp_script %s; keepalived ignores it; not converted", label, name, name)
		return
	}
	weight := sc.weight
	switch {
	case e.arg(1) == "weight":
		if w, ok := c.intArgAt(label, e, 2, -253, 253); ok {
			weight = w
		}
		if e.arg(3) == "reverse" {
			c.n.at(e, "%s: track_script %s: weight reverse is not supported by vipd; not converted", label, name)
			return
		}
	case len(e.words) > 1:
		c.n.at(e, "%s: track_script %s: %s: not converted", label, name, strings.Join(e.words[1:], " "))
	}
	if forceZero && weight != 0 {
		weight = 0
	}
	ch := c.resolve(sc)
	if ch == nil {
		c.n.at(e, "%s: track_script %s: the vrrp_script is not converted, so neither is its track", label, name)
		return
	}
	if i := slices.IndexFunc(in.track, func(t vTrack) bool { return t.check == ch.name }); i >= 0 {
		in.track[i].weight = weight // keepalived keeps the last
		return
	}
	in.track = append(in.track, vTrack{check: ch.name, weight: weight})
}

// groups applies the instance's sync groups as keepalived does: the
// weights of its tracks become 0 unless the group keeps them, and the
// group's tracking is added to the instance's.
func (c *fileConv) groups(in *vInstance, label string) {
	for _, g := range c.groupsOf[in.kaName] {
		if !g.keepWeights && slices.ContainsFunc(in.track, func(t vTrack) bool { return t.weight != 0 }) {
			c.n.at(in.at, "%s: keepalived sets the weights of its track_script to 0 as a member of vrrp_sync_group %s (no sync_group_tracking_weight); so does the conversion", label, g.name)
			for i := range in.track {
				in.track[i].weight = 0
			}
		}
		for _, t := range g.trackIfs {
			for _, e := range t.block {
				c.trackInterface(in, label, e)
			}
		}
		for _, t := range g.trackScr {
			for _, e := range t.block {
				c.trackScript(in, label, e, !g.keepWeights)
			}
		}
	}
}

// notify converts the instance's notify program.
func (c *fileConv) notify(in *vInstance, label string, at *stmt) {
	if at.arg(1) == "" {
		c.n.at(at, "%s: notify without a program; not converted", label)
		return
	}
	if u := at.arg(2); u != "" && u != "root" {
		c.n.at(at, "%s: notify: user %s: not converted: vipd runs notify programs as root", label, u)
	}
	text, _, err := commandText(at)
	var words []string
	var shell bool
	if err == nil {
		words, shell, err = commandLine(text)
	}
	if err != nil {
		c.n.at(at, "%s: notify %s: %v; not converted", label, at.rest, err)
		return
	}
	var p probe
	if shell {
		p = probe{typ: health.TypeExec, command: []string{shellPath, "-c", words[0]}, shell: true}
	} else {
		p = execProbe(words)
	}
	in.notify = p.command
	c.remarkProbe(at, label+": notify", &p)
	c.n.at(at, "%s: notify: keepalived appends the arguments INSTANCE NAME STATE PRIORITY; vipd appends NAME FAMILY OLD-STATE NEW-STATE REASON (and sets $VIPD_TO, $VIPD_PRIORITY, ...): adapt the program", label)
}

// keepValid keeps the instances vipd accepts: each on its own (with the
// checks it tracks), and together (names, VRIDs and VIPs used once).
func (c *fileConv) keepValid() {
	var kept []*vInstance
	for _, in := range c.nd.instances {
		label := "vrrp_instance " + in.kaName
		var clash string
		for _, o := range kept {
			switch {
			case o.name == in.name:
				clash = fmt.Sprintf("its name %q is also that of vrrp_instance %s (line %d)", in.name, o.kaName, o.at.line)
			case o.iface == in.iface && o.vrid == in.vrid && o.ipv6 == in.ipv6:
				clash = fmt.Sprintf("vrid %d on %s is also that of vrrp_instance %s (line %d)", in.vrid, in.iface, o.kaName, o.at.line)
			case slices.ContainsFunc(in.vips, func(p netip.Prefix) bool {
				return slices.ContainsFunc(o.vips, func(q netip.Prefix) bool { return p.Addr() == q.Addr() })
			}):
				clash = fmt.Sprintf("a VIP is also in vrrp_instance %s (line %d)", o.kaName, o.at.line)
			}
			if clash != "" {
				break
			}
		}
		if clash != "" {
			c.n.at(in.at, "%s: %s; not converted", label, clash)
			continue
		}
		var checks []*vCheck
		for _, sc := range c.order {
			if sc.check != nil && slices.ContainsFunc(in.track, func(t vTrack) bool { return t.check == sc.check.name }) {
				checks = append(checks, sc.check)
			}
		}
		if err := validate(c.path, renderFile(c.path, "", checks, []*vInstance{in})); err != nil {
			c.n.at(in.at, "%s: vipd rejects the conversion: %s; not converted", label, configErrors(err))
			continue
		}
		kept = append(kept, in)
	}
	c.nd.instances = kept
}

// configErrors lists the messages of config.Parse's errors, without the
// places in the converted file, which the reader of a note does not see.
func configErrors(err error) string {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		var ce *config.Error
		if errors.As(e, &ce) {
			msgs[i] = ce.Msg
		} else {
			msgs[i] = e.Error()
		}
	}
	return strings.Join(msgs, "; ")
}
