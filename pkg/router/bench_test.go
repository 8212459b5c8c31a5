package router

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// BenchmarkListenerHandle is the receive hot path of a backup: parse, look
// up the router, check, and hand the advert to its state machine, which
// moves its master down deadline (the timer is left alone).
func BenchmarkListenerHandle(b *testing.B) {
	h := &hub{}
	n := h.node("192.0.2.12")
	rt := New(Config{
		Instance: "api", VRID: 51,
		Machine: vrrp.Config{Version: 3, Priority: 100, Interval: 100 * time.Millisecond, Preempt: true, Primary: n.addr},
		VIPs:    []netip.Prefix{vip, netip.MustParsePrefix("192.0.2.101/24")},
	}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann})
	l := NewListener(n, nil)
	l.Add(rt)
	rt.machine.Lock()
	rt.apply(rt.m.Start(time.Now()))
	rt.armed = rt.m.Deadline()
	rt.machine.Unlock()
	if rt.m.State() != vrrp.Backup {
		b.Fatalf("router in %v, want a backup", rt.m.State())
	}
	src := netip.MustParseAddr("192.0.2.11")
	adv := vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{vip.Addr(), netip.MustParseAddr("192.0.2.101")}}
	pkt, _ := adv.Append(nil, src, vrrp.GroupIPv4)
	p := Packet{Src: src, Dst: vrrp.GroupIPv4, TTL: 255}
	var a vrrp.Advert
	b.ReportAllocs()
	for b.Loop() {
		if r := l.handle(time.Now(), pkt, p, &a); r != vrrp.DropNone {
			b.Fatalf("dropped: %v", r)
		}
	}
	if len(rt.kick) != 0 {
		b.Fatal("adverts that move the deadline later woke the router")
	}
}

// BenchmarkRouterSend is the send hot path: encode the advert for each
// destination and hand it to the socket (a fake here).
func BenchmarkRouterSend(b *testing.B) {
	rt := New(Config{
		Instance: "api", VRID: 51,
		Machine: vrrp.Config{Version: 3, Priority: 100, Interval: 100 * time.Millisecond, Primary: netip.MustParseAddr("192.0.2.11")},
		VIPs:    []netip.Prefix{vip},
	}, Deps{Sender: discard{}, Addrs: &fakeAddrs{bound: map[netip.Prefix]bool{}}, Announcer: &fakeAnnouncer{}})
	b.ReportAllocs()
	for b.Loop() {
		rt.send(100)
	}
}

type discard struct{}

func (discard) WriteTo([]byte, netip.Addr, netip.Addr) error { return nil }
