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
)

// vInstance is a vrrp_instance: first as keepalived 2.2.7 reads and
// completes it, then the [[instance]] made from it.
type vInstance struct {
	at     *stmt // the vrrp_instance
	kaName string

	// keepalived's view, with where each keyword was written.
	iface             string
	ifaceAt           *stmt
	vrid              int
	basePriority      int // 0: not set
	prioAt            *stmt
	state             string // MASTER or BACKUP as keepalived settles it
	stateAt           *stmt
	advertSet         time.Duration // advert_int as read; 0: not set
	advertAt          *stmt
	family            int // 4 or 6; 0 until an address says
	nopreempt         bool
	nopreemptAt       *stmt
	delay             time.Duration
	delayAt           *stmt
	kaVIPs            []kaVIP
	evips             []*stmt
	unicastConfigured bool
	unicast           bool // unicast peers, once completed
	faultNoPeer       bool
	checkSrc          bool // keepalived accepts unicast adverts from its peers only
	src               netip.Addr
	srcAt             *stmt
	kaPeers           []netip.Addr
	peerTTL           []*stmt // peers with min_ttl or max_ttl
	authType          string
	authAt            *stmt
	authPass          string
	authPassAt        *stmt
	garpRep           int
	garpRepSet        bool
	garpRef           time.Duration
	garpRefSet        bool
	garpDel           time.Duration
	garpDelSet        bool
	tracks            []kaTrack
	trackIfs          []kaTrackIf
	lacks             []kaLack
	strictMode        int  // -1 not set, else 0 or 1
	strict            bool // strict mode, once completed
	mcastDst          *stmt
	notifyAt          *stmt
	differs           []Note // keywords whose effect vipd does not have
	group             *kaGroup

	// The [[instance]].
	name          string
	version       int
	advert        time.Duration
	priority      int
	vips          []netip.Prefix
	ipv6          bool
	preempt       bool
	preemptDelay  time.Duration
	unicastSource netip.Addr
	peers         []netip.Addr
	peersAt       *stmt
	auth          string
	garpRepeat    int // 0: vipd's default, which is keepalived's (5)
	garpRefresh   time.Duration
	garpDelay     time.Duration
	notify        []string
	track         []vTrack
	trackIfaces   []vTrackIf
	// vipDevs are the VIPs bound on another interface than iface.
	vipDevs map[netip.Addr]config.VIPDev
	// syncGroup is the vipd sync_group of a member of a vrrp_sync_group
	// of two or more.
	syncGroup string

	// refused: vipd cannot run the instance as keepalived does, and it
	// is left out; reasons say why it is not safe for a mixed fleet.
	refused bool
	reasons []Note
}

// keepalived's and VRRP's limits and defaults.
const (
	defaultPriority = 100 // keepalived's, for an instance that is not state MASTER
	ownerPriority   = 255
	minAdvert       = 10 * time.Millisecond
	maxAdvert       = 255 * time.Second
	maxAdvertV3     = 4095 * 10 * time.Millisecond
	maxAuthPassword = 8
	maxPreemptDelay = 1000 * time.Second // keepalived's TIMER_MAX_SEC
	maxIfName       = 15                 // IFNAMSIZ - 1
	// The most addresses keepalived puts in an advert on an interface of
	// MTU 1500 (VRRP's count is one octet; IPv6 addresses fill a frame
	// sooner). keepalived moves the rest to virtual_ipaddress_excluded.
	maxAddrsV4 = 255
	maxAddrsV6 = (1500 - 14 - 40 - 8) / 16
)

// unsafe records why the instance is not safe for a mixed fleet; it is
// still converted.
func (c *fileConv) unsafe(in *vInstance, s *stmt, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.n.at(s, "vrrp_instance %s: %s", in.kaName, msg)
	in.reasons = append(in.reasons, Note{File: s.file, Line: s.line, Msg: msg})
}

// refuse records why vipd cannot run the instance as keepalived does; it
// is left out.
func (c *fileConv) refuse(in *vInstance, s *stmt, format string, args ...any) {
	c.unsafe(in, s, format+"; the instance is not converted", args...)
	in.refused = true
}

