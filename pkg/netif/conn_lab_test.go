package netif_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
)

// msg stands for a VRRP advertisement: the socket does not look inside.
var msg = []byte("vipd-netif-test!")

// dial opens a VRRP socket on ifname inside h's namespace.
func dial(t testing.TB, h *lab.Host, ifname string, f netif.Family) *netif.Conn {
	t.Helper()
	var c *netif.Conn
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		c, err = netif.Dial(ifi, f)
		return err
	}); err != nil {
		t.Fatalf("host %s: %v", h.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Family() != f || c.Interface().Name != ifname {
		t.Fatalf("Dial(%s, %v) gave a socket of %v on %s", ifname, f, c.Family(), c.Interface().Name)
	}
	return c
}

// read reads one packet with a deadline.
func read(t *testing.T, c *netif.Conn) ([]byte, netif.Meta) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1500)
	n, m, err := c.ReadFrom(b)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return b[:n], m
}

// expectNothing checks that c has no packet queued. It is called after the
// wanted receiver got the packets: the kernel hands a packet to every raw
// socket that matches before the first can read it, so a short deadline
// suffices.
func expectNothing(t *testing.T, c *netif.Conn, why string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1500)
	n, m, err := c.ReadFrom(b)
	if err == nil {
		t.Fatalf("%s: received %x from %v", why, b[:n], m)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: ReadFrom error %v, want a deadline error", why, err)
	}
}

// secondInterface gives h an interface x0 besides eth0, up and off the
// lab's segment: one end of a veth pair whose other end is x1.
func secondInterface(t *testing.T, h *lab.Host) {
	t.Helper()
	h.Run(t, "ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1")
	h.Run(t, "ip", "link", "set", "x1", "up")
	h.Run(t, "ip", "link", "set", "x0", "up")
}

// receivedBetween checks that the kernel stamped m between from and to, by
// the wall clock, and clears the stamp for comparisons.
func receivedBetween(t *testing.T, m *netif.Meta, from, to time.Time) {
	t.Helper()
	// Round: the wall clocks compared are the same, read in different ways.
	if r := m.Received; r.Before(from.Round(0).Add(-time.Microsecond)) || r.After(to.Round(0).Add(time.Microsecond)) {
		t.Errorf("received at %v, want between %v and %v", r, from.Round(0), to.Round(0))
	}
	m.Received = time.Time{}
}

func TestConnIPv4(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24")
	b := l.AddHost("b", "192.0.2.12/24")
	// A second interface on b, to show that b's eth0 socket and one on
	// x0 each see their own interface only.
	secondInterface(t, b)
	b.Run(t, "ip", "addr", "add", "198.51.100.12/24", "dev", "x0")
	capture := l.Capture(t, "ip proto 112")

	ca := dial(t, a, "eth0", netif.IPv4)
	cb := dial(t, b, "eth0", netif.IPv4)
	other := dial(t, b, "x0", netif.IPv4)
	bIndex := b.Interface(t).Index

	src := netip.MustParseAddr("192.0.2.11")
	for _, dst := range []netip.Addr{netif.GroupIPv4, netip.MustParseAddr("192.0.2.12")} {
		sent := time.Now()
		if err := ca.WriteTo(msg, src, dst); err != nil {
			t.Fatal(err)
		}
		got, m := read(t, cb)
		if !bytes.Equal(got, msg) {
			t.Fatalf("to %s: read %x, want the payload alone %x", dst, got, msg)
		}
		receivedBetween(t, &m, sent, time.Now())
		want := netif.Meta{Src: src, Dst: dst, TTL: 255, IfIndex: bIndex}
		if diff := cmp.Diff(want, m, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Fatalf("to %s: meta (-want +got)\n%s", dst, diff)
		}
	}
	expectNothing(t, other, "socket bound to x0")
	expectNothing(t, ca, "sender (multicast loopback is off)")

	// On the wire: TOS 0xc0 and TTL 255, as keepalived sends.
	for _, f := range capture.Wait(2, nil) {
		ip := f[14:]
		if ip[1] != 0xc0 || ip[8] != 255 || ip[9] != 112 {
			t.Fatalf("frame %x: TOS %#x TTL %d protocol %d, want 0xc0 255 112", f, ip[1], ip[8], ip[9])
		}
		if got := ip[20:]; !bytes.Equal(got, msg) {
			t.Fatalf("frame %x carries %x, want %x", f, got, msg)
		}
	}

	// The wrong family is refused before anything is sent.
	if err := ca.WriteTo(msg, src, netif.GroupIPv6); !errors.Is(err, netif.ErrFamily) {
		t.Fatalf("WriteTo(IPv6 group) = %v, want ErrFamily", err)
	}
}

