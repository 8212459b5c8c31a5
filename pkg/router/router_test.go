package router

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// hub is an in-memory segment: every packet written by one node reaches the
// others, with TTL 255, unless the node's link is cut.
type hub struct {
	mu    sync.Mutex
	nodes []*fakeNode
}

type frame struct {
	b []byte
	p Packet
}

type fakeNode struct {
	hub  *hub
	addr netip.Addr
	in   chan frame

	mu       sync.Mutex
	cut      bool
	deadline chan struct{}
	sent     []vrrp.Advert

	addrs *fakeAddrs
	ann   *fakeAnnouncer
}

func (h *hub) node(addr string) *fakeNode {
	n := &fakeNode{hub: h, addr: netip.MustParseAddr(addr), in: make(chan frame, 64),
		deadline: make(chan struct{}), addrs: &fakeAddrs{bound: map[netip.Prefix]bool{}}, ann: &fakeAnnouncer{}}
	h.mu.Lock()
	h.nodes = append(h.nodes, n)
	h.mu.Unlock()
	return n
}

func (n *fakeNode) setCut(cut bool) {
	n.mu.Lock()
	n.cut = cut
	n.mu.Unlock()
}

func (n *fakeNode) WriteTo(b []byte, src, dst netip.Addr) error {
	var a vrrp.Advert
	if err := a.Unmarshal(b, src, dst); err != nil {
		return err
	}
	n.mu.Lock()
	cut := n.cut
	n.sent = append(n.sent, a)
	n.mu.Unlock()
	if cut {
		return nil
	}
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	for _, o := range n.hub.nodes {
		o.mu.Lock()
		ocut := o.cut
		o.mu.Unlock()
		if o != n && !ocut && (dst.IsMulticast() || dst == o.addr) {
			o.in <- frame{b: append([]byte(nil), b...), p: Packet{Src: src, Dst: dst, TTL: 255}}
		}
	}
	return nil
}

func (n *fakeNode) ReadEach(handle func([]byte, Packet)) error {
	n.mu.Lock()
	dl := n.deadline
	n.mu.Unlock()
	for {
		select {
		case f := <-n.in:
			handle(f.b, f.p)
		case <-dl:
			return os.ErrDeadlineExceeded
		}
	}
}

func (n *fakeNode) SetReadDeadline(time.Time) error {
	n.mu.Lock()
	close(n.deadline)
	n.mu.Unlock()
	return nil
}

// sentCount returns how many adverts n has sent.
func (n *fakeNode) sentCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.sent)
}

func (n *fakeNode) lastSent() vrrp.Advert {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent[len(n.sent)-1]
}

type fakeAddrs struct {
	mu    sync.Mutex
	bound map[netip.Prefix]bool
	lists int // calls of List
	// events, if set, gets each change at once, as the kernel's address
	// events may reach the daemon before the change's caller goes on.
	events func(p netip.Prefix, added bool)
}

func (f *fakeAddrs) Add(_ int, p netip.Prefix, _ string) error {
	f.mu.Lock()
	f.bound[p] = true
	ev := f.events
	f.mu.Unlock()
	if ev != nil {
		ev(p, true)
	}
	return nil
}

func (f *fakeAddrs) Remove(_ int, p netip.Prefix) error {
	f.mu.Lock()
	delete(f.bound, p)
	ev := f.events
	f.mu.Unlock()
	if ev != nil {
		ev(p, false)
	}
	return nil
}

func (f *fakeAddrs) List(int) ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	var out []netip.Prefix
	for p := range f.bound {
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeAddrs) holds(p netip.Prefix) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bound[p]
}

type fakeAnnouncer struct {
	mu     sync.Mutex
	rounds int
	last   time.Time
	// onAnnounce, if set, is called with each round.
	onAnnounce func()
}

func (f *fakeAnnouncer) count() (int, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rounds, f.last
}

func (f *fakeAnnouncer) Announce([]netip.Addr) error {
	f.mu.Lock()
	f.rounds++
	f.last = time.Now()
	on := f.onAnnounce
	f.mu.Unlock()
	if on != nil {
		on()
	}
	return nil
}

var vip = netip.MustParsePrefix("192.0.2.100/24")

// start runs a router and its listener for node n until the returned
// cancel is called; cancel waits for the router to resign.
func start(t *testing.T, n *fakeNode, prio uint8, interval time.Duration, preempt bool) (*Router, *Listener, context.CancelFunc) {
	t.Helper()
	return startSleeper(t, n, prio, interval, preempt, nil)
}

