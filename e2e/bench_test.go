package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/vrrp"
)

// The benchmarks measure failover on the wire in the lab, each iteration
// one failover. Run them with a fixed count, e.g.
//
//	sudo go test -run '^$' -bench . -benchtime 5x ./e2e/
//
// They report the median, min and max of the measured time and its excess
// over the protocol bound, in milliseconds.

// BenchmarkTakeover: the master's link is cut; from its last advert to the
// new master's first gratuitous ARP. The bound is Master_Down_Interval.
func BenchmarkTakeover(b *testing.B) {
	for _, ivl := range []time.Duration{time.Second, 100 * time.Millisecond, 10 * time.Millisecond} {
		b.Run(ivl.String(), func(b *testing.B) {
			bound := vrrp.MasterDownInterval(3, 240, ivl)
			failovers(b, ivl, bound, func(tb *testing.B, l *lab.Lab, hosts []*lab.Host, procs []*proc) time.Duration {
				capture := l.Capture(tb, "vrrp or arp")
				time.Sleep(3 * ivl)
				hosts[0].LinkDown(tb)
				waitHolder(tb, 10*ivl+time.Second, vip4, "cp-2", hosts[1])
				time.Sleep(2 * ivl)
				pcap := capture.Stop()
				took := takeover(tb, pcap, "192.0.2.11", vip4)
				hosts[0].LinkUp(tb)
				return took
			})
		})
	}
}

// BenchmarkHandover: the master stops gracefully; from its priority-0
// advert to the new master's first gratuitous ARP. The bound is Skew_Time.
func BenchmarkHandover(b *testing.B) {
	for _, ivl := range []time.Duration{time.Second, 100 * time.Millisecond, 10 * time.Millisecond} {
		b.Run(ivl.String(), func(b *testing.B) {
			bound := vrrp.SkewTime(3, 240, ivl)
			failovers(b, ivl, bound, func(tb *testing.B, l *lab.Lab, hosts []*lab.Host, procs []*proc) time.Duration {
				capture := l.Capture(tb, "vrrp or arp")
				time.Sleep(3 * ivl)
				if err := procs[0].stop(); err != nil {
					tb.Fatalf("vipd exited with %v", err)
				}
				waitHolder(tb, 10*ivl+time.Second, vip4, "cp-2", hosts[1])
				time.Sleep(2 * ivl)
				pcap := capture.Stop()
				zero := tshark(tb, pcap, "vrrp && ip.src==192.0.2.11 && vrrp.prio==0", "frame.time_epoch")
				if len(zero) != 1 {
					tb.Fatalf("%d priority-0 adverts, want 1", len(zero))
				}
				garp := tshark(tb, pcap, "arp.isgratuitous && arp.src.proto_ipv4==192.0.2.100 && frame.time_epoch > "+zero[0][0], "frame.time_epoch")
				if len(garp) == 0 {
					tb.Fatal("no gratuitous ARP after the priority-0 advert")
				}
				adv := tshark(tb, pcap, "vrrp && ip.src==192.0.2.12 && frame.time_epoch > "+zero[0][0], "frame.time_epoch")
				tb.Logf("priority 0 -> advert %v -> garp %v", epoch(tb, adv[0][0]).Sub(epoch(tb, zero[0][0])), epoch(tb, garp[0][0]).Sub(epoch(tb, adv[0][0])))
				procs[0] = startVipd(tb, hosts[0], procs[0].cfg)
				return epoch(tb, garp[0][0]).Sub(epoch(tb, zero[0][0]))
			})
		})
	}
}

// failovers runs b.N failovers between cp-1 (priority 250) and cp-2 (240)
// with one lab, and reports the figures. Before each, cp-1 is master.
func failovers(b *testing.B, ivl, bound time.Duration, once func(*testing.B, *lab.Lab, []*lab.Host, []*proc) time.Duration) {
	l := lab.New(b)
	lab.RequireCommand(b, "tshark")
	hosts := []*lab.Host{l.AddHost("cp-1", "192.0.2.11/24"), l.AddHost("cp-2", "192.0.2.12/24")}
	cfg := clusterB(b, ivl)
	procs := []*proc{startVipd(b, hosts[0], cfg), startVipd(b, hosts[1], cfg)}
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		waitHolder(b, 10*ivl+3*time.Second, vip4, "cp-1", hosts...)
		time.Sleep(3*ivl + 100*time.Millisecond)
		took = append(took, once(b, l, hosts, procs))
	}
	b.StopTimer()
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(took[len(took)/2]), "median-ms")
	b.ReportMetric(ms(took[0]), "min-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
	b.ReportMetric(ms(took[len(took)/2]-bound), "median-over-bound-ms")
	b.ReportMetric(ms(took[len(took)-1]-bound), "max-over-bound-ms")
	b.Logf("interval %v, bound %v: %v", ivl, bound, took)
}

func clusterB(b *testing.B, ivl time.Duration) string {
	return writeConfig(b, fmt.Sprintf(`[cluster]
name = "bench"
interface = "eth0"
advert_interval = %q
[[cluster.node]]
name = "cp-1"
address = "192.0.2.11"
[[cluster.node]]
name = "cp-2"
address = "192.0.2.12"
`+daemonTable+`[[instance]]
name = "api"
vrid = 51
vips = ["192.0.2.100/24"]
`, ivl.String()))
}
