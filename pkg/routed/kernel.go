package routed

import (
	"net/netip"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/netif"
)

// RouteTable installs and removes kernel routes (netif.Routes).
type RouteTable interface {
	Add(r netif.Route) error
	Remove(r netif.Route) error
	AddLocal(p netip.Prefix, protocol int) error
	RemoveLocal(p netip.Prefix, protocol int) error
}

var _ RouteTable = (*netif.Routes)(nil)

// KernelRoutes is the Publisher of announce = "route": it installs a
// route to each VIP in a kernel table, with the MED as metric, for the
// node's FRR or BIRD to export. vipd speaks no BGP then.
//
// It is the Addrs of those instances too: their VIPs are local routes
// rather than addresses, so that the node's routing daemon sees no
// connected route to them (FRR would prefer it to the kernel route, and
// export it whenever the VIP is bound).
type KernelRoutes struct {
	Routes   RouteTable
	Table    int
	Protocol int
}

var (
	_ Publisher = KernelRoutes{}
	_ Addrs     = KernelRoutes{}
)

// Announce installs the route to p with pref.MED as its metric.
func (k KernelRoutes) Announce(p netip.Prefix, pref bgp.Pref) error {
	return k.Routes.Add(netif.Route{Prefix: p, Table: k.Table, Protocol: k.Protocol, Metric: pref.MED})
}

// Withdraw removes the route to p.
func (k KernelRoutes) Withdraw(p netip.Prefix) error {
	return k.Routes.Remove(netif.Route{Prefix: p, Table: k.Table, Protocol: k.Protocol})
}

// Add makes the node accept packets to p: a local route.
func (k KernelRoutes) Add(_ int, p netip.Prefix, _ string) error {
	return k.Routes.AddLocal(p, k.Protocol)
}

// Remove removes the local route to p.
func (k KernelRoutes) Remove(_ int, p netip.Prefix) error {
	return k.Routes.RemoveLocal(p, k.Protocol)
}