// startSleeper is start with a Sleeper for the router.
func startSleeper(t *testing.T, n *fakeNode, prio uint8, interval time.Duration, preempt bool, sl Sleeper) (*Router, *Listener, context.CancelFunc) {
	t.Helper()
	return startConfig(t, n, Config{
		Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0", Label: "eth0:vipd",
		Machine:    vrrp.Config{Version: 3, Priority: prio, Interval: interval, Preempt: preempt, Primary: n.addr},
		VIPs:       []netip.Prefix{vip},
		GARPRepeat: 5,
	}, sl)
}

// startConfig runs a router of cfg on n, with a Listener, until the test
// ends or the returned function stops it.
func startConfig(t *testing.T, n *fakeNode, cfg Config, sl Sleeper) (*Router, *Listener, context.CancelFunc) {
	t.Helper()
	return startDeps(t, n, cfg, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann, Sleeper: sl})
}

// startDeps is startConfig with the router's Deps given.
func startDeps(t *testing.T, n *fakeNode, cfg Config, deps Deps) (*Router, *Listener, context.CancelFunc) {
	t.Helper()
	rt := New(cfg, deps)
	l := NewListener(n, nil)
	if err := l.Add(rt); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	lctx, lcancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { rt.Run(ctx); done <- struct{}{} }()
	go func() { l.Run(lctx); done <- struct{}{} }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			lcancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return rt, l, stop
}

func TestElectionAndFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = 100 * time.Millisecond
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		ra, _, _ := start(t, a, 250, ivl, true)
		rb, _, _ := start(t, b, 240, ivl, true)

		// Both start as backups; A's skew is shorter, so A takes over.
		time.Sleep(time.Second)
		synctest.Wait()
		if got := ra.Status().State; got != vrrp.Master {
			t.Fatalf("A is %v, want MASTER", got)
		}
		if got := rb.Status().State; got != vrrp.Backup {
			t.Fatalf("B is %v, want BACKUP", got)
		}
		if !a.addrs.holds(vip) || b.addrs.holds(vip) {
			t.Fatalf("VIP held by A=%v B=%v, want A only", a.addrs.holds(vip), b.addrs.holds(vip))
		}
		if roundsOf(a) != 5 {
			t.Errorf("A announced %d rounds, want 5", roundsOf(a))
		}
		if got := rb.Status().Master; got != a.addr {
			t.Errorf("B follows %v, want %v", got, a.addr)
		}

		// Cut A's link: B takes over exactly Master_Down_Interval after
		// the last advert it heard.
		a.setCut(true)
		cutAt := time.Now()
		for rb.Status().State != vrrp.Master {
			time.Sleep(time.Millisecond)
		}
		took := lastAnnounce(b).Sub(cutAt)
		bound := vrrp.MasterDownInterval(3, 240, ivl)
		if took > bound || took < bound-ivl {
			t.Errorf("B took over %v after the cut, want within (%v, %v]", took, bound-ivl, bound)
		}
		if !b.addrs.holds(vip) {
			t.Error("B does not hold the VIP after takeover")
		}
	})
}

// fakeSleeper sleeps on the bubble's clock and says when it starts.
type fakeSleeper struct{ sleeping chan time.Time }

func (f *fakeSleeper) SleepUntil(at time.Time) error {
	f.sleeping <- at
	time.Sleep(time.Until(at))
	return nil
}

// TestSleeperBeforeTakeover: with a Sleeper, a backup's timer wakes it
// early and it sleeps the rest of the way to the deadline; an advert that
// comes meanwhile still counts, and the takeover happens on the deadline.
func TestSleeperBeforeTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = 100 * time.Millisecond
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		sl := &fakeSleeper{sleeping: make(chan time.Time, 1)}
		ra, _, _ := start(t, a, 250, ivl, true)
		rb, _, _ := startSleeper(t, b, 240, ivl, true, sl)
		time.Sleep(time.Second)
		synctest.Wait()
		if ra.Status().State != vrrp.Master || rb.Status().State != vrrp.Backup {
			t.Fatalf("A=%v B=%v, want A master", ra.Status().State, rb.Status().State)
		}
		select {
		case at := <-sl.sleeping:
			t.Fatalf("B slept until %v while A advertised", at)
		default:
		}

		// A goes silent: B sleeps to its deadline. An advert from A
		// during that sleep moves the deadline: no takeover.
		a.setCut(true)
		deadline := <-sl.sleeping
		if left := time.Until(deadline); left <= 0 || left > early {
			t.Fatalf("B sleeps %v before its deadline, want up to %v", left, early)
		}
		adv := vrrp.Advert{Version: 3, VRID: 51, Priority: 250, Interval: ivl, Addrs: []netip.Addr{vip.Addr()}}
		pkt, err := adv.Append(nil, a.addr, vrrp.GroupIPv4)
		if err != nil {
			t.Fatal(err)
		}
		b.in <- frame{b: pkt, p: Packet{Src: a.addr, Dst: vrrp.GroupIPv4, TTL: 255}}
		heard := time.Now()
		synctest.Wait()
		time.Sleep(time.Until(deadline) + time.Millisecond)
		synctest.Wait()
		if got := rb.Status().State; got != vrrp.Backup {
			t.Fatalf("B is %v after an advert heard during its sleep, want BACKUP", got)
		}

		// Then nothing: B takes over on its deadline to the nanosecond.
		deadline = <-sl.sleeping
		if want := heard.Add(vrrp.MasterDownInterval(3, 240, ivl)); !deadline.Equal(want) {
			t.Fatalf("B sleeps until %v, want %v", deadline, want)
		}
		time.Sleep(time.Until(deadline))
		synctest.Wait()
		if got := rb.Status().State; got != vrrp.Master {
			t.Fatalf("B is %v at its deadline, want MASTER", got)
		}
		if _, at := b.ann.count(); !at.Equal(deadline) {
			t.Fatalf("B announced at %v, want its deadline %v", at, deadline)
		}
	})
}

