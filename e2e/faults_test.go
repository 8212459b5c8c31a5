package e2e

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/vrrp"
)

// Network faults, vipd's side: what the protocol lets a virtual router do
// when the segment loses, delays, reorders, duplicates or holds frames,
// fails one way, snoops or drops multicast, or when a backup stalls, and
// no more. bench/faults_test.go measures the same faults beside
// keepalived. The tests run in parallel, each on a segment of its own:
// their bounds are protocol intervals with margins for a busy machine,
// and most of what they assert is evidence on the wire or in the
// samples, not timing.

// faultIvl is the advert interval of the fault tests.
const faultIvl = 100 * time.Millisecond

// faultSample is how often the holders of a VIP are sampled.
const faultSample = 5 * time.Millisecond

// becameMaster matches vipd's log line of a transition to master.
var becameMaster = regexp.MustCompile(`msg="state changed".* to=MASTER`)

// masterChanges counts p's transitions to master so far.
func (p *proc) masterChanges() int {
	return len(becameMaster.FindAllString(p.log.String(), -1))
}

// faultCluster starts vipd on hosts with a cluster of the given instance
// keys at faultIvl, waits until the first holds vip alone, and returns the
// processes.
func faultCluster(t *testing.T, hosts []*lab.Host, addrs []string, vip netip.Addr, instance string) []*proc {
	t.Helper()
	cfg := cluster(t, faultIvl.String(), hosts, addrs, instance)
	procs := make([]*proc, len(hosts))
	for i, h := range hosts {
		procs[i] = startVipd(t, h, cfg)
	}
	waitHolder(t, 5*time.Second, vip, hosts[0].Name(), hosts...)
	// The backups have heard the master.
	stable(t, 3*faultIvl, vip, hosts[0].Name(), hosts...)
	return procs
}

