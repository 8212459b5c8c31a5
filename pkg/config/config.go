package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/pkg/health"
)

// DefaultPath is where vipd reads its configuration unless told otherwise.
const DefaultPath = "/etc/vipd/vipd.toml"

// Defaults of the [daemon] table.
const (
	DefaultControlSocket = "/run/vipd/vipd.sock"
	DefaultStateDir      = "/var/lib/vipd"
	DefaultMetricsListen = "127.0.0.1:9654"
	DefaultLogLevel      = "info"
)

// Defaults of an [[instance]].
const (
	DefaultVersion        = 3
	DefaultAdvertInterval = time.Second
	DefaultGARPRepeat     = 5
	// DefaultGARPDelay is keepalived's garp_master_delay: a second
	// round of announcements for the neighbours that missed the first,
	// behind a switch port still learning after a link came up.
	DefaultGARPDelay = 5 * time.Second
)

// Priorities derived from the node order: the first node gets
// FirstPriority, each next one Step less. The step stays fixed rather than
// shrinking with the cluster so that adding a node never changes the
// priorities of the others; hence at most MaxNodes nodes (the last gets 10).
const (
	FirstPriority = 250
	PriorityStep  = 10
	MaxNodes      = 25
)

// Config is a validated configuration file.
type Config struct {
	Path    string
	Cluster *Cluster // nil without [cluster]
	Daemon  Daemon
	// Checks are the [[check]] tables, in the order written, with their
	// defaults filled in (health.Spec.WithDefaults) and valid.
	Checks    []health.Spec
	Instances []Instance // as written, not yet resolved for a node
	BGP       *BGP       // nil without [bgp]
}

// Cluster is the [cluster] table: the nodes that share the file, in
// preference order, and defaults for the instances.
type Cluster struct {
	Name           string
	Interface      string        // "" when not set
	AdvertInterval time.Duration // 0 when not set
	Nodes          []Node
}

// Node is one [[cluster.node]]. At least one of its addresses is valid.
type Node struct {
	Name     string
	Address  netip.Addr // IPv4; zero when not set
	Address6 netip.Addr // IPv6; zero when not set
}

// Daemon is the [daemon] table, with defaults filled in.
type Daemon struct {
	ControlSocket string
	MetricsListen string // "" disables the metrics listener
	LogLevel      string // debug, info, warn or error
	// StateDir keeps state across restarts: the drained instances.
	StateDir string
}

// Instance is one [[instance]]: a virtual router, with defaults filled in.
type Instance struct {
	Name           string
	VRID           uint8
	Interface      string
	Version        uint8         // 2 or 3
	AdvertInterval time.Duration // default 1s
	// VIPs in the order written: the address is the VIP, the prefix
	// length the netmask to bind it with. An instance may mix families;
	// each family is a separate VRRP exchange (see Families). The
	// adverts list every VIP, wherever it is bound.
	VIPs []netip.Prefix
	// VIPDevs are the VIPs bound on another interface than Interface
	// (written "ADDR/LEN dev IF", keepalived's dev), by address; a VIP
	// not in it is bound on Interface. See VIPInterface.
	VIPDevs map[netip.Addr]VIPDev
	// Priority is resolved for the node by ForNode; in Config.Instances it
	// is 0 unless the file sets it.
	Priority     uint8
	Order        []string // preference order of node names, as written
	Preempt      bool
	PreemptDelay time.Duration
	Unicast      bool
	// UnicastPeers are the addresses unicast adverts go to, of both
	// families. ForNode fills them from the cluster (the other nodes'
	// addresses) unless the file lists them.
	UnicastPeers []netip.Addr
	// UnicastSource and UnicastSource6 are the IPv4 and IPv6 source
	// addresses of unicast adverts (named like Node.Address and
	// Node.Address6). ForNode sets them to the node's own addresses; zero
	// means choose from the interface. Families hands each exchange the
	// one of its family.
	UnicastSource  netip.Addr
	UnicastSource6 netip.Addr
	AuthPassword   string // VRRPv2 only; "" for none
	GARPRepeat     int    // gratuitous ARP / unsolicited NA sent on becoming master
	GARPRefresh    time.Duration
	// GARPDelay is how long after becoming master the router announces
	// its VIPs a second time, GARPRepeat rounds again; 0 for never.
	GARPDelay time.Duration
	// Notify is a program and its arguments run on every state change of
	// the instance; nil for none.
	Notify []string
	// Track lists the [[check]]s the instance's priority depends on, by
	// name, each at most once. See health.Track for what weights do.
	Track []health.Track
	// TrackInterfaces are interfaces besides Interface whose link the
	// instance depends on: with weight 0 it is in fault while one is down
	// or has no carrier; otherwise the weight moves its priority, as a
	// check's does (see health.Track). Interface and the interfaces of
	// VIPDevs are tracked too, without being listed; see Tracks.
	TrackInterfaces []TrackInterface
	// SyncGroup names the sync group the instance belongs to, "" for
	// none: the instances of a group change state together, as
	// keepalived's vrrp_sync_group (see pkg/daemon). Every group has at
	// least two instances, all announced by VRRP.
	SyncGroup string
	// Announce is how the VIPs reach clients: AnnounceVRRP (the
	// default), AnnounceBGP or AnnounceRoute. A routed instance (see
	// Routed) has no VRID and binds its VIPs on Interface, "lo" by
	// default, on every node that is healthy; Priority becomes the
	// preference of its routes.
	Announce string
	// ECMP makes every healthy node's routes equal, whatever its
	// priority: routers spread the traffic over them.
	ECMP bool
	// WithdrawDelay is how long a routed instance waits between
	// withdrawing its routes and unbinding its VIPs, on drain and stop:
	// the routers converge meanwhile and no request is lost.
	WithdrawDelay time.Duration
	// RouteTable and RouteProtocol are where AnnounceRoute installs the
	// routes to the VIPs (see netif.Route).
	RouteTable    int
	RouteProtocol int
}

