package e2e

import (
	"cmp"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/vrrp"
)

// Environment of the chaos soak: how long it runs (a Go duration; `make
// chaos` sets minutes, `make test` leaves the short default) and the seed
// of its fault sequence (printed by every run, to replay one).
const (
	envChaosDuration = "VIPD_CHAOS_DURATION"
	envChaosSeed     = "VIPD_CHAOS_SEED"
)

// defaultChaosDuration keeps the soak within the time of the other lab
// tests when run with the whole suite; it is enough for every kind of
// fault to come up at least twice.
const defaultChaosDuration = 40 * time.Second

// Timing of the soak. The advert interval is the lab's usual 100 ms.
const (
	chaosInterval = 100 * time.Millisecond
	// chaosSamplePeriod is how often the observer looks at every node.
	chaosSamplePeriod = 5 * time.Millisecond
	// chaosMargin is added to every protocol bound. It covers the
	// observer (a sample every 5 ms, each reading three namespaces one
	// after the other, so a handover can be seen 5-10 ms late or as a
	// one-sample gap or overlap that was not there) and scheduling on a
	// small, shared machine: four vipd processes, the observer and the
	// tools that inject faults share two CPUs.
	chaosMargin = 100 * time.Millisecond
	// chaosConverge bounds the wait, after a fault is undone, for every
	// VIP to be back on its best node: a restart, then Master_Down_Interval
	// as backup, then the preemption.
	chaosConverge = 5 * time.Second
)

// chaosOverlapBound is the longest two live nodes may hold a VIP at once.
// Handovers are make-before-break (the new master binds, announces and
// advertises; the old one lets go when it hears that advert) and a split
// brain heals within one advert interval, since a master answers a
// lower-priority master's advert at once and the lower one yields.
const chaosOverlapBound = chaosInterval + chaosMargin

// chaosTakeoverBound is the longest a VIP may go without a live holder
// when its master dies, stalls or is cut off: the Master_Down_Interval of
// the slowest backup (the lowest priority, 230, has the longest skew).
var chaosTakeoverBound = vrrp.MasterDownInterval(3, 230, chaosInterval) + chaosMargin

// A chaosKind is one kind of fault: how to inject and undo it, and what
// the invariants allow while it lasts.
type chaosKind struct {
	name string
	// impairs: the node's vipd cannot act between inject and undo (killed,
	// stopped, cut off), so whatever VIP it holds then is not counted as
	// held (for gaps) nor as a second holder (for overlaps), until the
	// overlap it leaves has resolved after undo; see resolveBound.
	impairs bool
	// degrades: the node still acts and reaches clients, but it or its
	// peers hear it badly (loss, one way, delay): a VIP it holds counts
	// for gaps, and it may hold one that another node holds as well,
	// until the overlap has resolved after undo.
	degrades bool
	// gapBound is the longest a VIP may have no live holder.
	gapBound time.Duration
	// resolveBound is the longest, after undo, until no VIP has two
	// holders any more.
	resolveBound time.Duration
}

