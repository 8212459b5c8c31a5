package netif_test

import (
	"net/netip"
	"testing"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
)

// BenchmarkTakeover times what a new master does between its timer and
// the first gratuitous ARP on the wire, step by step: bind the VIP, send
// the advert, announce the VIP. The sum is what a takeover or handover
// adds to the protocol's bound.
func BenchmarkTakeover(b *testing.B) {
	l := lab.New(b)
	h := l.AddHost("a", "192.0.2.11/24")
	l.AddHost("b", "192.0.2.12/24") // someone to receive
	ifindex := h.Interface(b).Index
	addrs := netif.NewAddrs(h.Handle())
	defer addrs.Close()
	conn := dial(b, h, "eth0", netif.IPv4)
	vip := netip.MustParsePrefix("192.0.2.100/24")
	ann, err := announcer(b, h)
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddr("192.0.2.11")
	advert := make([]byte, 12) // the socket does not look inside

	b.Run("bind", func(b *testing.B) {
		for b.Loop() {
			if err := addrs.Add(ifindex, vip, "eth0:vipd"); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := addrs.Remove(ifindex, vip); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("advert", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := conn.WriteTo(advert, src, netif.GroupIPv4); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("announce", func(b *testing.B) {
		b.ReportAllocs()
		vips := []netip.Addr{vip.Addr()}
		for b.Loop() {
			if err := ann.Announce(vips); err != nil {
				b.Fatal(err)
			}
		}
	})
}