// checkSamples fails the test for each sample whose holders ok rejects,
// reporting the first few, unless stalls (if not nil) shows that a daemon
// waited for a CPU before it for longer than VRRP tolerates of a silent
// master: then the protocol moves the VIP, as it should for a master that
// stopped. It returns how many such stalls excused a run of samples.
func checkSamples(t *testing.T, samples []lab.HolderSample, hosts []*lab.Host, stalls *lab.StarvationWatch, what string, ok func(mask uint64) bool) (excused int) {
	t.Helper()
	bad, inStall := 0, false
	for _, s := range samples {
		if ok(s.Mask) {
			inStall = false
			continue
		}
		if stalls != nil && stalls.Stalled(s.At, faultStallWindow, stallTolerance) {
			if !inStall {
				excused++
				t.Logf("%s: at %s the VIP was held by %v, after a daemon waited %v or more for a CPU", what, clock(s.At), maskNames(s.Mask, hosts), stallTolerance.Round(time.Millisecond))
			}
			inStall = true
			continue
		}
		if bad++; bad <= 3 {
			t.Errorf("%s: at %s the VIP was held by %v", what, clock(s.At), maskNames(s.Mask, hosts))
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d samples in all broke it", what, bad)
	}
	return excused
}

// A master silent for stallTolerance beyond its interval leaves a
// backup's Master_Down_Interval without adverts; faultStallWindow is that
// interval and the advert before it.
var faultStallWindow = vrrp.MasterDownInterval(3, 240, faultIvl) + faultIvl

func maskNames(m uint64, hosts []*lab.Host) []string {
	var out []string
	for i, h := range hosts {
		if m&(1<<i) != 0 {
			out = append(out, h.Name())
		}
	}
	return out
}

// TestFaultLoss: 10 % of the frames on the master's link are lost, both
// ways, then 30 %. A backup may take over only when three adverts in a row
// (its Master_Down_Interval) did not reach it, which the capture on the
// bridge shows (the loss is before the bridge), and the master, which
// hears it most of the time, keeps the VIP throughout and makes it step
// down.
func TestFaultLoss(t *testing.T) {
	t.Parallel()
	l, hosts, addrs := threeNodes(t, 2)
	lab.RequireCommand(t, "tshark")
	procs := faultCluster(t, hosts, addrs, vip4, "name = \"api\"\nvrid = 70\nvips = [\"192.0.2.100/24\"]")
	capture := l.Capture(t, "vrrp")
	w := lab.WatchHolders(t, faultSample, vip4, hosts...)
	stalls := l.Stalls()
	before := procs[1].masterChanges()
	began := time.Now()
	fault := l.Loss(t, hosts[0], 10)
	time.Sleep(6 * time.Second)
	fault.Heal(t)
	fault = l.Loss(t, hosts[0], 30)
	time.Sleep(4 * time.Second)
	fault.Heal(t)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	w.Stop()
	samples, err := w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	adverts := tshark(t, capture.Stop(), "vrrp", "frame.time_epoch", "ip.src")

	checkSamples(t, samples, hosts, stalls, "cp-1 holds the VIP throughout", func(m uint64) bool { return m&1 != 0 })
	h := lab.SummarizeHolders(samples)
	if h.LongestTwo > time.Second {
		t.Errorf("two holders for %v at once, want a round trip or a few", h.LongestTwo)
	}

	// Each mastership of cp-2 is a run of its adverts; the first must
	// come a Master_Down_Interval after the last advert of cp-1 that
	// crossed the bridge.
	mdi := vrrp.MasterDownInterval(3, 240, faultIvl)
	var last1, last2 time.Time
	takeovers, gaps := 0, 0
	for _, a := range adverts {
		at := epoch(t, a[0])
		if at.Before(began) {
			continue
		}
		switch a[1] {
		case "192.0.2.11":
			if !last1.IsZero() && at.Sub(last1) >= mdi {
				gaps++
			}
			last1 = at
		case "192.0.2.12":
			if last2.IsZero() || at.Sub(last2) > 2*faultIvl {
				takeovers++
				if gap := at.Sub(last1); gap < mdi-5*time.Millisecond {
					t.Errorf("cp-2 advertised at %s, %v after cp-1's last advert: sooner than its Master_Down_Interval %v", clock(at), gap.Round(time.Millisecond), mdi.Round(time.Millisecond))
				}
			}
			last2 = at
		}
	}
	changes := procs[1].masterChanges() - before
	t.Logf("10 %% loss for 6s, 30 %% for 4s: cp-1's adverts %d times %v or more apart on the bridge, cp-2 took over %d times (%d transitions to master); two holders %v at the longest",
		gaps, mdi.Round(time.Millisecond), takeovers, changes, h.LongestTwo)
	if changes != takeovers {
		t.Errorf("cp-2 logged %d transitions to master, its adverts show %d masterships", changes, takeovers)
	}
}

// TestFaultOneWay: cp-2 stops hearing cp-1 while cp-1 still hears it.
// cp-2 must take over (it cannot tell cp-1 from a dead master), and cp-1,
// hearing a master of lower priority, keeps the VIP and answers each of
// its adverts at once with its own and gratuitous ARPs, so that clients
// stay with cp-1: two holders, never three, cp-1 always one of them, the
// client back on cp-1 within a round trip. Healed, cp-2 steps down at the
// next advert it hears. When cp-3 is the one deaf to cp-1, cp-2 hears two
// masters, follows cp-1 and leaves cp-3 alone: still two holders. The
// reverse (cp-1 deaf to cp-2) changes nothing.
func TestFaultOneWay(t *testing.T) {
	t.Parallel()
	l, hosts, addrs := threeNodes(t, 3)
	client := l.AddHost("client", "192.0.2.50/24")
	procs := faultCluster(t, hosts, addrs, vip4, "name = \"api\"\nvrid = 71\nvips = [\"192.0.2.100/24\"]")
	ping := startPing(t, client, vip4, 7*time.Second)
	w := lab.WatchHolders(t, faultSample, vip4, hosts...)
	stalls := l.Stalls()
	nw := lab.WatchNeighbour(t, faultSample, client, vip4)
	macs := []string{hosts[0].HardwareAddr().String(), hosts[1].HardwareAddr().String(), hosts[2].HardwareAddr().String()}
	start := time.Now()

	starved := l.Starvation(true) // the holders are sampled
	began := time.Now()
	fault := l.OneWay(t, hosts[0], hosts[1])
	took, ok := w.WaitFor(began, 3*time.Second, func(s lab.HolderSample) bool { return s.Mask == 0b011 })
	if !ok {
		t.Fatalf("cp-2 did not take the VIP while deaf to cp-1")
	}
	waited := starved.Since()
	if d, bound := took.At.Sub(began), vrrp.MasterDownInterval(3, 240, faultIvl)+300*time.Millisecond+waited; d > bound {
		t.Errorf("cp-2 took over %v after the partition, want at most %v (of which %v the daemons and the sampler waited for a CPU)", d, bound, waited)
	}
	time.Sleep(1500 * time.Millisecond)
	if mac := neighbour(t, client, vip4); mac != hosts[0].HardwareAddr().String() {
		t.Errorf("during the partition the client sends to %s, want cp-1 (%s)", mac, hosts[0].HardwareAddr())
	}
	healed := time.Now()
	fault.Heal(t)
	done, ok := w.WaitFor(healed, 2*time.Second, func(s lab.HolderSample) bool { return s.Mask == 0b001 })
	if !ok {
		t.Fatal("two holders 2s after the partition healed")
	}
	t.Logf("one-way partition: cp-2 took over %v after it, stepped down %v after it healed", took.At.Sub(began).Round(time.Millisecond), done.At.Sub(healed).Round(time.Millisecond))
	samples, err := w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, samples, hosts, stalls, "cp-1 holds, and only cp-2 besides", func(m uint64) bool { return m == 0b001 || m == 0b011 })

	// cp-3 deaf to cp-1: cp-3 takes over; cp-2 hears cp-3 below cp-1 and
	// does not preempt it.
	before := procs[1].masterChanges()
	began = time.Now()
	fault = l.OneWay(t, hosts[0], hosts[2])
	if _, ok := w.WaitFor(began, 3*time.Second, func(s lab.HolderSample) bool { return s.Mask == 0b101 }); !ok {
		t.Fatalf("cp-3 did not take the VIP while deaf to cp-1")
	}
	time.Sleep(time.Second)
	healed = time.Now()
	fault.Heal(t)
	if _, ok := w.WaitFor(healed, 2*time.Second, func(s lab.HolderSample) bool { return s.Mask == 0b001 }); !ok {
		t.Fatal("two holders 2s after the partition of cp-3 healed")
	}
	samples, err = w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	excused := checkSamples(t, samples, hosts, stalls, "cp-3 deaf to cp-1: cp-1 holds, and only cp-3 besides", func(m uint64) bool { return m == 0b001 || m == 0b101 })
	if n := procs[1].masterChanges() - before; n > excused {
		t.Errorf("cp-2 became master %d times, want none but after a stall (%d): it follows cp-1, which it hears", n, excused)
	}

	// cp-1 deaf to cp-2: the backups hear the master, nothing moves.
	began = time.Now()
	fault = l.OneWay(t, hosts[1], hosts[0])
	time.Sleep(time.Second)
	fault.Heal(t)
	time.Sleep(3 * faultIvl)
	samples, err = w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, samples, hosts, stalls, "cp-1 deaf to cp-2: cp-1 alone", func(m uint64) bool { return m == 0b001 })

	// The client was never sent to a node without the VIP, and lost
	// nothing to speak of: both nodes that held the VIP answered.
	holders, err := w.Samples(start)
	if err != nil {
		t.Fatal(err)
	}
	neigh, err := nw.Samples(start)
	if err != nil {
		t.Fatal(err)
	}
	moves, _ := lab.NeighbourMoves(neigh)
	if d := lab.Misdirected(neigh, holders, macs); d > 100*time.Millisecond {
		t.Errorf("the client sent to a node without the VIP for %v", d)
	}
	lost := ping.lost(t)
	t.Logf("client: %d moves, %d pings lost", moves, lost)
	if lost > 30 {
		t.Errorf("the client lost %d of its pings to the VIP, want a few around the takeovers", lost)
	}
}

