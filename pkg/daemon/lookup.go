package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// lookups reads interfaces and their source addresses once per
// configuration change: with hundreds of instances on one interface, two
// netlink dumps per instance were most of the start-up time.
type lookups struct {
	sys       System
	vips      map[netip.Addr]bool // of every instance
	ifaces    map[string]*net.Interface
	primary   map[int]netip.Addr // IPv4 source by interface index
	linkLocal map[int]netip.Addr // IPv6 link-local source by interface index
}

func newLookups(sys System, instances []config.Instance) *lookups {
	l := &lookups{sys: sys, vips: make(map[netip.Addr]bool), ifaces: make(map[string]*net.Interface),
		primary: make(map[int]netip.Addr), linkLocal: make(map[int]netip.Addr)}
	for _, inst := range instances {
		for _, p := range inst.VIPs {
			l.vips[p.Addr()] = true
		}
	}
	return l
}

func (l *lookups) iface(name string) (*net.Interface, error) {
	if ifi, ok := l.ifaces[name]; ok {
		return ifi, nil
	}
	ifi, err := l.sys.Interface(name)
	if err != nil {
		return nil, err
	}
	l.ifaces[name] = ifi
	return ifi, nil
}

// source returns the address the instance advertises from in family fam:
// the link-local address for IPv6 multicast (RFC 9568 requires it), the
// configured unicast source, or the interface's first IPv4 address that is
// no instance's VIP (a master holds its VIPs on the same interface).
func (l *lookups) source(inst config.Instance, fam config.Family, ifi *net.Interface) (netip.Addr, error) {
	unicast := inst.Unicast || len(fam.UnicastPeers) > 0
	if fam.IPv6 && !unicast {
		if a, ok := l.linkLocal[ifi.Index]; ok {
			return a, nil
		}
		a, err := l.sys.LinkLocal(ifi)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("instance %q: %w", inst.Name, err)
		}
		l.linkLocal[ifi.Index] = a
		return a, nil
	}
	if fam.UnicastSource.IsValid() {
		return fam.UnicastSource, nil
	}
	if fam.IPv6 {
		return netip.Addr{}, fmt.Errorf("instance %q: IPv6 unicast needs unicast_source or the node's address6", inst.Name)
	}
	if a, ok := l.primary[ifi.Index]; ok {
		return a, nil
	}
	a, err := l.sys.PrimaryIPv4(ifi, func(a netip.Addr) bool { return l.vips[a] })
	if err != nil {
		return netip.Addr{}, fmt.Errorf("instance %q: %w", inst.Name, err)
	}
	l.primary[ifi.Index] = a
	return a, nil
}

// vipLinks returns the interfaces of the VIPs of fam bound elsewhere than
// on the instance's interface; an error says which VIP's interface is
// not there.
func (l *lookups) vipLinks(fam config.Family) (map[netip.Addr]router.Link, netip.Addr, error) {
	if len(fam.Devs) == 0 {
		return nil, netip.Addr{}, nil
	}
	out := make(map[netip.Addr]router.Link, len(fam.Devs))
	for _, p := range fam.VIPs {
		name, ok := fam.Devs[p.Addr()]
		if !ok {
			continue
		}
		ifi, err := l.iface(name)
		if err != nil {
			return nil, p.Addr(), err
		}
		out[p.Addr()] = router.Link{Index: ifi.Index, Name: ifi.Name, Label: netif.Label(ifi.Name)}
	}
	return out, netip.Addr{}, nil
}

func routerConfig(inst config.Instance, fam config.Family, ifi *net.Interface, src netip.Addr, phase time.Time) router.Config {
	var pw [8]byte
	copy(pw[:], inst.AuthPassword)
	var peers []netip.Addr
	if inst.Unicast || len(fam.UnicastPeers) > 0 {
		peers = fam.UnicastPeers
	}
	return router.Config{
		Instance:  inst.Name,
		VRID:      inst.VRID,
		IfIndex:   ifi.Index,
		Interface: ifi.Name,
		Label:     netif.Label(ifi.Name),
		Machine: vrrp.Config{
			Version:      inst.Version,
			Priority:     inst.Priority,
			Interval:     inst.AdvertInterval,
			Preempt:      inst.Preempt,
			PreemptDelay: inst.PreemptDelay,
			Primary:      src,
			Phase:        phase,
			Grouped:      inst.SyncGroup != "",
		},
		VIPs:        fam.VIPs,
		Peers:       peers,
		Password:    pw,
		GARPRepeat:  inst.GARPRepeat,
		GARPRefresh: inst.GARPRefresh,
		GARPDelay:   inst.GARPDelay,
		Group:       inst.SyncGroup,
	}
}

// removeStale removes the VIPs of the instances from their interfaces: at
// start-up they were left by a daemon that crashed (this node is not
// master yet), at exit they must not outlive the daemon. An address owner
// (priority 255) holds its VIPs as real addresses and keeps them.
func (d *Daemon) removeStale(instances []config.Instance) {
	// One listing per interface: hundreds of instances share one.
	type iface struct {
		index int
		have  []netip.Prefix
	}
	ifaces := make(map[string]*iface)
	lookup := func(name string) *iface {
		ifc, ok := ifaces[name]
		if ok {
			return ifc
		}
		ifaces[name] = nil // a failure is not retried
		ifi, err := d.sys.Interface(name)
		if err != nil {
			return nil
		}
		have, err := d.addrs.List(ifi.Index)
		if err != nil {
			d.log.Warn("cannot list addresses", "interface", ifi.Name, "error", err)
			return nil
		}
		ifc = &iface{ifi.Index, have}
		ifaces[name] = ifc
		return ifc
	}
	for _, inst := range instances {
		if inst.Priority == 255 {
			continue
		}
		for _, p := range inst.VIPs {
			name := inst.VIPInterface(p.Addr())
			ifc := lookup(name)
			if ifc == nil || !slices.Contains(ifc.have, p) {
				continue
			}
			if err := d.addrs.Remove(ifc.index, p); err != nil {
				d.log.Error("cannot remove stale VIP", "instance", inst.Name, "vip", p, "error", err)
				continue
			}
			d.log.Info("removed VIP not held by a running master", "instance", inst.Name, "vip", p, "interface", name)
		}
	}
}
