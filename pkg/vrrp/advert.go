package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// IPProto is the IP protocol number of VRRP (IPv4 protocol / IPv6 next header).
const IPProto = 112

// TTL is the only IPv4 TTL / IPv6 hop limit a VRRP advertisement may carry.
const TTL = 255

// Multicast groups adverts are sent to when peers are not given explicitly.
var (
	GroupIPv4 = netip.MustParseAddr("224.0.0.18")
	GroupIPv6 = netip.MustParseAddr("ff02::12")
)

// TypeAdvertisement is the only VRRP packet type.
const TypeAdvertisement = 1

// Authentication types of VRRPv2 (RFC 3768 section 5.3.6). Version 3 has none.
const (
	AuthNone     = 0
	AuthPassword = 1
)

// Protocol limits.
const (
	// MaxAddrs is the largest address count the one-octet Count field allows.
	MaxAddrs = 255
	// MaxIntervalV3 is the largest VRRPv3 interval: 12 bits of centiseconds.
	MaxIntervalV3 = 4095 * 10 * time.Millisecond
	// MinIntervalV3 is the smallest non-zero VRRPv3 interval.
	MinIntervalV3 = 10 * time.Millisecond
	// MaxIntervalV2 is the largest VRRPv2 interval: one octet of seconds.
	MaxIntervalV2 = 255 * time.Second
)

// Sentinel errors of the codec, wrapped with context by Unmarshal and Append.
var (
	ErrTooShort     = errors.New("vrrp: packet too short")
	ErrVersion      = errors.New("vrrp: unsupported version")
	ErrType         = errors.New("vrrp: unknown packet type")
	ErrLength       = errors.New("vrrp: length does not match address count")
	ErrChecksum     = errors.New("vrrp: bad checksum")
	ErrFamily       = errors.New("vrrp: address family mismatch")
	ErrAuthType     = errors.New("vrrp: unsupported authentication type")
	ErrInterval     = errors.New("vrrp: advertisement interval out of range")
	ErrTooManyAddrs = errors.New("vrrp: too many addresses")
)

// Advert is one VRRP advertisement. Parsing fills a reused value without
// allocating once Addrs has grown to the address count.
type Advert struct {
	// Version is 2 (RFC 3768) or 3 (RFC 9568).
	Version uint8
	// VRID is the virtual router identifier, 1..255.
	VRID uint8
	// Priority is 0 (master is leaving) .. 255 (address owner).
	Priority uint8
	// Interval is the (maximum) advertisement interval: centisecond
	// resolution in version 3, whole seconds in version 2.
	Interval time.Duration
	// AuthType is the VRRPv2 authentication type (AuthNone or AuthPassword);
	// zero in version 3, where the field is reserved.
	AuthType uint8
	// Password is the VRRPv2 simple password, NUL-padded to 8 octets.
	Password [8]byte
	// Addrs are the virtual addresses, all of the packet's family.
	Addrs []netip.Addr
}

// Wire layout shared by both versions (RFC 9568 section 5.1, RFC 3768
// section 5.1):
//
//	0: version (4 bits) | type (4 bits)
//	1: VRID
//	2: priority
//	3: address count
//	4: v3: reserved (4 bits) | max advert interval (12 bits, centiseconds)
//	   v2: authentication type (octet 4) | advert interval (octet 5, seconds)
//	6: checksum
//	8: addresses, then in version 2 eight octets of authentication data
const (
	headerLen   = 8
	authDataLen = 8
	// intervalMask keeps the 12 interval bits of the VRRPv3 word at
	// offset 4; the 4 reserved bits above them are ignored on receive and
	// sent as zero.
	intervalMask = 0x0fff
	centisecond  = 10 * time.Millisecond
)