func TestGracefulStopHandsOverAfterSkew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = time.Second
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		ra, _, stopA := start(t, a, 250, ivl, true)
		rb, _, _ := start(t, b, 100, ivl, true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if ra.Status().State != vrrp.Master {
			t.Fatalf("A is %v, want MASTER", ra.Status().State)
		}
		stoppedAt := time.Now()
		stopA()
		if got := a.lastSent().Priority; got != 0 {
			t.Fatalf("A's last advert has priority %d, want 0", got)
		}
		if a.addrs.holds(vip) {
			t.Fatal("A still holds the VIP after stopping")
		}
		for rb.Status().State != vrrp.Master {
			time.Sleep(time.Millisecond)
		}
		skew := vrrp.SkewTime(3, 100, ivl)
		if took := lastAnnounce(b).Sub(stoppedAt); took != skew {
			t.Errorf("B took over %v after the priority-0 advert, want skew time %v", took, skew)
		}
	})
}

func TestPreemption(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		t.Run(map[bool]string{true: "preempt", false: "nopreempt"}[preempt], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const ivl = 100 * time.Millisecond
				h := &hub{}
				a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
				rb, _, _ := start(t, b, 100, ivl, preempt)
				time.Sleep(time.Second)
				if rb.Status().State != vrrp.Master {
					t.Fatalf("B alone is %v, want MASTER", rb.Status().State)
				}
				// A better node joins.
				ra, _, _ := start(t, a, 250, ivl, preempt)
				time.Sleep(2 * time.Second)
				synctest.Wait()
				want := vrrp.Master
				if !preempt {
					want = vrrp.Backup
				}
				if got := ra.Status().State; got != want {
					t.Fatalf("A is %v, want %v", got, want)
				}
				if a.addrs.holds(vip) == b.addrs.holds(vip) {
					t.Fatalf("VIP held by A=%v B=%v, want exactly one", a.addrs.holds(vip), b.addrs.holds(vip))
				}
			})
		})
	}
}

func TestPriorityDropLetsBackupPreempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = 100 * time.Millisecond
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		ra, _, _ := start(t, a, 250, ivl, true)
		rb, _, _ := start(t, b, 240, ivl, true)
		time.Sleep(time.Second)
		if ra.Status().State != vrrp.Master {
			t.Fatal("A is not master")
		}
		ra.SetHealth(Health{Priority: 200})
		synctest.Wait()
		if got := a.lastSent().Priority; got != 200 {
			t.Fatalf("A advertised %d after the drop, want 200 at once", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if rb.Status().State != vrrp.Master || ra.Status().State != vrrp.Backup {
			t.Fatalf("A=%v B=%v, want B master", ra.Status().State, rb.Status().State)
		}
	})
}

