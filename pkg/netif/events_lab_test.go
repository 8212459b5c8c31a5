package netif_test

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
)

// subscribe subscribes in h's namespace, as the calling thread's.
func subscribe(t testing.TB, h *lab.Host, groups ...uint) *netif.Events {
	t.Helper()
	var ev *netif.Events
	err := h.Do(func() (err error) {
		ev, err = netif.Subscribe(nil, groups...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	return ev
}

// receive returns the next messages, failing the test after 5 s.
func receive(t *testing.T, ev *netif.Events) []syscall.NetlinkMessage {
	t.Helper()
	timeout := time.AfterFunc(5*time.Second, func() { ev.Close() })
	defer timeout.Stop()
	msgs, err := ev.Receive()
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return msgs
}

// nextAddrEvent returns the next event about addr.
func nextAddrEvent(t *testing.T, ev *netif.Events, addr netip.Addr) netif.AddrEvent {
	t.Helper()
	for {
		for _, m := range receive(t, ev) {
			a, err := netif.ParseAddrEvent(m)
			if err != nil {
				t.Fatalf("ParseAddrEvent: %v", err)
			}
			if a.Addr == addr {
				return a
			}
		}
	}
}

func TestEventsAddrs(t *testing.T) {
	t.Parallel()
	a, idx, addrs := addrsHost(t)
	ev := subscribe(t, a, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR)
	for _, vip := range []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32"), netip.MustParsePrefix("2001:db8::100/128")} {
		if err := addrs.Add(idx, vip, netif.Label("eth0")); err != nil {
			t.Fatal(err)
		}
		if got, want := nextAddrEvent(t, ev, vip.Addr()), (netif.AddrEvent{Index: idx, Addr: vip.Addr(), Added: true}); got != want {
			t.Errorf("after adding %s: %+v, want %+v", vip, got, want)
		}
		if err := addrs.Remove(idx, vip); err != nil {
			t.Fatal(err)
		}
		if got, want := nextAddrEvent(t, ev, vip.Addr()), (netif.AddrEvent{Index: idx, Addr: vip.Addr()}); got != want {
			t.Errorf("after removing %s: %+v, want %+v", vip, got, want)
		}
	}
}

// TestEventsLink subscribes in a namespace handed over, from a thread in
// another, and reads the events of a link losing its carrier.
func TestEventsLink(t *testing.T) {
	t.Parallel()
	h := lab.New(t).AddHost("a", "192.0.2.11/24")
	ns, err := netns.GetFromName(h.NetnsName())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	ev, err := netif.Subscribe(&ns, unix.RTNLGRP_LINK)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	index := h.Interface(t).Index
	h.LinkDown(t)
	for down := false; !down; {
		for _, m := range receive(t, ev) {
			u, err := netif.ParseLinkEvent(m)
			if err != nil {
				t.Fatalf("ParseLinkEvent: %v", err)
			}
			a := u.Attrs()
			if u.Header.Type == unix.RTM_NEWLINK && a.Index == index && a.Name == "eth0" && a.Flags&net.FlagRunning == 0 {
				down = true
			}
		}
	}
}

// TestEventsTruncated: a message larger than the buffer is reported as
// lost, and the buffer grows for the next.
func TestEventsTruncated(t *testing.T) {
	t.Parallel()
	a, idx, addrs := addrsHost(t)
	ev := subscribe(t, a, unix.RTNLGRP_IPV4_IFADDR)
	netif.SetEventBuf(ev, 16)
	vip := netip.MustParsePrefix("192.0.2.100/32")
	if err := addrs.Add(idx, vip, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Receive(); err == nil {
		t.Fatal("Receive of a truncated message did not fail")
	}
	if err := addrs.Remove(idx, vip); err != nil {
		t.Fatal(err)
	}
	if got := nextAddrEvent(t, ev, vip.Addr()); got.Added {
		t.Errorf("after the truncated event: %+v, want the removal", got)
	}
}

// TestEventsClose: Close ends a Receive waiting, with net.ErrClosed.
func TestEventsClose(t *testing.T) {
	t.Parallel()
	a := lab.New(t).AddHost("a", "192.0.2.11/24")
	ev := subscribe(t, a, unix.RTNLGRP_LINK)
	errc := make(chan error, 1)
	go func() {
		_, err := ev.Receive()
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // most likely waiting by now; either way it must end
	ev.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Receive after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive still waits after Close")
	}
}

// BenchmarkEventsStacks reports the stack a goroutine waiting for events
// holds. The netlink package's subscriptions wait with 128 KiB each.
func BenchmarkEventsStacks(b *testing.B) {
	// It reads the process's stack memory: nothing else may run.
	a := lab.New(b).AddHost("a", "192.0.2.11/24")
	const n = 16
	var per int64
	for range b.N {
		// Each collection halves the stacks that use under a quarter:
		// settle them before counting.
		for range 4 {
			runtime.GC()
		}
		before := stacks()
		var evs []*netif.Events
		waiting := make(chan struct{}, n)
		for range n {
			ev := subscribe(b, a, unix.RTNLGRP_LINK)
			evs = append(evs, ev)
			go func() {
				waiting <- struct{}{}
				ev.Receive()
			}()
		}
		for range n {
			<-waiting
		}
		time.Sleep(50 * time.Millisecond) // into Receive
		runtime.GC()
		per = (int64(stacks()) - int64(before)) / n
		for _, ev := range evs {
			ev.Close()
		}
	}
	b.ReportMetric(float64(per), "stack-B/waiter")
}
