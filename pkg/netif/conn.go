package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Family is an IP address family.
type Family int

// The address families of VRRP sockets.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// ProtocolVRRP is the IP protocol number of VRRP.
const ProtocolVRRP = 112

// The VRRP multicast groups (RFC 9568 section 5.1).
var (
	GroupIPv4 = netip.MustParseAddr("224.0.0.18")
	GroupIPv6 = netip.MustParseAddr("ff02::12")
)

const (
	// ttl is the TTL / hop limit of every VRRP packet; receivers drop
	// anything else (RFC 9568 section 7.1).
	ttl = 255
	// tos is the TOS / traffic class keepalived sends adverts with
	// (DSCP CS6, network control), so the two look alike to QoS policies.
	tos = 0xc0
	// rcvbufSize leaves room for bursts of adverts from many virtual routers
	// while the reader is descheduled.
	rcvbufSize = 1 << 20
	// maxPacket is the largest IP packet; the read buffer holds any.
	maxPacket = 1<<16 - 1
	// oobLen holds the control messages enabled in Dial: IPv6 packet
	// info (40 bytes with its header) and hop limit (24).
	oobLen = 128
)

// ErrFamily reports an address of the wrong family for the Conn.
var ErrFamily = errors.New("address family does not match the socket")

// Meta describes a received packet.
type Meta struct {
	// Src and Dst are the IP source and destination, without zone.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit the packet arrived with.
	TTL int
	// IfIndex is the interface the packet arrived on.
	IfIndex int
}

// A Conn is a raw VRRP socket (IP protocol 112) bound to one interface and
// one address family. It has joined the VRRP multicast group of its family
// on that interface, sends with TTL / hop limit 255 and does not loop its
// own multicast back.
//
// ReadFrom must not be called concurrently with itself (it reuses buffers);
// WriteTo may be called from any goroutine.
type Conn struct {
	ifi    *net.Interface
	family Family
	ipc    *net.IPConn
	rc     syscall.RawConn
	p4     *ipv4.PacketConn
	p6     *ipv6.PacketConn

	// Read state, built once and reused by every ReadFrom so that a read
	// allocates nothing, also under a flood of packets: x/sys/unix's
	// Recvmsg allocates the source address and the I/O vector per call,
	// and a method value made per read would allocate too.
	rbuf   []byte
	oob    []byte
	msg    unix.Msghdr
	iov    unix.Iovec
	name   unix.RawSockaddrInet6 // source of IPv6 packets
	rn     int
	roobn  int
	rerr   error
	readFn func(fd uintptr) bool
}

// Dial opens the VRRP socket of family on ifi, in the network namespace of
// the calling thread. It needs CAP_NET_RAW.
func Dial(ifi *net.Interface, family Family) (*Conn, error) {
	var network, laddr string
	switch family {
	case IPv4:
		network, laddr = "ip4:112", "0.0.0.0"
	case IPv6:
		network, laddr = "ip6:112", "::"
	default:
		return nil, fmt.Errorf("netif: dial VRRP on %s: unknown %v", ifi.Name, family)
	}
	pc, err := net.ListenPacket(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("netif: dial %v VRRP on %s: %w", family, ifi.Name, err)
	}
	c, err := newConn(ifi, family, pc.(*net.IPConn))
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("netif: dial %v VRRP on %s: %w", family, ifi.Name, err)
	}
	return c, nil
}

