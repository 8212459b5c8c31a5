package netif_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vipd/vipd/internal/lab"
)

// TestForgetUnresolved: a ping sent while the cable is cut leaves the
// peer's entry INCOMPLETE; ForgetUnresolved deletes it and leaves the
// resolved and static entries alone.
func TestForgetUnresolved(t *testing.T) {
	t.Parallel()
	a, idx, addrs := addrsHost(t)
	l := a.Lab()
	l.AddHost("b", "192.0.2.12/24", "2001:db8::12/64")
	l.AddHost("c", "192.0.2.13/24")
	a.Run(t, "ip", "addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad")

	a.Run(t, "ip", "neigh", "replace", "192.0.2.99", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent")
	// The entries made while the link is cut stay INCOMPLETE until
	// deleted, however slowly the test runs: no probe before a minute.
	a.SetSysctl(t, "net.ipv4.neigh.eth0.retrans_time_ms", "60000")
	a.SetSysctl(t, "net.ipv6.neigh.eth0.retrans_time_ms", "60000")
	a.LinkDown(t)
	for _, dst := range []string{"192.0.2.12", "2001:db8::12"} {
		// Fails: the packet waits for a neighbour that cannot answer.
		a.Exec(context.Background(), "ping", "-c1", "-W0.2", dst).Run()
	}
	a.LinkUp(t)
	a.Run(t, "ping", "-c1", "-W2", "192.0.2.13") // resolved: REACHABLE
	if got := neighState(t, a, "192.0.2.12"); got&netlink.NUD_INCOMPLETE == 0 {
		t.Fatalf("entry of 192.0.2.12 after a ping into the cut link is in state %#x, want INCOMPLETE", got)
	}

	n, err := addrs.ForgetUnresolved(idx, false)
	if err != nil || n != 1 {
		t.Fatalf("ForgetUnresolved(IPv4) = %d, %v; want 1 entry deleted", n, err)
	}
	if got := neighState(t, a, "192.0.2.12"); got != 0 {
		t.Errorf("entry of 192.0.2.12 is still there (state %#x)", got)
	}
	if got := neighState(t, a, "192.0.2.13"); got == 0 || got&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 {
		t.Errorf("resolved entry of 192.0.2.13 in state %#x after ForgetUnresolved", got)
	}
	if got := neighState(t, a, "192.0.2.99"); got != netlink.NUD_PERMANENT {
		t.Errorf("static entry of 192.0.2.99 in state %#x after ForgetUnresolved", got)
	}
	if got := neighState(t, a, "2001:db8::12"); got&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
		t.Errorf("IPv6 entry in state %#x after forgetting IPv4 ones, want it still unresolved", got)
	}
	if n, err := addrs.ForgetUnresolved(idx, true); err != nil || n != 1 {
		t.Fatalf("ForgetUnresolved(IPv6) = %d, %v; want 1 entry deleted", n, err)
	}
	if got := neighState(t, a, "2001:db8::12"); got != 0 {
		t.Errorf("entry of 2001:db8::12 is still there (state %#x)", got)
	}
	if n, err := addrs.ForgetUnresolved(idx, false); err != nil || n != 0 {
		t.Errorf("second ForgetUnresolved = %d, %v; want nothing left to delete", n, err)
	}
}

// neighState returns the state of ip's entry on the host's eth0, 0 if it
// has none.
func neighState(t *testing.T, h *lab.Host, ip string) int {
	t.Helper()
	n, _ := h.Neighbour(t, netip.MustParseAddr(ip))
	return n.State
}