func TestListenerDropsWithReason(t *testing.T) {
	h := &hub{}
	n := h.node("192.0.2.12")
	rt := New(Config{
		Instance: "api", VRID: 51,
		Machine: vrrp.Config{Version: 3, Priority: 100, Interval: time.Second, Preempt: true, Primary: n.addr},
		VIPs:    []netip.Prefix{vip},
	}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann})
	l := NewListener(n, nil)
	if err := l.Add(rt); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(rt); err == nil {
		t.Fatal("second router on VRID 51 accepted")
	}
	src, dst := netip.MustParseAddr("192.0.2.11"), vrrp.GroupIPv4
	good := vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{vip.Addr()}}
	enc := func(a vrrp.Advert) []byte {
		b, err := a.Append(nil, src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	otherVRID := good
	otherVRID.VRID = 52
	otherAddrs := good
	otherAddrs.Addrs = []netip.Addr{netip.MustParseAddr("192.0.2.200")}
	badSum := enc(good)
	badSum[6] ^= 0xff
	tests := []struct {
		name string
		b    []byte
		ttl  int
		want vrrp.DropReason
	}{
		{"valid", enc(good), 255, vrrp.DropNone},
		{"ttl", enc(good), 64, vrrp.DropTTL},
		{"checksum", badSum, 255, vrrp.DropChecksum},
		{"truncated", enc(good)[:10], 255, vrrp.DropTooShort},
		{"unknown vrid", enc(otherVRID), 255, vrrp.DropUnknownVRID},
		{"address mismatch", enc(otherAddrs), 255, vrrp.DropAddrMismatch},
		{"address mismatch again", enc(otherAddrs), 255, vrrp.DropAddrMismatch},
	}
	var a vrrp.Advert
	for _, tt := range tests {
		if got := l.handle(time.Now(), tt.b, Packet{Src: src, Dst: dst, TTL: tt.ttl}, &a); got != tt.want {
			t.Errorf("%s: dropped for %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := l.Dropped(vrrp.DropAddrMismatch); got != 2 {
		t.Errorf("address mismatches counted %d, want 2", got)
	}
	if got := len(l.reported); got != 1 {
		t.Errorf("collision reported for %d sources, want 1 (once per source)", got)
	}
	// The backlog drops are the socket's overflow count, which comes
	// with the packets read.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	n.in <- frame{b: enc(good), p: Packet{Src: src, Dst: dst, TTL: 255, Overflows: 7}}
	for deadline := time.Now().Add(5 * time.Second); l.Dropped(vrrp.DropBacklog) != 7; {
		if time.Now().After(deadline) {
			t.Fatalf("backlog drops %d, want the socket's 7", l.Dropped(vrrp.DropBacklog))
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestFloodDoesNotDelayValidAdverts interleaves a flood of invalid packets
// with the master's adverts: the backup must never take over.
func TestFloodDoesNotDelayValidAdverts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = 100 * time.Millisecond
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		attacker := h.node("192.0.2.66")
		ra, _, _ := start(t, a, 250, ivl, true)
		rb, lb, _ := start(t, b, 240, ivl, true)
		time.Sleep(time.Second)
		junk := vrrp.Advert{Version: 3, VRID: 51, Priority: 255, Interval: ivl, Addrs: []netip.Addr{vip.Addr()}}
		pkt, _ := junk.Append(nil, attacker.addr, vrrp.GroupIPv4)
		pkt[7] ^= 1 // bad checksum
		for range 50 {
			for range 200 {
				b.in <- frame{b: pkt, p: Packet{Src: attacker.addr, Dst: vrrp.GroupIPv4, TTL: 255}}
				synctest.Wait()
			}
			time.Sleep(ivl / 2)
			if ra.Status().State != vrrp.Master || rb.Status().State != vrrp.Backup {
				t.Fatalf("state changed under flood: A=%v B=%v", ra.Status().State, rb.Status().State)
			}
		}
		if got := lb.Dropped(vrrp.DropChecksum); got != 10000 {
			t.Errorf("checksum drops %d, want 10000", got)
		}
	})
}

func TestGARPRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a := h.node("192.0.2.11")
		rt := New(Config{
			Instance: "api", VRID: 51,
			Machine:     vrrp.Config{Version: 3, Priority: 255, Interval: time.Second, Preempt: true, Primary: a.addr},
			VIPs:        []netip.Prefix{vip},
			GARPRepeat:  3,
			GARPRefresh: 10 * time.Second,
		}, Deps{Sender: a, Addrs: a.addrs, Announcer: a.ann})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { rt.Run(ctx); close(done) }()
		time.Sleep(time.Second)
		if roundsOf(a) != 3 {
			t.Fatalf("%d rounds on becoming master, want garp_repeat = 3", roundsOf(a))
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if roundsOf(a) != 3+3 {
			t.Fatalf("%d rounds after 31s, want 3 + one per 10s refresh", roundsOf(a))
		}
		cancel()
		<-done
	})
}

// TestAnnounceBeforeAdvert: a new master announces its VIPs once before
// its first advert, which makes an old master that hands over release them;
// the other rounds follow the advert, which they must not hold back.
func TestAnnounceBeforeAdvert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a := h.node("192.0.2.11")
		var advertsAt []int // adverts sent by each announcement round
		a.ann.onAnnounce = func() { advertsAt = append(advertsAt, a.sentCount()) }
		_, _, stop := start(t, a, 200, 100*time.Millisecond, true)
		time.Sleep(time.Second)
		stop()
		if want := []int{0, 1, 1, 1, 1}; fmt.Sprint(advertsAt) != fmt.Sprint(want) {
			t.Fatalf("adverts sent before each announcement round: %v, want %v", advertsAt, want)
		}
	})
}

