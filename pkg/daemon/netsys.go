package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/hrtimer"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/router"
)

// netSystem is the real System: netlink, raw sockets and timerfds.
type netSystem struct {
	// timers is the routers' Sleeper: the few about to take over sleep
	// the last milliseconds on it.
	timers hrtimer.Pool
}

var (
	_ System    = (*netSystem)(nil)
	_ Addrs     = (*netAddrs)(nil)
	_ Conn      = netConn{}
	_ Announcer = (*netif.Announcer)(nil)
	_ Events    = netEvents{}
)

func (*netSystem) Interface(name string) (*net.Interface, error) { return net.InterfaceByName(name) }

func (*netSystem) LinkLocal(ifi *net.Interface) (netip.Addr, error) { return netif.LinkLocal(ifi) }

func (*netSystem) PrimaryIPv4(ifi *net.Interface, exclude func(netip.Addr) bool) (netip.Addr, error) {
	return netif.PrimaryIPv4(ifi, exclude)
}

// OpenAddrs opens one netlink socket for every address change: a socket
// per request costs a few hundred microseconds of each takeover.
func (*netSystem) OpenAddrs() (Addrs, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &netAddrs{Addrs: netif.NewAddrs(h), h: h}, nil
}

func (*netSystem) DialVRRP(ifi *net.Interface, ipv6 bool) (Conn, error) {
	f := netif.IPv4
	if ipv6 {
		f = netif.IPv6
	}
	c, err := netif.Dial(ifi, f)
	if err != nil {
		return nil, err
	}
	return netConn{c}, nil
}

func (*netSystem) DialAnnouncer(ifi *net.Interface) (Announcer, error) {
	return netif.DialAnnouncer(ifi)
}

func (*netSystem) Subscribe() (Events, error) {
	ev, err := netif.Subscribe(nil, unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR)
	if err != nil {
		return nil, err
	}
	return netEvents{ev}, nil
}

func (*netSystem) NewMonitor(specs []health.Spec, cfg health.MonitorConfig) (Monitor, error) {
	cfg.LinkSource = netif.Links(nil)
	return health.NewMonitor(specs, cfg)
}

func (s *netSystem) Sleeper() router.Sleeper { return &s.timers }

// Close closes the idle precise timers.
func (s *netSystem) Close() error { return s.timers.Close() }

// netAddrs is a netif.Addrs with the netlink handle it owns.
type netAddrs struct {
	*netif.Addrs
	h *netlink.Handle
}

func (a *netAddrs) Close() {
	a.Addrs.Close()
	a.h.Close()
}

// netConn adapts a netif.Conn to Conn.
type netConn struct{ c *netif.Conn }

func (c netConn) ReadEach(handle func([]byte, router.Packet)) error {
	return c.c.ReadEach(func(b []byte, m netif.Meta) {
		handle(b, router.Packet{Src: m.Src, Dst: m.Dst, TTL: m.TTL, Overflows: m.Overflows, Received: m.Received})
	})
}

func (c netConn) WriteTo(b []byte, src, dst netip.Addr) error { return c.c.WriteTo(b, src, dst) }

func (c netConn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// Pending tells the Listener whether packets wait (see router.Reader).
func (c netConn) Pending() bool { return c.c.Pending() }

func (c netConn) Close() error { return c.c.Close() }

// netEvents adapts netif.Events to Events.
type netEvents struct{ ev *netif.Events }

func (e netEvents) Receive() ([]Event, error) {
	msgs, err := e.ev.Receive()
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		if t := m.Header.Type; t == unix.RTM_NEWLINK || t == unix.RTM_DELLINK {
			out = append(out, Event{Link: true})
			continue
		}
		a, err := netif.ParseAddrEvent(m)
		if err != nil {
			out = append(out, Event{Err: err})
			continue
		}
		out = append(out, Event{Index: a.Index, Addr: a.Addr, Added: a.Added})
	}
	return out, nil
}

func (e netEvents) Close() error { return e.ev.Close() }