func TestConnIPv6(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "2001:db8::11/64")
	b := l.AddHost("b", "2001:db8::12/64")
	secondInterface(t, b)
	capture := l.Capture(t, "ip6 proto 112")

	ca := dial(t, a, "eth0", netif.IPv6)
	cb := dial(t, b, "eth0", netif.IPv6)
	other := dial(t, b, "x0", netif.IPv6)
	bIndex := b.Interface(t).Index

	var src, bLL netip.Addr
	if err := a.Do(func() (err error) {
		src, err = netif.LinkLocal(a.Interface(t))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Do(func() (err error) {
		bLL, err = netif.LinkLocal(b.Interface(t))
		return err
	}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ src, dst netip.Addr }{
		{src, netif.GroupIPv6},
		{src, bLL},
		{netip.MustParseAddr("2001:db8::11"), netip.MustParseAddr("2001:db8::12")},
	} {
		sent := time.Now()
		if err := ca.WriteTo(msg, tc.src, tc.dst); err != nil {
			t.Fatal(err)
		}
		got, m := read(t, cb)
		if !bytes.Equal(got, msg) {
			t.Fatalf("to %s: read %x, want %x", tc.dst, got, msg)
		}
		receivedBetween(t, &m, sent, time.Now())
		want := netif.Meta{Src: tc.src, Dst: tc.dst, TTL: 255, IfIndex: bIndex}
		if diff := cmp.Diff(want, m, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Fatalf("to %s: meta (-want +got)\n%s", tc.dst, diff)
		}
	}
	expectNothing(t, other, "socket bound to x0")
	expectNothing(t, ca, "sender (multicast loopback is off)")

	// On the wire: traffic class 0xc0 and hop limit 255.
	for _, f := range capture.Wait(3, nil) {
		ip := f[14:]
		if tc := binary.BigEndian.Uint32(ip[0:4]) >> 20 & 0xff; tc != 0xc0 || ip[7] != 255 || ip[6] != 112 {
			t.Fatalf("frame %x: traffic class %#x hop limit %d next header %d, want 0xc0 255 112", f, tc, ip[7], ip[6])
		}
		if !bytes.Equal(ip[40:], msg) {
			t.Fatalf("frame %x carries %x, want %x", f, ip[40:], msg)
		}
	}
}

// twoHosts gives a lab of hosts a and b with sockets of family f, and the
// source and multicast destination a sends from and to.
func twoHosts(t *testing.T, f netif.Family) (ca, cb *netif.Conn, b *lab.Host, src, dst netip.Addr) {
	t.Helper()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24", "2001:db8::11/64")
	b = l.AddHost("b", "192.0.2.12/24", "2001:db8::12/64")
	src, dst = netip.MustParseAddr("192.0.2.11"), netif.GroupIPv4
	if f == netif.IPv6 {
		src, dst = netip.MustParseAddr("2001:db8::11"), netif.GroupIPv6
	}
	return dial(t, a, "eth0", f), dial(t, b, "eth0", f), b, src, dst
}

// TestConnAllocs checks that sends and reads allocate nothing: a master
// sends one advert per virtual router and interval, and a flood of packets
// must cost no garbage. AllocsPerRun does not allow parallel tests.
func TestConnAllocs(t *testing.T) {
	for _, f := range []netif.Family{netif.IPv4, netif.IPv6} {
		t.Run(f.String(), func(t *testing.T) {
			ca, cb, _, src, dst := twoHosts(t, f)
			const runs = 100
			var werr error
			sendAllocs := testing.AllocsPerRun(runs, func() { // and once more to warm up
				if err := ca.WriteTo(msg, src, dst); err != nil {
					werr = err
				}
			})
			if werr != nil {
				t.Fatal(werr)
			}
			t.Logf("%v WriteTo: %.0f allocations per packet", f, sendAllocs)
			if sendAllocs != 0 {
				t.Fatalf("%v WriteTo allocates %.0f times per packet, want 0", f, sendAllocs)
			}
			if err := cb.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1500)
			var rerr error
			allocs := testing.AllocsPerRun(runs, func() {
				if _, _, err := cb.ReadFrom(buf); err != nil {
					rerr = err
				}
			})
			if rerr != nil {
				t.Fatal(rerr)
			}
			t.Logf("%v ReadFrom: %.0f allocations per packet", f, allocs)
			if allocs != 0 {
				t.Fatalf("%v ReadFrom allocates %.0f times per packet, want 0", f, allocs)
			}
		})
	}
}

