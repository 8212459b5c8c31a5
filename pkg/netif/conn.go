package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
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
	// batch is how many packets one recvmmsg(2) reads at most: when many
	// virtual routers advertise together, a packet costs a fraction of a
	// system call.
	batch = 16
	// slotLen is the read buffer of one packet: the largest VRRP packet
	// (255 IPv6 addresses: 4088 bytes, IPv6 sockets read no IP header;
	// IPv4 ones read the header, at most 60 bytes, and at most 1028 bytes
	// of VRRP). A longer packet is cut and then fails its checksum.
	slotLen = 4096
	// oobLen holds the control messages enabled in Dial: IPv6 packet
	// info (40 bytes with its header), hop limit (24), the drop count
	// (24) and the receive time (32).
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
	// Overflows counts the packets the kernel dropped on the socket, since
	// it was opened, because its receive buffer was full.
	Overflows uint32
	// Received is when the kernel received the packet, by the wall
	// clock (SO_TIMESTAMPNS); zero if it did not say.
	Received time.Time
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

	// Read state, built once and reused by every read so that reading
	// allocates nothing, also under a flood of packets. x/net's ReadBatch
	// would allocate its headers per call and cannot hand packets over
	// inside the read: it would cost a system call that finds the socket
	// empty for every batch.
	bufs   []byte // batch slots of slotLen
	oobs   []byte // batch slots of oobLen
	msgs   [batch]mmsghdr
	iovs   [batch]unix.Iovec
	names  [batch]unix.RawSockaddrInet6 // sources of IPv6 packets
	rn     int                          // packets read by the last call
	rerr   error
	each   func(payload []byte, m Meta) // ReadEach's handler
	readFn func(fd uintptr) bool        // recvOne, a method value made once
	eachFn func(fd uintptr) bool        // recvEach
	// handing: ReadEach is reading a batch or handing it over (see
	// Pending).
	handing atomic.Bool

	wmu sync.Mutex // serialises WriteTo, which uses w
	w   sender
	tx  *txSocket // WriteTo's own socket, see txSocket
}

// mmsghdr is struct mmsghdr of recvmmsg(2), which x/sys/unix does not
// define; Go pads it like C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
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
		bufs:   make([]byte, batch*slotLen),
		oobs:   make([]byte, batch*oobLen),
	}
	for i := range c.msgs {
		c.iovs[i].Base = &c.bufs[i*slotLen]
		c.iovs[i].SetLen(slotLen)
		h := &c.msgs[i].hdr
		h.Iov = &c.iovs[i]
		h.SetIovlen(1)
		h.Control = &c.oobs[i*oobLen]
		if family == IPv6 {
			// IPv4 sources come in the IP header; IPv6 ones only here.
			h.Name = (*byte)(unsafe.Pointer(&c.names[i]))
		}
	}
	c.readFn = c.recvOne
	c.eachFn = c.recvEach
	c.initSender()

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
				return
			}
		}
		// The kernel's count of packets dropped for a full buffer comes
		// with each packet: the reader falling behind shows in metrics.
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
			serr = fmt.Errorf("drop count: %w", err)
			return
		}
		// Timers start when an advert arrives, not when the reader
		// gets to it.
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			serr = fmt.Errorf("receive time: %w", err)
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
		steps := []struct {
			what string
			err  func() error
		}{
			{"join " + GroupIPv4.String(), func() error { return p.JoinGroup(ifi, &net.IPAddr{IP: GroupIPv4.AsSlice()}) }},
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
		steps := []struct {
			what string
			err  func() error
		}{
			{"join " + GroupIPv6.String(), func() error { return p.JoinGroup(ifi, &net.IPAddr{IP: GroupIPv6.AsSlice()}) }},
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
	if c.tx, err = dialVRRPTx(ifi, family); err != nil {
		return nil, fmt.Errorf("sending socket: %w", err)
	}
	return c, nil
}

// Family returns the address family of the socket.
func (c *Conn) Family() Family { return c.family }

// Interface returns the interface the socket is bound to.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// Close closes the sockets; a blocked ReadFrom returns an error.
func (c *Conn) Close() error { return errors.Join(c.ipc.Close(), c.tx.Close()) }

// SetReadDeadline sets the deadline for ReadFrom; a read past it fails
// with an error matching os.ErrDeadlineExceeded.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ipc.SetReadDeadline(t) }

// recv reads up to n packets with one non-blocking recvmmsg(2) into the
// buffers of c. It reports false when the socket had nothing to read.
//
// RawSyscall: the socket is non-blocking, so the call never blocks and
// need not tell the scheduler it might.
func (c *Conn) recv(fd uintptr, n int) bool {
	for i := range n {
		h := &c.msgs[i].hdr
		if h.Name != nil {
			h.Namelen = unix.SizeofSockaddrInet6
		}
		h.SetControllen(oobLen)
		h.Flags = 0
	}
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.msgs[0])), uintptr(n), 0, 0, 0)
		switch errno {
		case 0:
			c.rn, c.rerr = int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			c.rn, c.rerr = 0, os.NewSyscallError("recvmmsg", errno)
		}
		return true
	}
}

