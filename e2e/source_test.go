package e2e

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// TestVIPNotSource: a vipd master holding an IPv4 and an IPv6 VIP sends
// its own traffic (route lookups, a TCP connection to a peer) from the
// node's addresses, never from a VIP; and when a network manager removes
// and re-adds the node's IPv4 address, which the kernel then files behind
// the VIP, vipd puts the VIP back behind it.
func TestVIPNotSource(t *testing.T) {
	t.Parallel()
	_, hosts, addrs := threeNodes(t, 2)
	vip6 := netip.MustParseAddr("2001:db8::100")
	cp1, cp2 := hosts[0], hosts[1]
	cp1.SetSysctl(t, "net.ipv4.conf.eth0.promote_secondaries", "1")
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 58
vips = ["192.0.2.100/24", "2001:db8::100/64"]`)
	startVipd(t, cp1, cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", cp1)
	waitHolder(t, 3*time.Second, vip6, "cp-1", cp1)

	for _, peer := range []string{"192.0.2.12", "2001:db8::12"} {
		own := "192.0.2.11"
		if strings.Contains(peer, ":") {
			own = "2001:db8::11"
		}
		if src := routeSource(t, cp1, peer); src != own {
			t.Errorf("ip route get %s on the master: src %s, want %s", peer, src, own)
		}
		if seen := seenFrom(t, cp1, cp2, peer); seen != own {
			t.Errorf("a TCP connection from the master to %s comes from %s, want %s", peer, seen, own)
		}
	}

	// A network manager takes the node's address off and puts it back:
	// the VIP, promoted meanwhile, would be the subnet's source.
	cp1.Run(t, "ip", "addr", "del", "192.0.2.11/24", "dev", "eth0")
	cp1.Run(t, "ip", "addr", "add", "192.0.2.11/24", "dev", "eth0")
	waitFor(t, 5*time.Second, "the node's address is the source again", func() bool {
		return routeSource(t, cp1, "192.0.2.12") == "192.0.2.11"
	})
	if seen := seenFrom(t, cp1, cp2, "192.0.2.12"); seen != "192.0.2.11" {
		t.Errorf("after the node's address came back, a TCP connection to the peer comes from %s, want 192.0.2.11", seen)
	}
	waitHolder(t, 3*time.Second, vip4, "cp-1", cp1)
}

// routeSource returns the source address h's kernel picks towards dst, or
// "" without one.
func routeSource(t testing.TB, h *lab.Host, dst string) string {
	t.Helper()
	f := strings.Fields(h.Run(t, "ip", "route", "get", dst))
	for i, w := range f {
		if w == "src" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// seenFrom connects from h to a listener on peer's address dst and returns
// the remote address the peer sees.
func seenFrom(t testing.TB, h, peer *lab.Host, dst string) string {
	t.Helper()
	addr := net.JoinHostPort(dst, "7070")
	var ln net.Listener
	if err := peer.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, peer.Name(), err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			seen <- ""
			return
		}
		seen <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap().String()
		c.Close()
	}()
	if err := h.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatalf("connect from %s to %s: %v", h.Name(), addr, err)
	}
	return <-seen
}