// chaosKinds are the faults the soak injects.
//
// Overlaps the fault itself causes are inherent, not failures, and are
// reported apart as "excused overlap":
//   - kill: a vipd killed with SIGKILL cannot remove its VIPs; the kernel
//     keeps answering for them until vipd starts again and removes the
//     stale ones, first thing (resolveBound: a start).
//   - stall: a SIGSTOPped master keeps its VIPs bound while a backup takes
//     over after Master_Down_Interval; after SIGCONT it hears the new master
//     (or is heard by it) and one of them yields within an interval.
//   - cut: a node whose cable is cut is master on its side of the
//     partition; when the cable is back the split brain heals within an
//     interval (plus the carrier coming back).
//   - hold: the node's link holds its frames both ways and then sends
//     them at once, a cut without the loss of carrier: the others take
//     over, and the burst of adverts heals the split brain.
//   - loss: 30 % of the frames on the node's link are lost both ways;
//     three adverts in a row lost make a backup take over next to a
//     master, which answers it at once.
//   - oneway: the node stops hearing another; if that one is master of a
//     VIP the node backs, the node takes it over as well (it cannot tell a
//     dead master), until it hears the master again.
//   - jitter: the node's frames are delayed by 5 to 150 ms at random
//     (overtaking each other) and a third duplicated; adverts still come
//     within every backup's Master_Down_Interval, so nothing should move,
//     but a busy machine may stretch the delay.
//
// Graceful stop, drain and resume hand over make-before-break, so they
// may leave no gap beyond the margin; a VIP deleted by hand from its
// master is put back by the VIP guard on the netlink event.
var chaosKinds = []chaosKind{
	{name: "kill", impairs: true, gapBound: chaosTakeoverBound, resolveBound: time.Second},
	{name: "stall", impairs: true, gapBound: chaosTakeoverBound, resolveBound: chaosInterval + chaosMargin},
	{name: "cut", impairs: true, gapBound: chaosTakeoverBound, resolveBound: chaosInterval + chaosMargin},
	{name: "hold", impairs: true, gapBound: chaosTakeoverBound, resolveBound: chaosInterval + chaosMargin},
	{name: "loss", degrades: true, gapBound: chaosMargin, resolveBound: chaosInterval + chaosMargin},
	{name: "oneway", degrades: true, gapBound: chaosMargin, resolveBound: chaosInterval + chaosMargin},
	{name: "jitter", degrades: true, gapBound: chaosMargin, resolveBound: chaosInterval + chaosMargin},
	{name: "stop", gapBound: chaosMargin},
	{name: "drain", gapBound: chaosMargin},
	{name: "vipdel", gapBound: chaosMargin},
}

// A chaosEpisode is one fault: injected, held, undone, settled.
type chaosEpisode struct {
	kind   *chaosKind
	node   int // the node hit
	vip    int // vipdel: the VIP deleted
	peer   int // oneway: the node it stops hearing
	inject time.Time
	// injected is when the command that injects the fault returned: the
	// fault took effect somewhere between inject and injected (a link cut
	// runs ip(8), which a loaded machine may take a while to start).
	injected time.Time
	undo     time.Time // when the fault was undone; inject for vipdel
	// converged is when every VIP was back on its best node alone.
	converged time.Time
	// arp is the answer to an ARP request for each VIP after settling.
	arp [][]string
}

// clock formats t as vipd's log does (UTC), to find a moment in the logs.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000Z") }

func (e *chaosEpisode) String() string {
	s := fmt.Sprintf("%s cp-%d", e.kind.name, e.node+1)
	switch e.kind.name {
	case "vipdel":
		s = fmt.Sprintf("vipdel VIP %d on cp-%d", e.vip, e.node+1)
	case "oneway":
		s = fmt.Sprintf("oneway cp-%d deaf to cp-%d", e.node+1, e.peer+1)
	}
	return s
}

// chaosEnv reads the soak's duration and seed from the environment.
func chaosEnv(t *testing.T) (time.Duration, uint64) {
	t.Helper()
	d := defaultChaosDuration
	if s := os.Getenv(envChaosDuration); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive Go duration such as 5m", envChaosDuration, s)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envChaosSeed); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", envChaosSeed, s)
		}
	}
	return d, seed
}