// instance reads one vrrp_instance in the order keepalived does: the
// first address of any kind fixes its family, a version after that is
// checked against it, and the scripts a track names must be defined
// before it. It returns nil for an instance keepalived skips.
func (c *fileConv) instance(s *stmt) *vInstance {
	if len(s.words) != 2 {
		c.n.at(s, "vrrp_instance without a name: keepalived skips it (\"vrrp_instance must have a name\")")
		return nil
	}
	in := &vInstance{at: s, kaName: s.arg(1), strictMode: -1}
	if slices.ContainsFunc(c.nd.instances, func(o *vInstance) bool { return o.kaName == in.kaName }) {
		c.n.at(s, "vrrp_instance %s is defined twice: keepalived skips this one (\"vrrp instance %s already defined\")", in.kaName, in.kaName)
		return nil
	}
	label := "vrrp_instance " + in.kaName
	for _, k := range s.block {
		kw := k.keyword()
		if needsArg[kw] && !c.needArg(k) {
			continue
		}
		switch kw {
		case "interface":
			switch name := k.arg(1); {
			case len(name) > maxIfName:
				c.n.at(k, "%s: interface name %q is too long: keepalived ignores it", label, name)
			case name == "lo":
				c.n.at(k, "%s: keepalived cannot use a loopback interface and ignores it", label)
				in.iface, in.ifaceAt = "", nil
			default:
				in.iface, in.ifaceAt = name, k
			}
		case "virtual_router_id":
			if v := kaUnsigned(k.arg(1), 1, 255, false); v.ok {
				in.vrid = int(v.val)
			} else {
				c.n.at(k, "%s: virtual_router_id %q: keepalived says \"VRID not valid - must be between 1 & 255\" and ignores it", label, k.arg(1))
			}
		case "priority":
			if v := kaUnsigned(k.arg(1), 1, ownerPriority, false); v.ok {
				in.basePriority = int(v.val)
			} else {
				c.n.at(k, "%s: priority %q: keepalived says \"Priority not valid! must be between 1 & 255. Using default 100\"; 100", label, k.arg(1))
				in.basePriority = defaultPriority
			}
			in.prioAt = k
		case "state":
			switch v := k.arg(1); {
			case v == "MASTER":
				in.state, in.stateAt = "MASTER", k
			case v == "BACKUP" && in.state == "MASTER":
				c.n.at(k, "%s: state BACKUP after state MASTER: keepalived keeps MASTER", label)
			case v == "BACKUP":
				in.state, in.stateAt = "BACKUP", k
			default:
				c.n.at(k, "%s: state %q: keepalived says \"unknown state\" and uses BACKUP", label, v)
				in.state, in.stateAt = "BACKUP", k
			}
		case "advert_int":
			d, v := kaSeconds(k.arg(1), minAdvert, maxAdvert, true)
			switch {
			case !v.ok:
				c.n.at(k, "%s: advert_int %q: keepalived says \"Advert interval not valid\" and ignores it", label, k.arg(1))
			default:
				in.advertSet, in.advertAt = d, k
			}
		case "version":
			v := kaInt(k.arg(1), 2, 3, true)
			switch {
			case !v.ok:
				c.n.at(k, "%s: version %q: keepalived says \"Version must be either 2 or 3\" and ignores it", label, k.arg(1))
			case v.val == 2 && in.family == 6:
				c.n.at(k, "%s: version 2 after an IPv6 address: keepalived ignores it (\"conflicts with configured or deduced version\")", label)
			default:
				if in.version != 0 && in.version != int(v.val) {
					c.n.at(k, "%s: version %d after version %d: keepalived ignores it", label, v.val, in.version)
					continue
				}
				in.version = int(v.val)
			}
		case "nopreempt":
			in.nopreempt, in.nopreemptAt = true, k
		case "preempt":
			in.nopreempt, in.nopreemptAt = false, nil
		case "preempt_delay":
			d, v := kaSeconds(k.arg(1), 0, maxPreemptDelay, true)
			if !v.ok {
				c.n.at(k, "%s: preempt_delay %q: keepalived says \"Preempt_delay not valid! must be between 0-1000\"; 0", label, k.arg(1))
				d = 0
			}
			in.delay, in.delayAt = d, k
		case "virtual_ipaddress":
			for _, e := range k.block {
				c.vip(in, label, e)
			}
		case "virtual_ipaddress_excluded":
			in.evips = append(in.evips, k.block...)
		case "native_ipv6":
			if in.family == 4 {
				c.n.at(k, "%s: native_ipv6 with IPv4 addresses: keepalived ignores it", label)
				continue
			}
			in.family, in.version = 6, 3
		case "unicast_src_ip", "mcast_src_ip":
			if kw == "unicast_src_ip" {
				in.unicastConfigured = true
			}
			a, err := netip.ParseAddr(k.arg(1))
			switch {
			case err != nil || a.Zone() != "":
				c.n.at(k, "%s: %s %q is malformed: keepalived skips it", label, kw, k.arg(1))
			case !c.setFamily(in, a):
				c.n.at(k, "%s: %s %s is %s, but the instance is %s: keepalived skips it", label, kw, a, family(a.Is6()), familyOf(in.family))
			default:
				in.src, in.srcAt = a, k
			}
		case "unicast_peer":
			in.unicastConfigured = true
			in.peersAt = k
			for _, e := range k.block {
				c.peer(in, label, e)
			}
		case "unicast_fault_no_peer":
			in.unicastConfigured, in.faultNoPeer = true, true
		case "check_unicast_src":
			in.unicastConfigured, in.checkSrc = true, true
		case "mcast_dst_ip":
			a, err := netip.ParseAddr(k.arg(1))
			switch {
			case err != nil || !c.setFamily(in, a):
				c.n.at(k, "%s: mcast_dst_ip %s is malformed or not of the instance's family: keepalived skips it", label, k.arg(1))
			case a.Is4() && !a.IsMulticast() || a.Is6() && !a.IsLinkLocalMulticast():
				c.n.at(k, "%s: mcast_dst_ip %s is not a link-local multicast address: keepalived skips it", label, a)
			case a != netip.MustParseAddr("224.0.0.18") && a != netip.MustParseAddr("ff02::12"):
				in.mcastDst = k
			}
		case "authentication":
			in.authAt = k
			for _, e := range k.block {
				switch e.keyword() {
				case "auth_type":
					if !c.needArg(e) {
						continue
					}
					switch t := e.arg(1); t {
					case "PASS", "AH":
						in.authType = t
					default:
						c.n.at(e, "%s: auth_type %q: keepalived says \"unknown authentication type\" and ignores it", label, t)
					}
				case "auth_pass":
					if !c.needArg(e) {
						continue
					}
					in.authPass, in.authPassAt = e.arg(1), e
					if len(in.authPass) > maxAuthPassword {
						c.n.at(e, "%s: auth_pass is longer than 8 bytes: keepalived uses the first 8 (\"Truncating auth_pass\"), and so does vipd", label)
						in.authPass = in.authPass[:maxAuthPassword]
					}
				default:
					c.n.at(e, "%s: authentication: %s: keepalived 2.2.7 does not know it and ignores it", label, e.keyword())
				}
			}
		case "garp_master_repeat":
			in.garpRep, in.garpRepSet = c.garpRepeat(label, k)
		case "garp_master_refresh":
			in.garpRef, in.garpRefSet = c.garpRefresh(label, k), true
		case "garp_master_delay":
			if c.needArg(k) {
				in.garpDel, in.garpDelSet = c.garpDelay(label, k)
			}
		case "track_interface", "track_script", "track_process":
			c.readTracking(label, k, &in.trackIfs, &in.tracks)
		case "track_file":
			for _, e := range k.block {
				if _, ok := c.files[e.keyword()]; !ok {
					c.n.at(e, "%s: track_file %s: there is no vrrp_track_file %s before it, so keepalived ignores it", label, e.keyword(), e.keyword())
					continue
				}
				in.lacks = append(in.lacks, kaLack{kw, e})
			}
		case "track_bfd":
			for _, e := range k.block {
				in.lacks = append(in.lacks, kaLack{kw, e})
			}
		case "strict_mode":
			switch v := k.arg(1); {
			case v == "":
				in.strictMode = 1
			case kaTrueFalse(v) >= 0:
				in.strictMode = kaTrueFalse(v)
			default:
				c.n.at(k, "%s: strict_mode %q: keepalived says it is invalid and ignores it", label, v)
			}
		case "notify":
			if in.notifyAt != nil {
				c.n.at(k, "%s: a second notify: keepalived ignores it (\"notify script already specified\")", label)
				continue
			}
			in.notifyAt = k
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify_master_rx_lower_pri", "notify_deleted":
			state := map[string]string{
				"notify_master": "MASTER", "notify_backup": "BACKUP", "notify_fault": "FAULT",
				"notify_stop": "INIT (vipd stopping)", "notify_master_rx_lower_pri": "MASTER",
				"notify_deleted": "INIT (vipd stopping)",
			}[kw]
			c.n.at(k, "%s: %s: not converted: vipd runs one notify program on every change, with the new state as an argument (and in $VIPD_TO): run %s from a wrapper when the new state is %s", label, kw, k.arg(1), state)
		case "accept":
			// A vipd master accepts traffic to its VIPs.
		case "dont_track_primary":
			c.n.at(k, "%s: dont_track_primary: vipd always tracks the instance's interface: with its link down, vipd gives the VIPs up where keepalived keeps its state (no advert passes that link either way)", label)
		case "virtual_routes", "virtual_rules":
			in.differs = append(in.differs, Note{k.file, k.line, kw + ": vipd adds no routes or rules on becoming master, so a vipd master would lack them (a notify program can add them)"})
		case "down_timer_adverts":
			if k.arg(1) == "3" {
				continue // keepalived's default, and vipd's
			}
			in.differs = append(in.differs, Note{k.file, k.line, "down_timer_adverts: vipd takes over after the RFC's master down interval (3 adverts and the skew time)"})
		case "unicast_ttl":
			in.differs = append(in.differs, Note{k.file, k.line, "unicast_ttl: vipd sends and accepts adverts with TTL 255 only"})
		case "use_vmac", "vmac_xmit_base", "use_vmac_addr", "use_ipvlan":
			c.n.at(k, "%s: %s: vipd does not use virtual MACs (the VIP moves with gratuitous ARP, which keepalived backups accept); dropped", label, kw)
		case "no_accept":
			c.n.at(k, "%s: no_accept: vipd has no non-accept mode: its master accepts traffic to the VIPs; dropped", label)
		case "promote_secondaries":
			c.n.at(k, "%s: promote_secondaries: not converted: vipd sets no interface options", label)
		case "smtp_alert":
			c.n.at(k, "%s: smtp_alert: not converted: vipd sends no email; a notify program can", label)
		case "garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_master_refresh_repeat",
			"lower_prio_no_advert", "higher_prio_send_advert", "garp_extra_if", "vmac_garp_intvl":
			c.n.at(k, "%s: %s: not converted: vipd sends garp_repeat gratuitous ARPs at once on becoming master and answers a lower-priority advert as RFC 9568 says", label, kw)
		case "debug", "skip_check_adv_addr", "track_src_ip", "old_unicast_checksum", "kernel_rx_buf_size",
			"linkbeat_use_polling", "notify_priority_changes", "lvs_sync_daemon_interface", "vrf":
			c.n.at(k, "%s: %s: not converted: no vipd equivalent", label, kw)
		default:
			c.n.at(k, "%s: %s: keepalived 2.2.7 does not know it here and ignores it (\"Unknown keyword\")", label, kw)
		}
	}
	return in
}