func newConn(ifi *net.Interface, family Family, ipc *net.IPConn) (*Conn, error) {
	rc, err := ipc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &Conn{
		ifi:    ifi,
		family: family,
		ipc:    ipc,
		rc:     rc,
		rbuf:   make([]byte, maxPacket),
		oob:    make([]byte, oobLen),
	}
	c.iov.Base = &c.rbuf[0]
	c.iov.SetLen(len(c.rbuf))
	c.msg.Iov = &c.iov
	c.msg.SetIovlen(1)
	c.msg.Control = &c.oob[0]
	if family == IPv6 {
		// IPv4 sources come in the IP header; IPv6 ones only here.
		c.msg.Name = (*byte)(unsafe.Pointer(&c.name))
	}
	c.readFn = c.recvmsg

	var serr error
	if err := rc.Control(func(fd uintptr) {
		// Bound to the interface, the socket does not see adverts of
		// the same VRID arriving on other interfaces.
		if serr = unix.BindToDevice(int(fd), ifi.Name); serr != nil {
			serr = fmt.Errorf("bind to device: %w", serr)
			return
		}
		// SO_RCVBUFFORCE passes net.core.rmem_max, which is small by
		// default; without CAP_NET_ADMIN fall back to what the limit
		// allows.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbufSize) != nil {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbufSize); err != nil {
				serr = fmt.Errorf("receive buffer: %w", err)
			}
		}
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}

	switch family {
	case IPv4:
		p := ipv4.NewPacketConn(ipc)
		c.p4 = p
		steps := []struct {
			what string
			err  func() error
		}{
			{"join " + GroupIPv4.String(), func() error { return p.JoinGroup(ifi, &net.IPAddr{IP: GroupIPv4.AsSlice()}) }},
			{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
			{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
			{"multicast TTL", func() error { return p.SetMulticastTTL(ttl) }},
			{"TTL", func() error { return p.SetTTL(ttl) }},
			{"TOS", func() error { return p.SetTOS(tos) }},
			// The IPv4 header comes with every read and gives source,
			// destination and TTL; packet info adds the interface.
			{"control messages", func() error { return p.SetControlMessage(ipv4.FlagInterface, true) }},
		}
		for _, s := range steps {
			if err := s.err(); err != nil {
				return nil, fmt.Errorf("%s: %w", s.what, err)
			}
		}
	case IPv6:
		p := ipv6.NewPacketConn(ipc)
		c.p6 = p
		steps := []struct {
			what string
			err  func() error
		}{
			{"join " + GroupIPv6.String(), func() error { return p.JoinGroup(ifi, &net.IPAddr{IP: GroupIPv6.AsSlice()}) }},
			{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
			{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
			{"multicast hop limit", func() error { return p.SetMulticastHopLimit(ttl) }},
			{"hop limit", func() error { return p.SetHopLimit(ttl) }},
			{"traffic class", func() error { return p.SetTrafficClass(tos) }},
			// No IPv6 header is read: packet info gives the
			// destination and interface, the sockaddr the source.
			{"control messages", func() error {
				return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
			}},
		}
		for _, s := range steps {
			if err := s.err(); err != nil {
				return nil, fmt.Errorf("%s: %w", s.what, err)
			}
		}
	}
	return c, nil
}

// Family returns the address family of the socket.
func (c *Conn) Family() Family { return c.family }

// Interface returns the interface the socket is bound to.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// Close closes the socket; a blocked ReadFrom returns an error.
func (c *Conn) Close() error { return c.ipc.Close() }

// SetReadDeadline sets the deadline for ReadFrom; a read past it fails
// with an error matching os.ErrDeadlineExceeded.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ipc.SetReadDeadline(t) }

// recvmsg is Conn.readFn: one non-blocking recvmsg(2) for RawConn.Read,
// into the buffers of c. It returns false to wait for the socket to become
// readable.
func (c *Conn) recvmsg(fd uintptr) bool {
	if c.msg.Name != nil {
		c.msg.Namelen = unix.SizeofSockaddrInet6
	}
	c.msg.SetControllen(len(c.oob))
	c.msg.Flags = 0
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), 0)
	switch errno {
	case 0:
		c.rn, c.roobn, c.rerr = int(n), int(c.msg.Controllen), nil
	case unix.EAGAIN:
		return false
	default:
		c.rn, c.roobn, c.rerr = 0, 0, errno
	}
	return true
}

// ReadFrom reads the next VRRP packet into b and returns the length of its
// VRRP part (the IP header is not included) and where it came from. As
// with net.PacketConn, a packet longer than b is cut to len(b). Errors
// wrap os.ErrDeadlineExceeded after SetReadDeadline's deadline and
// net.ErrClosed after Close.
//
// A read allocates nothing.
func (c *Conn) ReadFrom(b []byte) (int, Meta, error) {
	for {
		if err := c.rc.Read(c.readFn); err != nil {
			return 0, Meta{}, fmt.Errorf("netif: read VRRP on %s: %w", c.ifi.Name, err)
		}
		if c.rerr == unix.EINTR {
			continue
		}
		if c.rerr != nil {
			return 0, Meta{}, fmt.Errorf("netif: read VRRP on %s: %w", c.ifi.Name, os.NewSyscallError("recvmsg", c.rerr))
		}
		var (
			m       Meta
			payload []byte
		)
		switch c.family {
		case IPv4:
			var ok bool
			payload, ok = parseIPv4(c.rbuf[:c.rn], &m)
			if !ok {
				continue // not an IPv4 packet: cannot come from the kernel
			}
		case IPv6:
			payload = c.rbuf[:c.rn]
			if c.name.Family == unix.AF_INET6 {
				m.Src = netip.AddrFrom16(c.name.Addr)
			}
		}
		parseCmsgs(c.oob[:c.roobn], &m)
		return copy(b, payload), m, nil
	}
}

// parseIPv4 reads source, destination and TTL from the IPv4 header that
// raw IPv4 sockets deliver, and returns what follows it.
func parseIPv4(p []byte, m *Meta) ([]byte, bool) {
	if len(p) < ipv4.HeaderLen || p[0]>>4 != 4 {
		return nil, false
	}
	hl := int(p[0]&0x0f) << 2
	if hl < ipv4.HeaderLen || len(p) < hl {
		return nil, false
	}
	m.TTL = int(p[8])
	m.Src = netip.AddrFrom4([4]byte(p[12:16]))
	m.Dst = netip.AddrFrom4([4]byte(p[16:20]))
	return p[hl:], true
}

// parseCmsgs fills m from the control messages enabled in newConn.
func parseCmsgs(oob []byte, m *Meta) {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return
		}
		oob = rest
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ifindex; in_addr spec_dst, addr; }
			m.IfIndex = int(binary.NativeEndian.Uint32(data[0:4]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr addr; unsigned int ifindex; }
			m.Dst = netip.AddrFrom16([16]byte(data[0:16]))
			m.IfIndex = int(binary.NativeEndian.Uint32(data[16:20]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			m.TTL = int(int32(binary.NativeEndian.Uint32(data[0:4])))
		}
	}
}