// neighbour returns the MAC client's neighbour table has for addr, "" if
// none.
func neighbour(t *testing.T, client *lab.Host, addr netip.Addr) string {
	t.Helper()
	n, _ := client.Neighbour(t, addr)
	return n.HardwareAddr.String()
}

// TestFaultSnoopingIPv6: a switch that snoops MLD, with a querier, sends
// ff02::12 only to the ports whose hosts reported it and keep answering
// its queries. VRRPv3 over IPv6 must still work: memberships expire after
// 2.5 s unless refreshed, and the master stays alone for longer than two
// of them; cut off and back, the master's report is sent again and it
// preempts.
func TestFaultSnoopingIPv6(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	lab.RequireCommand(t, "bridge")
	l.Snooping(t, lab.DefaultSnoopingTimers)
	var hosts []*lab.Host
	var addrs []string
	for i := 1; i <= 2; i++ {
		hosts = append(hosts, l.AddHost(fmt.Sprintf("cp-%d", i), fmt.Sprintf("192.0.2.1%d/24", i), fmt.Sprintf("2001:db8::1%d/64", i)))
		addrs = append(addrs, fmt.Sprintf("192.0.2.1%d", i))
	}
	vip6 := netip.MustParseAddr("2001:db8::100")
	faultCluster(t, hosts, addrs, vip6, "name = \"api\"\nvrid = 72\nvips = [\"2001:db8::100/64\"]")
	w := lab.WatchHolders(t, faultSample, vip6, hosts...)
	stalls := l.Stalls()
	began := time.Now()
	time.Sleep(6 * time.Second)
	samples, err := w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, samples, hosts, stalls, "snooping switch: cp-1 alone", func(m uint64) bool { return m == 0b01 })
	mdb := l.MulticastGroups(t)
	for _, h := range hosts {
		if !strings.Contains(mdb, "port "+h.Port()+" grp ff02::12") {
			t.Errorf("the bridge has not learnt %s's membership of ff02::12:\n%s", h.Name(), mdb)
		}
	}

	hosts[0].LinkDown(t)
	waitHolder(t, 3*time.Second, vip6, "cp-2", hosts[1:]...)
	hosts[0].LinkUp(t)
	waitHolder(t, 3*time.Second, vip6, "cp-1", hosts...)
	stable(t, 5*faultIvl, vip6, "cp-1", hosts...)
}

