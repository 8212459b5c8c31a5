package bench

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/vrrp"
)

// The sections of the network faults, one per figure: each lists every
// fault, vipd beside keepalived.
const (
	secFaultChanges = "Network faults: master changes"
	secFaultTwo     = "Network faults: longest time with two holders"
	secFaultNone    = "Network faults: longest time with no holder"
	secFaultShare   = "Network faults: time with no holder and with two"
	secFaultClient  = "Network faults: a client of the VIP"
)

// faultInterval is the advert interval of the fault runs, the lab's usual.
const faultInterval = 100 * time.Millisecond

// faultSample is how often the holders of the VIP are sampled.
const faultSample = 5 * time.Millisecond

// A faultCase is one misbehaviour of the segment, or of a node, and the
// virtual router it is measured on.
type faultCase struct {
	name string
	// ipv6: VRRPv3 over IPv6 with VIP 2001:db8::100; else IPv4 with
	// 192.0.2.100. unicast: adverts to the peers' addresses.
	ipv6, unicast bool
	// three: a third node, cp-3 (priority 230), backs cp-2.
	three bool
	// wire: cp-1 is cabled through a lab.Wire, for inject to impair.
	wire bool
	// gaps: count the gaps in cp-1's adverts on the bridge that let cp-2
	// take over; only for faults that act before the bridge (cp-1's
	// link), so that the bridge sees what cp-2 hears.
	gaps bool
	// snooping: the bridge snoops IGMP and MLD, with a querier, from
	// before the daemons start.
	snooping bool
	// window is how long the fault lasts; inject starts it and returns
	// what ends it.
	window time.Duration
	inject func(t *testing.T, f *faultLab) (heal func())
}

// faultLab is the segment of a fault case: cp-1 (priority 250), cp-2
// (240) and, with three, cp-3 (230), at 192.0.2.11, .12, .13 and
// 2001:db8::11, ::12, ::13, and a client at .50 and ::50.
type faultLab struct {
	lab    *lab.Lab
	cp     []*lab.Host
	client *lab.Host
	wire   *lab.Wire
	d      []*daemon
}

// faultPriorities are the priorities of cp-1, cp-2 and cp-3.
var faultPriorities = []int{prio1, prio2, 230}

var (
	faultVIP4 = netip.MustParsePrefix("192.0.2.100/24")
	faultVIP6 = netip.MustParsePrefix("2001:db8::100/64")
)

func (c faultCase) vip() netip.Prefix {
	if c.ipv6 {
		return faultVIP6
	}
	return faultVIP4
}