// WriteTo sends the VRRP message b (without IP header) to dst, a multicast
// group or a unicast peer, from src. src must be an address of the
// interface: the caller's VRRPv3 checksum covers it, so the kernel must not
// choose another. For IPv6 multicast it is the interface's link-local
// address. An invalid src lets the kernel choose.
func (c *Conn) WriteTo(b []byte, src, dst netip.Addr) error {
	src, dst = src.Unmap(), dst.Unmap()
	if !c.matches(dst) || (src.IsValid() && !c.matches(src)) {
		return fmt.Errorf("netif: send from %s to %s on %v VRRP socket of %s: %w", src, dst, c.family, c.ifi.Name, ErrFamily)
	}
	var err error
	switch c.family {
	case IPv4:
		cm := &ipv4.ControlMessage{IfIndex: c.ifi.Index}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		_, err = c.p4.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	case IPv6:
		// The interface goes in the packet info, not as a zone of dst:
		// a zone is resolved by name through a process-wide cache that
		// is wrong when one process works in several namespaces.
		cm := &ipv6.ControlMessage{IfIndex: c.ifi.Index, HopLimit: ttl, TrafficClass: tos}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		_, err = c.p6.WriteTo(b, cm, &net.IPAddr{IP: dst.WithZone("").AsSlice()})
	}
	if err != nil {
		return fmt.Errorf("netif: send from %s to %s on %s: %w", src, dst, c.ifi.Name, err)
	}
	return nil
}

func (c *Conn) matches(a netip.Addr) bool {
	if c.family == IPv4 {
		return a.Is4()
	}
	return a.Is6()
}
