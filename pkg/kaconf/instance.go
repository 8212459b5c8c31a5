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

// kaVIP is a virtual_ipaddress entry keepalived keeps.
type kaVIP struct {
	at      *stmt
	addr    netip.Addr
	bits    int
	dev     string
	noTrack bool
}

// kaTrack is a track_script entry keepalived keeps.
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

// kaLack is a track of a kind vipd has no equivalent of (track_process,
// track_file, track_bfd), with its entry.
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
		case "track_interface":
			for _, e := range k.block {
				if t, ok := c.readTrackIf(label, e, in.trackIfs); ok {
					in.trackIfs = append(in.trackIfs, t)
				}
			}
		case "track_script":
			for _, e := range k.block {
				if t, ok := c.readTrack(label, e, in.tracks); ok {
					in.tracks = append(in.tracks, t)
				}
			}
		case "track_process":
			for _, e := range k.block {
				if t, ok := c.readTrackProcess(label, e, in.tracks); ok {
					in.tracks = append(in.tracks, t)
				}
			}
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

// vip reads one virtual_ipaddress entry as keepalived's alloc_ipaddress:
// ADDRESS[/PREFIX] and options, some of which drop the address when wrong.
func (c *fileConv) vip(in *vInstance, label string, e *stmt) {
	text := e.keyword()
	v6 := strings.Contains(text, ":")
	bits := 32
	if v6 {
		bits = 128
	}
	addrText := text
	if i := strings.IndexByte(text, '/'); i >= 0 {
		addrText = text[:i]
		if n := kaUnsigned(text[i+1:], 0, uint64(bits), true); n.ok {
			bits = int(n.val)
		} else {
			c.n.at(e, "%s: virtual_ipaddress %s: keepalived says \"Invalid address prefix len\" and uses /%d", label, text, bits)
		}
	}
	a, err := netip.ParseAddr(addrText)
	if err != nil || a.Zone() != "" || a.Is6() != v6 {
		why := "keepalived skips it (\"VRRP parsed invalid IP\")"
		if strings.Contains(text, "$") || strings.Contains(text, "{") {
			why += "; an unresolved placeholder?"
		}
		c.n.at(e, "%s: virtual_ipaddress %s: %s", label, text, why)
		return
	}
	vp := kaVIP{at: e, addr: a, bits: bits}
	opts := e.words[1:]
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		switch o {
		case "dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft":
			if i+1 >= len(opts) {
				c.n.at(e, "%s: virtual_ipaddress %s: %s without a value: keepalived skips the address", label, text, o)
				return
			}
		}
		switch o {
		case "dev":
			i++
			if vp.dev != "" {
				c.n.at(e, "%s: virtual_ipaddress %s: dev given twice: keepalived skips the address", label, text)
				return
			}
			vp.dev = opts[i]
		case "broadcast", "brd":
			i++
			if v6 {
				c.n.at(e, "%s: virtual_ipaddress %s: a broadcast address for IPv6: keepalived skips the address", label, text)
				return
			}
			if b := opts[i]; b != "+" && b != "-" {
				if _, err := netip.ParseAddr(b); err != nil {
					c.n.at(e, "%s: virtual_ipaddress %s: invalid broadcast %s: keepalived skips the address", label, text, b)
					return
				}
				c.n.at(e, "%s: virtual_ipaddress %s %s %s: dropped; vipd sets the broadcast address of the prefix", label, text, o, b)
			}
		case "label":
			i++
			if len(opts[i]) > maxIfName {
				c.n.at(e, "%s: virtual_ipaddress %s: label %s is too long: keepalived skips the address", label, text, opts[i])
				return
			}
			if !v6 {
				c.n.at(e, "%s: virtual_ipaddress %s label %s: dropped; vipd labels its IPv4 addresses IF:vipd", label, text, opts[i])
			}
		case "scope":
			i++
			if !v6 && opts[i] != "global" && opts[i] != "0" {
				c.n.at(e, "%s: virtual_ipaddress %s scope %s: dropped; vipd adds VIPs with global scope", label, text, opts[i])
			}
		case "peer", "preferred_lft":
			i++
			c.n.at(e, "%s: virtual_ipaddress %s %s %s: dropped; vipd adds the address with its prefix and nothing else", label, text, o, opts[i])
		case "no_track":
			vp.noTrack = true
		case "-nodad", "nodad", "home", "mngtmpaddr", "noprefixroute", "autojoin", "use_vmac":
			if o != "-nodad" && o != "nodad" {
				c.n.at(e, "%s: virtual_ipaddress %s: option %s: dropped; vipd adds the address with its prefix and nothing else", label, text, o)
			}
		default:
			c.n.at(e, "%s: virtual_ipaddress %s: option %s: keepalived ignores it (\"Unknown configuration entry\")", label, text, o)
		}
	}
	if !c.setFamily(in, a) {
		c.n.at(e, "%s: virtual_ipaddress %s is %s, but the instance is %s: keepalived ignores it (\"address family must match VRRP instance\")",
			label, text, family(a.Is6()), familyOf(in.family))
		return
	}
	in.kaVIPs = append(in.kaVIPs, vp)
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