// faultCases are the faults, each held for its window and then undone.
func faultCases() []faultCase {
	loss := func(pct float64) func(*testing.T, *faultLab) func() {
		return func(t *testing.T, f *faultLab) func() {
			fault := f.lab.Loss(t, f.cp[0], pct)
			return func() { fault.Heal(t) }
		}
	}
	impair := func(imp lab.Impairment) func(*testing.T, *faultLab) func() {
		return func(t *testing.T, f *faultLab) func() {
			f.wire.Set(lab.BothWays, imp)
			return func() { f.wire.Set(lab.BothWays, lab.Impairment{}) }
		}
	}
	oneWay := func(from, to int) func(*testing.T, *faultLab) func() {
		return func(t *testing.T, f *faultLab) func() {
			fault := f.lab.OneWay(t, f.cp[from], f.cp[to])
			return func() { fault.Heal(t) }
		}
	}
	dropMulticast := func(t *testing.T, f *faultLab) func() {
		fault := f.lab.DropMulticast(t)
		return func() { fault.Heal(t) }
	}
	// Three stalls of a second, a second apart.
	stalls := func(stall, resume func(*faultLab)) func(*testing.T, *faultLab) func() {
		return func(t *testing.T, f *faultLab) func() {
			for range 3 {
				stall(f)
				time.Sleep(time.Second)
				resume(f)
				time.Sleep(time.Second)
			}
			return func() {}
		}
	}
	signal := func(sig syscall.Signal) func(*faultLab) {
		return func(f *faultLab) { f.d[1].signal(sig) }
	}
	return []faultCase{
		{name: "loss 1 % on cp-1's link, both ways", gaps: true, window: 10 * time.Second, inject: loss(1)},
		{name: "loss 10 % on cp-1's link, both ways", gaps: true, window: 20 * time.Second, inject: loss(10)},
		{name: "loss 30 % on cp-1's link, both ways", gaps: true, window: 20 * time.Second, inject: loss(30)},
		{name: "delay 5–50 ms (uniform) on cp-1's link, both ways", wire: true, window: 4 * time.Second,
			inject: impair(lab.Impairment{Delay: 5 * time.Millisecond, Jitter: 45 * time.Millisecond})},
		{name: "delay 5–200 ms (uniform: frames overtake) on cp-1's link, both ways", wire: true, window: 4 * time.Second,
			inject: impair(lab.Impairment{Delay: 5 * time.Millisecond, Jitter: 195 * time.Millisecond})},
		{name: "reordering: 25 % of frames 150 ms late on cp-1's link, both ways", wire: true, window: 4 * time.Second,
			inject: impair(lab.Impairment{Reorder: 0.25, ReorderBy: 150 * time.Millisecond})},
		{name: "duplication: 50 % of frames twice on cp-1's link, both ways", wire: true, window: 4 * time.Second,
			inject: impair(lab.Impairment{Duplicate: 0.5})},
		{name: "one-way partition, 3 s: cp-2 does not hear cp-1, cp-1 hears cp-2", window: 3 * time.Second, inject: oneWay(0, 1)},
		{name: "one-way partition, 3 s: cp-1 does not hear cp-2, cp-2 hears cp-1", window: 3 * time.Second, inject: oneWay(1, 0)},
		{name: "one-way partition, 3 s, three nodes: cp-3 (230) does not hear cp-1 (250), cp-2 (240) hears both", three: true, window: 3 * time.Second, inject: oneWay(0, 2)},
		{name: "multicast snooping with an IGMP and MLD querier (query every 1 s, membership 2.5 s), VRRPv3 over IPv4", snooping: true, window: 6 * time.Second,
			inject: func(*testing.T, *faultLab) func() { return func() {} }},
		{name: "multicast snooping with an IGMP and MLD querier (query every 1 s, membership 2.5 s), VRRPv3 over IPv6", ipv6: true, snooping: true, window: 6 * time.Second,
			inject: func(*testing.T, *faultLab) func() { return func() {} }},
		{name: "multicast dropped for 3 s, unicast mode", unicast: true, window: 3 * time.Second, inject: dropMulticast},
		{name: "multicast dropped for 3 s, multicast mode (both must fail)", window: 3 * time.Second, inject: dropMulticast},
		{name: "cp-2's daemon stopped for 1 s (SIGSTOP, SIGCONT), 3 times: adverts arrive in bursts", window: 6 * time.Second,
			inject: stalls(signal(syscall.SIGSTOP), signal(syscall.SIGCONT))},
		{name: "cp-1's link holds frames for 1 s and then sends them at once, both ways, 3 times", wire: true, window: 6 * time.Second,
			inject: stalls(func(f *faultLab) { f.wire.Hold(lab.BothWays) }, func(f *faultLab) { f.wire.Release(lab.BothWays) })},
	}
}

// faultFigures are what one run of a fault measured.
type faultFigures struct {
	changes             int // transitions to master, from the daemons' logs
	longestTwo, noneMS  float64
	shareNone, shareTwo float64 // % of the time
	gaps                int     // of a Master_Down_Interval in cp-1's adverts
	moves               int     // of the client's neighbour entry for the VIP
	misdirected         float64 // ms the client's entry pointed at a node without the VIP
}