// needsArg are the instance keywords whose handler reads a parameter:
// keepalived stops when it is missing.
var needsArg = map[string]bool{
	"interface": true, "virtual_router_id": true, "priority": true, "state": true, "advert_int": true,
	"version": true, "preempt_delay": true, "unicast_src_ip": true, "mcast_src_ip": true, "mcast_dst_ip": true,
	"garp_master_repeat": true, "garp_master_refresh": true, "garp_master_delay": true,
	"garp_lower_prio_delay": true, "garp_lower_prio_repeat": true, "garp_master_refresh_repeat": true,
	"down_timer_adverts": true, "unicast_ttl": true, "debug": true, "notify": true, "notify_master": true,
	"notify_backup": true, "notify_fault": true, "notify_stop": true, "notify_master_rx_lower_pri": true,
}

// setFamily fixes the instance's family at a's if not yet fixed, and
// reports whether a is of it.
func (c *fileConv) setFamily(in *vInstance, a netip.Addr) bool {
	f := 4
	if a.Is6() {
		f = 6
	}
	if in.family == 0 {
		in.family = f
	}
	return in.family == f
}

// peer reads one unicast_peer entry: ADDRESS [min_ttl N] [max_ttl N].
func (c *fileConv) peer(in *vInstance, label string, e *stmt) {
	a, err := netip.ParseAddr(e.keyword())
	switch {
	case err != nil || a.Zone() != "":
		c.n.at(e, "%s: unicast_peer %s is malformed: keepalived skips it", label, e.keyword())
		return
	case !c.setFamily(in, a):
		c.n.at(e, "%s: unicast_peer %s is %s, but the instance is %s: keepalived skips it", label, a, family(a.Is6()), familyOf(in.family))
		return
	}
	if len(e.words) > 1 {
		in.peerTTL = append(in.peerTTL, e)
		in.checkSrc = true
	}
	in.kaPeers = append(in.kaPeers, a)
}

