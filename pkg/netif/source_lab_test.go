package netif_test

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
)

// sourceHosts returns a master, 192.0.2.11/24 and 2001:db8::11/64, with a
// default route through the peer, and the peer, 192.0.2.12/24,
// 203.0.113.20/24, 198.51.100.7/24 and 2001:db8::12/64; eth0's index on
// the master and an Addrs working in its namespace, as vipd's.
func sourceHosts(t *testing.T) (m, p *lab.Host, idx int, addrs *netif.Addrs) {
	t.Helper()
	l := lab.New(t)
	m = l.AddHost("master", "192.0.2.11/24", "2001:db8::11/64")
	p = l.AddHost("peer", "192.0.2.12/24", "203.0.113.20/24", "198.51.100.7/24", "2001:db8::12/64")
	m.Run(t, "ip", "route", "add", "default", "via", "192.0.2.12")
	addrs = netif.NewAddrs(m.Handle())
	t.Cleanup(addrs.Close)
	return m, p, m.Interface(t).Index, addrs
}

// routeSource returns the source address the kernel of h picks for
// traffic to dst, as `ip route get` shows it.
func routeSource(t *testing.T, h *lab.Host, dst netip.Addr) netip.Addr {
	t.Helper()
	routes, err := h.Handle().RouteGet(dst.AsSlice())
	if err != nil {
		t.Fatalf("%s: route to %s: %v", h.Name(), dst, err)
	}
	if len(routes) == 0 || routes[0].Src == nil {
		t.Fatalf("%s: route to %s without source: %+v", h.Name(), dst, routes)
	}
	src, _ := netip.AddrFromSlice(routes[0].Src)
	return src.Unmap()
}

// connect opens a TCP connection from host from to a listener of host to
// on dst, and returns the remote address to's end sees.
func connect(t *testing.T, from, to *lab.Host, dst netip.Addr) netip.Addr {
	t.Helper()
	var ln net.Listener
	if err := to.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, 0).String())
		return err
	}); err != nil {
		t.Fatalf("%s: listen on %s: %v", to.Name(), dst, err)
	}
	defer ln.Close()
	var c net.Conn
	if err := from.Do(func() (err error) {
		c, err = net.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatalf("%s: connect to %s: %v", from.Name(), ln.Addr(), err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatalf("%s: accept on %s: %v", to.Name(), ln.Addr(), err)
	}
	defer s.Close()
	return s.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
}

// checkSource checks that the master's traffic to dst leaves from node, by
// the kernel's route and by a connection to the peer.
func checkSource(t *testing.T, m, p *lab.Host, dst, node netip.Addr) {
	t.Helper()
	if got := routeSource(t, m, dst); got != node {
		t.Errorf("route from the master to %s has source %s, want the node's %s", dst, got, node)
	}
	if got := connect(t, m, p, dst); got != node {
		t.Errorf("the peer at %s sees a connection of the master from %s, want the node's %s", dst, got, node)
	}
}

// TestVIPNotSource: a VIP bound by Add answers the peer, but the master's
// own traffic leaves from the node's address.
func TestVIPNotSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vip  string
		// dst is a peer address the master talks to; node the master's
		// address it must talk from; peer the peer's address in the
		// VIP's subnet.
		dst, node, peer string
	}{
		{"IPv4 in the node's subnet", "192.0.2.100/24", "192.0.2.12", "192.0.2.11", "192.0.2.12"},
		{"IPv4 /32", "192.0.2.100/32", "192.0.2.12", "192.0.2.11", "192.0.2.12"},
		// The node reaches 203.0.113.0/24 by its default route.
		{"IPv4 in a foreign subnet", "203.0.113.10/24", "203.0.113.20", "192.0.2.11", "203.0.113.20"},
		{"IPv6", "2001:db8::100/64", "2001:db8::12", "2001:db8::11", "2001:db8::12"},
		{"IPv6 /128", "2001:db8::100/128", "2001:db8::12", "2001:db8::11", "2001:db8::12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, p, idx, addrs := sourceHosts(t)
			vip := netip.MustParsePrefix(tc.vip)
			if err := addrs.Add(idx, vip, netif.Label("eth0")); err != nil {
				t.Fatal(err)
			}
			checkSource(t, m, p, netip.MustParseAddr(tc.dst), netip.MustParseAddr(tc.node))
			if got, want := connect(t, p, m, vip.Addr()), netip.MustParseAddr(tc.peer); got != want {
				t.Errorf("the master sees the peer's connection to the VIP from %s, want %s", got, want)
			}
			if list, err := addrs.List(idx); err != nil || !slices.Contains(list, vip) {
				t.Errorf("List = %v, %v, want %s in it", list, err, vip)
			}
		})
	}
}

