package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// Two network cards per node, as kolla's load balancers have them (corpus
// kolla: a VIP on eth0, where the adverts go, and a VIP on eth1): the
// nodes' eth0 on one segment, their eth1 on another with a client. The
// nodes also track a third interface, eth2, with a weight, as in corpus
// ka-vrrp-localcheck (track_interface { eth1 weight 2; eth2 weight -2 }).

var (
	vipIn  = netip.MustParseAddr("192.0.2.250")
	vipOut = netip.MustParseAddr("203.0.113.250")
	client = netip.MustParseAddr("203.0.113.100")
)

// twoNICConf is the keepalived.conf of a node: VRRPv3 at 100 ms so that
// the lab's failovers are quick, preemption, and eth2's link worth 20.
func twoNICConf(routerID, priority string) string {
	return `global_defs {
    router_id ` + routerID + `
    vrrp_version 3
}

vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority ` + priority + `
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.250/24 dev eth0
        203.0.113.250/24 dev eth1
    }
    track_interface {
        eth2 weight -20
    }
}
`
}

// twoNICNode is a node with its second card, and a third whose link is
// tracked with a weight.
type twoNICNode struct {
	node
	eth1, eth2 *lab.NIC
}

// twoNICRouter is one keepalived node and one vipd node in one virtual
// router, and a client on the eth1 segment.
type twoNICRouter struct {
	mixedRouter
	a, b   twoNICNode // a has the higher priority
	client *lab.Host
	out    *lab.Lab // the eth1 segment
}

// newTwoNICRouter builds the segments and runs keepalived on one node and
// the conversion of its file on the other: a is keepalived's when kaA.
func newTwoNICRouter(t testing.TB, kaA bool) *twoNICRouter {
	t.Helper()
	in, out, other := lab.New(t), lab.New(t), lab.New(t)
	r := &twoNICRouter{out: out}
	for i, name := range []string{"lb-a", "lb-b"} {
		n := byte(11 + i)
		nd := twoNICNode{node: addNode(t, in, name, n)}
		nd.eth1 = out.Attach(nd.host, "eth1", net.HardwareAddr{0x02, 'v', 'o', 0, 0, n}, fmt.Sprintf("203.0.113.%d/24", n))
		nd.eth2 = other.Attach(nd.host, "eth2", nil, fmt.Sprintf("198.51.100.%d/24", n))
		if i == 0 {
			r.a = nd
		} else {
			r.b = nd
		}
	}
	r.client = out.AddHost("client", client.String()+"/24")
	confs := map[string]string{"lb-a": twoNICConf("lb-a", "150"), "lb-b": twoNICConf("lb-b", "140")}
	cfg := convertSet(t, confs)
	// holding looks at eth0; on looks at both cards.
	r.instance, r.vips = "VI_1", []netip.Addr{vipIn}
	if kaA {
		r.ka, r.vd = r.a.node, r.b.node
		r.k = startKeepalived(t, r.a.node, confs["lb-a"])
		r.p = startVipd(t, r.b.host, cfg["lb-b"])
	} else {
		r.ka, r.vd = r.b.node, r.a.node
		r.k = startKeepalived(t, r.b.node, confs["lb-b"])
		r.p = startVipd(t, r.a.host, cfg["lb-a"])
	}
	return r
}

// on waits until want alone holds the VIPs, each on its own interface,
// and both daemons agree that it is master.
func (r *twoNICRouter) on(t testing.TB, timeout time.Duration, want twoNICNode) {
	t.Helper()
	r.holding(t, timeout, want.node)
	waitUntil(t, timeout, "each VIP on its own interface of "+want.host.Name(), func() (bool, string) {
		for _, n := range []twoNICNode{r.a, r.b} {
			for _, b := range []struct {
				vip    netip.Addr
				ifname string
			}{{vipIn, "eth0"}, {vipOut, "eth1"}, {vipIn, "eth1"}, {vipOut, "eth0"}} {
				should := n.host == want.host && (b.vip == vipIn) == (b.ifname == "eth0")
				if got := n.host.HasAddr(t, b.ifname, b.vip); got != should {
					return false, fmt.Sprintf("%s has %v on %s: %v", n.host.Name(), b.vip, b.ifname, got)
				}
			}
		}
		return true, ""
	})
}