// convertInstance makes the [[instance]] of a completed vrrp_instance and
// decides what vipd cannot do as keepalived does.
func (c *fileConv) convertInstance(in *vInstance) {
	label := "vrrp_instance " + in.kaName
	in.name = safeName(in.kaName)
	if in.name == "" {
		in.name = "instance"
	}
	if in.name != in.kaName {
		c.n.at(in.at, "%s is named %q in vipd (names may hold letters, digits, '-', '_' and '.')", label, in.name)
	}
	in.ipv6, in.priority = in.family == 6, in.basePriority
	if in.version == 2 && in.ipv6 {
		c.refuse(in, in.at, "keepalived speaks VRRPv2 over IPv6 here (version 2 before the first IPv6 address, without strict mode); vipd speaks VRRPv3 for IPv6")
	}
	in.preempt, in.preemptDelay = !in.nopreempt, in.delay

	c.convertVIPs(in, label)

	if in.unicast {
		in.peers = in.kaPeers
		if in.src.IsValid() {
			in.unicastSource = in.src
		}
		in.peers = slices.DeleteFunc(slices.Clone(in.peers), func(a netip.Addr) bool { return a == in.src })
		in.peers = slices.Compact(in.peers)
		for _, e := range in.peerTTL {
			c.unsafe(in, e, "unicast_peer %s: %s: vipd sends and accepts adverts with TTL 255 only, from peers on the link", e.keyword(), strings.Join(e.words[1:], " "))
		}
		if len(in.peers) == 0 {
			c.refuse(in, in.peersAt, "its only unicast_peer is its own unicast_src_ip")
		}
	} else {
		if in.faultNoPeer && in.unicastConfigured {
			c.refuse(in, in.at, "unicast_fault_no_peer without unicast peers: keepalived keeps the instance in fault")
		}
		if in.srcAt != nil && in.src.IsValid() {
			c.n.at(in.srcAt, "%s: %s %s without unicast_peer is the source of multicast adverts: vipd sends them from the interface's primary address; not converted", label, in.srcAt.keyword(), in.src)
		}
		switch {
		case in.mcastDst != nil:
			c.refuse(in, in.mcastDst, "mcast_dst_ip %s: vipd sends multicast adverts to the standard group only", in.mcastDst.arg(1))
		case !in.ipv6 && c.mcast4 != nil:
			c.refuse(in, c.mcast4, "vrrp_mcast_group4 %s: vipd sends multicast adverts to 224.0.0.18 only", c.mcast4.arg(1))
		case in.ipv6 && c.mcast6 != nil:
			c.refuse(in, c.mcast6, "vrrp_mcast_group6 %s: vipd sends multicast adverts to ff02::12 only", c.mcast6.arg(1))
		}
	}

	switch in.authType {
	case "AH":
		c.refuse(in, in.authAt, "auth_type AH (IPsec AH): vipd does not implement it and could not join the keepalived routers of the VRID (RFC 3768 removed VRRP authentication: drop it from keepalived first)")
	case "PASS":
		switch {
		case !utf8.ValidString(in.authPass):
			c.refuse(in, in.authPassAt, "auth_pass (its first 8 bytes, which keepalived sends) is not UTF-8 text, which a vipd configuration cannot hold")
		default:
			in.auth = in.authPass
		}
	}

	in.garpRepeat, in.garpRefresh = c.garpRep, c.garpRef
	if in.garpRepSet {
		in.garpRepeat = in.garpRep
	}
	if in.garpRefSet {
		in.garpRefresh = in.garpRef
	}
	in.garpDelay = c.garpDel
	if in.garpDelSet {
		in.garpDelay = in.garpDel
	}

	for _, t := range in.trackIfs {
		c.convertTrackIf(in, t)
	}
	for _, t := range in.tracks {
		c.convertTrack(in, label, t)
	}
	for _, l := range in.lacks {
		c.lack(in, l)
	}
	for _, d := range in.differs {
		c.unsafe(in, &stmt{file: d.File, line: d.Line}, "%s", d.Msg)
	}
	if g := in.group; g != nil {
		for _, t := range g.trackIfs {
			if in.basePriority == ownerPriority || slices.ContainsFunc(g.instances, func(o *vInstance) bool { return o.basePriority == ownerPriority }) {
				t.weight = 0
			}
			c.convertTrackIf(in, t)
		}
		for _, t := range g.tracks {
			if slices.ContainsFunc(g.instances, func(o *vInstance) bool { return o.basePriority == ownerPriority }) {
				t.weight = 0
			}
			c.convertTrack(in, label, t)
		}
		for _, l := range g.lacks {
			c.lack(in, l)
		}
	}
	if in.notifyAt != nil {
		c.notify(in, label, in.notifyAt)
	}
}

