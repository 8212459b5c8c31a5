package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/sys/unix"
)

// ErrNotEthernet reports an interface without a 6-byte hardware address,
// on which ARP and neighbour advertisements make no sense.
var ErrNotEthernet = errors.New("not an Ethernet interface")

// allNodes is where unsolicited neighbour advertisements go (RFC 4861
// section 7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// An Announcer tells the segment of one interface that addresses now live
// here: a gratuitous ARP request per IPv4 address, an unsolicited neighbour
// advertisement per IPv6 address, each frame as keepalived sends it. It is
// safe for concurrent use. Its sockets only send, outside Go's netpoller
// (see txSocket): the first gratuitous ARP follows a new master's first
// advert at once.
type Announcer struct {
	ifi *net.Interface

	mu     sync.Mutex
	arp    *txSocket
	nd     *txSocket // opened by the first IPv6 announcement
	closed bool
}

// DialAnnouncer opens the ARP socket of ifi (a packet socket that only
// sends, in the namespace of the calling thread; it needs CAP_NET_RAW).
// The ICMPv6 socket for neighbour advertisements is opened by the first
// IPv6 announcement, so an interface without IPv6 works for IPv4.
func DialAnnouncer(ifi *net.Interface) (*Announcer, error) {
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("netif: announcer on %s: %w", ifi.Name, ErrNotEthernet)
	}
	// A datagram socket: the kernel writes the Ethernet header (the
	// interface's MAC, the EtherType of the destination address) and
	// adds no padding, which gives keepalived's 42-byte frames. Protocol
	// 0: it receives nothing.
	s, err := dialTx(unix.AF_PACKET, unix.SOCK_DGRAM, 0, false)
	if err != nil {
		return nil, fmt.Errorf("netif: announcer on %s: %w", ifi.Name, err)
	}
	return &Announcer{ifi: ifi, arp: s}, nil
}

// Announce sends one announcement per address. The addresses must already
// be on the interface: an IPv6 advertisement is sent from the address
// itself, as keepalived does, and the kernel only sends from its own,
// non-tentative addresses. It goes on after a failed address and returns
// the errors of all that failed.
func (a *Announcer) Announce(addrs []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("netif: announce on %s: %w", a.ifi.Name, net.ErrClosed)
	}
	var errs []error
	for _, ip := range addrs {
		ip = ip.Unmap()
		var err error
		switch {
		case ip.Is4():
			err = a.gratuitousARP(ip)
		case ip.Is6():
			err = a.neighborAdvertisement(ip)
		default:
			err = errors.New("invalid address")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("netif: announce %s on %s: %w", ip, a.ifi.Name, err))
		}
	}
	return errors.Join(errs...)
}

// gratuitousARP broadcasts an ARP request for ip from ip, with target
// hardware address ff:ff:ff:ff:ff:ff: the form keepalived sends, which
// every neighbour caching ip updates from.
func (a *Announcer) gratuitousARP(ip netip.Addr) error {
	p, err := arp.NewPacket(arp.OperationRequest, a.ifi.HardwareAddr, ip, ethernet.Broadcast, ip)
	if err != nil {
		return err
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	to := unix.RawSockaddrLinklayer{
		Family:   unix.AF_PACKET,
		Protocol: htons(unix.ETH_P_ARP),
		Ifindex:  int32(a.ifi.Index),
		Halen:    6,
	}
	copy(to.Addr[:], ethernet.Broadcast)
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&to)), Namelen: unix.SizeofSockaddrLinklayer, Iov: &iov}
	msg.SetIovlen(1)
	return a.arp.sendmsg(&msg)
}

// neighborAdvertisement sends an unsolicited advertisement for ip to all
// nodes: Override set (neighbours replace the MAC they have), Solicited and
// Router clear, with our MAC as target link-layer address.
func (a *Announcer) neighborAdvertisement(ip netip.Addr) error {
	if err := a.openND(); err != nil {
		return err
	}
	b, err := ndp.MarshalMessage(&ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{
			Direction: ndp.Target,
			Addr:      a.ifi.HardwareAddr,
		}},
	})
	if err != nil {
		return err
	}
	// The kernel fills in the ICMPv6 checksum (always on for ICMPv6 raw
	// sockets). The interface and source go in the packet info, not as
	// a zone of the destination: see Conn.WriteTo.
	to := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: allNodes.As16()}
	pi, hl := unix.CmsgSpace(unix.SizeofInet6Pktinfo), unix.CmsgSpace(4)
	oob := make([]byte, pi+hl)
	info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&putCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)[0]))
	info.Addr, info.Ifindex = ip.As16(), uint32(a.ifi.Index)
	binary.NativeEndian.PutUint32(putCmsg(oob[pi:], unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, 4), ndp.HopLimit)
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&to)), Namelen: unix.SizeofSockaddrInet6, Iov: &iov, Control: &oob[0]}
	msg.SetIovlen(1)
	msg.SetControllen(len(oob))
	return a.nd.sendmsg(&msg)
}

// openND opens the ICMPv6 socket on first use: bound to the interface,
// multicast not looped back, hop limit 255 and flow label 0, as
// keepalived's advertisements have (the kernel would otherwise derive a
// label per flow: net.ipv6.auto_flowlabels).
func (a *Announcer) openND() error {
	if a.nd != nil {
		return nil
	}
	s, err := dialTx(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6, true)
	if err != nil {
		return err
	}
	opt := func(name, v int) func(int) error {
		return func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, name, v) }
	}
	if err := s.setup([]sockStep{
		{"bind to device", func(fd int) error { return unix.BindToDevice(fd, a.ifi.Name) }},
		{"flow label", opt(unix.IPV6_AUTOFLOWLABEL, 0)},
		{"multicast loopback", opt(unix.IPV6_MULTICAST_LOOP, 0)},
		{"multicast hop limit", opt(unix.IPV6_MULTICAST_HOPS, ndp.HopLimit)},
	}); err != nil {
		s.Close()
		return err
	}
	a.nd = s
	return nil
}

// htons converts a short from host to network byte order.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Close closes the sockets; later announcements fail.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	err := a.arp.Close()
	if a.nd != nil {
		err = errors.Join(err, a.nd.Close())
	}
	return err
}
