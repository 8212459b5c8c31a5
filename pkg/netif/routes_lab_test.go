package netif_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
)

func TestRoutes(t *testing.T) {
	h := lab.New(t).AddHost("a", "192.0.2.11/24", "2001:db8::11/64")
	rs := netif.NewRoutes(h.Handle())
	for _, p := range []string{"203.0.113.10/32", "2001:db8:f::10/128"} {
		r := netif.Route{Prefix: netip.MustParsePrefix(p), Table: 100, Protocol: 200, Metric: 5}
		for _, metric := range []uint32{5, 5, 15, 0} {
			r.Metric = metric
			if err := rs.Add(r); err != nil {
				t.Fatal(err)
			}
			got, err := rs.List(100, 200)
			if err != nil {
				t.Fatal(err)
			}
			want := r
			if metric == 0 && want.Prefix.Addr().Is6() {
				want.Metric = 1024
			}
			if !slices.Equal(got, []netif.Route{want}) {
				t.Fatalf("after Add(%+v): %+v", r, got)
			}
		}
		// Routes of another protocol are not vipd's.
		other := netif.Route{Prefix: netip.MustParsePrefix(p), Table: 100, Protocol: 201, Metric: 7}
		if err := rs.Add(other); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := rs.Remove(r); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := rs.List(100, 200); err != nil || len(got) != 0 {
			t.Fatalf("after Remove: %+v, %v", got, err)
		}
		if got, err := rs.List(100, 201); err != nil || len(got) != 1 {
			t.Fatalf("the other protocol's route: %+v, %v", got, err)
		}
		if err := rs.Remove(other); err != nil {
			t.Fatal(err)
		}

		// A local route: the host answers p without holding it.
		fam := "-4"
		if r.Prefix.Addr().Is6() {
			fam = "-6"
		}
		for range 2 {
			if err := rs.AddLocal(r.Prefix, 200); err != nil {
				t.Fatal(err)
			}
		}
		if out := h.Run(t, "ip", fam, "route", "show", "table", "local", "proto", "200"); !strings.Contains(out, "local "+r.Prefix.Addr().String()+" dev lo") {
			t.Fatalf("local routes after AddLocal(%s):\n%s", r.Prefix, out)
		}
		if h.HasAddr(t, "lo", r.Prefix.Addr()) {
			t.Errorf("AddLocal(%s) bound it", r.Prefix)
		}
		h.Run(t, "ping", "-c", "1", "-W", "1", r.Prefix.Addr().String())
		for range 2 {
			if err := rs.RemoveLocal(r.Prefix, 200); err != nil {
				t.Fatal(err)
			}
		}
		if out := h.Run(t, "ip", fam, "route", "show", "table", "local", "proto", "200"); strings.TrimSpace(out) != "" {
			t.Fatalf("local routes after RemoveLocal(%s):\n%s", r.Prefix, out)
		}
	}
}

var (
	routeVIP4 = netip.MustParsePrefix("203.0.113.10/32")
	routeVIP6 = netip.MustParsePrefix("2001:db8:f::10/128")
)

// TestRoutesExported installs VIP routes on two nodes whose FRR (or BIRD)
// exports them to a router of the same kind: the lower metric wins,
// removing a route moves the traffic, equal metrics give ECMP.
func TestRoutesExported(t *testing.T) {
	lab.Require(t)
	for _, daemon := range []string{"frr", "bird"} {
		t.Run(daemon, func(t *testing.T) {
			f := lab.NewFabric(t)
			type node struct {
				h     *lab.Host
				addrs [2]netip.Addr
				table int
				rs    *netif.Routes
			}
			var nodes []node
			var neighbors []lab.Neighbor
			for i := 1; i <= 2; i++ {
				a4 := netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/28", 16*i+2))
				a6 := netip.MustParsePrefix(fmt.Sprintf("2001:db8:%d::2/64", i))
				h := f.AddHost(fmt.Sprintf("n%d", i), a4.String(), a6.String())
				n := node{h: h, addrs: [2]netip.Addr{a4.Addr(), a6.Addr()}, table: 254, rs: netif.NewRoutes(h.Handle())}
				nodes = append(nodes, n)
				neighbors = append(neighbors, lab.Neighbor{Addr: a4.Addr(), ASN: 64512}, lab.Neighbor{Addr: a6.Addr(), ASN: 64512})
				router := [2]netip.Addr{lab.RouterAddr(a4), lab.RouterAddr(a6)}
				if daemon == "frr" {
					lab.StartFRR(t, h, lab.FRRExporter(router, a4.Addr(), 254))
				} else {
					nodes[i-1].table = 100
					lab.StartBIRD(t, h, lab.BIRDExporter(router, a4.Addr(), 100))
				}
			}
			id := netip.MustParseAddr("192.0.2.1")
			if daemon == "frr" {
				lab.StartFRR(t, f.Router(), lab.FRRRouter(64500, id, neighbors, nil))
			} else {
				lab.StartBIRD(t, f.Router(), lab.BIRDRouter(64500, id, neighbors))
			}
			set := func(n node, metric uint32) {
				t.Helper()
				for _, p := range []netip.Prefix{routeVIP4, routeVIP6} {
					if err := n.rs.Add(netif.Route{Prefix: p, Table: n.table, Protocol: 200, Metric: metric}); err != nil {
						t.Fatal(err)
					}
				}
			}
			unset := func(n node) {
				t.Helper()
				for _, p := range []netip.Prefix{routeVIP4, routeVIP6} {
					if err := n.rs.Remove(netif.Route{Prefix: p, Table: n.table, Protocol: 200}); err != nil {
						t.Fatal(err)
					}
				}
			}
			wait := func(want ...node) {
				t.Helper()
				for _, p := range []netip.Prefix{routeVIP4, routeVIP6} {
					var w []string
					for _, n := range want {
						w = append(w, n.h.Name())
					}
					deadline := time.Now().Add(20 * time.Second)
					for {
						got := f.NextHops(t, p)
						if slices.Equal(got, w) {
							break
						}
						if time.Now().After(deadline) {
							t.Fatalf("the router's next hops to %s are %v, want %v", p, got, w)
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
			}
			set(nodes[0], 5)
			set(nodes[1], 15)
			wait(nodes[0])
			set(nodes[0], 25) // a preference that changes moves the traffic
			wait(nodes[1])
			unset(nodes[1])
			wait(nodes[0])
			set(nodes[1], 25)
			wait(nodes[0], nodes[1])
			unset(nodes[0])
			wait(nodes[1])
		})
	}
}