// faults runs each fault case against vipd and keepalived, each daemon on
// a segment of its own at the same time (the runs take seconds each, and
// neither daemon is busy), b.runs times, and adds a row per fault to each
// of the fault sections.
func (b *bench) faults(t *testing.T) {
	lab.RequireCommand(t, "nft")
	b.about[secFaultChanges] = fmt.Sprintf("Two nodes, cp-1 (priority 250) master and cp-2 (240) backup (and cp-3 (230) where a row says three nodes), VRRPv3 at advert %v, one VIP, 5 gratuitous ARPs on becoming master; "+
		"the same settings for both daemons, each pair on a segment of its own, run at the same time. "+
		"Once cp-2 has heard cp-1, the fault is made, held (each row says how long) and undone; the run ends once cp-1 alone has held the VIP for a second (at most 10 s after the fault was undone). "+
		"Loss is nftables on the bridge (numgen random: the frames cp-1 sends, before the bridge forwards them, and those it is sent); "+
		"delay, reordering, duplication and held frames come from a forwarder of the lab's own between cp-1 and the bridge (packet sockets, seeded random numbers); "+
		"a one-way partition is an nftables rule on the bridge. "+
		"Each figure is the median of %d runs (min–max) from the fault to the end of the run: here, the times a node became master, counted from the daemons' logs "+
		"(vipd's \"state changed ... to=MASTER\", keepalived's \"Entering MASTER STATE\"); a fault that needs no change makes none. "+
		"Under loss, the protocol lets cp-2 take over once for each time it heard nothing from cp-1 for its Master_Down_Interval (three adverts lost in a row, %v): "+
		"the gaps rows count them in cp-1's adverts captured on the bridge, which sees the frames cp-1's link let through, as cp-2 does.",
		faultInterval, b.runs, vrrp.MasterDownInterval(3, prio2, faultInterval).Round(10*time.Microsecond))
	b.about[secFaultTwo] = fmt.Sprintf("The same runs: which nodes hold the VIP is sampled every %v (netlink), and each stretch is counted from its first sample to the next that differs, so it may be one sample too long. "+
		"Two holders answer ARP for the VIP from two MACs: clients' traffic goes to either.", faultSample)
	b.about[secFaultNone] = "The same runs and samples: the longest time no node held the VIP."
	b.about[secFaultShare] = "The same runs and samples: the share of the time, from the fault to the end of the run, with no holder and with two holders."
	b.about[secFaultClient] = fmt.Sprintf("The same runs: a client (192.0.2.50, 2001:db8::50) pings the VIP every 10 ms, and the MAC its neighbour table holds for the VIP is sampled every %v. "+
		"A move is a change from one node's MAC to the other's: the client's connections to the VIP break at each. "+
		"The time misdirected is the time the client sent to a node that did not hold the VIP (its traffic for the VIP lost): "+
		"a node that took over announced the VIP, stepped down and let it go, and the client was not told to go back.", faultSample)

	for _, c := range faultCases() {
		t.Run(c.name, func(t *testing.T) {
			figs := make([][]faultFigures, len(impls)) // one element per goroutine
			t.Run("group", func(t *testing.T) {
				for i, im := range impls {
					t.Run(string(im), func(t *testing.T) {
						t.Parallel()
						f := newFaultLab(t, c)
						for run := range b.runs {
							figs[i] = append(figs[i], f.run(t, im, c, run))
						}
					})
				}
			})
			if t.Failed() {
				return
			}
			pick := func(i int, get func(faultFigures) float64) Summary {
				var xs []float64
				for _, f := range figs[i] {
					xs = append(xs, get(f))
				}
				return Summarize(xs)
			}
			row := func(section, name, unit string, get func(faultFigures) float64) Row {
				return Row{Section: section, Name: name, Unit: unit, Vipd: pick(0, get), Keepalived: pick(1, get)}
			}
			b.rows = append(b.rows, row(secFaultChanges, c.name, "changes", func(f faultFigures) float64 { return float64(f.changes) }))
			if c.gaps {
				b.rows = append(b.rows, row(secFaultChanges, c.name+": gaps in cp-1's adverts of a Master_Down_Interval or more", "gaps", func(f faultFigures) float64 { return float64(f.gaps) }))
			}
			b.rows = append(b.rows,
				row(secFaultTwo, c.name, "ms", func(f faultFigures) float64 { return f.longestTwo }),
				row(secFaultNone, c.name, "ms", func(f faultFigures) float64 { return f.noneMS }),
				row(secFaultShare, c.name+": no holder", "%", func(f faultFigures) float64 { return f.shareNone }),
				row(secFaultShare, c.name+": two holders", "%", func(f faultFigures) float64 { return f.shareTwo }),
				row(secFaultClient, c.name+": moves", "moves", func(f faultFigures) float64 { return float64(f.moves) }),
				row(secFaultClient, c.name+": time misdirected", "ms", func(f faultFigures) float64 { return f.misdirected }))
		})
	}
}

