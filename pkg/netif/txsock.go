package netif

import (
	"fmt"
	"net"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A txSocket only sends, and stays out of Go's netpoller.
//
// The netpoller registers a socket for EPOLLOUT too, and the kernel
// signals write space whenever it frees a packet the socket sent, which,
// for a packet that crosses a bridge, happens inside the sending system
// call. The poller's thread then wakes on the sender's CPU and, on a small
// machine, takes the CPU from the sender as the call returns: perf in the
// lab showed the new master's thread preempted after its first advert,
// and its gratuitous ARP leaving 1 to 2 ms later instead of 0.1 ms.
// The sending paths (adverts, gratuitous ARP, neighbour advertisements)
// therefore use sockets of their own, which nothing waits on. A send never
// blocks (MSG_DONTWAIT: a full socket buffer is an error, as a lost packet
// would be), so it is a RawSyscall, which leaves the goroutine's P alone.
type txSocket struct {
	mu sync.Mutex
	fd int // -1 once closed
}

// dialTx opens a non-blocking socket. filter drops everything that arrives
// on it, for a type that receives copies of its protocol's packets (raw IP
// sockets): nothing reads them.
func dialTx(domain, typ, proto int, filter bool) (*txSocket, error) {
	fd, err := unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	s := &txSocket{fd: fd}
	if filter {
		drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
		prog := unix.SockFprog{Len: uint16(len(drop)), Filter: &drop[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			s.Close()
			return nil, fmt.Errorf("drop filter: %w", err)
		}
	}
	return s, nil
}

// setup runs the option steps in order and says which one failed.
func (s *txSocket) setup(steps []sockStep) error {
	for _, st := range steps {
		if err := st.set(s.fd); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

// sockStep is one socket option to set.
type sockStep struct {
	what string
	set  func(fd int) error
}

// sendmsg sends msg.
func (s *txSocket) sendmsg(msg *unix.Msghdr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(s.fd), uintptr(unsafe.Pointer(msg)), unix.MSG_DONTWAIT)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError("sendmsg", errno)
	}
}

// Close closes the socket; later sends fail with net.ErrClosed.
func (s *txSocket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// putCmsg writes the header of a control message of n data bytes at the
// start of oob and returns where its data goes.
func putCmsg(oob []byte, level, typ int32, n int) []byte {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(n))
	return oob[unix.CmsgLen(0):]
}
