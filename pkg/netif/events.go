package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Events follows multicast groups of the kernel's routing netlink: link and
// address changes. One goroutine receives; Close may be called from any.
//
// The netlink package's own subscriptions receive into a 64 KiB array on
// the stack of a goroutine that waits there: each holds a stack of
// 128 KiB for as long as it follows. Events receives into a buffer on the
// heap, sized to the messages, from the caller's goroutine.
type Events struct {
	f      *os.File
	rc     syscall.RawConn
	buf    []byte
	closed atomic.Bool
}

// eventBuf is the first size of an Events' buffer: a link message of an
// ordinary interface is under 2 KiB, an address message under 100 bytes.
// A larger message grows it.
const eventBuf = 8 << 10

// Subscribe joins groups (unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, …)
// in the network namespace ns, or in the calling thread's if ns is nil.
func Subscribe(ns *netns.NsHandle, groups ...uint) (*Events, error) {
	var (
		s   *nl.NetlinkSocket
		err error
	)
	if ns != nil {
		s, err = nl.SubscribeAt(*ns, netns.None(), unix.NETLINK_ROUTE, groups...)
	} else {
		s, err = nl.Subscribe(unix.NETLINK_ROUTE, groups...)
	}
	if err != nil {
		return nil, fmt.Errorf("netlink subscribe: %w", err)
	}
	// The netlink package opened, joined and bound the socket (in ns);
	// a copy of its descriptor is read here, with a buffer on the heap.
	defer s.Close()
	fd, err := unix.FcntlInt(uintptr(s.GetFd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netlink subscribe: %w", err)
	}
	f := os.NewFile(uintptr(fd), "netlink events") // non-blocking: polled
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("netlink subscribe: %w", err)
	}
	return &Events{f: f, rc: rc, buf: make([]byte, eventBuf)}, nil
}

// Receive waits for the kernel's next datagram and returns its messages.
// An error means events were lost (unix.ENOBUFS when the socket's queue
// overflowed) or Events was closed (net.ErrClosed): the caller reads the
// state afresh and subscribes again.
func (e *Events) Receive() ([]syscall.NetlinkMessage, error) {
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := e.rc.Read(func(fd uintptr) bool {
			// MSG_TRUNC: n is the datagram's length, even beyond buf.
			n, from, rerr = unix.Recvfrom(int(fd), e.buf, unix.MSG_TRUNC)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil && e.closed.Load() {
			return nil, net.ErrClosed
		}
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		if n > len(e.buf) {
			e.buf = make([]byte, n)
			return nil, fmt.Errorf("netlink receive: a message of %d bytes was truncated", n)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != nl.PidKernel {
			continue // not the kernel's
		}
		// The messages keep their bytes; buf is read into again.
		msgs, err := syscall.ParseNetlinkMessage(append([]byte(nil), e.buf[:n]...))
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		out := msgs[:0]
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE, unix.NLMSG_NOOP:
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("netlink receive: short error message")
				}
				if code := int32(nl.NativeEndian().Uint32(m.Data)); code != 0 {
					return nil, fmt.Errorf("netlink receive: %w", syscall.Errno(-code))
				}
			default:
				out = append(out, m)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// Close leaves the groups; a Receive waiting returns net.ErrClosed.
func (e *Events) Close() error {
	e.closed.Store(true)
	return e.f.Close()
}

// AddrEvent is an address added to or removed from an interface.
type AddrEvent struct {
	Index int
	Addr  netip.Addr
	Added bool
}

// ParseAddrEvent reads an RTM_NEWADDR or RTM_DELADDR message.
func ParseAddrEvent(m syscall.NetlinkMessage) (AddrEvent, error) {
	var ev AddrEvent
	switch m.Header.Type {
	case unix.RTM_NEWADDR:
		ev.Added = true
	case unix.RTM_DELADDR:
	default:
		return ev, fmt.Errorf("netlink message of type %d, not an address", m.Header.Type)
	}
	if len(m.Data) < unix.SizeofIfAddrmsg {
		return ev, fmt.Errorf("address message of %d bytes, short of its header", len(m.Data))
	}
	ev.Index = int(nl.DeserializeIfAddrmsg(m.Data).Index)
	attrs, err := nl.ParseRouteAttr(m.Data[unix.SizeofIfAddrmsg:])
	if err != nil {
		return ev, fmt.Errorf("address message: %w", err)
	}
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS is the same,
	// or the peer's on a point-to-point link.
	var local, address []byte
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFA_LOCAL:
			local = a.Value
		case unix.IFA_ADDRESS:
			address = a.Value
		}
	}
	if local == nil {
		local = address
	}
	addr, ok := netip.AddrFromSlice(local)
	if !ok {
		return ev, fmt.Errorf("address message without an address")
	}
	ev.Addr = addr.Unmap()
	return ev, nil
}

// ParseLinkEvent reads an RTM_NEWLINK or RTM_DELLINK message.
func ParseLinkEvent(m syscall.NetlinkMessage) (netlink.LinkUpdate, error) {
	if m.Header.Type != unix.RTM_NEWLINK && m.Header.Type != unix.RTM_DELLINK {
		return netlink.LinkUpdate{}, fmt.Errorf("netlink message of type %d, not a link", m.Header.Type)
	}
	if len(m.Data) < unix.SizeofIfInfomsg {
		return netlink.LinkUpdate{}, fmt.Errorf("link message of %d bytes, short of its header", len(m.Data))
	}
	hdr := unix.NlMsghdr(m.Header)
	link, err := netlink.LinkDeserialize(&hdr, m.Data)
	if err != nil {
		return netlink.LinkUpdate{}, fmt.Errorf("link message: %w", err)
	}
	return netlink.LinkUpdate{IfInfomsg: *nl.DeserializeIfInfomsg(m.Data), Header: hdr, Link: link}, nil
}