// TestChaos is the soak: three nodes run two VIPs with opposite priority
// orders while a seeded random sequence of faults hits them, one at a
// time, each held for a while, undone and left to settle. An observer
// looks at every node every 5 ms. The invariants:
//   - after each fault settles, each VIP is on its best node alone, and
//     only that node's MAC answers ARP for it from a client;
//   - two live nodes never hold a VIP for longer than chaosOverlapBound;
//   - a VIP never lacks a live holder for longer than its fault's bound;
//   - what a fault itself leaves bound (see chaosKinds) resolves within
//     its bound once the fault is undone.
func TestChaos(t *testing.T) {
	// Not parallel: it measures timing, so it runs alone.
	duration, seed := chaosEnv(t)
	t.Logf("chaos soak: %v, seed %d (%s=%d replays it); load average %s", duration, seed, envChaosSeed, seed, loadavg())
	rng := rand.New(rand.NewPCG(seed, seed>>32|1))

	l, hosts, addrs := threeNodes(t, 3)
	// Each node's cable passes a forwarder, for the faults that hold,
	// delay and duplicate frames; it passes them untouched otherwise.
	wires := make([]*lab.Wire, len(hosts))
	for i, h := range hosts {
		wires[i] = h.Wire(t, seed+uint64(i))
	}
	client := l.AddHost("client", "192.0.2.50/24")
	vips := []netip.Addr{vip4, netip.MustParseAddr("192.0.2.101")}
	// The best node of each VIP: cp-1 for api, cp-3 for ingress, so that
	// most faults hit a master, and cp-2 is everyone's backup.
	best := []int{0, 2}
	cfg := cluster(t, chaosInterval.String(), hosts, addrs, `name = "api"
vrid = 60
vips = ["192.0.2.100/24"]
[[instance]]
name = "ingress"
vrid = 61
order = ["cp-3", "cp-2", "cp-1"]
vips = ["192.0.2.101/24"]`)
	procs := make([]*proc, len(hosts))
	for i, h := range hosts {
		procs[i] = startVipd(t, h, cfg)
	}
	for v, vip := range vips {
		waitHolder(t, 3*time.Second, vip, hosts[best[v]].Name(), hosts...)
	}
	arp := newVIPARPProber(t, client)
	obs := startVIPObserver(t, chaosSamplePeriod, vips, hosts...)
	// The observer and the daemons share two CPUs with the faults' tools:
	// each bound allows for the time they waited for one.
	starved := l.WatchStarvation(t, 50*time.Millisecond, true)
	began := time.Now()

	// converge waits until the observer sees every VIP on its best node
	// alone, in a sample taken after from.
	converge := func(from time.Time) (time.Time, bool) {
		deadline := time.Now().Add(chaosConverge)
		for time.Now().Before(deadline) {
			if s, ok := obs.latest(); ok && !s.at.Before(from) {
				done := true
				for v := range vips {
					done = done && s.holders[v] == 1<<best[v]
				}
				if done {
					return s.at, true
				}
			}
			time.Sleep(chaosSamplePeriod)
		}
		return time.Time{}, false
	}
	if _, ok := converge(began); !ok {
		t.Fatal("the VIPs are not on their best nodes before the first fault")
	}

	// The faults come in rounds: each round is every kind once, in a
	// random order, so that a short run sees them all.
	var episodes []*chaosEpisode
	var order []*chaosKind
	for time.Since(began) < duration {
		if len(order) == 0 {
			for i := range chaosKinds {
				order = append(order, &chaosKinds[i])
			}
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		e := &chaosEpisode{kind: order[0], node: rng.IntN(len(hosts))}
		order = order[1:]
		hold := time.Duration(200+rng.IntN(1000)) * time.Millisecond
		switch e.kind.name {
		case "vipdel":
			e.vip = rng.IntN(len(vips))
			e.node = best[e.vip]
		case "oneway":
			e.peer = (e.node + 1 + rng.IntN(len(hosts)-1)) % len(hosts)
		}
		episodes = append(episodes, e)
		h, p := hosts[e.node], procs[e.node]

		var fault *lab.Fault
		e.inject = time.Now()
		switch e.kind.name {
		case "kill":
			p.kill()
		case "stall":
			if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatalf("SIGSTOP vipd on %s: %v", h.Name(), err)
			}
		case "cut":
			h.LinkDown(t)
		case "hold":
			wires[e.node].Hold(lab.BothWays)
		case "loss":
			fault = l.Loss(t, h, 30)
		case "oneway":
			fault = l.OneWay(t, hosts[e.peer], h)
		case "jitter":
			wires[e.node].Set(lab.BothWays, lab.Impairment{Delay: 5 * time.Millisecond, Jitter: 145 * time.Millisecond, Duplicate: 0.3})
		case "stop":
			if err := p.stop(); err != nil {
				t.Errorf("graceful stop of vipd on %s: exit %v", h.Name(), err)
			}
		case "drain":
			if out, err := p.vipctl("drain"); err != nil {
				t.Fatalf("vipctl drain on %s: %v\n%s", h.Name(), err, out)
			}
		case "vipdel":
			h.Run(t, "ip", "addr", "del", netip.PrefixFrom(vips[e.vip], 24).String(), "dev", "eth0")
		}
		e.injected = time.Now()
		if e.kind.name != "vipdel" {
			time.Sleep(hold)
		}
		e.undo = time.Now()
		switch e.kind.name {
		case "kill", "stop":
			procs[e.node] = startVipd(t, h, cfg)
		case "stall":
			if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatalf("SIGCONT vipd on %s: %v", h.Name(), err)
			}
		case "cut":
			h.LinkUp(t)
		case "hold":
			wires[e.node].Release(lab.BothWays)
		case "loss", "oneway":
			fault.Heal(t)
		case "jitter":
			wires[e.node].Set(lab.BothWays, lab.Impairment{})
		case "drain":
			if out, err := p.vipctl("resume"); err != nil {
				t.Fatalf("vipctl resume on %s: %v\n%s", h.Name(), err, out)
			}
		}

		var ok bool
		if e.converged, ok = converge(e.undo); !ok {
			s, _ := obs.latest()
			t.Fatalf("after %v (held %v) the VIPs are not back on their best nodes within %v: holders %s",
				e, hold, chaosConverge, holderNames(s.holders))
		}
		// A quiet while on the settled state before the next fault: the
		// observer checks it stays settled.
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		for v, vip := range vips {
			asked := time.Now()
			macs, err := arp.answers(vip)
			if err != nil {
				t.Fatal(err)
			}
			e.arp = append(e.arp, macs)
			want := hosts[best[v]].HardwareAddr().String()
			if len(macs) == 1 && macs[0] == want {
				continue
			}
			// The VIP moved again, or the wire disagrees with netlink.
			// The first is VRRP's answer to a daemon that waited long for
			// a CPU, and the analysis bounds how long it lasted.
			var held uint8
			seen, err := obs.since(asked)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range seen {
				held |= s.holders[v]
			}
			var stray []string
			for _, m := range macs {
				if i := slices.IndexFunc(hosts, func(h *lab.Host) bool { return h.HardwareAddr().String() == m }); i < 0 || held&(1<<i) == 0 {
					stray = append(stray, m)
				}
			}
			if len(stray) == 0 && l.Stalls().Stalled(time.Now(), stallWindow, stallTolerance) {
				t.Logf("after %v, at %s, ARP for %v answered by %v (%v), as the VIP was bound then, after a daemon waited %v or more for a CPU",
					e, clock(asked), vip, macs, nodeNames(held), stallTolerance.Round(time.Millisecond))
				continue
			}
			t.Errorf("after %v, at %s, ARP for %v answered by %v, want only %s (%s); bound meanwhile on %v",
				e, clock(asked), vip, macs, want, hosts[best[v]].Name(), nodeNames(held))
		}
	}
	end := time.Now()
	obs.halt()
	starved.Stop()
	samples, err := obs.since(began)
	if err != nil {
		t.Fatal(err)
	}
	var longest time.Duration
	for i := 1; i < len(samples); i++ {
		longest = max(longest, samples[i].at.Sub(samples[i-1].at))
	}
	t.Logf("%d faults in %v, %d samples (every %v; the slowest took %v, the longest between two %v); load average %s",
		len(episodes), end.Sub(began).Round(time.Millisecond), len(samples), chaosSamplePeriod,
		obs.slowest.Round(time.Microsecond), longest.Round(time.Microsecond), loadavg())

	t.Logf("ARP from the client after each fault: %d requests per VIP, each answered by the VIP's best node alone unless reported above", len(episodes))
	r := analyzeChaos(samples, episodes, len(vips), end, starved.Between)
	for _, f := range r.failures {
		t.Error(f)
	}
	if t.Failed() {
		var b strings.Builder
		for _, e := range episodes {
			fmt.Fprintf(&b, "%s  %-22v injected in %v, undone at %s, settled at %s\n",
				clock(e.inject), e, e.injected.Sub(e.inject).Round(time.Millisecond), clock(e.undo), clock(e.converged))
		}
		t.Logf("faults:\n%s", b.String())
	}
	t.Logf("summary (bounds: overlap %v; gap %v after a takeover, %v otherwise):\n%s",
		chaosOverlapBound, chaosTakeoverBound, chaosMargin, r.table())
}