// Unmarshal decodes the VRRP message b (the IP payload; the IP header is
// already removed) received from src and sent to dst. The addresses are
// needed for the VRRPv3 checksum, whose pseudo-header holds them, and the
// family of src decides whether the addresses in b are IPv4 or IPv6.
// IPv4-mapped IPv6 src and dst are treated as IPv4, and IPv6 zones are
// ignored, so addresses taken straight from a socket work.
//
// The message must hold the fixed header, Count addresses and, in version 2,
// the authentication data. Octets beyond that are ignored and are not covered
// by the checksum: like keepalived, the checksum and the pseudo-header length
// cover exactly the VRRP message the header describes.
//
// Every error wraps one of the package's sentinel errors. On error a is left
// unchanged. Unmarshal does not allocate once a.Addrs has capacity for the
// address count, so a receive loop reuses one Advert.
//
// In version 2, a zero interval is rejected (ErrInterval) as Append would
// reject it; in version 3 every 12-bit interval is accepted, zero included,
// and it is up to the receiver to treat a zero interval as it sees fit.
func (a *Advert) Unmarshal(b []byte, src, dst netip.Addr) error {
	if len(b) < headerLen {
		return fmt.Errorf("%w: %d octets, the header needs %d", ErrTooShort, len(b), headerLen)
	}
	version, typ := b[0]>>4, b[0]&0x0f
	alen, err := addrLen(version, src, dst)
	if err != nil {
		return err
	}
	if typ != TypeAdvertisement {
		return fmt.Errorf("%w: %d", ErrType, typ)
	}

	count := int(b[3])
	n := messageLen(version, count, alen)
	if len(b) < n {
		return fmt.Errorf("%w: %d addresses need %d octets, got %d", ErrLength, count, n, len(b))
	}
	b = b[:n]
	if c := checksum(version, b, src, dst); c != 0 {
		return fmt.Errorf("%w: sum 0x%04x over %d octets", ErrChecksum, c, n)
	}

	var (
		interval time.Duration
		authType uint8
		password [8]byte
	)
	switch version {
	case 2:
		authType = b[4]
		switch authType {
		case AuthNone:
		case AuthPassword:
			copy(password[:], b[n-authDataLen:])
		default:
			return fmt.Errorf("%w: %d", ErrAuthType, authType)
		}
		if b[5] == 0 {
			return fmt.Errorf("%w: zero seconds", ErrInterval)
		}
		interval = time.Duration(b[5]) * time.Second
	case 3:
		interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&intervalMask) * centisecond
	}

	a.Version = version
	a.VRID = b[1]
	a.Priority = b[2]
	a.Interval = interval
	a.AuthType = authType
	a.Password = password
	a.Addrs = a.Addrs[:0]
	for i := range count {
		p := b[headerLen+i*alen : headerLen+(i+1)*alen]
		if alen == 4 {
			a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte(p)))
		} else {
			a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte(p)))
		}
	}
	return nil
}

// Append encodes a, sent from src to dst, onto b and returns the extended
// slice. It computes the checksum, which in version 3 covers a pseudo-header
// holding src and dst. Append does not allocate when b has room for the
// message.
//
// Every address must be of src's family. The interval must be encodable
// exactly: in version 3 a multiple of 10ms from 0 to MaxIntervalV3, in
// version 2 whole seconds from 1s to MaxIntervalV2. Append rejects rather
// than rounds, so that a configuration slip cannot silently send a
// different interval than the one the local timers use.
//
// In version 2 the password is sent only with AuthPassword; with AuthNone
// the authentication data is zero. In version 3 AuthType must be zero and
// Password is ignored. Every error wraps one of the package's sentinel
// errors; on error b is returned unchanged.
func (a *Advert) Append(b []byte, src, dst netip.Addr) ([]byte, error) {
	alen, err := addrLen(a.Version, src, dst)
	if err != nil {
		return b, err
	}
	if len(a.Addrs) > MaxAddrs {
		return b, fmt.Errorf("%w: %d, at most %d", ErrTooManyAddrs, len(a.Addrs), MaxAddrs)
	}
	for _, ip := range a.Addrs {
		if (alen == 4 && !ip.Is4()) || (alen == 16 && !ip.Is6()) {
			return b, fmt.Errorf("%w: address %s in an advertisement from %s", ErrFamily, ip, src)
		}
	}

	var word uint16 // octets 4 and 5
	switch a.Version {
	case 2:
		if a.Interval < time.Second || a.Interval > MaxIntervalV2 || a.Interval%time.Second != 0 {
			return b, fmt.Errorf("%w: version 2 needs whole seconds from 1s to %s, got %s",
				ErrInterval, MaxIntervalV2, a.Interval)
		}
		if a.AuthType != AuthNone && a.AuthType != AuthPassword {
			return b, fmt.Errorf("%w: %d", ErrAuthType, a.AuthType)
		}
		word = uint16(a.AuthType)<<8 | uint16(a.Interval/time.Second)
	case 3:
		if a.Interval < 0 || a.Interval > MaxIntervalV3 || a.Interval%centisecond != 0 {
			return b, fmt.Errorf("%w: version 3 needs a multiple of %s from 0 to %s, got %s",
				ErrInterval, centisecond, MaxIntervalV3, a.Interval)
		}
		if a.AuthType != 0 {
			return b, fmt.Errorf("%w: %d, version 3 has no authentication", ErrAuthType, a.AuthType)
		}
		word = uint16(a.Interval / centisecond)
	}

	n := messageLen(a.Version, len(a.Addrs), alen)
	off := len(b)
	b = slices.Grow(b, n)[:off+n]
	m := b[off:]
	m[0] = a.Version<<4 | TypeAdvertisement
	m[1] = a.VRID
	m[2] = a.Priority
	m[3] = uint8(len(a.Addrs))
	binary.BigEndian.PutUint16(m[4:6], word)
	m[6], m[7] = 0, 0
	p := m[headerLen:]
	for _, ip := range a.Addrs {
		if alen == 4 {
			ip4 := ip.As4()
			p = p[copy(p, ip4[:]):]
		} else {
			ip16 := ip.As16()
			p = p[copy(p, ip16[:]):]
		}
	}
	if a.Version == 2 {
		if a.AuthType == AuthPassword {
			copy(p, a.Password[:])
		} else {
			clear(p[:authDataLen])
		}
	}
	binary.BigEndian.PutUint16(m[6:8], checksum(a.Version, m, src, dst))
	return b, nil
}