// notify converts the instance's notify program.
func (c *fileConv) notify(in *vInstance, label string, at *stmt) {
	if u := at.arg(2); u != "" && u != "root" {
		c.n.at(at, "%s: notify: user %s: not converted: vipd runs notify programs as root", label, u)
	}
	text, _, err := commandText(at)
	var words []string
	if err == nil {
		words, err = kaSplit(text)
	}
	if err == nil && len(words) == 0 {
		err = errors.New("empty command")
	}
	if err != nil {
		c.n.at(at, "%s: notify %s: %v; not converted", label, at.rest, err)
		return
	}
	p := execProbe(words)
	in.notify = p.command
	c.remarkProbe(at, label+": notify", &p)
	c.n.at(at, "%s: notify: keepalived appends the arguments INSTANCE NAME STATE PRIORITY; vipd appends NAME FAMILY OLD-STATE NEW-STATE REASON (and sets $VIPD_TO, $VIPD_PRIORITY, ...): adapt the program", label)
}

// keepValid keeps the instances vipd accepts: each on its own (with the
// checks it tracks), and together (names, VRIDs and VIPs used once).
func (c *fileConv) keepValid() {
	var kept []*vInstance
	for _, in := range c.nd.instances {
		if in.refused {
			continue
		}
		if slices.ContainsFunc(kept, func(o *vInstance) bool { return o.name == in.name }) {
			base := in.name
			for i := 2; slices.ContainsFunc(kept, func(o *vInstance) bool { return o.name == in.name }); i++ {
				in.name = fmt.Sprintf("%s-%d", base, i)
			}
			c.n.at(in.at, "vrrp_instance %s is named %q in vipd, as %q is another instance's", in.kaName, in.name, base)
		}
		var clash string
		for _, o := range kept {
			switch {
			case o.iface == in.iface && o.vrid == in.vrid && o.ipv6 == in.ipv6:
				clash = fmt.Sprintf("vrid %d on %s is also that of vrrp_instance %s (line %d), which vipd does not allow", in.vrid, in.iface, o.kaName, o.at.line)
			case slices.ContainsFunc(in.vips, func(p netip.Prefix) bool {
				return slices.ContainsFunc(o.vips, func(q netip.Prefix) bool { return p.Addr() == q.Addr() })
			}):
				clash = fmt.Sprintf("a VIP is also in vrrp_instance %s (line %d), which vipd does not allow", o.kaName, o.at.line)
			}
			if clash != "" {
				break
			}
		}
		if clash != "" {
			c.refuse(in, in.at, "%s", clash)
			continue
		}
		var checks []*vCheck
		for _, sc := range c.tracked() {
			if sc.check != nil && slices.ContainsFunc(in.track, func(t vTrack) bool { return t.check == sc.check.name }) {
				checks = append(checks, sc.check)
			}
		}
		if err := validate(c.path, renderFile(c.path, "", checks, []*vInstance{in})); err != nil {
			c.refuse(in, in.at, "vipd rejects the conversion: %s", configErrors(err))
			continue
		}
		kept = append(kept, in)
	}
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

func familyOf(f int) string { return family(f == 6) }
