package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// How an instance's VIPs reach clients: Instance.Announce.
const (
	// AnnounceVRRP elects one node with VRRP, which binds the VIPs on
	// its interface and announces them on the segment.
	AnnounceVRRP = "vrrp"
	// AnnounceBGP binds the VIPs on every healthy node (on lo) and
	// announces them to the [bgp] peers, each node with the preference of
	// its priority.
	AnnounceBGP = "bgp"
	// AnnounceRoute binds them likewise, and installs routes to them in
	// a kernel table for the node's FRR or BIRD to export.
	AnnounceRoute = "route"
)

// Defaults and limits of [bgp] and of routed instances.
const (
	DefaultHoldTime      = 9 * time.Second
	minHoldTime          = 3 * time.Second
	maxHoldTime          = 90 * time.Second
	DefaultWithdrawDelay = 2 * time.Second
	maxWithdrawDelay     = time.Minute
	DefaultRouteTable    = 254 // main
	DefaultRouteProtocol = 200
)

// BGP is the [bgp] table: how the nodes announce the VIPs of instances
// with announce = "bgp". Every node speaks with the same AS to the same
// peers.
type BGP struct {
	ASN uint32
	// RouterID is zero when not set: each node then uses its IPv4
	// address (see Config.RouterID).
	RouterID netip.Addr
	HoldTime time.Duration // whole seconds, 3s..90s; keepalive a third
	// Prepend adds the node's AS to the AS path once per step of 10
	// below priority 250, besides the MED (preference = "as-path").
	Prepend bool
	Peers   []Peer
}

// Peer is one [[bgp.peer]].
type Peer struct {
	Address      netip.Addr
	ASN          uint32
	Port         uint16 // 0: 179
	PasswordFile string // "" for none: the TCP MD5 key, read at start
	Multihop     uint8  // eBGP TTL; 0 for a directly connected peer
	Source       netip.Addr
}

// Routed reports whether the instance's VIPs are announced by routing
// (BGP or a kernel table) rather than VRRP.
func (i Instance) Routed() bool { return i.Announce == AnnounceBGP || i.Announce == AnnounceRoute }

