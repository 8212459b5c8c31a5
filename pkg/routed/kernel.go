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
}

var _ RouteTable = (*netif.Routes)(nil)

// KernelRoutes is the Publisher of announce = "route": it installs a
// route to each VIP in a kernel table, with the MED as metric, for the
// node's FRR or BIRD to export. vipd speaks no BGP then.
type KernelRoutes struct {
	Routes   RouteTable
	Table    int
	Protocol int
}

var _ Publisher = KernelRoutes{}

// Announce installs the route to p with pref.MED as its metric.
func (k KernelRoutes) Announce(p netip.Prefix, pref bgp.Pref) error {
	return k.Routes.Add(netif.Route{Prefix: p, Table: k.Table, Protocol: k.Protocol, Metric: pref.MED})
}

// Withdraw removes the route to p.
func (k KernelRoutes) Withdraw(p netip.Prefix) error {
	return k.Routes.Remove(netif.Route{Prefix: p, Table: k.Table, Protocol: k.Protocol})
}
