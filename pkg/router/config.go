package router

import (
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// Config is one virtual router: one instance of the configuration in one
// address family. A Router never changes a Config it was given, nor its
// slices: it replaces the whole of it.
type Config struct {
	// Instance is the configured instance name, for logs and status.
	Instance string
	VRID     uint8
	// IfIndex and Interface name the interface the VIPs are bound to.
	IfIndex   int
	Interface string
	// Label marks IPv4 VIPs so operators see which addresses are vipd's.
	Label string
	// Machine configures the state machine; Machine.Primary is also the
	// source address of advertisements.
	Machine vrrp.Config
	// VIPs are the virtual addresses with the prefix length to bind them with,
	// all of one family, in the order of the adverts, which list them all
	// wherever they are bound.
	VIPs []netip.Prefix
	// VIPLinks are the interfaces of the VIPs bound elsewhere than on
	// IfIndex (keepalived's dev), by address; nil when there are none.
	VIPLinks map[netip.Addr]Link
	// Peers are the unicast peers; empty means the multicast group.
	Peers []netip.Addr
	// Password is the VRRPv2 simple password (zero: no authentication).
	Password [8]byte
	// GARPRepeat is how many gratuitous ARP / NA rounds announce a new
	// master; GARPRefresh, when non-zero, repeats one round while master.
	GARPRepeat  int
	GARPRefresh time.Duration
	// GARPDelay, when non-zero, announces the VIPs GARPRepeat rounds
	// again this long after becoming master.
	GARPDelay time.Duration
	// Group names the sync group the router is a member of, "" for
	// none. A member becomes master only when its group Promotes it:
	// New and Reconfigure set Machine.Grouped from Group.
	Group string
}

// A Link is an interface VIPs are bound on and announced from.
type Link struct {
	Index int
	Name  string
	Label string // of IPv4 VIPs, as Config.Label
}

// link returns the interface vip is bound on.
func (c *Config) link(vip netip.Addr) Link {
	if l, ok := c.VIPLinks[vip]; ok {
		return l
	}
	return Link{Index: c.IfIndex, Name: c.Interface, Label: c.Label}
}

// links returns the interfaces the VIPs are bound on, each once, the
// router's own first when it has VIPs.
func (c *Config) links() []Link {
	var out []Link
	for _, p := range c.VIPs {
		if l := c.link(p.Addr()); !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// LinkNames returns the names of the interfaces of VIPLinks, each once,
// in the order of the VIPs.
func (c *Config) LinkNames() []string {
	var out []string
	for _, p := range c.VIPs {
		if l, ok := c.VIPLinks[p.Addr()]; ok && !slices.Contains(out, l.Name) {
			out = append(out, l.Name)
		}
	}
	return out
}

// vipDevs returns the interface names of VIPLinks, for the status.
func (c *Config) vipDevs() map[netip.Addr]string {
	if len(c.VIPLinks) == 0 {
		return nil
	}
	out := make(map[netip.Addr]string, len(c.VIPLinks))
	for a, l := range c.VIPLinks {
		out[a] = l.Name
	}
	return out
}

// family is "ipv4" or "ipv6", by the source address.
func (c *Config) family() string {
	if c.Machine.Primary.Is6() {
		return "ipv6"
	}
	return "ipv4"
}

// owner reports whether the router owns its VIPs (priority 255): they are
// the node's own addresses, bound whatever the state.
func (c *Config) owner() bool { return c.Machine.Priority == 255 }

// vipAddrs returns the VIPs without their prefix lengths.
func (c *Config) vipAddrs() []netip.Addr {
	addrs := make([]netip.Addr, len(c.VIPs))
	for i, p := range c.VIPs {
		addrs[i] = p.Addr()
	}
	return addrs
}

// destinations returns where adverts go: the peers, or the group.
func (c *Config) destinations() []netip.Addr {
	switch {
	case len(c.Peers) > 0:
		return c.Peers
	case c.Machine.Primary.Is6():
		return []netip.Addr{vrrp.GroupIPv6}
	}
	return []netip.Addr{vrrp.GroupIPv4}
}

// Reconfigurable reports whether a router running with cfg can switch to
// next in place, keeping its state and VIPs: only the VIP list and
// their interfaces, the priority (not to or from 255, the address
// owner's), the preemption settings and the announcement count and delay
// may differ. Anything else (VRID, interface, version, interval, peers,
// password, source) needs a new router.
func Reconfigurable(cfg, next Config) bool {
	if cfg.owner() != next.owner() {
		return false
	}
	cfg.VIPs, next.VIPs = nil, nil
	cfg.VIPLinks, next.VIPLinks = nil, nil
	cfg.Machine.Preempt, next.Machine.Preempt = false, false
	cfg.Machine.PreemptDelay, next.Machine.PreemptDelay = 0, 0
	cfg.Machine.Priority, next.Machine.Priority = 0, 0
	cfg.GARPRepeat, next.GARPRepeat = 0, 0
	cfg.GARPDelay, next.GARPDelay = 0, 0
	cfg.Group, next.Group = "", ""
	cfg.Machine.Grouped, next.Machine.Grouped = false, false
	return reflect.DeepEqual(cfg, next)
}