// TestAddrsIPv6Deprecated: an IPv6 VIP is deprecated, valid forever, and
// skips DAD, as `ip addr` shows it.
func TestAddrsIPv6Deprecated(t *testing.T) {
	t.Parallel()
	m, _, idx, addrs := sourceHosts(t)
	if err := addrs.Add(idx, netip.MustParsePrefix("2001:db8::100/64"), ""); err != nil {
		t.Fatal(err)
	}
	out := m.Run(t, "ip", "-6", "addr", "show", "dev", "eth0", "to", "2001:db8::100/128")
	for _, want := range []string{"inet6 2001:db8::100/64 scope global nodad deprecated", "valid_lft forever preferred_lft 0sec"} {
		if !strings.Contains(out, want) {
			t.Errorf("ip addr lacks %q:\n%s", want, out)
		}
	}
}

// TestLinkLocalDeprecated: LinkLocal, the source of IPv6 adverts, passes
// over a deprecated link-local address unless there is no other.
func TestLinkLocalDeprecated(t *testing.T) {
	t.Parallel()
	a := lab.New(t).AddHost("a")
	ifi := a.Interface(t)
	linkLocal := func() netip.Addr {
		t.Helper()
		var ll netip.Addr
		if err := a.Do(func() (err error) { ll, err = netif.LinkLocal(ifi); return err }); err != nil {
			t.Fatal(err)
		}
		return ll
	}
	// Listed before the kernel's own, as the newer.
	a.Run(t, "ip", "addr", "add", "fe80::beef/64", "dev", "eth0", "nodad", "preferred_lft", "0", "valid_lft", "forever")
	if got, want := linkLocal(), netip.MustParseAddr("fe80::76:6cff:fe00:1"); got != want {
		t.Errorf("LinkLocal = %s, want %s, not the deprecated fe80::beef", got, want)
	}
	a.Run(t, "ip", "addr", "del", "fe80::76:6cff:fe00:1/64", "dev", "eth0")
	if got, want := linkLocal(), netip.MustParseAddr("fe80::beef"); got != want {
		t.Errorf("LinkLocal with only a deprecated address = %s, want %s", got, want)
	}
}

// demote runs Demote in m's namespace, where it reads promote_secondaries,
// with vips for vipd's VIPs.
func demote(t *testing.T, m *lab.Host, idx int, vips ...netip.Prefix) ([]netip.Prefix, error) {
	t.Helper()
	isVIP := func(a netip.Addr) bool {
		return slices.ContainsFunc(vips, func(p netip.Prefix) bool { return p.Addr() == a })
	}
	var (
		got []netip.Prefix
		err error
	)
	if derr := m.Do(func() error { got, err = netif.NewAddrs(nil).Demote(idx, isVIP); return nil }); derr != nil {
		t.Fatal(derr)
	}
	return got, err
}

// nodeAddrBack removes the master's 192.0.2.11/24 and adds it again, as a
// network manager may.
func nodeAddrBack(t *testing.T, m *lab.Host) {
	t.Helper()
	m.Run(t, "ip", "addr", "del", "192.0.2.11/24", "dev", "eth0")
	m.Run(t, "ip", "addr", "add", "192.0.2.11/24", "dev", "eth0")
}