// TestFaultMulticastDropped: a segment that drops multicast (clouds) and
// passes unicast: unicast mode works in both families, election and
// failover alike.
func TestFaultMulticastDropped(t *testing.T) {
	t.Parallel()
	l, hosts, addrs := threeNodes(t, 2)
	l.DropMulticast(t)
	vip6 := netip.MustParseAddr("2001:db8::100")
	faultCluster(t, hosts, addrs, vip4, "name = \"api\"\nvrid = 73\nunicast = true\nvips = [\"192.0.2.100/24\", \"2001:db8::100/64\"]")
	waitHolder(t, 3*time.Second, vip6, "cp-1", hosts...)
	w4 := lab.WatchHolders(t, faultSample, vip4, hosts...)
	stalls := l.Stalls()
	w6 := lab.WatchHolders(t, faultSample, vip6, hosts...)
	began := time.Now()
	time.Sleep(2 * time.Second)
	for _, w := range []*lab.HolderWatch{w4, w6} {
		samples, err := w.Samples(began)
		if err != nil {
			t.Fatal(err)
		}
		checkSamples(t, samples, hosts, stalls, "no multicast, unicast mode: cp-1 alone", func(m uint64) bool { return m == 0b01 })
	}
	hosts[0].LinkDown(t)
	waitHolder(t, 3*time.Second, vip4, "cp-2", hosts[1:]...)
	waitHolder(t, 3*time.Second, vip6, "cp-2", hosts[1:]...)
	hosts[0].LinkUp(t)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	waitHolder(t, 3*time.Second, vip6, "cp-1", hosts...)
}