// TestGARPDelay: a new master announces garp_repeat rounds at once and
// again garp_delay later, as keepalived's garp_master_delay; one that
// left mastership before then does not.
func TestGARPDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = 100 * time.Millisecond
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		run := func(n *fakeNode, prio uint8) *Router {
			rt, _, _ := startConfig(t, n, Config{
				Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0",
				Machine:    vrrp.Config{Version: 3, Priority: prio, Interval: ivl, Preempt: true, Primary: n.addr},
				VIPs:       []netip.Prefix{vip},
				GARPRepeat: 2,
				GARPDelay:  5 * time.Second,
			}, nil)
			return rt
		}
		ra := run(a, 200)
		time.Sleep(time.Second)
		if ra.Status().State != vrrp.Master || roundsOf(a) != 2 {
			t.Fatalf("A: %v with %d rounds, want master with garp_repeat = 2", ra.Status().State, roundsOf(a))
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if roundsOf(a) != 2 {
			t.Fatalf("%d rounds 4s after it, want still 2", roundsOf(a))
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if roundsOf(a) != 4 {
			t.Fatalf("%d rounds 6s after becoming master, want 2 + 2 at garp_delay", roundsOf(a))
		}

		// B, better, preempts A; later C, better still, preempts B
		// before B's garp_delay: B must not announce again.
		rb := run(b, 250)
		time.Sleep(time.Second)
		if rb.Status().State != vrrp.Master || ra.Status().State != vrrp.Backup {
			t.Fatalf("A %v, B %v: want B master", ra.Status().State, rb.Status().State)
		}
		bRounds := roundsOf(b)
		c := h.node("192.0.2.13")
		rc := run(c, 255)
		time.Sleep(time.Second)
		if rc.Status().State != vrrp.Master || rb.Status().State != vrrp.Backup {
			t.Fatalf("B %v, C %v: want C master", rb.Status().State, rc.Status().State)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if roundsOf(a) != 4 || roundsOf(b) != bRounds {
			t.Fatalf("rounds after leaving mastership: A %d (want 4), B %d (want %d)", roundsOf(a), roundsOf(b), bRounds)
		}
	})
}

// TestFaultHandsOverAndLastResort: a master whose check fails resigns and
// the backup takes over after its skew time; when the backup's check fails
// too, one of them keeps the VIP as a last resort; when a check recovers,
// that node takes the VIP back at its own priority.
func TestFaultHandsOverAndLastResort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = 100 * time.Millisecond
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		ra, _, _ := start(t, a, 250, ivl, true)
		rb, _, _ := start(t, b, 240, ivl, true)
		time.Sleep(time.Second)
		if ra.Status().State != vrrp.Master {
			t.Fatal("A is not master")
		}

		faultAt := time.Now()
		ra.SetHealth(Health{Priority: 250, Fault: vrrp.SoftFault})
		synctest.Wait()
		if got := a.lastSent().Priority; got != 0 {
			t.Fatalf("faulted master sent priority %d, want 0", got)
		}
		// Make before break: A keeps the VIP until B has taken over.
		for rb.Status().State != vrrp.Master {
			if !a.addrs.holds(vip) {
				t.Fatal("faulted master dropped the VIP before the backup took over")
			}
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		if a.addrs.holds(vip) {
			t.Fatal("faulted master still holds the VIP after the backup took over")
		}
		if took, skew := lastAnnounce(b).Sub(faultAt), vrrp.SkewTime(3, 240, ivl); took != skew {
			t.Errorf("B took over %v after the fault, want its skew time %v", took, skew)
		}
		if got := ra.Status().State; got != vrrp.Fault {
			t.Errorf("A is %v, want FAULT", got)
		}

		// Both fail: B resigns, nobody takes over, and B keeps the VIP
		// as a last resort at priority 1: it never vanishes.
		rb.SetHealth(Health{Priority: 240, Fault: vrrp.SoftFault})
		for range 2000 {
			time.Sleep(time.Millisecond)
			if !a.addrs.holds(vip) && !b.addrs.holds(vip) {
				t.Fatal("VIP vanished while every node was faulted")
			}
		}
		synctest.Wait()
		if !b.addrs.holds(vip) || rb.Status().State != vrrp.Master {
			t.Fatalf("B is %v, holds VIP %v; want the last-resort master", rb.Status().State, b.addrs.holds(vip))
		}
		if a.addrs.holds(vip) == b.addrs.holds(vip) {
			t.Fatalf("all faulted: VIP held by A=%v B=%v, want exactly one", a.addrs.holds(vip), b.addrs.holds(vip))
		}
		for _, st := range []Status{ra.Status(), rb.Status()} {
			if st.State == vrrp.Master && st.Priority != vrrp.LastResortPriority {
				t.Errorf("last-resort master advertises %d, want %d", st.Priority, vrrp.LastResortPriority)
			}
		}
		// Stable: no bouncing while everything fails.
		holderA := a.addrs.holds(vip)
		for range 20 {
			time.Sleep(ivl)
			if a.addrs.holds(vip) != holderA || a.addrs.holds(vip) == b.addrs.holds(vip) {
				t.Fatal("VIP bounced while every node was faulted")
			}
		}

		// A recovers: it takes the VIP at priority 250.
		ra.SetHealth(Health{Priority: 250})
		time.Sleep(time.Second)
		synctest.Wait()
		if ra.Status().State != vrrp.Master || !a.addrs.holds(vip) || b.addrs.holds(vip) {
			t.Fatalf("after A recovered: A=%v B=%v, VIP on A=%v B=%v", ra.Status().State, rb.Status().State, a.addrs.holds(vip), b.addrs.holds(vip))
		}
		if rb.Status().State != vrrp.Fault {
			t.Errorf("B is %v, want FAULT", rb.Status().State)
		}
	})
}