// TestDemote: when the node's address comes back behind a VIP, Demote
// puts the VIP behind it, and the node's traffic leaves from its own
// address again.
func TestDemote(t *testing.T) {
	t.Parallel()
	node := netip.MustParseAddr("192.0.2.11")

	t.Run("secondary of the VIP", func(t *testing.T) {
		t.Parallel()
		m, p, idx, addrs := sourceHosts(t)
		m.SetSysctl(t, "net.ipv4.conf.eth0.promote_secondaries", "1")
		vip := netip.MustParsePrefix("192.0.2.100/24")
		if err := addrs.Add(idx, vip, netif.Label("eth0")); err != nil {
			t.Fatal(err)
		}
		nodeAddrBack(t, m) // the VIP was promoted meanwhile
		out := m.Run(t, "ip", "-4", "addr", "show", "dev", "eth0")
		if !strings.Contains(out, "inet 192.0.2.11/24 scope global secondary eth0") {
			t.Fatalf("the node's address is not the VIP's secondary: the test shows nothing\n%s", out)
		}
		got, err := demote(t, m, idx, vip)
		if err != nil || !slices.Equal(got, []netip.Prefix{vip}) {
			t.Fatalf("Demote = %v, %v, want %v", got, err, vip)
		}
		out = m.Run(t, "ip", "-4", "addr", "show", "dev", "eth0")
		if !strings.Contains(out, "inet 192.0.2.100/24 brd 192.0.2.255 scope global secondary noprefixroute eth0:vipd") {
			t.Errorf("the VIP is not back as the node's secondary, with its label:\n%s", out)
		}
		checkSource(t, m, p, netip.MustParseAddr("192.0.2.12"), node)
		if got := connect(t, p, m, vip.Addr()); got != netip.MustParseAddr("192.0.2.12") {
			t.Errorf("the master sees the peer's connection to the VIP from %s", got)
		}
		if got, err := demote(t, m, idx, vip); err != nil || len(got) != 0 {
			t.Errorf("Demote again = %v, %v, want nothing done", got, err)
		}
	})

	t.Run("/32 VIP first", func(t *testing.T) {
		t.Parallel()
		m, p, idx, addrs := sourceHosts(t)
		vip := netip.MustParsePrefix("192.0.2.100/32")
		if err := addrs.Add(idx, vip, netif.Label("eth0")); err != nil {
			t.Fatal(err)
		}
		nodeAddrBack(t, m)
		// The first primary is the source of a route that names none.
		m.Run(t, "ip", "route", "add", "198.51.100.0/24", "dev", "eth0")
		dst := netip.MustParseAddr("198.51.100.7")
		if got := routeSource(t, m, dst); got != vip.Addr() {
			t.Fatalf("route to %s has source %s before Demote, want the VIP: the test shows nothing", dst, got)
		}
		// No promote_secondaries needed: the VIP has no secondaries.
		got, err := demote(t, m, idx, vip)
		if err != nil || !slices.Equal(got, []netip.Prefix{vip}) {
			t.Fatalf("Demote = %v, %v, want %v", got, err, vip)
		}
		checkSource(t, m, p, dst, node)
		if got := connect(t, p, m, vip.Addr()); got != netip.MustParseAddr("192.0.2.12") {
			t.Errorf("the master sees the peer's connection to the VIP from %s", got)
		}
	})

	t.Run("without promote_secondaries", func(t *testing.T) {
		t.Parallel()
		m, _, idx, addrs := sourceHosts(t)
		m.SetSysctl(t, "net.ipv4.conf.all.promote_secondaries", "0")
		m.SetSysctl(t, "net.ipv4.conf.eth0.promote_secondaries", "0")
		vip := netip.MustParsePrefix("192.0.2.100/24")
		m.Run(t, "ip", "addr", "del", "192.0.2.11/24", "dev", "eth0")
		if err := addrs.Add(idx, vip, netif.Label("eth0")); err != nil {
			t.Fatal(err)
		}
		m.Run(t, "ip", "addr", "add", "192.0.2.11/24", "dev", "eth0")
		got, err := demote(t, m, idx, vip)
		if !errors.Is(err, netif.ErrNoPromote) || len(got) != 0 {
			t.Fatalf("Demote = %v, %v, want nothing done and ErrNoPromote", got, err)
		}
		t.Log(err)
		if !m.HasAddr(t, "eth0", node) || !m.HasAddr(t, "eth0", vip.Addr()) {
			t.Fatalf("addresses after Demote: %v, want the node's and the VIP", m.Addrs(t, "eth0"))
		}
	})
}