// RouterID returns the BGP router ID of node: [bgp] router_id, else the
// node's IPv4 address.
func (c *Config) RouterID(node string) (netip.Addr, error) {
	if c.BGP == nil {
		return netip.Addr{}, fmt.Errorf("%s: the file has no [bgp]", c.Path)
	}
	if c.BGP.RouterID.IsValid() {
		return c.BGP.RouterID, nil
	}
	if c.Cluster != nil {
		if n, ok := c.Cluster.node(node); ok && n.Address.IsValid() {
			return n.Address, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s: [bgp]: node %q has no IPv4 address to be its router_id; set router_id", c.Path, node)
}

// bgp validates [bgp] and its peers.
func (p *parser) bgp(rb *rawBGP, rps []rawPeer, cl *Cluster) *BGP {
	b := &BGP{HoldTime: DefaultHoldTime}
	switch v := rb.ASN; {
	case v == nil:
		p.errorf("bgp", "[bgp]: asn is required (1..4294967295; private: 64512..65534, 4200000000..4294967294)")
	case *v < 1 || *v > 1<<32-1:
		p.errorf("bgp.asn", "[bgp]: asn %d is out of range 1..4294967295", *v)
	default:
		b.ASN = uint32(*v)
	}
	if rb.RouterID != nil {
		a, err := parseHostAddr(*rb.RouterID)
		switch {
		case err != nil:
			p.errorf("bgp.router_id", "[bgp]: router_id %q %v", *rb.RouterID, err)
		case !a.Is4():
			p.errorf("bgp.router_id", "[bgp]: router_id %s is not an IPv4 address; a router ID is written as one", a)
		default:
			b.RouterID = a
		}
	} else {
		switch {
		case cl == nil:
			p.errorf("bgp", "[bgp]: router_id is required without [cluster]")
		default:
			var lacking []string
			for _, n := range cl.Nodes {
				if !n.Address.IsValid() {
					lacking = append(lacking, fmt.Sprintf("%q", n.Name))
				}
			}
			if len(lacking) > 0 {
				p.errorf("bgp", "[bgp]: router_id defaults to the node's address, and node %s has none; set router_id or the address", strings.Join(lacking, ", node "))
			}
		}
	}
	if v := rb.HoldTime; v != nil {
		d := time.Duration(*v)
		switch {
		case d < minHoldTime || d > maxHoldTime:
			p.errorf("bgp.hold_time", "[bgp]: hold_time %s is out of range 3s..90s", d)
		case d%time.Second != 0:
			p.errorf("bgp.hold_time", "[bgp]: hold_time %s is not a whole number of seconds, as BGP requires", d)
		default:
			b.HoldTime = d
		}
	}
	if v := rb.Preference; v != nil {
		switch *v {
		case "med":
		case "as-path":
			b.Prepend = true
		default:
			p.errorf("bgp.preference", "[bgp]: preference %q is not one of \"med\", \"as-path\"", *v)
		}
	}
	if len(rps) == 0 {
		p.errorf("bgp", "[bgp] has no [[bgp.peer]]; list the routers to announce to")
	}
	for i, rp := range rps {
		if peer, ok := p.peer(rp, i, b); ok {
			b.Peers = append(b.Peers, peer)
		}
	}
	return b
}

// peer validates one [[bgp.peer]] of b.
func (p *parser) peer(rp rawPeer, i int, b *BGP) (Peer, bool) {
	before := len(p.errs)
	path := fmt.Sprintf("bgp.peer[%d]", i)
	label := peerLabel(i)
	bad := func(key, format string, args ...any) {
		p.errorf(path+"."+key, "%s: %s", label, fmt.Sprintf(format, args...))
	}
	var peer Peer
	if rp.Address == nil {
		p.errorf(path, "%s: address is required", label)
	} else if a, err := parseHostAddr(*rp.Address); err != nil {
		bad("address", "address %q %v", *rp.Address, err)
	} else if slices.ContainsFunc(b.Peers, func(o Peer) bool { return o.Address == a }) {
		bad("address", "address %s is also another peer's", a)
	} else {
		peer.Address = a
	}
	switch v := rp.ASN; {
	case v == nil:
		p.errorf(path, "%s: asn is required (the [bgp] asn for iBGP)", label)
	case *v < 1 || *v > 1<<32-1:
		bad("asn", "asn %d is out of range 1..4294967295", *v)
	default:
		peer.ASN = uint32(*v)
	}
	ibgp := peer.ASN != 0 && peer.ASN == b.ASN
	if v := rp.Port; v != nil {
		if *v < 1 || *v > 65535 {
			bad("port", "port %d is out of range 1..65535", *v)
		} else {
			peer.Port = uint16(*v)
		}
	}
	if v := rp.PasswordFile; v != nil {
		if !strings.HasPrefix(*v, "/") {
			bad("password_file", "password_file %q must be an absolute path", *v)
		} else {
			peer.PasswordFile = *v
		}
	}
	if v := rp.Multihop; v != nil {
		switch {
		case *v < 1 || *v > 255:
			bad("multihop", "multihop %d is out of range 1..255 (the TTL of the session's packets)", *v)
		case ibgp:
			bad("multihop", "multihop applies to eBGP only; an iBGP session is not limited to one hop")
		default:
			peer.Multihop = uint8(*v)
		}
	}
	if v := rp.BFD; v != nil && *v {
		bad("bfd", "bfd = true: GoBGP, vipd's BGP engine, has no BFD, so a dead node is seen after hold_time (3s at least); for faster detection use announce = \"route\" and let the node's FRR or BIRD run BFD")
	}
	if v := rp.Source; v != nil {
		a, err := parseHostAddr(*v)
		switch {
		case err != nil:
			bad("source", "source %q %v", *v, err)
		case peer.Address.IsValid() && a.Is6() != peer.Address.Is6():
			bad("source", "source %s is %s, but the peer's address %s is %s", a, family(a.Is6()), peer.Address, family(peer.Address.Is6()))
		default:
			peer.Source = a
		}
	}
	if b.Prepend && ibgp {
		p.errorf("bgp.preference", "[bgp]: preference = \"as-path\" cannot work with peer %s, an iBGP peer (asn %d): it would see its own AS in the path and drop the route; use \"med\"", peer.Address, peer.ASN)
	}
	return peer, len(p.errs) == before
}

// routed validates the keys of an instance that is announced by routing,
// and reports those of VRRP it sets. bad reports a problem with a key.
func (p *parser) routed(ri rawInstance, inst *Instance, bad func(key, format string, args ...any)) {
	for _, k := range []struct {
		key string
		set bool
	}{
		{"vrid", ri.VRID != nil},
		{"version", ri.Version != nil},
		{"advert_interval", ri.AdvertInterval != nil},
		{"preempt", ri.Preempt != nil},
		{"preempt_delay", ri.PreemptDelay != nil},
		{"unicast", ri.Unicast != nil},
		{"unicast_peers", ri.UnicastPeers != nil},
		{"unicast_source", ri.UnicastSource != nil},
		{"auth_password", ri.AuthPassword != nil},
		{"garp_repeat", ri.GARPRepeat != nil},
		{"garp_refresh", ri.GARPRefresh != nil},
		{"garp_delay", ri.GARPDelay != nil},
	} {
		if k.set {
			bad(k.key, "%s is VRRP's and has no effect with announce = %q; remove it", k.key, inst.Announce)
		}
	}
	for _, v := range inst.VIPs {
		if v.Bits() != v.Addr().BitLen() {
			bad("vips", "vip %s: a VIP announced by routing is a host route; write %s or %s", v, v.Addr(), netip.PrefixFrom(v.Addr(), v.Addr().BitLen()))
		}
	}
	if ri.ECMP != nil {
		inst.ECMP = *ri.ECMP
	}
	if v := ri.WithdrawDelay; v != nil {
		d := time.Duration(*v)
		if d < 0 || d > maxWithdrawDelay {
			bad("withdraw_delay", "withdraw_delay %s is out of range 0s..1m", d)
		} else {
			inst.WithdrawDelay = d
		}
	}
	if inst.Announce == AnnounceRoute && ri.Interface != nil {
		bad("interface", "interface has no effect with announce = \"route\": its VIPs are local routes through lo, not addresses; remove it")
	}
	if inst.Announce != AnnounceRoute {
		for key, set := range map[string]bool{"route_table": ri.RouteTable != nil, "route_protocol": ri.RouteProtocol != nil} {
			if set {
				bad(key, "%s applies only to announce = \"route\"", key)
			}
		}
		return
	}
	if v := ri.RouteTable; v != nil {
		switch {
		case *v < 1 || *v > 1<<32-1:
			bad("route_table", "route_table %d is out of range 1..4294967295", *v)
		case *v == 253 || *v == 255:
			bad("route_table", "route_table %d is the kernel's %s table; use main (254) or a table of your own", *v, map[int64]string{253: "default", 255: "local"}[*v])
		default:
			inst.RouteTable = int(*v)
		}
	}
	if v := ri.RouteProtocol; v != nil {
		switch {
		case *v < 5 || *v > 255:
			bad("route_protocol", "route_protocol %d is out of range 5..255 (0..4 are the kernel's)", *v)
		case *v == 11 || *v >= 186 && *v <= 196:
			bad("route_protocol", "route_protocol %d is FRR's own, whose routes zebra removes when it starts; use another, such as %d", *v, DefaultRouteProtocol)
		case *v == 12:
			bad("route_protocol", "route_protocol 12 is BIRD's own; use another, such as %d", DefaultRouteProtocol)
		default:
			inst.RouteProtocol = int(*v)
		}
	}
}

// notRouted reports the keys of routed instances that a VRRP instance
// sets.
func notRouted(ri rawInstance, bad func(key, format string, args ...any)) {
	for _, k := range []struct {
		key string
		set bool
	}{
		{"ecmp", ri.ECMP != nil},
		{"withdraw_delay", ri.WithdrawDelay != nil},
		{"route_table", ri.RouteTable != nil},
		{"route_protocol", ri.RouteProtocol != nil},
	} {
		if k.set {
			bad(k.key, "%s applies only to announce = \"bgp\" or \"route\"", k.key)
		}
	}
}

// announced checks what routed instances need of [bgp]: a peer of each
// family of their VIPs.
func (p *parser) announced(raw []rawInstance, insts []Instance, b *BGP, bgpOK bool) {
	for i, inst := range insts {
		if inst.Announce != AnnounceBGP {
			continue
		}
		path := fmt.Sprintf("instance[%d]", i)
		label := raw[i].label(i)
		if b == nil {
			p.errorf(path+".announce", "%s: announce = \"bgp\" needs a [bgp] table with the AS and the peers", label)
			continue
		}
		if !bgpOK {
			continue
		}
		for _, is6 := range []bool{false, true} {
			hasVIP := slices.ContainsFunc(inst.VIPs, func(v netip.Prefix) bool { return v.Addr().Is6() == is6 })
			hasPeer := slices.ContainsFunc(b.Peers, func(pr Peer) bool { return pr.Address.Is6() == is6 })
			if hasVIP && !hasPeer {
				p.errorf(path+".vips", "%s: the %s VIPs are announced to %s peers, and [bgp] has none", label, family(is6), family(is6))
			}
		}
	}
}

// peerLabel names a peer in error messages.
func peerLabel(i int) string {
	return fmt.Sprintf("[[bgp.peer]] #%d", i+1)
}