// loadavg returns the machine's load averages over 1, 5 and 15 minutes,
// for judging the timing figures of a run.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// holderNames formats each VIP's holders.
func holderNames(masks []uint8) string {
	var parts []string
	for v, m := range masks {
		parts = append(parts, fmt.Sprintf("VIP %d: %v", v, nodeNames(m)))
	}
	return strings.Join(parts, ", ")
}

// nodeNames names the nodes of a holder set, cp-1 being bit 0.
func nodeNames(m uint8) []string {
	var names []string
	for i := range 8 {
		if m&(1<<i) != 0 {
			names = append(names, fmt.Sprintf("cp-%d", i+1))
		}
	}
	return names
}

// chaosStats are the worst figures of one kind of fault.
type chaosStats struct {
	faults         int
	maxGap         time.Duration
	maxOverlap     time.Duration
	maxExcused     time.Duration // overlap the fault itself causes
	maxResolve     time.Duration // from undo until no VIP has two holders
	maxConverge    time.Duration // from undo until every VIP is on its best node
	maxInject      time.Duration // the command that injects the fault
	worstOverlapAt string
}

type chaosReport struct {
	kinds    map[string]*chaosStats
	failures []string
}

// analyzeChaos checks the samples against the invariants, attributing
// everything seen from a fault's injection to the next one's to that
// fault. Each bound is extended by waited, how long the daemons and the
// observer waited for a CPU over the window it bounds.
func analyzeChaos(samples []vipSample, episodes []*chaosEpisode, nvips int, end time.Time, waited func(from, to time.Time) time.Duration) *chaosReport {
	r := &chaosReport{kinds: make(map[string]*chaosStats)}
	failf := func(format string, args ...any) { r.failures = append(r.failures, fmt.Sprintf(format, args...)) }
	stats := func(name string) *chaosStats {
		if r.kinds[name] == nil {
			r.kinds[name] = &chaosStats{}
		}
		return r.kinds[name]
	}
	// episodeAt returns the fault in force at t, or nil before the first.
	episodeAt := func(t time.Time) *chaosEpisode {
		i, _ := slices.BinarySearchFunc(episodes, t, func(e *chaosEpisode, t time.Time) int {
			if e.inject.After(t) {
				return 1
			}
			return -1
		})
		if i == 0 {
			return nil
		}
		return episodes[i-1]
	}
	nextInject := func(e *chaosEpisode) time.Time {
		if i := slices.Index(episodes, e); i+1 < len(episodes) {
			return episodes[i+1].inject
		}
		return end
	}
	atMostOne := func(s vipSample) bool {
		for _, m := range s.holders {
			if bits.OnesCount8(m) > 1 {
				return false
			}
		}
		return true
	}

	// When did the overlap each fault left resolve?
	resolved := make(map[*chaosEpisode]time.Time)
	for _, e := range episodes {
		st := stats(e.kind.name)
		st.faults++
		st.maxConverge = max(st.maxConverge, e.converged.Sub(e.undo))
		st.maxInject = max(st.maxInject, e.injected.Sub(e.inject))
		limit := nextInject(e)
		// The overlap lasted at least until the last sample that
		// still shows it: what the observer saw, not how late it looked
		// again.
		lastSeen := e.undo
		i, _ := slices.BinarySearchFunc(samples, e.undo, func(s vipSample, t time.Time) int { return s.at.Compare(t) })
		for ; i < len(samples) && samples[i].at.Before(limit); i++ {
			if atMostOne(samples[i]) {
				resolved[e] = samples[i].at
				break
			}
			lastSeen = samples[i].at
		}
		if _, ok := resolved[e]; !ok {
			failf("%v: a VIP still had two holders when the next fault came, %v after it was undone", e, limit.Sub(e.undo).Round(time.Millisecond))
			resolved[e] = limit
			continue
		}
		took := lastSeen.Sub(e.undo)
		st.maxResolve = max(st.maxResolve, took)
		if bound := e.kind.resolveBound + waited(e.undo, lastSeen); e.kind.resolveBound > 0 && took > bound {
			failf("%v: two holders for %v after it was undone, want at most %v (%v waited for a CPU)", e, took.Round(time.Millisecond), bound.Round(time.Millisecond), (bound - e.kind.resolveBound).Round(time.Millisecond))
		}
	}

	// Runs of gaps and overlaps per VIP.
	for v := range nvips {
		type run struct {
			start int // index of the first sample, -1 when not in a run
			e     *chaosEpisode
		}
		gap, overlap, excused := run{start: -1}, run{start: -1}, run{start: -1}
		closeRun := func(rn *run, i int, what string) {
			if rn.start < 0 {
				return
			}
			// From the first to the last sample that shows it: a
			// lower bound, and evidence. The upper bound, to the next
			// sample, grows with any stall of the observer itself.
			d := samples[i-1].at.Sub(samples[rn.start].at)
			starved := waited(samples[rn.start].at, samples[i-1].at)
			name, where := "before the first fault", "before the first fault"
			if rn.e != nil {
				name, where = rn.e.kind.name, fmt.Sprintf("%v, %v after it", rn.e, samples[rn.start].at.Sub(rn.e.inject).Round(time.Millisecond))
			}
			where += fmt.Sprintf(" (from %s, bound on %v)", clock(samples[rn.start].at), nodeNames(samples[rn.start].holders[v]))
			st := stats(name)
			switch what {
			case "gap":
				st.maxGap = max(st.maxGap, d)
				bound := chaosMargin
				if rn.e != nil {
					// The gap is counted from inject; the fault may
					// have taken effect as late as injected.
					bound = rn.e.kind.gapBound + rn.e.injected.Sub(rn.e.inject)
				}
				if bound += starved; d > bound {
					failf("VIP %d had no live holder for %v during %s, want at most %v (%v waited for a CPU)", v, d.Round(time.Millisecond), where, bound.Round(time.Millisecond), starved.Round(time.Millisecond))
				}
			case "overlap":
				if d > st.maxOverlap {
					st.maxOverlap = d
					st.worstOverlapAt = where
					if rn.e != nil {
						st.worstOverlapAt = fmt.Sprintf("%v, %v after it", rn.e, samples[rn.start].at.Sub(rn.e.inject).Round(time.Millisecond))
					}
				}
				if d > chaosOverlapBound+starved {
					failf("VIP %d had two live holders for %v during %s, want at most %v (%v waited for a CPU)", v, d.Round(time.Millisecond), where, chaosOverlapBound+starved, starved.Round(time.Millisecond))
				}
			case "excused":
				st.maxExcused = max(st.maxExcused, d)
			}
			rn.start = -1
		}
		for i, s := range samples {
			e := episodeAt(s.at)
			var impaired, excusedMask uint8
			if e != nil && (e.kind.impairs || e.kind.degrades) {
				if e.kind.impairs && s.at.Before(e.undo) {
					impaired = 1 << e.node
				}
				if s.at.Before(resolved[e]) {
					excusedMask = 1 << e.node
				}
			}
			raw := s.holders[v]
			step := func(rn *run, in bool, what string) {
				switch {
				case in && rn.start < 0:
					rn.start, rn.e = i, e
				case !in:
					closeRun(rn, i, what)
				}
			}
			step(&gap, raw&^impaired == 0, "gap")
			step(&overlap, bits.OnesCount8(raw&^excusedMask) > 1, "overlap")
			step(&excused, excusedMask != 0 && bits.OnesCount8(raw) > 1, "excused")
		}
		closeRun(&gap, len(samples), "gap")
		closeRun(&overlap, len(samples), "overlap")
		closeRun(&excused, len(samples), "excused")
	}
	return r
}