// reaches checks that the client reaches the VIP of eth1 on want: it
// answers, and the client's neighbour entry, which the gratuitous ARP
// set, is want's eth1.
func (r *twoNICRouter) reaches(t testing.TB, want twoNICNode) {
	t.Helper()
	r.reachesWithin(t, 5*time.Second, want)
}

// reachesWithin is reaches waiting up to timeout.
func (r *twoNICRouter) reachesWithin(t testing.TB, timeout time.Duration, want twoNICNode) {
	t.Helper()
	waitUntil(t, timeout, "the client reaching "+vipOut.String()+" on "+want.host.Name(), func() (bool, string) {
		out, err := r.client.Exec(context.Background(), "ping", "-n", "-c", "1", "-W", "1", vipOut.String()).CombinedOutput()
		if err != nil {
			return false, fmt.Sprintf("ping: %v: %s", err, out)
		}
		neigh := r.client.Run(t, "ip", "neigh", "show", vipOut.String(), "dev", "eth0")
		if !strings.Contains(neigh, want.eth1.HardwareAddr().String()) {
			return false, "neighbour entry " + strings.TrimSpace(neigh)
		}
		return true, ""
	})
}

// TestConvertVIPOnSecondNIC: keepalived with its keepalived.conf and vipd
// with the conversion, one virtual router, both ways round: they agree on
// the master and bind each VIP on its card; the client on the second
// segment follows the VIP when eth2 loses its link on the master (weight -20
// takes it below the backup) and comes back, and when the master dies.
func TestConvertVIPOnSecondNIC(t *testing.T) {
	requireKeepalived(t)
	bothWays(t, func(t *testing.T, kaA bool) {
		r := newTwoNICRouter(t, kaA)
		const settle = 8 * time.Second
		r.on(t, settle, r.a)
		r.reaches(t, r.a)
		if st := r.p.status(t); st.VIPDevs[netip.PrefixFrom(vipOut, 24).String()] != "eth1" {
			t.Errorf("vipctl status: vips %v, devs %v; want %v on eth1", st.VIPs, st.VIPDevs, vipOut)
		}

		// eth2 down on a: 150 - 20 < 140, b takes over; up again,
		// a takes the VIPs back.
		r.a.eth2.LinkDown(t)
		r.on(t, settle, r.b)
		r.reaches(t, r.b)
		r.a.eth2.LinkUp(t)
		r.on(t, settle, r.a)
		r.reaches(t, r.a)

		// eth2 down on b (120) moves nothing: a stays while b's
		// adverts, which vipd's status shows, say 120.
		// keepalived logs the change at start-up too.
		const drop = "effective priority from 140 to 120"
		before := strings.Count(r.k.log.String(), drop)
		r.b.eth2.LinkDown(t)
		if !kaA {
			waitUntil(t, settle, "keepalived on lb-b at effective priority 120", func() (bool, string) {
				return strings.Count(r.k.log.String(), drop) > before, "not in its log"
			})
		} else {
			waitUntil(t, settle, "vipd on lb-b at effective priority 120", func() (bool, string) {
				in, err := r.p.instance()
				return err == nil && in.EffectivePriority == 120, fmt.Sprintf("%d %v", in.EffectivePriority, err)
			})
		}
		r.on(t, settle, r.a)
		r.b.eth2.LinkUp(t)

		// a dies: both its cards go dark.
		r.a.eth1.LinkDown(t)
		r.a.host.LinkDown(t)
		waitUntil(t, settle, "b holding both VIPs", func() (bool, string) {
			ok := r.b.host.HasAddr(t, "eth0", vipIn) && r.b.host.HasAddr(t, "eth1", vipOut)
			return ok, "not yet"
		})
		r.reaches(t, r.b)
		r.a.host.LinkUp(t)
		r.a.eth1.LinkUp(t)
		r.on(t, settle, r.a)
		// Not r.reaches: frames sent just after a link comes back
		// may be lost (the lab's bridge drops them for up to ~2s),
		// and vipd, unlike keepalived (garp_master_delay), sends no
		// second round of gratuitous ARPs later.
		r.healthy(t)
	})
}

