package daemon

import (
	"context"
	"net"
	"net/netip"

	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/router"
)

// System is the host as the daemon reaches it: interfaces and their
// addresses, the VRRP and announcement sockets, the kernel's link and
// address events, the checks and the precise timers. The real one is
// netSystem; tests run the daemon against a fake, without root.
type System interface {
	// Interface returns the interface called name.
	Interface(name string) (*net.Interface, error)
	// LinkLocal and PrimaryIPv4 return the source address of an
	// interface (see netif); an error wrapping netif.ErrNoAddress says
	// it has none yet.
	LinkLocal(ifi *net.Interface) (netip.Addr, error)
	PrimaryIPv4(ifi *net.Interface, exclude func(netip.Addr) bool) (netip.Addr, error)
	// OpenAddrs returns the manager of the interfaces' addresses; Run
	// closes it when it returns.
	OpenAddrs() (Addrs, error)
	// DialVRRP opens the VRRP socket of an interface and family.
	DialVRRP(ifi *net.Interface, ipv6 bool) (Conn, error)
	// DialAnnouncer opens the socket that announces VIPs on an
	// interface.
	DialAnnouncer(ifi *net.Interface) (Announcer, error)
	// Subscribe follows the kernel's link and address events.
	Subscribe() (Events, error)
	// NewMonitor returns the monitor of the checks and tracked
	// interfaces, not running yet.
	NewMonitor(specs []health.Spec, cfg health.MonitorConfig) (Monitor, error)
	// Sleeper returns the routers' precise timer; nil leaves them to
	// Go's timers.
	Sleeper() router.Sleeper
}

// Addrs binds, lists and orders the addresses of interfaces, and forgets
// their unresolved neighbours.
type Addrs interface {
	router.AddrManager
	router.Neighbors
	// Demote puts the node's IPv4 addresses of an interface back ahead
	// of the VIPs isVIP names, and returns the VIPs it moved (see
	// netif.Addrs.Demote).
	Demote(ifindex int, isVIP func(netip.Addr) bool) ([]netip.Prefix, error)
	// Warm readies the manager for the next burst of requests after a
	// quiet spell.
	Warm()
	Close()
}

// Conn is the VRRP socket of one interface and family.
type Conn interface {
	router.Sender
	router.Reader
	Close() error
}

// Announcer announces VIPs on one interface.
type Announcer interface {
	router.Announcer
	Close() error
}

// Events are the kernel's link and address events.
type Events interface {
	// Receive waits for the next batch of events. An error means events
	// were lost or Close was called.
	Receive() ([]Event, error)
	Close() error
}

// Event is one link or address event.
type Event struct {
	// Link is set for a link event, which has no address.
	Link bool
	// Index is the interface of an address added (Added) or removed.
	Index int
	Addr  netip.Addr
	Added bool
	// Err says why the event could not be read; the others are then
	// not set.
	Err error
}

// Monitor runs the checks and tracked interfaces (see health.Monitor).
type Monitor interface {
	Run(ctx context.Context) error
	Changes() <-chan struct{}
	States() map[string]health.State
	Snapshot() map[string]health.Status
}

var _ Monitor = (*health.Monitor)(nil)
