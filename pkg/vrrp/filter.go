package vrrp

import (
	"errors"
	"net/netip"
	"slices"
	"time"
)

// DropReason says why a received packet was not handed to the state
// machine. Receivers count drops per reason instead of logging each one.
type DropReason uint8

// Reasons for dropping a packet. DropNone means the packet is accepted.
const (
	DropNone DropReason = iota
	// DropTTL: the IPv4 TTL or IPv6 hop limit is not 255, so the packet
	// was forwarded by a router or forged off-link.
	DropTTL
	// DropTooShort: shorter than the fixed header or the addresses it
	// announces.
	DropTooShort
	// DropVersion: neither version 2 nor 3, or not the version configured
	// for the virtual router.
	DropVersion
	// DropType: not an advertisement.
	DropType
	// DropChecksum: the checksum does not match.
	DropChecksum
	// DropMalformed: another decoding error (family, authentication type).
	DropMalformed
	// DropUnknownVRID: no virtual router with this VRID on the interface.
	DropUnknownVRID
	// DropAuth: the VRRPv2 authentication type or password differs.
	DropAuth
	// DropInterval: a VRRPv2 advertisement interval that differs from the
	// configured one (RFC 3768 section 7.1).
	DropInterval
	// DropAddrMismatch: the address list differs from ours: most likely
	// another virtual router uses the same VRID.
	DropAddrMismatch
	// DropNotPeer: in unicast mode, the source is not a configured peer.
	DropNotPeer
	// DropOwn: our own advertisement, looped back.
	DropOwn
	// DropBacklog: the socket's receive buffer was full: the daemon did
	// not read fast enough, and the kernel dropped the packet.
	DropBacklog

	numDropReasons
)

// DropReasons lists every reason a packet can be dropped for, for metrics.
func DropReasons() []DropReason {
	r := make([]DropReason, 0, numDropReasons-1)
	for d := DropNone + 1; d < numDropReasons; d++ {
		r = append(r, d)
	}
	return r
}

var dropNames = [numDropReasons]string{
	DropNone:         "none",
	DropTTL:          "ttl",
	DropTooShort:     "too_short",
	DropVersion:      "version",
	DropType:         "type",
	DropChecksum:     "checksum",
	DropMalformed:    "malformed",
	DropUnknownVRID:  "unknown_vrid",
	DropAuth:         "auth",
	DropInterval:     "interval",
	DropAddrMismatch: "address_mismatch",
	DropNotPeer:      "not_peer",
	DropOwn:          "own",
	DropBacklog:      "backlog",
}

// String returns the reason as a metric label value.
func (d DropReason) String() string {
	if d < numDropReasons {
		return dropNames[d]
	}
	return "unknown"
}

// DropReasonOf maps an error of Advert.Unmarshal to its drop reason.
func DropReasonOf(err error) DropReason {
	switch {
	case err == nil:
		return DropNone
	case errors.Is(err, ErrTooShort), errors.Is(err, ErrLength):
		return DropTooShort
	case errors.Is(err, ErrVersion):
		return DropVersion
	case errors.Is(err, ErrType):
		return DropType
	case errors.Is(err, ErrChecksum):
		return DropChecksum
	}
	return DropMalformed
}

// Filter holds what one virtual router accepts. The zero Peers accepts any
// source (multicast mode).
type Filter struct {
	Version  uint8
	Password [8]byte // VRRPv2 simple password; all zero means no authentication
	Interval time.Duration
	// Addrs are the virtual addresses of the router's family, in any order.
	Addrs []netip.Addr
	// Peers, when not empty, is the unicast allow-list of sources.
	Peers []netip.Addr
	// Local are this node's own addresses on the interface, to drop our
	// own advertisements.
	Local []netip.Addr
}

// Check decides whether a decoded advertisement for this router's VRID is
// accepted: it returns DropNone, or why not. ttl is the IPv4 TTL or IPv6 hop
// limit the packet arrived with.
func (f *Filter) Check(ttl int, src netip.Addr, a *Advert) DropReason {
	switch {
	case ttl != TTL:
		return DropTTL
	case a.Version != f.Version:
		return DropVersion
	case slices.Contains(f.Local, src):
		return DropOwn
	case len(f.Peers) > 0 && !slices.Contains(f.Peers, src):
		return DropNotPeer
	}
	if f.Version == 2 {
		var none [8]byte
		want := uint8(AuthNone)
		if f.Password != none {
			want = AuthPassword
		}
		if a.AuthType != want || (want == AuthPassword && a.Password != f.Password) {
			return DropAuth
		}
		if a.Interval != f.Interval {
			return DropInterval
		}
	}
	if !sameAddrs(a.Addrs, f.Addrs) {
		return DropAddrMismatch
	}
	return DropNone
}

// sameAddrs reports whether a and b hold the same addresses, in any order,
// without allocating: lists are short, so quadratic is fine.
func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}
