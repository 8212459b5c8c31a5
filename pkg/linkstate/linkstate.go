// Package linkstate describes network interfaces as the kernel reports
// them, and a Source that follows their changes, for the packages that
// judge links (pkg/health) without linking netlink; pkg/netif implements
// the Source.
package linkstate

import "errors"

// ErrNotFound is wrapped by Events.Link when no interface has the name.
var ErrNotFound = errors.New("no such interface")

// Link is an interface as the kernel reports it.
type Link struct {
	Index int
	Name  string
	// Up and Running are the flags IFF_UP (administratively up) and
	// IFF_RUNNING (operational: up with carrier, or a driver without
	// carrier detection).
	Up, Running bool
	// Flags and OperState describe the link for people:
	// "up|broadcast|multicast|running", "up".
	Flags, OperState string
}

// Event is a link that changed (the kernel's RTM_NEWLINK) or was deleted
// (RTM_DELLINK), or a message that could not be read (Err).
type Event struct {
	Link
	Deleted bool
	Err     error
}

// Source follows the kernel's links.
type Source interface {
	// Subscribe starts following link changes.
	Subscribe() (Events, error)
}

// Events are the link changes since Subscribe.
type Events interface {
	// Link reads the interface called name now; an error wrapping
	// ErrNotFound says there is none.
	Link(name string) (Link, error)
	// Receive waits for the next changes. An error means changes were
	// lost, or Close was called: subscribe again and read the links
	// afresh.
	Receive() ([]Event, error)
	// Close ends the subscription; it may be called from any
	// goroutine, and unblocks Receive.
	Close() error
}