// VIPDev is where a VIP of Instance.VIPDevs is bound.
type VIPDev struct {
	Interface string
	// NoTrack leaves the interface's link untracked (keepalived's
	// no_track): by default a VIP's interface that is down faults the
	// instance, as its own interface does.
	NoTrack bool
}

// TrackInterface is one of Instance.TrackInterfaces: an interface and
// the weight of its link (0: a link down faults the instance).
type TrackInterface struct {
	Name   string
	Weight int
}

// VIPInterface returns the interface vip is bound on.
func (i Instance) VIPInterface(vip netip.Addr) string {
	if d, ok := i.VIPDevs[vip]; ok {
		return d.Interface
	}
	return i.Interface
}

// faultLinks returns the interfaces whose link down faults the
// instance, each once: its own, which it always tracks (as keepalived
// does: a router whose link is down cannot serve its VIPs), those of its
// VIPs elsewhere unless no_track (as keepalived's vrrp_complete_instance
// does), in the order of the VIPs, then the unweighted TrackInterfaces.
func (i Instance) faultLinks() []string {
	out := []string{i.Interface}
	for _, p := range i.VIPs {
		if d, ok := i.VIPDevs[p.Addr()]; ok && !d.NoTrack && !slices.Contains(out, d.Interface) {
			out = append(out, d.Interface)
		}
	}
	for _, t := range i.TrackInterfaces {
		if t.Weight == 0 && !slices.Contains(out, t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

// TrackedInterfaces returns every interface whose link the instance
// depends on, each once: those whose link down faults it (its own first),
// then the weighted TrackInterfaces.
func (i Instance) TrackedInterfaces() []string {
	out := i.faultLinks()
	for _, t := range i.TrackInterfaces {
		if !slices.Contains(out, t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

// Tracks returns everything the instance's priority depends on, ready for
// health.Effective: Track, then a weight-0 track of the link of each
// interface whose link down faults the instance (its own first), then a
// track of each weighted interface with its weight, the links named
// health.LinkCheckName.
func (i Instance) Tracks() []health.Track {
	out := slices.Clone(i.Track)
	for _, ifname := range i.faultLinks() {
		out = append(out, health.Track{Check: health.LinkCheckName(ifname)})
	}
	for _, t := range i.TrackInterfaces {
		if t.Weight != 0 {
			out = append(out, health.Track{Check: health.LinkCheckName(t.Name), Weight: t.Weight})
		}
	}
	return out
}

// Family is the part of an instance that one VRRP exchange runs: its VIPs,
// unicast peers and unicast source of one address family.
type Family struct {
	IPv6 bool
	VIPs []netip.Prefix
	// Devs are the interfaces of the VIPs bound elsewhere than the
	// instance's interface, by address; nil when there are none.
	Devs          map[netip.Addr]string
	UnicastPeers  []netip.Addr
	UnicastSource netip.Addr // zero: choose from the interface
}

// Families splits the instance by address family, IPv4 first. A family
// without VIPs is left out, so the result has one or two elements.
func (i Instance) Families() []Family {
	var out []Family
	for _, is6 := range []bool{false, true} {
		f := Family{IPv6: is6, UnicastSource: i.UnicastSource}
		if is6 {
			f.UnicastSource = i.UnicastSource6
		}
		for _, p := range i.VIPs {
			if p.Addr().Is6() != is6 {
				continue
			}
			f.VIPs = append(f.VIPs, p)
			if d, ok := i.VIPDevs[p.Addr()]; ok {
				if f.Devs == nil {
					f.Devs = make(map[netip.Addr]string)
				}
				f.Devs[p.Addr()] = d.Interface
			}
		}
		if len(f.VIPs) == 0 {
			continue
		}
		for _, a := range i.UnicastPeers {
			if a.Is6() == is6 {
				f.UnicastPeers = append(f.UnicastPeers, a)
			}
		}
		out = append(out, f)
	}
	return out
}

// clone returns a copy of i that shares no slices with it.
func (i Instance) clone() Instance {
	i.VIPs = slices.Clone(i.VIPs)
	i.VIPDevs = maps.Clone(i.VIPDevs)
	i.Order = slices.Clone(i.Order)
	i.UnicastPeers = slices.Clone(i.UnicastPeers)
	i.Track = slices.Clone(i.Track)
	i.TrackInterfaces = slices.Clone(i.TrackInterfaces)
	return i
}

// Error is one problem found in a configuration file. Parse returns one
// *Error, or several joined with errors.Join; errors.As finds the first.
type Error struct {
	File string // the name given to Parse
	Line int    // 1-based; 0 when the problem has no single line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a configuration file. name is used in error
// messages, usually the file's path. All problems found are reported, each
// on its own line, in the order of the file.
func Parse(name string, data []byte) (*Config, error) {
	p := &parser{file: name}
	var c *Config
	if d, ok := p.decode(data); ok {
		c = p.validate(d)
	}
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	c.Path = name
	return c, nil
}

// parser collects the problems found in one file.
type parser struct {
	file  string
	lines *lineIndex // nil until the syntax is known to be valid
	errs  []*Error
}

// errorf records a problem with the table or key at path (with element
// indexes, such as "instance[1].vrid").
func (p *parser) errorf(path, format string, args ...any) {
	line := 0
	if p.lines != nil {
		line = p.lines.line(path)
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems found, in the order of the file; problems
// without a line come last.
func (p *parser) err() error {
	slices.SortStableFunc(p.errs, func(a, b *Error) int {
		return cmp.Compare(lineOrLast(a.Line), lineOrLast(b.Line))
	})
	if len(p.errs) == 1 {
		return p.errs[0]
	}
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func lineOrLast(line int) int {
	if line == 0 {
		return int(^uint(0) >> 1)
	}
	return line
}

// Self finds which node of the cluster this host is: the node named name
// if name is not empty (the -node flag), otherwise the one node with an
// address in local (the host's addresses). Without [cluster] it returns ""
// and nil, unless name is set.
func (c *Config) Self(name string, local []netip.Addr) (string, error) {
	if c.Cluster == nil {
		if name != "" {
			return "", fmt.Errorf("%s: -node %s: the file has no [cluster] to find the node in", c.Path, name)
		}
		return "", nil
	}
	if name != "" {
		if _, ok := c.Cluster.node(name); !ok {
			return "", fmt.Errorf("%s: -node %s: no [[cluster.node]] is named %q (nodes: %s)",
				c.Path, name, name, strings.Join(c.Cluster.names(), ", "))
		}
		return name, nil
	}

	held := make(map[netip.Addr]bool, len(local))
	for _, a := range local {
		held[a.Unmap().WithZone("")] = true
	}
	var found, why []string
	for _, n := range c.Cluster.Nodes {
		for _, a := range []netip.Addr{n.Address, n.Address6} {
			if a.IsValid() && held[a] {
				found = append(found, n.Name)
				why = append(why, fmt.Sprintf("%s (%s)", n.Name, a))
				break
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		addrs := make([]string, len(local))
		for i, a := range local {
			addrs[i] = a.String()
		}
		if len(addrs) == 0 {
			addrs = []string{"none"}
		}
		return "", fmt.Errorf("%s: %w (local addresses: %s); use -node NAME",
			c.Path, ErrNoLocalNode, strings.Join(addrs, ", "))
	default:
		return "", fmt.Errorf("%s: several [[cluster.node]] have an address of this host: %s; use -node NAME",
			c.Path, strings.Join(why, ", "))
	}
}

// ErrNoLocalNode is wrapped by Self when no [[cluster.node]] address is
// held by this host: at boot the address may come later (DHCP, a bond or
// VLAN created after vipd started), so vipd waits for it.
var ErrNoLocalNode = errors.New("no [[cluster.node]] has an address of this host")

// ForNode returns the instances as the node runs them: the priority
// resolved (an explicit priority, else the node's rank in the instance's
// order), and for unicast instances the peers (the other nodes' addresses of
// each VIP family, or the listed peers other than the node's own) and the
// sources (the node's addresses). node must be a [[cluster.node]] name, or ""
// for a file without [cluster].
func (c *Config) ForNode(node string) ([]Instance, error) {
	out := make([]Instance, len(c.Instances))
	if c.Cluster == nil {
		if node != "" {
			return nil, fmt.Errorf("%s: node %q: the file has no [cluster]", c.Path, node)
		}
		for i, inst := range c.Instances {
			out[i] = inst.clone()
		}
		return out, nil
	}
	if node == "" {
		return nil, fmt.Errorf("%s: a node name is needed to resolve a file with [cluster]", c.Path)
	}
	self, ok := c.Cluster.node(node)
	if !ok {
		return nil, fmt.Errorf("%s: no [[cluster.node]] is named %q (nodes: %s)",
			c.Path, node, strings.Join(c.Cluster.names(), ", "))
	}
	for i, inst := range c.Instances {
		r := inst.clone()
		if r.Priority == 0 {
			r.Priority = c.Cluster.priority(inst.Order, node)
		}
		if r.Unicast {
			r.UnicastPeers = c.Cluster.peers(inst, self)
			r.UnicastSource, r.UnicastSource6 = netip.Addr{}, netip.Addr{}
			for _, f := range inst.Families() {
				if f.IPv6 {
					r.UnicastSource6 = self.Address6
				} else {
					r.UnicastSource = self.Address
				}
			}
		}
		out[i] = r
	}
	return out, nil
}

// node returns the node named name.
func (cl *Cluster) node(name string) (Node, bool) {
	for _, n := range cl.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

func (cl *Cluster) names() []string {
	names := make([]string, len(cl.Nodes))
	for i, n := range cl.Nodes {
		names[i] = n.Name
	}
	return names
}

// rank returns the 0-based position of node in order followed by the nodes
// order leaves out, in cluster order.
func (cl *Cluster) rank(order []string, node string) int {
	if i := slices.Index(order, node); i >= 0 {
		return i
	}
	rank := len(order)
	for _, n := range cl.Nodes {
		if n.Name == node {
			break
		}
		if !slices.Contains(order, n.Name) {
			rank++
		}
	}
	return rank
}

// priority returns the priority that node's rank in order gives it.
func (cl *Cluster) priority(order []string, node string) uint8 {
	return uint8(FirstPriority - PriorityStep*cl.rank(order, node))
}

// peers returns the unicast peers of inst for node self: the listed ones
// other than self's addresses, or else the other nodes' addresses of each
// family inst has VIPs of.
func (cl *Cluster) peers(inst Instance, self Node) []netip.Addr {
	var out []netip.Addr
	if len(inst.UnicastPeers) > 0 {
		for _, a := range inst.UnicastPeers {
			if a != self.Address && a != self.Address6 {
				out = append(out, a)
			}
		}
		return out
	}
	for _, f := range inst.Families() {
		for _, n := range cl.Nodes {
			switch {
			case n.Name == self.Name:
			case f.IPv6:
				out = append(out, n.Address6)
			default:
				out = append(out, n.Address)
			}
		}
	}
	return out
}
