package lab

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// A Fabric is a routed network: a router namespace with a point-to-point
// link to each host, so that every host is on a subnet of its own and no
// two share a layer-2 segment, as in a leaf-spine data centre where each
// rack is a subnet. The router forwards between its ports; a routing
// daemon (StartFRR, StartBIRD) run in it learns where VIPs are.
type Fabric struct {
	// l holds the hosts; its "switch" namespace is the router's, and a
	// host's port is the router's end of its link, so that LinkDown cuts
	// the link at the router.
	l      *Lab
	router *Host
}

// NewFabric creates a router with no ports yet and registers its removal
// with t.Cleanup. It forwards IPv4 and IPv6. It skips the test (or fails
// it, see Require) when the lab cannot run here.
func NewFabric(t testing.TB) *Fabric {
	t.Helper()
	Require(t)
	removeStale(t)
	id := fmt.Sprintf("vf%05x", rand.IntN(1<<20))
	l := newLab(t, id, "router")
	f := &Fabric{l: l, router: &Host{lab: l, name: "router", ns: l.sw}}
	if err := l.sw.do(func() error {
		return writeSysctls(map[string]string{
			"net/ipv4/ip_forward":                 "1",
			"net/ipv6/conf/all/forwarding":        "1",
			"net/ipv6/conf/default/accept_dad":    "0",
			"net/ipv6/conf/default/forwarding":    "1",
			"net/ipv4/conf/all/rp_filter":         "0",
			"net/ipv4/conf/default/rp_filter":     "0",
			"net/ipv6/conf/all/keep_addr_on_down": "1",
		})
	}); err != nil {
		t.Fatalf("lab: configure router namespace: %v", err)
	}
	l.ip(t, "-n", l.sw.name, "link", "set", "lo", "up")
	return f
}

// Router returns the router's namespace as a Host: it has no eth0, but a
// port per host, named "r-" and the host's name.
func (f *Fabric) Router() *Host { return f.router }

// RouterAddr returns the router's address on the subnet of p: the first
// address of the subnet.
func RouterAddr(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// AddHost adds a host whose eth0 is linked to a port of the router, and
// configures it with the given addresses (prefixes such as
// "198.51.100.18/28" or "2001:db8:1::2/64"). The router's port takes the
// first address of each subnet (RouterAddr), and the host a default route
// through it for each family. Host names are those of Lab.AddHost; the
// MAC is derived in the same way.
func (f *Fabric) AddHost(name string, addrs ...string) *Host {
	l := f.l
	t := l.t
	t.Helper()
	if !hostName.MatchString(name) {
		t.Fatalf("lab: host name %q must match %s", name, hostName)
	}
	var prefixes []netip.Prefix
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			t.Fatalf("lab: host %s: %v", name, err)
		}
		if RouterAddr(p) == p.Addr() {
			t.Fatalf("lab: host %s: %s is the router's address of the subnet", name, p)
		}
		prefixes = append(prefixes, p)
	}

	l.mu.Lock()
	if _, ok := l.hosts[name]; ok {
		l.mu.Unlock()
		t.Fatalf("lab: host %q added twice", name)
	}
	idx := l.next
	l.next++
	h := &Host{lab: l, name: name, port: "r-" + name}
	l.hosts[name] = h
	l.mu.Unlock()

	h.mac = net.HardwareAddr{0x02, 'v', 'f', 0, byte(idx >> 8), byte(idx)}
	h.ns = l.track(newNamespace(t, l.prefix+"-h-"+name))
	l.ip(t, "-n", l.sw.name, "link", "add", h.port, "type", "veth",
		"peer", "name", "eth0", "address", h.mac.String(), "netns", h.ns.name)
	if err := l.sw.do(func() error {
		return writeSysctls(map[string]string{"net/ipv6/conf/" + h.port + "/accept_dad": "0"})
	}); err != nil {
		t.Fatalf("lab: router port %s: %v", h.port, err)
	}
	if err := h.ns.do(func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/eth0/accept_dad":    "0",
			"net/ipv6/conf/default/accept_dad": "0",
		})
	}); err != nil {
		t.Fatalf("lab: host %s: %v", name, err)
	}
	l.ip(t, "-n", h.ns.name, "link", "set", "lo", "up")
	for _, p := range prefixes {
		r := netip.PrefixFrom(RouterAddr(p), p.Bits())
		rargs := []string{"-n", l.sw.name, "addr", "add", r.String(), "dev", h.port}
		hargs := []string{"-n", h.ns.name, "addr", "add", p.String(), "dev", "eth0"}
		if p.Addr().Is6() {
			rargs = append(rargs, "nodad")
			hargs = append(hargs, "nodad")
		}
		l.ip(t, rargs...)
		l.ip(t, hargs...)
	}
	l.ip(t, "-n", l.sw.name, "link", "set", h.port, "up")
	l.ip(t, "-n", h.ns.name, "link", "set", "eth0", "up")
	h.waitLinkLocal(t)
	done := map[bool]bool{}
	for _, p := range prefixes {
		if done[p.Addr().Is6()] {
			continue
		}
		done[p.Addr().Is6()] = true
		fam := "-4"
		if p.Addr().Is6() {
			fam = "-6"
		}
		l.ip(t, fam, "-n", h.ns.name, "route", "add", "default", "via", RouterAddr(p).String(), "dev", "eth0")
	}
	return h
}

// Host returns the host of that name, or nil.
func (f *Fabric) Host(name string) *Host { return f.l.Host(name) }

// NextHops returns the hosts the router forwards p to, by its main
// table, sorted by name: one per path of a multipath route, none when it
// has no route. Hosts are told by the router port the next hop is on,
// so a link-local next hop counts as well as a global one.
func (f *Fabric) NextHops(t testing.TB, p netip.Prefix) []string {
	t.Helper()
	fam := netlink.FAMILY_V4
	if p.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	h := f.router.Handle()
	routes, err := h.RouteListFiltered(fam, &netlink.Route{
		Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
	}, netlink.RT_FILTER_DST)
	if err != nil {
		t.Fatalf("lab: routes of the router: %v", err)
	}
	host := func(ifindex int) string {
		link, err := h.LinkByIndex(ifindex)
		if err != nil {
			t.Fatalf("lab: router port %d: %v", ifindex, err)
		}
		return strings.TrimPrefix(link.Attrs().Name, "r-")
	}
	var out []string
	for _, r := range routes {
		if r.Gw != nil {
			out = append(out, host(r.LinkIndex))
		}
		for _, nh := range r.MultiPath {
			out = append(out, host(nh.LinkIndex))
		}
	}
	slices.Sort(out)
	return out
}

// Starvation starts measuring how long the daemons of the fabric's nodes
// and router wait for a CPU; see Lab.Starvation.
func (f *Fabric) Starvation(self bool) *Starvation {
	return f.l.Starvation(self)
}
