package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv6"
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
// safe for concurrent use.
type Announcer struct {
	ifi *net.Interface
	arp *packet.Conn

	mu     sync.Mutex
	nd     *ipv6.PacketConn // opened by the first IPv6 announcement
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
	// The socket only sends: a filter that drops everything keeps every
	// ARP frame of the segment from queueing on it.
	drop, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, fmt.Errorf("netif: announcer on %s: %w", ifi.Name, err)
	}
	// A datagram socket: the kernel writes the Ethernet header (the
	// interface's MAC, EtherType ARP) and adds no padding, which gives
	// keepalived's 42-byte frames.
	p, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, &packet.Config{Filter: drop})
	if err != nil {
		return nil, fmt.Errorf("netif: announcer on %s: %w", ifi.Name, err)
	}
	return &Announcer{ifi: ifi, arp: p}, nil
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
	_, err = a.arp.WriteTo(b, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return err
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
	// sockets). The interface goes in the packet info, not as a zone:
	// see Conn.WriteTo.
	cm := &ipv6.ControlMessage{Src: ip.AsSlice(), IfIndex: a.ifi.Index, HopLimit: ndp.HopLimit}
	_, err = a.nd.WriteTo(b, cm, &net.IPAddr{IP: allNodes.AsSlice()})
	return err
}

// openND opens the ICMPv6 socket on first use. It is the socket of the
// mdlayher/ndp package's Conn, without the address lookup by zone (see
// Conn.WriteTo) and with the flow label off.
func (a *Announcer) openND() error {
	if a.nd != nil {
		return nil
	}
	c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return err
	}
	ipc := c.(*net.IPConn)
	p := ipv6.NewPacketConn(ipc)
	if err := a.setupND(ipc, p); err != nil {
		c.Close()
		return err
	}
	a.nd = p
	return nil
}

func (a *Announcer) setupND(ipc *net.IPConn, p *ipv6.PacketConn) error {
	rc, err := ipc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.BindToDevice(int(fd), a.ifi.Name); serr != nil {
			serr = fmt.Errorf("bind to device: %w", serr)
			return
		}
		// keepalived's advertisements have flow label 0; the kernel
		// would otherwise derive one per flow (net.ipv6.auto_flowlabels).
		if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_AUTOFLOWLABEL, 0); serr != nil {
			serr = fmt.Errorf("flow label: %w", serr)
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	// The socket only sends: blocking every ICMPv6 type keeps the
	// segment's ICMPv6 from queueing on it.
	var f ipv6.ICMPFilter
	f.SetAll(true)
	if err := p.SetICMPFilter(&f); err != nil {
		return fmt.Errorf("ICMPv6 filter: %w", err)
	}
	if err := p.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("multicast loopback: %w", err)
	}
	if err := p.SetMulticastHopLimit(ndp.HopLimit); err != nil {
		return fmt.Errorf("multicast hop limit: %w", err)
	}
	return nil
}

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
