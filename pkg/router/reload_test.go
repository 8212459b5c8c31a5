package router

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// TestTransitionSeesNewPriority: what a transition hands out is the
// status after the change: a master whose interface fails is in FAULT at
// the last-resort priority, not its old one.
func TestTransitionSeesNewPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := (&hub{}).node("192.0.2.11")
		var mu sync.Mutex
		var seen []Status
		rt := New(Config{
			Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0",
			Machine: vrrp.Config{Version: 3, Priority: 150, Interval: 100 * time.Millisecond, Preempt: true, Primary: n.addr},
			VIPs:    []netip.Prefix{vip},
		}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann, OnTransition: func(st Status) {
			mu.Lock()
			seen = append(seen, st)
			mu.Unlock()
		}})
		runRouter(t, rt)
		time.Sleep(time.Second)
		rt.SetHealth(Health{Priority: 150, Fault: vrrp.LinkDown})
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		last := seen[len(seen)-1]
		if last.State != vrrp.Fault || last.Priority != vrrp.LastResortPriority {
			t.Fatalf("transition to %v handed out priority %d, want FAULT at %d", last.State, last.Priority, vrrp.LastResortPriority)
		}
	})
}

// runRouter runs rt until the test ends.
func runRouter(t *testing.T, rt *Router) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { rt.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestReconfigurePriority: a reload that changes the priority changes
// the base priority in status and in the configuration.
func TestReconfigurePriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := (&hub{}).node("192.0.2.11")
		ra, _, _ := start(t, a, 250, 100*time.Millisecond, true)
		time.Sleep(time.Second)
		next := ra.Config()
		next.Machine.Priority = 100
		if !Reconfigurable(ra.Config(), next) {
			t.Fatal("priority change not reconfigurable")
		}
		ra.Reconfigure(next)
		ra.SetHealth(Health{Priority: 100})
		synctest.Wait()
		if st := ra.Status(); st.BasePriority != 100 || st.Priority != 100 {
			t.Errorf("after the reload: base priority %d, effective %d; want 100 and 100", st.BasePriority, st.Priority)
		}
		if got := ra.Config().Machine.Priority; got != 100 {
			t.Errorf("configured priority %d after the reload, want 100", got)
		}
		// An address owner holds its VIPs as real addresses: becoming
		// one, or ceasing to be one, takes a new router.
		owner := next
		owner.Machine.Priority = 255
		if Reconfigurable(next, owner) || Reconfigurable(owner, next) {
			t.Error("a change to or from priority 255 is reconfigurable in place")
		}
	})
}

// failingAddrs refuses to bind one prefix.
type failingAddrs struct {
	*fakeAddrs
	refuse netip.Prefix
}

func (f failingAddrs) Add(ifindex int, p netip.Prefix, label string) error {
	if p == f.refuse {
		return errors.New("file exists")
	}
	return f.fakeAddrs.Add(ifindex, p, label)
}

// recordingAnnouncer keeps what it was asked to announce.
type recordingAnnouncer struct {
	mu  sync.Mutex
	got [][]netip.Addr
}

func (r *recordingAnnouncer) Announce(addrs []netip.Addr) error {
	r.mu.Lock()
	r.got = append(r.got, slices.Clone(addrs))
	r.mu.Unlock()
	return nil
}

func (r *recordingAnnouncer) announced(a netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, as := range r.got {
		if slices.Contains(as, a) {
			return true
		}
	}
	return false
}

// TestReconfigureAnnouncesBoundVIPs: a master that cannot bind a VIP
// added by a reload does not announce it, and counts the failure.
func TestReconfigureAnnouncesBoundVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := (&hub{}).node("192.0.2.11")
		bad, good := netip.MustParsePrefix("192.0.2.101/24"), netip.MustParsePrefix("192.0.2.102/24")
		ann := &recordingAnnouncer{}
		rt := New(Config{
			Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0",
			Machine: vrrp.Config{Version: 3, Priority: 255, Interval: 100 * time.Millisecond, Primary: n.addr},
			VIPs:    []netip.Prefix{vip},
		}, Deps{Sender: n, Addrs: failingAddrs{n.addrs, bad}, Announcer: ann})
		runRouter(t, rt)
		time.Sleep(time.Second)
		next := rt.Config()
		next.VIPs = []netip.Prefix{vip, bad, good}
		rt.Reconfigure(next)
		synctest.Wait()
		if ann.announced(bad.Addr()) {
			t.Errorf("%v announced though it could not be bound", bad)
		}
		if !ann.announced(good.Addr()) {
			t.Errorf("%v, bound, not announced", good)
		}
		if got := rt.Status().Counters.BindErrors; got != 1 {
			t.Errorf("bind errors %d, want 1", got)
		}
	})
}

// TestConfigReadersDuringReconfigure: the Listener, logs and the daemon
// read a router's configuration while a reload replaces it. Run with
// -race.
func TestConfigReadersDuringReconfigure(t *testing.T) {
	n := (&hub{}).node("192.0.2.12")
	rt := New(Config{
		Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0",
		Machine: vrrp.Config{Version: 3, Priority: 100, Interval: time.Second, Preempt: true, Primary: n.addr},
		VIPs:    []netip.Prefix{vip},
	}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann})
	l := NewListener(n, nil)
	if err := l.Add(rt); err != nil {
		t.Fatal(err)
	}
	runRouter(t, rt)
	src := netip.MustParseAddr("192.0.2.11")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			next := rt.Config()
			next.VIPs = []netip.Prefix{vip, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 24)}
			rt.Reconfigure(next)
			if err := rt.Ping(t.Context()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		var a vrrp.Advert
		for i := range 200 {
			// Another address list each time: each is reported.
			other := vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second,
				Addrs: []netip.Addr{netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})}}
			b, err := other.Append(nil, src, vrrp.GroupIPv4)
			if err != nil {
				t.Error(err)
				return
			}
			l.handle(time.Now(), b, Packet{Src: src, Dst: vrrp.GroupIPv4, TTL: 255}, &a)
			_ = rt.String()
			_ = rt.VRID()
		}
	})
	wg.Wait()
}