// BenchmarkSecondNICFailover measures what the client on the second
// segment sees when the master dies (both its cards cut, eth0 first, so
// that the backup takes over when the master down interval expires,
// 3 × 100 ms + its skew of 45 ms): from the last
// echo reply of the VIP from the old master's eth1 to the first from the
// new master's, on the wire, with the client pinging every 10 ms. The
// keepalived node or the vipd node takes over. Run it with
//
//	sudo go test -run '^$' -bench SecondNICFailover -benchtime 5x ./e2e/
func BenchmarkSecondNICFailover(b *testing.B) {
	for _, takes := range []string{"vipd", "keepalived"} {
		b.Run(takes+" takes over", func(b *testing.B) {
			requireKeepalived(b)
			lab.RequireCommand(b, "tshark")
			r := newTwoNICRouter(b, takes == "vipd")
			var took []time.Duration
			for range b.N {
				r.on(b, 10*time.Second, r.a)
				// Its gratuitous ARPs may be lost just after its links
				// came back: the client resolves the VIP again.
				r.reachesWithin(b, 20*time.Second, r.a)
				capture := r.out.Capture(b, "icmp")
				ping := r.client.Exec(context.Background(), "ping", "-n", "-q", "-i", "0.01", vipOut.String())
				if err := ping.Start(); err != nil {
					b.Fatal(err)
				}
				time.Sleep(500 * time.Millisecond)
				// eth0 first: a cut eth1 alone would fault a, which
				// would hand over at once with a priority-0 advert.
				r.a.host.LinkDown(b)
				r.a.eth1.LinkDown(b)
				waitUntil(b, 10*time.Second, "b holding the VIPs", func() (bool, string) {
					return r.b.host.HasAddr(b, "eth1", vipOut), "not yet"
				})
				r.reaches(b, r.b)
				time.Sleep(200 * time.Millisecond)
				_ = ping.Process.Kill()
				_ = ping.Wait()
				took = append(took, clientGap(b, capture.Stop(), r.a.eth1.HardwareAddr(), r.b.eth1.HardwareAddr()))
				r.a.host.LinkUp(b)
				r.a.eth1.LinkUp(b)
			}
			slices.Sort(took)
			ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
			b.ReportMetric(ms(took[len(took)/2]), "median-ms")
			b.ReportMetric(ms(took[0]), "min-ms")
			b.ReportMetric(ms(took[len(took)-1]), "max-ms")
			b.Logf("%s takes over: %v", takes, took)
		})
	}
}

// clientGap returns the time from the last echo reply of vipOut from old
// to the first from next after it, in the capture at pcap.
func clientGap(t testing.TB, pcap string, old, next net.HardwareAddr) time.Duration {
	t.Helper()
	filter := fmt.Sprintf("icmp.type == 0 && ip.src == %v && eth.src == ", vipOut)
	last := tshark(t, pcap, filter+old.String(), "frame.time_epoch")
	if len(last) == 0 {
		t.Fatalf("no echo reply from %v in the capture", old)
	}
	first := tshark(t, pcap, filter+next.String()+" && frame.time_epoch > "+last[len(last)-1][0], "frame.time_epoch")
	if len(first) == 0 {
		t.Fatalf("no echo reply from %v after %v's last", next, old)
	}
	return epoch(t, first[0][0]).Sub(epoch(t, last[len(last)-1][0]))
}