// TestFaultStalledBackup: the backup's vipd is stopped for a second, three
// times. Its Master_Down_Timer is long past when it runs again, but the
// master's adverts wait in its socket: it reads them before acting on the
// timer and stays backup, so the VIP never moves.
func TestFaultStalledBackup(t *testing.T) {
	t.Parallel()
	l, hosts, addrs := threeNodes(t, 2)
	procs := faultCluster(t, hosts, addrs, vip4, "name = \"api\"\nvrid = 74\nvips = [\"192.0.2.100/24\"]")
	w := lab.WatchHolders(t, faultSample, vip4, hosts...)
	stalls := l.Stalls()
	before := procs[1].masterChanges()
	began := time.Now()
	for range 3 {
		if err := procs[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := procs[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	samples, err := w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	excused := checkSamples(t, samples, hosts, stalls, "stalled backup: cp-1 alone", func(m uint64) bool { return m == 0b01 })
	if n := procs[1].masterChanges() - before; n > excused {
		t.Errorf("the stalled backup became master %d times, want none but after a stall of a daemon that ran (%d)", n, excused)
	}
}

// TestFaultWire: the master's link delays each frame by 5 to 150 ms at
// random (frames overtake each other) and duplicates a third of them:
// adverts still arrive well within the backup's Master_Down_Interval, so
// nothing moves. Then the link holds every frame for a second and sends
// them at once: the backup takes over (it heard nothing for longer than
// its interval), the master, which heard nothing either, keeps the VIP,
// and the burst of adverts makes the backup step down.
func TestFaultWire(t *testing.T) {
	t.Parallel()
	l, hosts, addrs := threeNodes(t, 2)
	wire := hosts[0].Wire(t, 7)
	procs := faultCluster(t, hosts, addrs, vip4, "name = \"api\"\nvrid = 75\nvips = [\"192.0.2.100/24\"]")
	w := lab.WatchHolders(t, faultSample, vip4, hosts...)
	stalls := l.Stalls()
	before := procs[1].masterChanges()
	began := time.Now()
	wire.Set(lab.BothWays, lab.Impairment{Delay: 5 * time.Millisecond, Jitter: 145 * time.Millisecond, Duplicate: 0.3})
	time.Sleep(3 * time.Second)
	wire.Set(lab.BothWays, lab.Impairment{})
	time.Sleep(3 * faultIvl)
	samples, err := w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	excused := checkSamples(t, samples, hosts, stalls, "delayed, overtaking and duplicated frames: cp-1 alone", func(m uint64) bool { return m == 0b01 })
	if n := procs[1].masterChanges() - before; n > excused {
		t.Errorf("cp-2 became master %d times under delay, want none but after a stall (%d)", n, excused)
	}
	if s := wire.Stats(lab.FromHost); s.Duplicated == 0 {
		t.Errorf("the wire duplicated nothing: %+v", s)
	}

	began = time.Now()
	wire.Hold(lab.BothWays)
	if _, ok := w.WaitFor(began, 3*time.Second, func(s lab.HolderSample) bool { return s.Mask == 0b11 }); !ok {
		t.Fatal("cp-2 did not take over while cp-1's frames were held")
	}
	time.Sleep(500 * time.Millisecond)
	released := time.Now()
	wire.Release(lab.BothWays)
	done, ok := w.WaitFor(released, 2*time.Second, func(s lab.HolderSample) bool { return s.Mask == 0b01 })
	if !ok {
		t.Fatal("two holders 2s after the held frames were released")
	}
	t.Logf("held frames: back to cp-1 alone %v after the release", done.At.Sub(released).Round(time.Millisecond))
	samples, err = w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, samples, hosts, stalls, "held frames: cp-1 holds throughout", func(m uint64) bool { return m&1 != 0 })
	stable(t, 3*faultIvl, vip4, "cp-1", hosts...)
}
