package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// A Frame is an Ethernet frame of a capture with the time it was captured.
// The lab's own pcap reader drops the times, which are what the benchmark
// measures.
type Frame struct {
	Time time.Time
	Data []byte
}

// ErrNotPcap is returned for a file that is not a classic pcap file of
// Ethernet frames.
var ErrNotPcap = errors.New("not a pcap file of Ethernet frames")

// ReadPcap returns the frames of a classic pcap file as tcpdump -w writes
// it, with microsecond or nanosecond times. A record cut short at the end
// (tcpdump still writing) is left out; a missing or empty file holds no
// frames.
func ReadPcap(path string) ([]Frame, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read pcap: %w", err)
	}
	return parsePcap(b)
}

func parsePcap(b []byte) ([]Frame, error) {
	const fileHeaderLen, recordHeaderLen = 24, 16
	if len(b) < fileHeaderLen {
		return nil, nil
	}
	var order binary.ByteOrder
	var unit time.Duration
	switch m := b[:4]; {
	case bytes.Equal(m, []byte{0xa1, 0xb2, 0xc3, 0xd4}):
		order, unit = binary.BigEndian, time.Microsecond
	case bytes.Equal(m, []byte{0xd4, 0xc3, 0xb2, 0xa1}):
		order, unit = binary.LittleEndian, time.Microsecond
	case bytes.Equal(m, []byte{0xa1, 0xb2, 0x3c, 0x4d}):
		order, unit = binary.BigEndian, time.Nanosecond
	case bytes.Equal(m, []byte{0x4d, 0x3c, 0xb2, 0xa1}):
		order, unit = binary.LittleEndian, time.Nanosecond
	default:
		return nil, fmt.Errorf("magic % x: %w", m, ErrNotPcap)
	}
	if lt := order.Uint32(b[20:24]); lt != 1 {
		return nil, fmt.Errorf("link type %d: %w", lt, ErrNotPcap)
	}
	var frames []Frame
	for rest := b[fileHeaderLen:]; len(rest) >= recordHeaderLen; {
		sec, frac := order.Uint32(rest[0:4]), order.Uint32(rest[4:8])
		n := int(order.Uint32(rest[8:12]))
		if len(rest) < recordHeaderLen+n {
			break
		}
		frames = append(frames, Frame{
			Time: time.Unix(int64(sec), int64(time.Duration(frac)*unit)),
			Data: rest[recordHeaderLen : recordHeaderLen+n],
		})
		rest = rest[recordHeaderLen+n:]
	}
	return frames, nil
}

// An Advert is what the benchmark reads of a VRRP advertisement over IPv4.
type Advert struct {
	Src      netip.Addr
	Version  uint8
	VRID     uint8
	Priority uint8
	// Interval is the advert interval the packet carries: centiseconds in
	// version 3, seconds in version 2.
	Interval time.Duration
}

// Ethernet types and the IP protocol number of VRRP.
const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	protoVRRP     = 112
)

// ParseAdvert decodes a VRRP advertisement carried in an untagged IPv4
// Ethernet frame. It checks the framing only, not the checksums.
func ParseAdvert(frame []byte) (Advert, bool) {
	if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeIPv4 {
		return Advert{}, false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != protoVRRP || len(ip) < ihl+8 {
		return Advert{}, false
	}
	v := ip[ihl:]
	if v[0]&0x0f != 1 { // type 1: advertisement
		return Advert{}, false
	}
	a := Advert{
		Src:      netip.AddrFrom4([4]byte(ip[12:16])),
		Version:  v[0] >> 4,
		VRID:     v[1],
		Priority: v[2],
	}
	switch a.Version {
	case 3:
		a.Interval = time.Duration(binary.BigEndian.Uint16(v[4:6])&0x0fff) * 10 * time.Millisecond
	case 2:
		a.Interval = time.Duration(v[5]) * time.Second
	default:
		return Advert{}, false
	}
	return a, true
}

// ParseGARP decodes a gratuitous ARP (sender and target address the same,
// request or reply) over Ethernet and returns the sender's hardware address
// and the address announced.
func ParseGARP(frame []byte) (net.HardwareAddr, netip.Addr, bool) {
	if len(frame) < 14+28 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeARP {
		return nil, netip.Addr{}, false
	}
	a := frame[14:]
	// Ethernet hardware, IPv4 protocol, 6- and 4-byte addresses.
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != etherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		return nil, netip.Addr{}, false
	}
	spa, tpa := netip.AddrFrom4([4]byte(a[14:18])), netip.AddrFrom4([4]byte(a[24:28]))
	if spa != tpa {
		return nil, netip.Addr{}, false
	}
	return net.HardwareAddr(bytes.Clone(a[8:14])), spa, true
}
