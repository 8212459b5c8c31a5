package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A Route is a host route to a VIP that vipd installs for a routing daemon
// of the node (FRR, BIRD) to export: through lo, in Table, marked with
// Protocol, so that the daemon can tell vipd's routes from others. The
// metric carries the node's preference: FRR exports it as the MED, and
// BIRD has it as krt_metric.
type Route struct {
	Prefix   netip.Prefix
	Table    int
	Protocol int
	Metric   uint32
}

// Routes installs and removes Routes over netlink.
type Routes struct {
	h *netlink.Handle
}

// NewRoutes returns a Routes working through h, or in the network
// namespace of the calling thread when h is nil.
func NewRoutes(h *netlink.Handle) *Routes {
	if h == nil {
		h = &netlink.Handle{}
	}
	return &Routes{h: h}
}

// Add installs r, and then removes the routes to its prefix in its table
// of its protocol with other metrics: the route's preference changes
// without a moment with no route.
func (rs *Routes) Add(r Route) error {
	lo, err := rs.h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netif: add route to %s: %w", r.Prefix, err)
	}
	nr := toNetlinkRoute(r)
	nr.LinkIndex = lo.Attrs().Index
	if err := rs.h.RouteAdd(nr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netif: add route to %s to table %d: %w", r.Prefix, r.Table, err)
	}
	old, err := rs.list(r.Prefix, r.Table, r.Protocol)
	if err != nil {
		return err
	}
	for _, o := range old {
		if o.Metric != kernelMetric(r) {
			if err := rs.remove(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remove removes the routes to r's prefix in its table of its protocol,
// whatever their metric. A route that is not there counts as removed.
func (rs *Routes) Remove(r Route) error {
	old, err := rs.list(r.Prefix, r.Table, r.Protocol)
	if err != nil {
		return err
	}
	for _, o := range old {
		if err := rs.remove(o); err != nil {
			return err
		}
	}
	return nil
}

func (rs *Routes) remove(r Route) error {
	if err := rs.h.RouteDel(toNetlinkRoute(r)); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("netif: remove route to %s from table %d: %w", r.Prefix, r.Table, err)
	}
	return nil
}

// List returns the routes of protocol in table, of both families.
func (rs *Routes) List(table, protocol int) ([]Route, error) {
	return rs.list(netip.Prefix{}, table, protocol)
}

// list returns the routes of protocol in table, only those to p unless p
// is zero.
func (rs *Routes) list(p netip.Prefix, table, protocol int) ([]Route, error) {
	filter := &netlink.Route{Table: table, Protocol: netlink.RouteProtocol(protocol)}
	mask := uint64(netlink.RT_FILTER_TABLE | netlink.RT_FILTER_PROTOCOL)
	families := []int{netlink.FAMILY_V4, netlink.FAMILY_V6}
	if p.IsValid() {
		filter.Dst = ipNet(p)
		mask |= netlink.RT_FILTER_DST
		families = families[:1]
		if p.Addr().Is6() {
			families = []int{netlink.FAMILY_V6}
		}
	}
	var out []Route
	for _, fam := range families {
		nrs, err := rs.h.RouteListFiltered(fam, filter, mask)
		if err != nil {
			return nil, fmt.Errorf("netif: list routes of table %d: %w", table, err)
		}
		for _, nr := range nrs {
			if nr.Dst == nil {
				continue
			}
			a, ok := netip.AddrFromSlice(nr.Dst.IP)
			if !ok {
				continue
			}
			ones, _ := nr.Dst.Mask.Size()
			out = append(out, Route{Prefix: netip.PrefixFrom(a.Unmap(), ones), Table: nr.Table, Protocol: int(nr.Protocol), Metric: uint32(nr.Priority)})
		}
	}
	return out, nil
}

// kernelMetric is the metric the kernel gives r: IPv6 routes of metric 0
// get 1024.
func kernelMetric(r Route) uint32 {
	if r.Metric == 0 && r.Prefix.Addr().Is6() {
		return 1024
	}
	return r.Metric
}

// AddLocal makes the node accept packets to p without p being an address
// of an interface: a local route through lo in the local table (AnyIP),
// marked with protocol. A routing daemon sees no connected route to p
// then (FRR's zebra would make one of an address and prefer it to the
// kernel route it should export), and p is never a source address.
func (rs *Routes) AddLocal(p netip.Prefix, protocol int) error {
	lo, err := rs.h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netif: add local route to %s: %w", p, err)
	}
	r := localRoute(p, protocol)
	r.LinkIndex = lo.Attrs().Index
	if err := rs.h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netif: add local route to %s: %w", p, err)
	}
	return nil
}

// RemoveLocal removes the local route AddLocal added. A route that is not
// there counts as removed.
func (rs *Routes) RemoveLocal(p netip.Prefix, protocol int) error {
	if err := rs.h.RouteDel(localRoute(p, protocol)); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("netif: remove local route to %s: %w", p, err)
	}
	return nil
}

func localRoute(p netip.Prefix, protocol int) *netlink.Route {
	return &netlink.Route{
		Dst:      ipNet(p),
		Table:    unix.RT_TABLE_LOCAL,
		Protocol: netlink.RouteProtocol(protocol),
		Scope:    netlink.SCOPE_HOST,
		Type:     unix.RTN_LOCAL,
	}
}

func toNetlinkRoute(r Route) *netlink.Route {
	return &netlink.Route{
		Dst:      ipNet(r.Prefix),
		Table:    r.Table,
		Protocol: netlink.RouteProtocol(r.Protocol),
		Priority: int(r.Metric),
		Scope:    netlink.SCOPE_LINK,
		Type:     unix.RTN_UNICAST,
	}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
