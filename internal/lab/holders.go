package lab

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A HolderWatch samples, every period, which hosts have an address (a
// VIP) bound on eth0, with netlink handles of its own so that the test's
// own queries do not hold it up.
type HolderWatch struct {
	addr    netip.Addr
	family  int
	hosts   []*Host
	handles []*netlink.Handle
	links   []netlink.Link
	period  time.Duration

	mu      sync.Mutex
	samples []HolderSample
	err     error

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// A HolderSample is what a HolderWatch saw at one moment: bit i of Mask is
// set when the i-th host had the address bound.
type HolderSample struct {
	At   time.Time
	Mask uint64
}

// Count returns how many hosts held the address.
func (s HolderSample) Count() int { return bits.OnesCount64(s.Mask) }

// WatchHolders starts sampling hosts (at most 64) for addr every period;
// it stops with Stop or at cleanup.
func WatchHolders(t testing.TB, period time.Duration, addr netip.Addr, hosts ...*Host) *HolderWatch {
	t.Helper()
	if len(hosts) > 64 {
		t.Fatalf("lab: WatchHolders of %d hosts, at most 64", len(hosts))
	}
	w := &HolderWatch{addr: addr, family: netlink.FAMILY_V4, hosts: hosts, period: period,
		stop: make(chan struct{}), done: make(chan struct{})}
	if addr.Is6() {
		w.family = netlink.FAMILY_V6
	}
	for _, h := range hosts {
		hd, err := netlink.NewHandleAt(h.ns.nsh, unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatalf("lab: watch %s: netlink in %s: %v", addr, h.name, err)
		}
		t.Cleanup(hd.Close)
		link, err := hd.LinkByName("eth0")
		if err != nil {
			t.Fatalf("lab: watch %s: eth0 of %s: %v", addr, h.name, err)
		}
		w.handles = append(w.handles, hd)
		w.links = append(w.links, link)
	}
	go w.run()
	t.Cleanup(w.Stop)
	return w
}

func (w *HolderWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(w.period)
	defer tick.Stop()
	for {
		s := HolderSample{At: time.Now()}
		for i, hd := range w.handles {
			addrs, err := hd.AddrList(w.links[i], w.family)
			if err != nil {
				w.mu.Lock()
				w.err = fmt.Errorf("lab: watch %s: addresses of %s: %w", w.addr, w.hosts[i].name, err)
				w.mu.Unlock()
				return
			}
			for _, a := range addrs {
				if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == w.addr {
					s.Mask |= 1 << i
				}
			}
		}
		w.mu.Lock()
		w.samples = append(w.samples, s)
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

// Stop stops sampling and waits for the sampler; it may be called more
// than once.
func (w *HolderWatch) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// Samples returns the samples taken from from on (all of them for the
// zero time), and the sampler's error if it failed.
func (w *HolderWatch) Samples(from time.Time) ([]HolderSample, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.samples, from, func(s HolderSample, t time.Time) int { return s.At.Compare(t) })
	return slices.Clone(w.samples[i:]), w.err
}

// Latest returns the last sample, and whether there is one.
func (w *HolderWatch) Latest() (HolderSample, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == 0 {
		return HolderSample{}, false
	}
	return w.samples[len(w.samples)-1], true
}

// WaitFor waits until a sample taken after since satisfies ok, and returns
// it; false after timeout.
func (w *HolderWatch) WaitFor(since time.Time, timeout time.Duration, ok func(HolderSample) bool) (HolderSample, bool) {
	deadline := time.Now().Add(timeout)
	for {
		if s, found := w.Latest(); found && s.At.After(since) && ok(s) {
			return s, true
		}
		if time.Now().After(deadline) {
			return HolderSample{}, false
		}
		time.Sleep(w.period)
	}
}

// Holders sums up samples: how long the address had no holder, one, and
// two or more, the longest stretches without a holder and with two or
// more, and how often a host started to hold it. Each sample stands for
// the time until the next one, so every figure may be a sampling period
// too long (more when the sampler itself was late); the last sample
// counts for nothing.
type Holders struct {
	// Time is the time with 0, 1 and 2 or more holders.
	Time [3]time.Duration
	// LongestNone and LongestTwo are the longest stretches with no
	// holder and with two or more.
	LongestNone, LongestTwo time.Duration
	// Acquired counts the times a host started to hold the address,
	// after the first sample.
	Acquired int
	// Samples is the number of samples; Slowest the longest time
	// between two of them.
	Samples int
	Slowest time.Duration
}

// Total returns the time the samples cover.
func (h Holders) Total() time.Duration { return h.Time[0] + h.Time[1] + h.Time[2] }

// SummarizeHolders sums up samples; see Holders.
func SummarizeHolders(samples []HolderSample) Holders {
	h := Holders{Samples: len(samples)}
	none := func(s HolderSample) bool { return s.Count() == 0 }
	two := func(s HolderSample) bool { return s.Count() >= 2 }
	for i := 0; i+1 < len(samples); i++ {
		s, next := samples[i], samples[i+1]
		d := next.At.Sub(s.At)
		h.Slowest = max(h.Slowest, d)
		h.Time[min(s.Count(), 2)] += d
		h.LongestNone = max(h.LongestNone, stretch(samples, i, none))
		h.LongestTwo = max(h.LongestTwo, stretch(samples, i, two))
		h.Acquired += bits.OnesCount64(next.Mask &^ s.Mask)
	}
	return h
}

// stretch returns the length of the stretch of samples satisfying in that
// starts at i, if one does: from samples[i] to the first sample after it
// that does not satisfy in, or to the last sample.
func stretch(samples []HolderSample, i int, in func(HolderSample) bool) time.Duration {
	if !in(samples[i]) || i > 0 && in(samples[i-1]) {
		return 0
	}
	j := i + 1
	for j < len(samples)-1 && in(samples[j]) {
		j++
	}
	return samples[j].At.Sub(samples[i].At)
}

// A NeighbourWatch samples, every period, the MAC that a host's neighbour
// table holds for an address: where the host, a client of a VIP, sends
// its traffic for it.
type NeighbourWatch struct {
	addr   netip.Addr
	family int
	handle *netlink.Handle
	index  int
	period time.Duration

	mu      sync.Mutex
	samples []NeighbourSample
	err     error

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// A NeighbourSample is the MAC the neighbour table held at one moment, ""
// for none (no entry, or one not resolved).
type NeighbourSample struct {
	At  time.Time
	MAC string
}

// WatchNeighbour starts sampling client's neighbour entry for addr on
// eth0 every period; it stops with Stop or at cleanup.
func WatchNeighbour(t testing.TB, period time.Duration, client *Host, addr netip.Addr) *NeighbourWatch {
	t.Helper()
	w := &NeighbourWatch{addr: addr, family: unix.AF_INET, period: period, stop: make(chan struct{}), done: make(chan struct{})}
	if addr.Is6() {
		w.family = unix.AF_INET6
	}
	hd, err := netlink.NewHandleAt(client.ns.nsh, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("lab: watch neighbour %s: netlink in %s: %v", addr, client.name, err)
	}
	t.Cleanup(hd.Close)
	link, err := hd.LinkByName("eth0")
	if err != nil {
		t.Fatalf("lab: watch neighbour %s: eth0 of %s: %v", addr, client.name, err)
	}
	w.handle, w.index = hd, link.Attrs().Index
	go w.run()
	t.Cleanup(w.Stop)
	return w
}

func (w *NeighbourWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(w.period)
	defer tick.Stop()
	for {
		s := NeighbourSample{At: time.Now()}
		list, err := w.handle.NeighList(w.index, w.family)
		if err != nil {
			w.mu.Lock()
			w.err = fmt.Errorf("lab: watch neighbour %s: %w", w.addr, err)
			w.mu.Unlock()
			return
		}
		for _, n := range list {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == w.addr && len(n.HardwareAddr) > 0 {
				s.MAC = n.HardwareAddr.String()
			}
		}
		w.mu.Lock()
		w.samples = append(w.samples, s)
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

// Stop stops sampling and waits for the sampler; it may be called more
// than once.
func (w *NeighbourWatch) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// Samples returns the samples taken from from on, and the sampler's error
// if it failed.
func (w *NeighbourWatch) Samples(from time.Time) ([]NeighbourSample, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.samples, from, func(s NeighbourSample, t time.Time) int { return s.At.Compare(t) })
	return slices.Clone(w.samples[i:]), w.err
}

// NeighbourMoves counts the times the entry changed from one MAC to
// another (an entry appearing or going unresolved is not a move), and
// sums the time spent on each MAC, each sample standing for the time to
// the next.
func NeighbourMoves(samples []NeighbourSample) (moves int, on map[string]time.Duration) {
	on = make(map[string]time.Duration)
	last := ""
	for i, s := range samples {
		if i+1 < len(samples) && s.MAC != "" {
			on[s.MAC] += samples[i+1].At.Sub(s.At)
		}
		if s.MAC == "" {
			continue
		}
		if last != "" && s.MAC != last {
			moves++
		}
		last = s.MAC
	}
	return moves, on
}

// Misdirected returns the time, over the neighbour samples, that a client
// sent to a MAC whose host did not hold the address: its traffic for the
// VIP went nowhere. macs[i] is the MAC of the i-th host of the holder
// samples; a MAC of no host counts as misdirected, no MAC (unresolved)
// does not.
func Misdirected(neigh []NeighbourSample, holders []HolderSample, macs []string) time.Duration {
	var d time.Duration
	for i := 0; i+1 < len(neigh); i++ {
		s := neigh[i]
		if s.MAC == "" {
			continue
		}
		j, found := slices.BinarySearchFunc(holders, s.At, func(h HolderSample, t time.Time) int { return h.At.Compare(t) })
		if !found {
			j--
		}
		if j < 0 {
			continue // before the first holder sample
		}
		if k := slices.Index(macs, s.MAC); k < 0 || holders[j].Mask&(1<<k) == 0 {
			d += neigh[i+1].At.Sub(s.At)
		}
	}
	return d
}
