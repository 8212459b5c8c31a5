package bgp

import (
	"fmt"
	"net/netip"
	"time"
)

// Config is what a speaker announces from: the node's AS and router ID,
// the hold time of its sessions and its peers.
type Config struct {
	ASN      uint32
	RouterID netip.Addr // an IPv4 address
	// HoldTime is offered to every peer, in whole seconds; the keepalive
	// interval is a third of it. A session uses the lower of the two
	// ends' hold times.
	HoldTime time.Duration
	Peers    []Peer
	// Prepend makes the preference of a node's routes an AS-path
	// prepend as well as a MED (see PrefFromPriority); the speaker
	// announces whatever preference it is given.
	Prepend bool
}

// Peer is one router the speaker connects to.
type Peer struct {
	Address netip.Addr
	ASN     uint32 // the node's own for iBGP
	Port    uint16 // 0 means 179
	// Password is the TCP MD5 signature key (RFC 2385); "" for none.
	Password string
	// Multihop is the TTL of eBGP packets for a peer that is not
	// directly connected; 0 sends them with TTL 1.
	Multihop uint8
	// Source is the local address of the session; zero lets the kernel
	// choose.
	Source netip.Addr
}

// External reports whether the session is eBGP.
func (p Peer) External(asn uint32) bool { return p.ASN != asn }

// State is the state of a BGP session (RFC 4271, 8.2.2).
type State int

const (
	Idle State = iota
	Connect
	Active
	OpenSent
	OpenConfirm
	Established
)

func (s State) String() string {
	switch s {
	case Idle:
		return "Idle"
	case Connect:
		return "Connect"
	case Active:
		return "Active"
	case OpenSent:
		return "OpenSent"
	case OpenConfirm:
		return "OpenConfirm"
	case Established:
		return "Established"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Route is a prefix the node announces, with its preference.
type Route struct {
	Prefix netip.Prefix
	Pref   Pref
}

// PeerStatus is one session as Status reports it.
type PeerStatus struct {
	Address netip.Addr
	ASN     uint32
	State   State
	// Since is when the session last changed state; zero before the
	// first change.
	Since time.Time
	// HoldTime is the negotiated hold time of an established session.
	HoldTime time.Duration
	// Advertised is how many routes the peer was sent and holds.
	Advertised uint64
	// Ups counts the times the session was established.
	Ups uint64
}

// Status is a snapshot of a Speaker.
type Status struct {
	Running bool
	ASN     uint32
	// RouterID is the speaker's router ID.
	RouterID netip.Addr
	Peers    []PeerStatus // in the order configured
	Routes   []Route      // announced, by prefix
	// Withdrawals counts the routes withdrawn since the speaker was
	// made.
	Withdrawals uint64
}

// Pref is how much the routers should prefer a node's route: the lowest
// MED wins among routes of one neighbouring AS, and a shorter AS path
// wins before MED is looked at. Equal preferences on every node make the
// routes equal, for ECMP.
type Pref struct {
	MED uint32
	// Prepend is how many extra times the node's AS is put in the AS
	// path. It works over eBGP only: an iBGP router sees its own AS and
	// drops the route.
	Prepend uint8
}

// PrefFromPriority maps a VRRP-style priority (1..254, higher is better)
// to a MED (lower is better): 255 - priority. Node order gives 250, 240,
// 230, ... and so MEDs 5, 15, 25, ...; a tracked check's negative weight
// lowers the priority and so raises the MED, as it would lower a VRRP
// priority. With prepend set, the AS is also put in once per step of 10
// below 250, so that preference survives routers that ignore MED.
func PrefFromPriority(priority uint8, prepend bool) Pref {
	p := Pref{MED: 255 - uint32(priority)}
	if prepend && priority < 250 {
		p.Prepend = uint8((250 - int(priority) + 9) / 10)
	}
	return p
}