// recvOne is ReadFrom's function for RawConn.Read: it reads one packet.
func (c *Conn) recvOne(fd uintptr) bool { return c.recv(fd, 1) }

// recvEach is ReadEach's function for RawConn.Read: it reads batches and
// hands each packet to c.each until the socket is empty, and then returns
// false, to wait for the next packet, without the system call that would
// find the socket empty: a short batch says so already. It returns true on
// an error only.
func (c *Conn) recvEach(fd uintptr) bool {
	// Set before the read: packets taken from the socket count as
	// pending until handed over.
	c.handing.Store(true)
	defer c.handing.Store(false)
	for {
		if !c.recv(fd, batch) {
			return false
		}
		if c.rerr != nil {
			return true
		}
		for i := range c.rn {
			if payload, m, ok := c.packet(i); ok {
				c.each(payload, m)
			}
		}
		if c.rn < batch {
			return false
		}
	}
}

// Pending reports whether ReadEach may have packets received so far still
// to hand over: packets wait in the socket, or ReadEach is reading or
// handing over a batch. An error counts as pending.
func (c *Conn) Pending() bool {
	if c.handing.Load() {
		return true
	}
	var (
		n    int
		ierr error
	)
	if err := c.rc.Control(func(fd uintptr) {
		n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) // the next datagram's size, 0 if none
	}); err != nil || ierr != nil {
		return true
	}
	return n > 0
}

// packet returns the VRRP part of the i-th packet of the last read and
// where it came from; false if it cannot be a packet of the socket's
// family.
func (c *Conn) packet(i int) ([]byte, Meta, bool) {
	var m Meta
	h := &c.msgs[i].hdr
	p := c.bufs[i*slotLen : i*slotLen+int(c.msgs[i].n)]
	switch c.family {
	case IPv4:
		var ok bool
		if p, ok = parseIPv4(p, &m); !ok {
			return nil, m, false // not an IPv4 packet: cannot come from the kernel
		}
	case IPv6:
		if c.names[i].Family == unix.AF_INET6 {
			m.Src = netip.AddrFrom16(c.names[i].Addr)
		}
	}
	parseCmsgs(c.oobs[i*oobLen:i*oobLen+int(h.Controllen)], &m)
	return p, m, true
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
		if c.rerr != nil {
			return 0, Meta{}, fmt.Errorf("netif: read VRRP on %s: %w", c.ifi.Name, c.rerr)
		}
		if payload, m, ok := c.packet(0); ok {
			return copy(b, payload), m, nil
		}
	}
}

// ReadEach reads packets and calls fn with the VRRP part (without the IP
// header) of each and where it came from, in the calling goroutine, until
// the socket fails; it returns that error, which wraps
// os.ErrDeadlineExceeded after SetReadDeadline's deadline and net.ErrClosed
// after Close. payload is valid only until fn returns.
//
// It reads up to 16 packets per system call and hands them over without a
// goroutine switch: the cheapest way to follow many virtual routers. fn
// must not block; it holds up every packet behind it.
func (c *Conn) ReadEach(fn func(payload []byte, m Meta)) error {
	c.each = fn
	defer func() { c.each = nil }()
	if err := c.rc.Read(c.eachFn); err != nil {
		return fmt.Errorf("netif: read VRRP on %s: %w", c.ifi.Name, err)
	}
	return fmt.Errorf("netif: read VRRP on %s: %w", c.ifi.Name, c.rerr)
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
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			m.Overflows = binary.NativeEndian.Uint32(data[0:4])
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= 16:
			// struct timespec { time_t tv_sec; long tv_nsec; }, 64-bit
			m.Received = time.Unix(int64(binary.NativeEndian.Uint64(data[0:8])), int64(binary.NativeEndian.Uint64(data[8:16])))
		}
	}
}

