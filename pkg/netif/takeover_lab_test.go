package netif_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// BenchmarkSendWakeups counts the threads of this process woken by each
// advert and gratuitous ARP a master sends, as a daemon paced by its
// advert timer sends them: one every millisecond, over the count of a
// loop that only sleeps as long. A socket in Go's netpoller wakes the
// poller's thread each time the kernel frees a packet it sent; the
// sending sockets stay out of it (txSocket), and this shows it.
func BenchmarkSendWakeups(b *testing.B) {
	l := lab.New(b)
	h := l.AddHost("a", "192.0.2.11/24")
	l.AddHost("b", "192.0.2.12/24") // someone to receive
	conn := dial(b, h, "eth0", netif.IPv4)
	ann, err := announcer(b, h)
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddr("192.0.2.11")
	vips := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	advert := make([]byte, 12)
	loop := func(send bool) int {
		start := switches(b)
		for range b.N {
			time.Sleep(time.Millisecond)
			if !send {
				continue
			}
			if err := conn.WriteTo(advert, src, netif.GroupIPv4); err != nil {
				b.Fatal(err)
			}
			if err := ann.Announce(vips); err != nil {
				b.Fatal(err)
			}
		}
		return switches(b) - start
	}
	idle := loop(false)
	sending := loop(true)
	b.ReportMetric(float64(sending-idle)/float64(b.N), "wakeups/op")
}

// switches returns the context switches of every thread of this process.
func switches(tb testing.TB) int {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		tb.Fatalf("threads of this process: %v", err)
	}
	n := 0
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}