// convertVIPs makes the instance's vips of keepalived's addresses, and
// decides whether vipd's advert lists the same addresses.
func (c *fileConv) convertVIPs(in *vInstance, label string) {
	var dropped []kaVIP
	for _, v := range in.kaVIPs {
		p := netip.PrefixFrom(v.addr, v.bits)
		if _, err := parseVIP(p.String()); err != nil {
			c.n.at(v.at, "%s: virtual_ipaddress %s %s: vipd cannot hold it as a VIP; dropped", label, v.at.keyword(), err)
			dropped = append(dropped, v)
			continue
		}
		if slices.ContainsFunc(in.vips, func(q netip.Prefix) bool { return q.Addr() == v.addr }) {
			c.n.at(v.at, "%s: virtual_ipaddress %s is listed again; vipd holds it once", label, v.at.keyword())
			dropped = append(dropped, v)
			continue
		}
		in.vips = append(in.vips, p)
		// keepalived binds it on dev, lists it in the adverts on the
		// instance's interface all the same, and tracks dev's link
		// unless no_track (vrrp_complete_instance); so does vipd.
		switch {
		case v.dev != "" && v.dev != in.iface:
			if in.vipDevs == nil {
				in.vipDevs = make(map[netip.Addr]config.VIPDev)
			}
			in.vipDevs[v.addr] = config.VIPDev{Interface: v.dev, NoTrack: v.noTrack}
			c.n.at(v.at, "%s: virtual_ipaddress %s dev %s: if %s is missing when keepalived starts, it drops the address (\"interface %s for ip address %s doesn't exist\") and advertises the others; vipd waits for %s, in FAULT", label, v.at.keyword(), v.dev, v.dev, v.dev, v.at.keyword(), v.dev)
		case v.noTrack:
			c.n.at(v.at, "%s: virtual_ipaddress %s no_track: the address is on the instance's interface, which keepalived and vipd track all the same; dropped", label, v.at.keyword())
		}
	}
	if len(dropped) > 0 {
		var ka []string
		for _, v := range in.kaVIPs {
			ka = append(ka, v.addr.String())
		}
		c.unsafe(in, dropped[0].at, "keepalived advertises the addresses %s, and vipd would advertise %d of them: a vipd backup drops a keepalived master's adverts as an address mismatch, and keepalived drops vipd's, so both become master (as for virtual_ipaddress_excluded, change the addresses once every node runs vipd)",
			strings.Join(ka, " "), len(in.vips))
	}
	for _, e := range in.evips {
		if _, err := parseVIP(e.keyword()); err != nil {
			c.n.at(e, "%s: virtual_ipaddress_excluded %s: keepalived adds it on the master; vipd cannot hold it", label, e.keyword())
		}
	}
	if len(in.evips) > 0 {
		c.unsafe(in, in.evips[0], "virtual_ipaddress_excluded: keepalived's master also holds these addresses, without advertising them; vipd has no such addresses, and as VIPs they would change the address list the routers of the VRID compare in every advert (add them to vips once every node runs vipd)")
	}
	if len(in.vips) == 0 {
		c.refuse(in, in.at, "no virtual_ipaddress that vipd can hold")
	}
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

// syncGroups makes the members of each vrrp_sync_group of two or more
// instances members of a vipd sync_group, which changes state together as
// keepalived's does (see pkg/daemon). A member that is not converted takes
// the others with it: they would change state alone.
func (c *fileConv) syncGroups() {
	var names []string
	for changed := true; changed; {
		changed = false
		for _, g := range c.groups {
			i := slices.IndexFunc(g.instances, func(in *vInstance) bool { return in.refused })
			if len(g.instances) < 2 || i < 0 {
				continue
			}
			for _, in := range g.instances {
				if !in.refused {
					c.refuse(in, g.at, "vrrp_sync_group %s: its member vrrp_instance %s is not converted, and this one would change state without it", g.name, g.instances[i].kaName)
					changed = true
				}
			}
		}
	}
	for _, g := range c.groups {
		if len(g.instances) < 2 || g.instances[0].refused {
			continue
		}
		name := checkName(g.name)
		for i, base := 2, name; slices.Contains(names, name); i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if name != g.name {
			c.n.at(g.at, "vrrp_sync_group %s is sync_group %q in vipd", g.name, name)
		}
		names = append(names, name)
		owners := 0
		for _, in := range g.instances {
			in.syncGroup = name
			if in.basePriority == ownerPriority {
				owners++
			}
		}
		if owners > 0 && owners < len(g.instances) {
			for _, in := range g.instances {
				c.unsafe(in, g.at, "vrrp_sync_group %s has address owners (priority 255) and other members: keepalived warns that this won't work, and vipd does not behave as it then does", g.name)
			}
		}
	}
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