func roundsOf(n *fakeNode) int { r, _ := n.ann.count(); return r }

func lastAnnounce(n *fakeNode) time.Time { _, t := n.ann.count(); return t }

func TestReconfigureVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a := h.node("192.0.2.11")
		ra, _, _ := start(t, a, 250, 100*time.Millisecond, true)
		time.Sleep(time.Second)
		if ra.Status().State != vrrp.Master {
			t.Fatal("A is not master")
		}
		vip2 := netip.MustParsePrefix("192.0.2.101/24")
		next := ra.Config()
		if !Reconfigurable(ra.Config(), next) {
			t.Fatal("same config not reconfigurable")
		}
		next.VIPs = []netip.Prefix{vip2}
		next.Machine.Preempt = false
		if !Reconfigurable(ra.Config(), next) {
			t.Fatal("VIP and preempt change not reconfigurable")
		}
		before := roundsOf(a)
		ra.Reconfigure(next)
		synctest.Wait()
		if a.addrs.holds(vip) || !a.addrs.holds(vip2) {
			t.Fatalf("after reconfigure holds old=%v new=%v, want new only", a.addrs.holds(vip), a.addrs.holds(vip2))
		}
		if got := a.lastSent().Addrs; len(got) != 1 || got[0] != vip2.Addr() {
			t.Errorf("advertised %v, want [%v] at once", got, vip2.Addr())
		}
		if roundsOf(a) == before {
			t.Error("added VIP not announced")
		}
		if ra.Status().State != vrrp.Master {
			t.Error("master lost its state across a reconfigure")
		}
		other := ra.Config()
		other.VRID = 52
		if Reconfigurable(ra.Config(), other) {
			t.Error("VRID change reconfigurable in place")
		}
	})
}

func TestVIPGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		ra, _, _ := start(t, a, 250, 100*time.Millisecond, true)
		rb, _, _ := start(t, b, 240, 100*time.Millisecond, true)
		time.Sleep(time.Second)
		// Someone removes the VIP from the master: it comes back.
		a.addrs.Remove(0, vip)
		before := roundsOf(a)
		ra.CheckVIPs()
		synctest.Wait()
		if !a.addrs.holds(vip) {
			t.Fatal("VIP not put back on the master")
		}
		if roundsOf(a) == before {
			t.Error("restored VIP not announced")
		}
		// Someone binds the VIP on the backup: it goes.
		b.addrs.Add(0, vip, "")
		rb.CheckVIPs()
		synctest.Wait()
		if b.addrs.holds(vip) {
			t.Fatal("VIP left on the backup")
		}
		if c := ra.Status().Counters; c.GuardRestored != 1 {
			t.Errorf("master restored %d, want 1", c.GuardRestored)
		}
		if c := rb.Status().Counters; c.GuardRemoved != 1 {
			t.Errorf("backup removed %d, want 1", c.GuardRemoved)
		}

		// Kernel events: those that agree with the state cost no
		// listing; those that contradict it are acted on.
		lists := func(n *fakeNode) int {
			n.addrs.mu.Lock()
			defer n.addrs.mu.Unlock()
			return n.addrs.lists
		}
		la, lb := lists(a), lists(b)
		ra.VIPChanged(vip.Addr(), true)
		rb.VIPChanged(vip.Addr(), false)
		ra.VIPChanged(netip.MustParseAddr("192.0.2.99"), false) // not a VIP
		synctest.Wait()
		if lists(a) != la || lists(b) != lb {
			t.Errorf("events agreeing with the state listed addresses %d and %d times, want 0", lists(a)-la, lists(b)-lb)
		}
		a.addrs.Remove(0, vip)
		ra.VIPChanged(vip.Addr(), false)
		b.addrs.Add(0, vip, "")
		rb.VIPChanged(vip.Addr(), true)
		synctest.Wait()
		if !a.addrs.holds(vip) || b.addrs.holds(vip) {
			t.Fatalf("after contradicting events the VIP is on A=%v B=%v, want A only", a.addrs.holds(vip), b.addrs.holds(vip))
		}

		// A takeover's own binding, reported while the router is still
		// changing state, costs no listing either.
		for n, rt := range map[*fakeNode]*Router{a: ra, b: rb} {
			n.addrs.mu.Lock()
			n.addrs.events = func(p netip.Prefix, added bool) { rt.VIPChanged(p.Addr(), added) }
			n.addrs.mu.Unlock()
		}
		lb = lists(b)
		a.setCut(true)
		time.Sleep(time.Second)
		synctest.Wait()
		if rb.Status().State != vrrp.Master || !b.addrs.holds(vip) {
			t.Fatalf("B %v holding the VIP %v after A's link was cut, want MASTER holding it", rb.Status().State, b.addrs.holds(vip))
		}
		if n := lists(b) - lb; n != 0 {
			t.Errorf("B listed addresses %d times for its own takeover, want 0", n)
		}
	})
}

func TestConflictAnsweredAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		ra, _, _ := start(t, a, 250, time.Second, true)
		time.Sleep(5 * time.Second)
		// b claims mastership with a lower priority (a healed partition).
		sent := a.sentCount()
		adv := vrrp.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{vip.Addr()}}
		pkt, _ := adv.Append(nil, b.addr, vrrp.GroupIPv4)
		a.in <- frame{b: pkt, p: Packet{Src: b.addr, Dst: vrrp.GroupIPv4, TTL: 255}}
		synctest.Wait()
		if a.sentCount() <= sent {
			t.Fatal("master did not answer a lower-priority master at once")
		}
		if c := ra.Status().Counters; c.Conflicts != 1 {
			t.Errorf("conflicts %d, want 1", c.Conflicts)
		}
	})
}

// BenchmarkWaitingRouterMemory reports what a router waiting in Run holds
// once the collector has run: its goroutine stack (4 KiB, not the 8 KiB its
// start grew it to) and its heap, per router; hundreds of routers each hold
// both. Run it without the race detector, which enlarges stack frames:
// go test -run '^$' -bench WaitingRouterMemory -benchtime 1x ./pkg/router/
func BenchmarkWaitingRouterMemory(b *testing.B) {
	var stack, heap float64
	for range b.N {
		stack, heap = waitingRouterMemory(b)
	}
	b.ReportMetric(stack, "stack-B/router")
	b.ReportMetric(heap, "heap-B/router")
}