func newFaultLab(t *testing.T, c faultCase) *faultLab {
	t.Helper()
	f := &faultLab{lab: lab.New(t), cp: make([]*lab.Host, 2)}
	if c.three {
		f.cp = make([]*lab.Host, 3)
	}
	f.d = make([]*daemon, len(f.cp))
	for i := range f.cp {
		n := byte(11 + i)
		// MACs in order of the addresses, so that the link-local
		// addresses IPv6 adverts come from sort the same way.
		mac := net.HardwareAddr{0x02, 'v', 'l', 0, 0, n}
		f.cp[i] = f.lab.AddHostMAC(fmt.Sprintf("cp-%d", i+1), mac, fmt.Sprintf("192.0.2.%d/24", n), fmt.Sprintf("2001:db8::%d/64", n))
	}
	f.client = f.lab.AddHost("client", "192.0.2.50/24", "2001:db8::50/64")
	if c.wire {
		f.wire = f.cp[0].Wire(t, 1)
	}
	if c.snooping {
		f.lab.Snooping(t, lab.DefaultSnoopingTimers)
	}
	return f
}

// run measures one run of c with im and resets the segment.
func (f *faultLab) run(t *testing.T, im impl, c faultCase, run int) faultFigures {
	t.Helper()
	defer f.reset(t, c)
	vip := c.vip()
	f.d[0] = start(t, im, f.cp[0], faultConfig(im, c, 0))
	waitHolds(t, f.cp[0], []netip.Prefix{vip}, 10*time.Second)
	for i := 1; i < len(f.cp); i++ {
		f.d[i] = start(t, im, f.cp[i], faultConfig(im, c, i))
		f.d[i].ready()
	}
	// cp-2 hears cp-1 for a few intervals, and a snooping bridge has
	// its memberships, before the fault.
	time.Sleep(5 * faultInterval)
	ping := f.client.Exec(t.Context(), "ping", "-n", "-q", "-i", "0.01", "-W", "1", vip.Addr().String())
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ping.Process.Kill(); ping.Wait() }()
	w := lab.WatchHolders(t, faultSample, vip.Addr(), f.cp...)
	defer w.Stop()
	nw := lab.WatchNeighbour(t, faultSample, f.client, vip.Addr())
	defer nw.Stop()
	var capture *lab.Capture
	if c.gaps {
		capture = f.lab.Capture(t, "vrrp")
	}
	time.Sleep(5 * faultInterval)

	began := time.Now()
	heal := c.inject(t, f)
	if rest := c.window - time.Since(began); rest > 0 {
		time.Sleep(rest)
	}
	heal()
	healed := time.Now()
	// The end: cp-1 alone has held the VIP for a second.
	var since time.Time
	_, settled := w.WaitFor(healed, 10*time.Second, func(s lab.HolderSample) bool {
		if s.Mask != 1 {
			since = time.Time{}
			return false
		}
		if since.IsZero() {
			since = s.At
		}
		return s.At.Sub(since) >= time.Second
	})
	w.Stop()
	nw.Stop()
	if !settled {
		t.Logf("%s, %s, run %d: cp-1 did not hold the VIP alone for a second within 10s of the fault's end", c.name, im, run+1)
	}
	samples, err := w.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	h := lab.SummarizeHolders(samples)
	neigh, err := nw.Samples(began)
	if err != nil {
		t.Fatal(err)
	}
	moves, _ := lab.NeighbourMoves(neigh)
	var macs []string
	changes := 0
	for i, h := range f.cp {
		macs = append(macs, h.HardwareAddr().String())
		changes += f.d[i].masterChanges(began)
	}
	fig := faultFigures{
		misdirected: ms(lab.Misdirected(neigh, samples, macs)),
		gaps:        advertGaps(t, capture, began, vrrp.MasterDownInterval(3, prio2, faultInterval)),
		moves:       moves,
		changes:     changes,
		longestTwo:  ms(h.LongestTwo),
		noneMS:      ms(h.LongestNone),
		shareNone:   100 * h.Time[0].Seconds() / h.Total().Seconds(),
		shareTwo:    100 * h.Time[2].Seconds() / h.Total().Seconds(),
	}
	t.Logf("%s, %s, run %d: %d master changes (%d gaps), two holders %s ms at the longest (%.1f %% of %v), none %s ms (%.1f %%); client: %d moves, %s ms misdirected; %d samples, the slowest gap %v",
		c.name, im, run+1, fig.changes, fig.gaps, Number(fig.longestTwo), fig.shareTwo, h.Total().Round(time.Millisecond),
		Number(fig.noneMS), fig.shareNone, fig.moves, Number(fig.misdirected), h.Samples, h.Slowest.Round(time.Millisecond))
	return fig
}