// WriteTo sends the VRRP message b (without IP header) to dst, a multicast
// group or a unicast peer, from src. src must be an address of the
// interface: the caller's VRRPv3 checksum covers it, so the kernel must not
// choose another. For IPv6 multicast it is the interface's link-local
// address. An invalid src lets the kernel choose.
//
// A send allocates nothing: a master sends one per virtual router and
// interval, and x/net's WriteTo allocates its control message and address
// each time.
func (c *Conn) WriteTo(b []byte, src, dst netip.Addr) error {
	src, dst = src.Unmap(), dst.Unmap()
	if !c.matches(dst) || (src.IsValid() && !c.matches(src)) {
		return fmt.Errorf("netif: send from %s to %s on %v VRRP socket of %s: %w", src, dst, c.family, c.ifi.Name, ErrFamily)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w := &c.w
	// The interface goes in the packet info, for IPv6 not as a zone of
	// dst: a zone is resolved by name through a process-wide cache that
	// is wrong when one process works in several namespaces.
	switch c.family {
	case IPv4:
		w.to4.Addr = dst.As4()
		w.info4.Ifindex = int32(c.ifi.Index)
		w.info4.Spec_dst = [4]byte{}
		if src.IsValid() {
			w.info4.Spec_dst = src.As4()
		}
	case IPv6:
		w.to6.Addr = dst.As16()
		w.info6.Ifindex = uint32(c.ifi.Index)
		w.info6.Addr = [16]byte{}
		if src.IsValid() {
			w.info6.Addr = src.As16()
		}
	}
	w.iov.Base = unsafe.SliceData(b)
	w.iov.SetLen(len(b))
	if len(b) == 0 {
		w.iov.Base = nil
	}
	err := c.tx.sendmsg(&w.msg)
	w.iov.Base = nil // keep no reference to the caller's buffer
	if err != nil {
		return fmt.Errorf("netif: send from %s to %s on %s: %w", src, dst, c.ifi.Name, err)
	}
	return nil
}

// sender is the state of WriteTo, built once per Conn: the message header,
// destination and control messages point into it.
type sender struct {
	msg   unix.Msghdr
	iov   unix.Iovec
	to4   unix.RawSockaddrInet4
	to6   unix.RawSockaddrInet6
	info4 *unix.Inet4Pktinfo // in oob
	info6 *unix.Inet6Pktinfo // in oob
	oob   []byte
}

// initSender lays out the message WriteTo sends: IPv4 with the packet info
// (interface and source); IPv6 with the packet info, hop limit and traffic
// class, as x/net's ipv6.ControlMessage did.
func (c *Conn) initSender() {
	w := &c.w
	switch c.family {
	case IPv4:
		w.oob = make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		w.info4 = (*unix.Inet4Pktinfo)(unsafe.Pointer(&putCmsg(w.oob, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)[0]))
		w.to4.Family = unix.AF_INET
		w.msg.Name = (*byte)(unsafe.Pointer(&w.to4))
		w.msg.Namelen = unix.SizeofSockaddrInet4
	case IPv6:
		pi, hl := unix.CmsgSpace(unix.SizeofInet6Pktinfo), unix.CmsgSpace(4)
		w.oob = make([]byte, pi+2*hl)
		w.info6 = (*unix.Inet6Pktinfo)(unsafe.Pointer(&putCmsg(w.oob, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)[0]))
		binary.NativeEndian.PutUint32(putCmsg(w.oob[pi:], unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, 4), ttl)
		binary.NativeEndian.PutUint32(putCmsg(w.oob[pi+hl:], unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4), tos)
		w.to6.Family = unix.AF_INET6
		w.msg.Name = (*byte)(unsafe.Pointer(&w.to6))
		w.msg.Namelen = unix.SizeofSockaddrInet6
	}
	w.msg.Iov = &w.iov
	w.msg.SetIovlen(1)
	w.msg.Control = &w.oob[0]
	w.msg.SetControllen(len(w.oob))
}

// dialVRRPTx opens WriteTo's socket: raw VRRP of family, bound to ifi,
// multicast out of ifi and not looped back, TTL / hop limit 255 and
// keepalived's TOS / traffic class.
func dialVRRPTx(ifi *net.Interface, family Family) (*txSocket, error) {
	domain, level := unix.AF_INET, unix.IPPROTO_IP
	if family == IPv6 {
		domain, level = unix.AF_INET6, unix.IPPROTO_IPV6
	}
	s, err := dialTx(domain, unix.SOCK_RAW, ProtocolVRRP, true)
	if err != nil {
		return nil, err
	}
	opt := func(name int, v int) func(int) error {
		return func(fd int) error { return unix.SetsockoptInt(fd, level, name, v) }
	}
	steps := []sockStep{{"bind to device", func(fd int) error { return unix.BindToDevice(fd, ifi.Name) }}}
	switch family {
	case IPv4:
		steps = append(steps,
			sockStep{"multicast interface", func(fd int) error {
				return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})
			}},
			sockStep{"multicast loopback", opt(unix.IP_MULTICAST_LOOP, 0)},
			sockStep{"multicast TTL", opt(unix.IP_MULTICAST_TTL, ttl)},
			sockStep{"TTL", opt(unix.IP_TTL, ttl)},
			sockStep{"TOS", opt(unix.IP_TOS, tos)},
		)
	case IPv6:
		steps = append(steps,
			sockStep{"multicast interface", opt(unix.IPV6_MULTICAST_IF, ifi.Index)},
			sockStep{"multicast loopback", opt(unix.IPV6_MULTICAST_LOOP, 0)},
			sockStep{"multicast hop limit", opt(unix.IPV6_MULTICAST_HOPS, ttl)},
			sockStep{"hop limit", opt(unix.IPV6_UNICAST_HOPS, ttl)},
			sockStep{"traffic class", opt(unix.IPV6_TCLASS, tos)},
		)
	}
	if err := s.setup(steps); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (c *Conn) matches(a netip.Addr) bool {
	if c.family == IPv4 {
		return a.Is4()
	}
	return a.Is6()
}
