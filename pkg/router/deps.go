package router

import (
	"log/slog"
	"net/netip"
	"time"
)

// Sender sends one VRRP message from src to dst on the router's interface.
type Sender interface {
	WriteTo(b []byte, src, dst netip.Addr) error
}

// AddrManager binds and unbinds virtual addresses.
type AddrManager interface {
	Add(ifindex int, p netip.Prefix, label string) error
	Remove(ifindex int, p netip.Prefix) error
	List(ifindex int) ([]netip.Prefix, error)
}

// Announcer tells the segment where the virtual addresses now live
// (gratuitous ARP, unsolicited neighbour advertisements).
type Announcer interface {
	Announce(addrs []netip.Addr) error
}

// Neighbors forgets the neighbour entries of an interface that the kernel
// has yet to resolve (see netif.Addrs.ForgetUnresolved).
type Neighbors interface {
	ForgetUnresolved(ifindex int, ipv6 bool) (int, error)
}

// Sleeper sleeps until a time, more precisely than Go's timers, which
// fire up to a millisecond late (the netpoller waits in whole
// milliseconds), and without keeping the processor from other goroutines.
type Sleeper interface {
	SleepUntil(t time.Time) error
}

// Deps are the parts a Router drives.
type Deps struct {
	Sender    Sender
	Addrs     AddrManager
	Announcer Announcer // on the router's interface
	// AnnouncerOn returns the announcer of another interface, by name,
	// for VIPs bound there (Config.VIPLinks); nil when there is none,
	// and then those VIPs are not announced.
	AnnouncerOn func(ifname string) Announcer
	// Neighbors, if set, has a unicast router whose interface came back
	// forget the entries probed while it was down.
	Neighbors Neighbors
	// Sleeper, if set, sleeps the last stretch before a takeover
	// deadline: the router's timer wakes it early by that much. A
	// takeover is measured against the protocol's bound. Tests in a
	// synctest bubble, where timers are exact, leave it nil.
	Sleeper Sleeper
	// Logger receives transitions and errors; nil discards.
	Logger *slog.Logger
	// OnTransition, if set, is called by the router's goroutine after
	// each state change has been acted on, with the router's status
	// right after it: its last Transition is the change. The status is
	// the caller's to keep. It must not block.
	OnTransition func(Status)
	// OnWantMaster, if set, is called like OnTransition when a member
	// of a sync group would have become master and waits for its group
	// to Promote it.
	OnWantMaster func(Status)
}