// table formats the report, one line per kind of fault.
func (r *chaosReport) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %6s %7s %8s %8s %9s %9s %9s  %s\n", "fault", "count", "inject", "max gap", "overlap", "excused", "resolved", "converge", "worst overlap during")
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }
	for _, n := range names {
		s := r.kinds[n]
		// Only faults that impair or degrade a node leave an overlap to
		// resolve.
		excused, resolve := "-", "-"
		if i := slices.IndexFunc(chaosKinds, func(k chaosKind) bool { return k.name == n }); i >= 0 && (chaosKinds[i].impairs || chaosKinds[i].degrades) {
			excused, resolve = ms(s.maxExcused), ms(s.maxResolve)
		}
		fmt.Fprintf(&b, "%-8s %6d %7s %8s %8s %9s %9s %9s  %s\n", n, s.faults, ms(s.maxInject), ms(s.maxGap), ms(s.maxOverlap), excused, resolve, ms(s.maxConverge), s.worstOverlapAt)
	}
	return b.String()
}

// TestAnalyzeChaos feeds the soak's checker made-up observations, so that
// what it lets pass and what it fails is known without a lab.
func TestAnalyzeChaos(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// observe returns samples for one VIP: each step holds mask (bit i
	// is cp-i+1) for ms milliseconds, sampled every 5 ms unless every
	// says otherwise.
	type step struct {
		ms    int
		mask  uint8
		every int
	}
	observe := func(steps ...step) ([]vipSample, time.Time) {
		var out []vipSample
		ms := 0
		for _, s := range steps {
			every := cmp.Or(s.every, 5)
			for end := ms + s.ms; ms < end; ms += every {
				out = append(out, vipSample{at: at(ms), holders: []uint8{s.mask}})
			}
		}
		return out, at(ms)
	}
	kind := func(name string) *chaosKind {
		i := slices.IndexFunc(chaosKinds, func(k chaosKind) bool { return k.name == name })
		return &chaosKinds[i]
	}
	episode := func(name string, node, inject, undo int) *chaosEpisode {
		return &chaosEpisode{kind: kind(name), node: node, inject: at(inject), injected: at(inject), undo: at(undo), converged: at(undo)}
	}
	tests := []struct {
		name     string
		steps    []step
		episode  *chaosEpisode
		failures []string // substrings, one per failure expected
	}{
		{
			name:    "graceful stop overlaps briefly",
			steps:   []step{{100, 0b001, 0}, {50, 0b011, 0}, {500, 0b010, 0}, {20, 0b011, 0}, {300, 0b001, 0}},
			episode: episode("stop", 0, 100, 600),
		},
		{
			name:     "graceful stop overlaps too long",
			steps:    []step{{100, 0b001, 0}, {250, 0b011, 0}, {300, 0b010, 0}},
			episode:  episode("stop", 0, 100, 600),
			failures: []string{"two live holders for 245ms during stop cp-1"},
		},
		{
			name: "the observer stalls on a brief overlap",
			// One sample shows two holders, the next comes 400 ms
			// later: no evidence of an overlap longer than a sample.
			steps:   []step{{100, 0b001, 0}, {400, 0b011, 400}, {300, 0b010, 0}},
			episode: episode("stop", 0, 100, 600),
		},
		{
			name:     "drain leaves a gap",
			steps:    []step{{100, 0b001, 0}, {150, 0b000, 0}, {300, 0b010, 0}},
			episode:  episode("drain", 0, 100, 500),
			failures: []string{"no live holder for 145ms during drain cp-1"},
		},
		{
			name: "stalled master: takeover, excused overlap, resolved after SIGCONT",
			// cp-1 stalled at 100 keeps the VIP; cp-2 takes over at 400;
			// SIGCONT at 900, cp-2 yields 10 ms later.
			steps:   []step{{400, 0b001, 0}, {510, 0b011, 0}, {200, 0b001, 0}},
			episode: episode("stall", 0, 100, 900),
		},
		{
			name:     "stalled master: overlap not resolved after SIGCONT",
			steps:    []step{{400, 0b001, 0}, {800, 0b011, 0}, {200, 0b001, 0}},
			episode:  episode("stall", 0, 100, 900),
			failures: []string{"two holders for 295ms after it was undone"},
		},
		{
			name:     "killed master: nobody takes over",
			steps:    []step{{1200, 0b001, 0}},
			episode:  episode("kill", 0, 100, 1000),
			failures: []string{"no live holder for 895ms during kill cp-1"},
		},
		{
			name: "cut backup: its split brain heals after the cable is back",
			// Master on its side from 400; cable back at 500; it yields
			// 50 ms later.
			steps:   []step{{400, 0b001, 0}, {150, 0b011, 0}, {200, 0b001, 0}},
			episode: episode("cut", 1, 100, 500),
		},
		{
			name:     "cut backup: its split brain does not heal",
			steps:    []step{{400, 0b001, 0}, {500, 0b011, 0}, {200, 0b001, 0}},
			episode:  episode("cut", 1, 100, 500),
			failures: []string{"two holders for 395ms after it was undone"},
		},
		{
			name: "loss on the master: a backup takes over for a while, the master keeps the VIP",
			// cp-1 lossy from 100 to 1100; cp-2 master beside it twice.
			steps:   []step{{300, 0b001, 0}, {50, 0b011, 0}, {400, 0b001, 0}, {150, 0b011, 0}, {500, 0b001, 0}},
			episode: episode("loss", 0, 100, 1100),
		},
		{
			name: "loss on a backup: the master's VIP never goes",
			// cp-2 lossy: it takes over beside cp-1 and steps down.
			steps:   []step{{300, 0b001, 0}, {80, 0b011, 0}, {700, 0b001, 0}},
			episode: episode("loss", 1, 100, 900),
		},
		{
			name:     "loss: a gap is not excused",
			steps:    []step{{300, 0b001, 0}, {200, 0b000, 0}, {700, 0b010, 0}},
			episode:  episode("loss", 0, 100, 1100),
			failures: []string{"no live holder for 195ms during loss cp-1"},
		},
		{
			name:     "oneway: the deaf node does not step down after the heal",
			steps:    []step{{400, 0b001, 0}, {1000, 0b011, 0}, {200, 0b001, 0}},
			episode:  episode("oneway", 1, 100, 1000),
			failures: []string{"two holders for 395ms after it was undone"},
		},
		{
			name:     "cut backup claims the VIP after the cable is back",
			steps:    []step{{600, 0b001, 0}, {300, 0b011, 0}, {200, 0b001, 0}},
			episode:  episode("cut", 1, 100, 500),
			failures: []string{"two live holders for 295ms during cut cp-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples, end := observe(tt.steps...)
			r := analyzeChaos(samples, []*chaosEpisode{tt.episode}, 1, end, func(time.Time, time.Time) time.Duration { return 0 })
			if len(r.failures) != len(tt.failures) {
				t.Fatalf("failures %q, want %d like %q", r.failures, len(tt.failures), tt.failures)
			}
			for i, want := range tt.failures {
				if !strings.Contains(r.failures[i], want) {
					t.Errorf("failure %q, want it to say %q", r.failures[i], want)
				}
			}
		})
	}
}