// addrLen checks the version and the families of src and dst, and returns
// the size of one address in the message.
func addrLen(version uint8, src, dst netip.Addr) (int, error) {
	if version != 2 && version != 3 {
		return 0, fmt.Errorf("%w: %d", ErrVersion, version)
	}
	src, dst = src.Unmap(), dst.Unmap()
	switch {
	case !src.IsValid() || !dst.IsValid():
		return 0, fmt.Errorf("%w: invalid source %s or destination %s", ErrFamily, src, dst)
	case src.Is4() != dst.Is4():
		return 0, fmt.Errorf("%w: source %s, destination %s", ErrFamily, src, dst)
	case src.Is4():
		return 4, nil
	case version == 2:
		return 0, fmt.Errorf("%w: version 2 is IPv4 only, source %s", ErrFamily, src)
	default:
		return 16, nil
	}
}

// messageLen is the length of a VRRP message with count addresses of alen
// octets each.
func messageLen(version uint8, count, alen int) int {
	n := headerLen + count*alen
	if version == 2 {
		n += authDataLen
	}
	return n
}

// checksum returns the Internet checksum (RFC 1071) of the VRRP message m,
// preceded in version 3 by the IPv4 or IPv6 pseudo-header of src and dst
// (RFC 9568 section 5.2.8; RFC 3768 section 5.3.8 covers the message
// only). Over a message whose checksum field is set it returns zero when
// the checksum is right; over one whose field is zero it returns the value
// to store there. The caller has checked the families with addrLen.
func checksum(version uint8, m []byte, src, dst netip.Addr) uint16 {
	var acc uint32
	if version == 3 {
		// Both pseudo-headers sum to the same words: the two addresses,
		// the protocol in the low octet of a zero word, and the length
		// (16 bits in IPv4, 32 in IPv6, whose high half is zero here).
		src, dst = src.Unmap(), dst.Unmap()
		if src.Is4() {
			s, d := src.As4(), dst.As4()
			acc = sum(acc, s[:])
			acc = sum(acc, d[:])
		} else {
			s, d := src.As16(), dst.As16()
			acc = sum(acc, s[:])
			acc = sum(acc, d[:])
		}
		acc += IPProto + uint32(len(m))
	}
	acc = sum(acc, m)
	// The message is at most 8+255*16+8 octets, far from overflowing
	// 32 bits, so the carries are folded once at the end.
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

// sum adds b to acc as big-endian 16-bit words, padding an odd last octet
// with zero.
func sum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}
