package netif

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// v4List reads addresses written as `ip addr` lists them: "192.0.2.11/24",
// then "secondary" or "link" (scope) where they apply.
func v4List(t *testing.T, lines ...string) []v4Addr {
	t.Helper()
	addrs := make([]v4Addr, 0, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		a := v4Addr{p: netip.MustParsePrefix(f[0]), global: true}
		for _, w := range f[1:] {
			switch w {
			case "secondary":
				a.secondary = true
			case "link":
				a.global = false
			default:
				t.Fatalf("address %q: unknown word %q", l, w)
			}
		}
		addrs = append(addrs, a)
	}
	return addrs
}

func TestFirstAhead(t *testing.T) {
	isVIP := func(a netip.Addr) bool {
		return a == netip.MustParseAddr("192.0.2.100") || a == netip.MustParseAddr("192.0.2.101") ||
			a == netip.MustParseAddr("203.0.113.10") || a == netip.MustParseAddr("203.0.113.11")
	}
	for _, tc := range []struct {
		name  string
		addrs []string
		want  *ahead
	}{
		{
			name:  "VIP secondary of the node's address",
			addrs: []string{"192.0.2.11/24", "192.0.2.100/24 secondary"},
		},
		{
			name:  "node address secondary of the VIP",
			addrs: []string{"192.0.2.100/24", "192.0.2.11/24 secondary"},
			want:  &ahead{vip: 0, node: 1, secondaries: true},
		},
		{
			name:  "node address secondary of a VIP behind another VIP",
			addrs: []string{"192.0.2.100/24", "192.0.2.101/24 secondary", "192.0.2.11/24 secondary"},
			want:  &ahead{vip: 0, node: 2, secondaries: true},
		},
		{
			name:  "/32 VIP before the node's address",
			addrs: []string{"192.0.2.100/32", "192.0.2.11/24"},
			want:  &ahead{vip: 0, node: 1},
		},
		{
			name:  "/32 VIP after the node's address",
			addrs: []string{"192.0.2.11/24", "192.0.2.100/32"},
		},
		{
			name:  "VIP in a foreign subnet with a VIP secondary, before the node's address",
			addrs: []string{"203.0.113.10/24", "192.0.2.11/24", "203.0.113.11/24 secondary"},
			want:  &ahead{vip: 0, node: 1, secondaries: true},
		},
		{
			name:  "VIP before a link-scope address only",
			addrs: []string{"192.0.2.100/32", "169.254.7.1/16 link", "192.0.2.11/24"},
			want:  &ahead{vip: 0, node: 2},
		},
		{
			name:  "VIP before a link-scope address only, node first",
			addrs: []string{"192.0.2.11/24", "192.0.2.100/32", "169.254.7.1/16 link"},
		},
		{
			name:  "VIP before another VIP only",
			addrs: []string{"192.0.2.100/32", "203.0.113.10/24"},
		},
		{
			name:  "same subnet, other prefix length",
			addrs: []string{"192.0.2.100/25", "192.0.2.11/24"},
			want:  &ahead{vip: 0, node: 1},
		},
		{
			name: "no addresses",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := firstAhead(v4List(t, tc.addrs...), isVIP)
			var gotp *ahead
			if ok {
				gotp = &got
			}
			if diff := cmp.Diff(tc.want, gotp, cmp.AllowUnexported(ahead{})); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
