package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sync/errgroup"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// Daemon runs every instance of one node.
type Daemon struct {
	instances []config.Instance
	log       *slog.Logger
	addrs     *netif.Addrs

	routers   []*router.Router
	listeners map[sockKey]*router.Listener
}

// sockKey names one shared VRRP socket: an interface and a family.
type sockKey struct {
	ifname string
	ipv6   bool
}

// New returns a daemon for the instances resolved for this node (see
// config.Config.ForNode). It does no I/O; Run opens the sockets.
func New(instances []config.Instance, logger *slog.Logger) *Daemon {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Daemon{
		instances: instances,
		log:       logger,
		listeners: make(map[sockKey]*router.Listener),
	}
}

// Routers returns the virtual routers, for status. Valid once Run has
// started them.
func (d *Daemon) Routers() []*router.Router { return d.routers }

// Run opens the sockets, removes VIPs left by a previous run, and runs
// every virtual router until ctx is done. Then each master resigns with a
// priority-0 advertisement and removes its VIPs before Run returns.
// started, if not nil, is called once every router runs.
func (d *Daemon) Run(ctx context.Context, started func()) error {
	type sock struct {
		conn *netif.Conn
		ann  *netif.Announcer
		ifi  *net.Interface
	}
	socks := make(map[sockKey]*sock)
	anns := make(map[string]*netif.Announcer)
	defer func() {
		for _, s := range socks {
			s.conn.Close()
		}
		for _, a := range anns {
			a.Close()
		}
	}()

	// One netlink socket for every address change: a socket per request
	// costs a few hundred microseconds of each takeover.
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	d.addrs = netif.NewAddrs(h)

	d.removeStale()
	defer d.removeStale()

	for _, inst := range d.instances {
		ifi, err := net.InterfaceByName(inst.Interface)
		if err != nil {
			return fmt.Errorf("instance %q: interface %s: %w", inst.Name, inst.Interface, err)
		}
		ann, ok := anns[ifi.Name]
		if !ok {
			if ann, err = netif.DialAnnouncer(ifi); err != nil {
				return fmt.Errorf("instance %q: %w", inst.Name, err)
			}
			anns[ifi.Name] = ann
		}
		for _, fam := range inst.Families() {
			k := sockKey{ifi.Name, fam.IPv6}
			s, ok := socks[k]
			if !ok {
				f := netif.IPv4
				if fam.IPv6 {
					f = netif.IPv6
				}
				conn, err := netif.Dial(ifi, f)
				if err != nil {
					return fmt.Errorf("instance %q: %w", inst.Name, err)
				}
				s = &sock{conn: conn, ann: ann, ifi: ifi}
				socks[k] = s
				d.listeners[k] = router.NewListener(readerOf{conn}, d.log.With("interface", ifi.Name))
			}
			src, err := d.source(inst, fam, ifi)
			if err != nil {
				return err
			}
			rt := router.New(routerConfig(inst, fam, ifi, src), router.Deps{
				Sender:    s.conn,
				Addrs:     d.addrs,
				Announcer: ann,
				Logger:    d.log,
			})
			if err := d.listeners[k].Add(rt); err != nil {
				return fmt.Errorf("instance %q: %w", inst.Name, err)
			}
			d.routers = append(d.routers, rt)
		}
	}

	// Routers resign on ctx; the listeners and sockets must outlive them
	// so the priority-0 advertisements still go out.
	lctx, stopListeners := context.WithCancel(context.WithoutCancel(ctx))
	defer stopListeners()
	lg, lctx := errgroup.WithContext(lctx)
	for _, l := range d.listeners {
		lg.Go(func() error { return l.Run(lctx) })
	}
	rctx, stopRouters := context.WithCancel(ctx)
	defer stopRouters()
	rg := new(errgroup.Group)
	for _, rt := range d.routers {
		rg.Go(func() error { return rt.Run(rctx) })
	}
	if started != nil {
		started()
	}

	// A listener that fails (socket gone) stops everything: a router
	// that cannot hear its peers would take the VIPs from a healthy master.
	var lerr error
	select {
	case <-ctx.Done():
	case <-lctx.Done():
		lerr = lg.Wait()
	}
	stopRouters()
	rerr := rg.Wait()
	stopListeners()
	if err := lg.Wait(); lerr == nil {
		lerr = err
	}
	return errors.Join(lerr, rerr)
}

// source picks the address adverts of one family are sent from: RFC 9568
// requires the link-local address for IPv6 multicast; otherwise the node's
// configured address, or the interface's primary address.
func (d *Daemon) source(inst config.Instance, fam config.Family, ifi *net.Interface) (netip.Addr, error) {
	unicast := inst.Unicast || len(fam.UnicastPeers) > 0
	if fam.IPv6 && !unicast {
		a, err := netif.LinkLocal(ifi)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("instance %q: %w", inst.Name, err)
		}
		return a, nil
	}
	if fam.UnicastSource.IsValid() {
		return fam.UnicastSource, nil
	}
	if fam.IPv6 {
		return netip.Addr{}, fmt.Errorf("instance %q: IPv6 unicast needs unicast_source or the node's address6", inst.Name)
	}
	isVIP := func(a netip.Addr) bool {
		return slices.ContainsFunc(inst.VIPs, func(p netip.Prefix) bool { return p.Addr() == a })
	}
	a, err := netif.PrimaryIPv4(ifi, isVIP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("instance %q: %w", inst.Name, err)
	}
	return a, nil
}

func routerConfig(inst config.Instance, fam config.Family, ifi *net.Interface, src netip.Addr) router.Config {
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
		},
		VIPs:        fam.VIPs,
		Peers:       peers,
		Password:    pw,
		GARPRepeat:  inst.GARPRepeat,
		GARPRefresh: inst.GARPRefresh,
		Spin:        3 * time.Millisecond,
	}
}

// removeStale removes the VIPs of configured instances from their
// interfaces: at start-up they were left by a daemon that crashed (this
// node is not master yet), at exit they must not outlive the daemon. An
// address owner (priority 255) holds its VIPs as real addresses and keeps
// them.
func (d *Daemon) removeStale() {
	for _, inst := range d.instances {
		if inst.Priority == 255 {
			continue
		}
		ifi, err := net.InterfaceByName(inst.Interface)
		if err != nil {
			continue
		}
		have, err := d.addrs.List(ifi.Index)
		if err != nil {
			d.log.Warn("cannot list addresses", "interface", ifi.Name, "error", err)
			continue
		}
		for _, p := range inst.VIPs {
			if !slices.Contains(have, p) {
				continue
			}
			if err := d.addrs.Remove(ifi.Index, p); err != nil {
				d.log.Error("cannot remove stale VIP", "instance", inst.Name, "vip", p, "error", err)
				continue
			}
			d.log.Info("removed VIP not held by a running master", "instance", inst.Name, "vip", p, "interface", ifi.Name)
		}
	}
}

// readerOf adapts a netif.Conn to router.Reader.
type readerOf struct{ c *netif.Conn }

func (r readerOf) ReadPacket(b []byte) (int, router.Packet, error) {
	n, m, err := r.c.ReadFrom(b)
	return n, router.Packet{Src: m.Src, Dst: m.Dst, TTL: m.TTL}, err
}

func (r readerOf) SetReadDeadline(t time.Time) error { return r.c.SetReadDeadline(t) }