// waitingRouterMemory runs 200 routers to MASTER and returns the stack and
// heap each holds while it waits.
func waitingRouterMemory(b *testing.B) (stack, heap float64) {
	memory := func() (stacks, heap uint64) {
		runtime.GC() // shrinks stacks using under a quarter of their size
		s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64()
	}
	const n = 200
	h := &hub{}
	node := h.node("192.0.2.12")
	// Taking over and logging it grow a router's stack beyond 4 KiB.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stacksBefore, heapBefore := memory()
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	var rts []*Router
	for i := range n {
		rt := New(Config{
			Instance: fmt.Sprint("vip", i), VRID: uint8(i + 1), IfIndex: 2, Interface: "eth0", Label: "eth0:vipd",
			Machine:    vrrp.Config{Version: 3, Priority: 255, Interval: 100 * time.Millisecond, Primary: node.addr},
			VIPs:       []netip.Prefix{vip},
			GARPRepeat: 5,
		}, Deps{Sender: node, Addrs: node.addrs, Announcer: node.ann, Logger: log})
		rts = append(rts, rt)
		wg.Go(func() { rt.Run(ctx) })
	}
	for _, rt := range rts {
		for rt.State() != vrrp.Master {
			time.Sleep(time.Millisecond)
		}
	}
	// Each goroutine has been through its start; Ping returns once it
	// went round its loop.
	for _, rt := range rts {
		if err := rt.Ping(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	memory()
	stacks, heapNow := memory()
	runtime.KeepAlive(rts)
	cancel()
	wg.Wait()
	return float64(stacks-stacksBefore) / n, float64(heapNow-heapBefore) / n
}

// TestArrival: a packet's kernel timestamp moves its arrival back from the
// time it was read, keeping the monotonic clock, unless it is missing or
// says the wall clock stepped.
func TestArrival(t *testing.T) {
	now := time.Now() // with a monotonic reading
	wall := now.Round(0)
	tests := []struct {
		name     string
		received time.Time
		want     time.Duration // before now
	}{
		{"no timestamp", time.Time{}, 0},
		{"waited 300µs", wall.Add(-300 * time.Microsecond), 300 * time.Microsecond},
		{"from the future: clock stepped back", wall.Add(time.Millisecond), 0},
		{"waited 2s: clock stepped forward", wall.Add(-2 * time.Second), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := arrival(now, tt.received)
			if d := now.Sub(got); d != tt.want {
				t.Errorf("arrival %v before the read, want %v", d, tt.want)
			}
			if got.Round(0) == got {
				t.Error("arrival lost the monotonic clock reading")
			}
		})
	}
}

// pendingReader is a Reader that says whether packets are pending.
type pendingReader struct {
	*fakeNode
	pending bool
}

func (p pendingReader) Pending() bool { return p.pending }

// TestLateTimer: a backup whose timer is served well after its deadline
// counts it, and lets the Listener hand over the adverts it may still
// hold before it takes over: at once if none wait, after lateSettle if
// some may. Either way one line is logged per Listener and quiet period.
func TestLateTimer(t *testing.T) {
	for _, tt := range []struct {
		name    string
		reader  func(*fakeNode) Reader
		wait    time.Duration
		logLine string
	}{
		{"nothing waiting", func(n *fakeNode) Reader { return pendingReader{n, false} }, 0, "no advert waiting"},
		{"adverts waiting", func(n *fakeNode) Reader { return pendingReader{n, true} }, lateSettle, "reading waiting adverts"},
		{"reader cannot tell", func(n *fakeNode) Reader { return n }, lateSettle, "reading waiting adverts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const ivl = 100 * time.Millisecond
				n := (&hub{}).node("192.0.2.12")
				var logs bytes.Buffer
				l := NewListener(tt.reader(n), nil)
				var rts []*Router
				for vrid := range uint8(2) {
					rt := New(Config{
						Instance: fmt.Sprint("vip", vrid), VRID: 51 + vrid, IfIndex: 2, Interface: "eth0",
						Machine: vrrp.Config{Version: 3, Priority: 100, Interval: ivl, Primary: n.addr},
						VIPs:    []netip.Prefix{vip},
					}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
					if err := l.Add(rt); err != nil {
						t.Fatal(err)
					}
					rt.machine.Lock()
					rt.apply(rt.m.Start(time.Now()))
					rt.armed = rt.m.Deadline()
					rt.machine.Unlock()
					rts = append(rts, rt)
				}
				// Served 30 ms after the deadline, as in a stall or
				// behind hundreds of routers taking over.
				time.Sleep(time.Until(rts[0].armed) + 30*time.Millisecond)
				for _, rt := range rts {
					start := time.Now()
					rt.expire()
					if got := time.Since(start); got != tt.wait {
						t.Errorf("%v waited %v before acting, want %v", rt, got, tt.wait)
					}
					st := rt.Status()
					if st.State != vrrp.Master || st.Counters.LateTimers != 1 {
						t.Errorf("%v: %v with %d late timers, want MASTER and 1", rt, st.State, st.Counters.LateTimers)
					}
				}
				if got := strings.Count(logs.String(), "timer fired late"); got != 1 || !strings.Contains(logs.String(), tt.logLine) {
					t.Errorf("log:\n%s\nwant one late timer line saying %q", logs.String(), tt.logLine)
				}
			})
		})
	}
}

// refusingSender fails every send while refuse is set, as a master's
// adverts do behind a firewall that rejects them.
type refusingSender struct {
	*fakeNode
	refuse bool
}

func (s *refusingSender) WriteTo(b []byte, src, dst netip.Addr) error {
	if s.refuse {
		return fmt.Errorf("sendmsg: %w", os.ErrPermission)
	}
	return s.fakeNode.WriteTo(b, src, dst)
}

// TestSendFailuresLoggedOnce: a run of failed sends is logged once, and
// its end once; every failure is counted.
func TestSendFailuresLoggedOnce(t *testing.T) {
	n := (&hub{}).node("192.0.2.11")
	s := &refusingSender{fakeNode: n, refuse: true}
	var logs bytes.Buffer
	rt := New(Config{
		Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0",
		Machine: vrrp.Config{Version: 3, Priority: 100, Interval: time.Second, Primary: n.addr},
		VIPs:    []netip.Prefix{vip},
	}, Deps{Sender: s, Addrs: n.addrs, Announcer: n.ann, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 5 {
		rt.send(100)
	}
	s.refuse = false
	rt.send(100)
	rt.send(100)
	c := rt.Status().Counters
	if c.SendErrors != 5 || c.AdvertsOut != 2 {
		t.Errorf("counted %d send errors and %d adverts, want 5 and 2", c.SendErrors, c.AdvertsOut)
	}
	out := logs.String()
	if strings.Count(out, "cannot send advertisement") != 1 || strings.Count(out, "advertisements sent again") != 1 {
		t.Errorf("log:\n%s\nwant one line for the failures and one for the recovery", out)
	}
}