// advertGaps counts the gaps of mdi or more between cp-1's adverts in the
// capture, from since on; 0 without a capture.
func advertGaps(t *testing.T, c *lab.Capture, since time.Time, mdi time.Duration) int {
	t.Helper()
	if c == nil {
		return 0
	}
	frames, err := ReadPcap(c.Stop())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last time.Time
	for _, f := range frames {
		if a, ok := ParseAdvert(f.Data); !ok || a.Src != cp1IP || f.Time.Before(since) {
			continue
		}
		if !last.IsZero() && f.Time.Sub(last) >= mdi {
			n++
		}
		last = f.Time
	}
	return n
}

// reset kills the daemons and removes the VIP they left behind.
func (f *faultLab) reset(t *testing.T, c faultCase) {
	t.Helper()
	for i, d := range f.d {
		if d != nil {
			d.kill()
			f.d[i] = nil
		}
	}
	if f.wire != nil {
		f.wire.Release(lab.BothWays)
		f.wire.Set(lab.BothWays, lab.Impairment{})
	}
	f.client.Run(t, "ip", "-4", "neigh", "flush", "dev", "eth0")
	f.client.Run(t, "ip", "-6", "neigh", "flush", "dev", "eth0")
	vip := c.vip()
	for _, h := range f.cp {
		link, err := h.Handle().LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: vip.Addr().AsSlice(), Mask: net.CIDRMask(vip.Bits(), vip.Addr().BitLen())}}
		if h.HasAddr(t, "eth0", vip.Addr()) {
			if err := h.Handle().AddrDel(link, addr); err != nil {
				t.Fatalf("remove %v from %s: %v", vip, h.Name(), err)
			}
		}
	}
}

// faultConfig is node i's configuration file for c.
func faultConfig(im impl, c faultCase, i int) string {
	prio := faultPriorities[i]
	self := fmt.Sprintf("192.0.2.%d", 11+i)
	nodes := 2
	if c.three {
		nodes = 3
	}
	var peers []string
	for j := range nodes {
		if j != i {
			peers = append(peers, fmt.Sprintf("192.0.2.%d", 11+j))
		}
	}
	var b strings.Builder
	switch im {
	case implVipd:
		b.WriteString(daemonTable)
		fmt.Fprintf(&b, "[[instance]]\nname = \"api\"\nvrid = 51\ninterface = \"eth0\"\nversion = 3\nadvert_interval = %q\npriority = %d\nvips = [%q]\ngarp_repeat = 5\n",
			faultInterval, prio, c.vip())
		if c.unicast {
			fmt.Fprintf(&b, "unicast_source = %q\nunicast_peers = [\"%s\"]\n", self, strings.Join(peers, `", "`))
		}
	case implKeepalived:
		fmt.Fprintf(&b, "global_defs {\n\trouter_id cp-%d\n\tvrrp_version 3\n\tvrrp_garp_master_delay 0\n\tvrrp_garp_master_repeat 5\n}\n", i+1)
		fmt.Fprintf(&b, "vrrp_instance api {\n\tstate BACKUP\n\tinterface eth0\n\tvirtual_router_id 51\n\tpriority %d\n\tadvert_int %g\n", prio, faultInterval.Seconds())
		if c.unicast {
			fmt.Fprintf(&b, "\tunicast_src_ip %s\n\tunicast_peer {\n\t\t%s\n\t}\n", self, strings.Join(peers, "\n\t\t"))
		}
		fmt.Fprintf(&b, "\tvirtual_ipaddress {\n\t\t%v\n\t}\n}\n", c.vip())
	}
	return b.String()
}

// becameMaster matches the log line of a transition to master.
var becameMaster = map[impl]*regexp.Regexp{
	implVipd:       regexp.MustCompile(`msg="state changed".* to=MASTER`),
	implKeepalived: regexp.MustCompile(`Entering MASTER STATE`),
}

// masterChanges counts the daemon's transitions to master logged after
// since.
func (d *daemon) masterChanges(since time.Time) int {
	n := 0
	for _, ln := range d.log.since(since) {
		if becameMaster[d.impl].MatchString(ln.text) {
			n++
		}
	}
	return n
}

// signal sends sig to the daemon's process group: keepalived's parent and
// VRRP child, or vipd.
func (d *daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := syscall.Kill(-d.cmd.Process.Pid, sig); err != nil {
		d.t.Fatalf("%v to %s on %s: %v", sig, d.impl, d.host.Name(), err)
	}
}