// TestConnReadEach sends more packets than one batch holds and more than
// the receive buffer holds: ReadEach hands over every packet that was
// queued, in order, with its metadata, counts the rest as overflows, and
// returns at the read deadline, allocating nothing per packet.
func TestConnReadEach(t *testing.T) {
	for _, f := range []netif.Family{netif.IPv4, netif.IPv6} {
		t.Run(f.String(), func(t *testing.T) {
			ca, cb, b, src, dst := twoHosts(t, f)
			bIndex := b.Interface(t).Index

			// A few packets first: in order, whole, with their metadata.
			const few = 40 // 2.5 batches
			for i := range few {
				if err := ca.WriteTo(binary.BigEndian.AppendUint32(nil, uint32(i)), src, dst); err != nil {
					t.Fatal(err)
				}
			}
			if err := cb.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			var got []uint32
			err := cb.ReadEach(func(p []byte, m netif.Meta) {
				if m.Received.IsZero() {
					t.Errorf("packet %d: no receive time", len(got))
				}
				m.Received = time.Time{}
				want := netif.Meta{Src: src, Dst: dst, TTL: 255, IfIndex: bIndex}
				if m != want || len(p) != 4 {
					t.Errorf("packet %d: %x %+v, want 4 bytes and %+v", len(got), p, m, want)
				}
				got = append(got, binary.BigEndian.Uint32(p))
			})
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("ReadEach returned %v, want a deadline error", err)
			}
			for i, n := range got {
				if n != uint32(i) {
					t.Fatalf("packet %d carries %d: out of order or lost (%v)", i, n, got)
				}
			}
			if len(got) != few {
				t.Fatalf("ReadEach handed over %d packets, want %d", len(got), few)
			}

			// A flood the receive buffer cannot hold: what is not read is
			// counted by the kernel, and the count comes with the next
			// packet queued.
			const flood = 20000
			for range flood {
				if err := ca.WriteTo(msg, src, dst); err != nil {
					t.Fatal(err)
				}
			}
			var read int
			var overflows uint32
			count := func(p []byte, m netif.Meta) {
				read++
				overflows = m.Overflows
			}
			if err := cb.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cb.ReadEach(count)
			runtime.ReadMemStats(&after)
			flooded := read
			if err := ca.WriteTo(msg, src, dst); err != nil {
				t.Fatal(err)
			}
			if err := cb.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			cb.ReadEach(count)
			t.Logf("%v: %d of %d read, %d overflows, %d allocations", f, flooded, flood, overflows, after.Mallocs-before.Mallocs)
			if read != flooded+1 || overflows == 0 || flooded+int(overflows) > flood {
				t.Fatalf("%d read and %d overflows of %d sent, then %d more read, want 1", flooded, overflows, flood, read-flooded)
			}
			// A few allocations come with the deadline error, none per
			// packet.
			if allocs := after.Mallocs - before.Mallocs; allocs > uint64(flooded/100) {
				t.Fatalf("ReadEach allocated %d times for %d packets", allocs, flooded)
			}
		})
	}
}

func TestConnClose(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24")
	c := dial(t, a, "eth0", netif.IPv4)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 1500))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the read block; the test holds either way
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadFrom after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadFrom still blocked after Close")
	}
}

func TestDialUnknownFamily(t *testing.T) {
	if _, err := netif.Dial(&net.Interface{Name: "eth0", Index: 1}, netif.Family(5)); err == nil {
		t.Fatal("Dial with Family(5) succeeded")
	}
}

// TestConnPending: Pending says whether ReadEach has packets received so
// far still to hand over: waiting in the socket, or being handed over.
func TestConnPending(t *testing.T) {
	for _, f := range []netif.Family{netif.IPv4, netif.IPv6} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			ca, cb, _, src, dst := twoHosts(t, f)
			if cb.Pending() {
				t.Fatal("Pending before anything was sent")
			}
			if err := ca.WriteTo([]byte("advert"), src, dst); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !cb.Pending() {
				if time.Now().After(deadline) {
					t.Fatal("not Pending with a packet in the socket")
				}
				time.Sleep(time.Millisecond)
			}
			if err := cb.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			var during []bool
			err := cb.ReadEach(func([]byte, netif.Meta) { during = append(during, cb.Pending()) })
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("ReadEach returned %v, want a deadline error", err)
			}
			if !slices.Equal(during, []bool{true}) {
				t.Errorf("Pending while the packet was handed over: %v, want [true]", during)
			}
			if cb.Pending() {
				t.Error("Pending after ReadEach read everything")
			}
		})
	}
}
