package routed

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

func TestTarget(t *testing.T) {
	cfg := Config{}
	for _, tc := range []struct {
		name     string
		cfg      Config
		h        router.Health
		announce bool
		pref     bgp.Pref
	}{
		{"first node", cfg, router.Health{Priority: 250}, true, bgp.Pref{MED: 5}},
		{"second node", cfg, router.Health{Priority: 240}, true, bgp.Pref{MED: 15}},
		{"a weight lowers the preference", cfg, router.Health{Priority: 220}, true, bgp.Pref{MED: 35}},
		{"as-path", Config{Prepend: true}, router.Health{Priority: 240}, true, bgp.Pref{MED: 15, Prepend: 1}},
		{"ecmp", Config{ECMP: true}, router.Health{Priority: 240}, true, bgp.Pref{MED: ECMPMED}},
		{"pending", cfg, router.Health{Priority: 250, Fault: vrrp.Pending}, false, bgp.Pref{}},
		{"check failed", cfg, router.Health{Priority: 250, Fault: vrrp.SoftFault}, false, bgp.Pref{}},
		{"drained", cfg, router.Health{Priority: 250, Fault: vrrp.Drained}, false, bgp.Pref{}},
		{"interface down", Config{ECMP: true}, router.Health{Priority: 250, Fault: vrrp.HardFault}, false, bgp.Pref{}},
	} {
		announce, pref, _ := Target(tc.cfg, tc.h)
		if announce != tc.announce || pref != tc.pref {
			t.Errorf("%s: Target = %v, %+v; want %v, %+v", tc.name, announce, pref, tc.announce, tc.pref)
		}
	}
}

// recorder is a fake Publisher and Addrs that records the calls in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) record(format string, args ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
	return nil
}

func (r *recorder) Announce(p netip.Prefix, pref bgp.Pref) error {
	return r.record("announce %s med %d", p, pref.MED)
}
func (r *recorder) Withdraw(p netip.Prefix) error             { return r.record("withdraw %s", p) }
func (r *recorder) Add(_ int, p netip.Prefix, _ string) error { return r.record("bind %s", p) }
func (r *recorder) Remove(_ int, p netip.Prefix) error        { return r.record("unbind %s", p) }

// take returns the calls since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vip := netip.MustParsePrefix("203.0.113.10/32")
		rec := &recorder{}
		inst := New(Config{Instance: "api", VIPs: []netip.Prefix{vip}, WithdrawDelay: 2 * time.Second}, rec, rec, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- inst.Run(ctx) }()
		step := func(what string, want ...string) {
			t.Helper()
			synctest.Wait()
			if diff := cmp.Diff(want, rec.take()); diff != "" {
				t.Fatalf("%s: calls (-want +got)\n%s", what, diff)
			}
		}
		state := func(want State) {
			t.Helper()
			if got := inst.Status().State; got != want {
				t.Fatalf("state %v, want %v", got, want)
			}
		}

		step("pending")
		state(Withdrawn)
		inst.SetHealth(router.Health{Priority: 250})
		step("healthy", "bind 203.0.113.10/32", "announce 203.0.113.10/32 med 5")
		state(Announced)
		inst.SetHealth(router.Health{Priority: 250})
		step("the same health")
		inst.SetHealth(router.Health{Priority: 220})
		step("a lower priority", "bind 203.0.113.10/32", "announce 203.0.113.10/32 med 35")

		// A failing check withdraws at once; the VIP goes after the
		// withdraw delay.
		start := time.Now()
		inst.SetHealth(router.Health{Priority: 250, Fault: vrrp.SoftFault})
		step("check failed", "withdraw 203.0.113.10/32")
		state(Leaving)
		time.Sleep(2*time.Second - time.Nanosecond)
		step("before the delay")
		time.Sleep(time.Nanosecond)
		step("after the delay", "unbind 203.0.113.10/32")
		state(Withdrawn)
		if st := inst.Status(); st.Withdrawals != 1 || st.Reason != "tracked check failed" || !st.Since.Equal(start.Add(2*time.Second)) {
			t.Errorf("status after the delay: %+v", st)
		}

		// Healthy again while leaving: announced again, not unbound.
		inst.SetHealth(router.Health{Priority: 250})
		step("healthy again", "bind 203.0.113.10/32", "announce 203.0.113.10/32 med 5")
		// A drain leaves make before break: the worst preference first.
		inst.SetHealth(router.Health{Priority: 250, Fault: vrrp.Drained})
		step("drained", "announce 203.0.113.10/32 med 4294967295")
		state(Leaving)
		time.Sleep(time.Second)
		inst.SetHealth(router.Health{Priority: 250})
		step("resumed", "bind 203.0.113.10/32", "announce 203.0.113.10/32 med 5")
		time.Sleep(2 * time.Second)
		step("no unbind left over")

		// A check fails while draining: withdrawn at once.
		inst.SetHealth(router.Health{Priority: 250, Fault: vrrp.Drained})
		step("drained again", "announce 203.0.113.10/32 med 4294967295")
		inst.SetHealth(router.Health{Priority: 250, Fault: vrrp.SoftFault})
		step("check fails while draining", "withdraw 203.0.113.10/32")
		time.Sleep(2 * time.Second)
		step("delay", "unbind 203.0.113.10/32")
		inst.SetHealth(router.Health{Priority: 250})
		step("healthy once more", "bind 203.0.113.10/32", "announce 203.0.113.10/32 med 5")

		// Stopping: the worst preference, wait, withdraw, unbind, return.
		cancel()
		step("stopping", "announce 203.0.113.10/32 med 4294967295")
		select {
		case <-done:
			t.Fatal("Run returned before the withdraw delay")
		default:
		}
		time.Sleep(2 * time.Second)
		step("stopped", "withdraw 203.0.113.10/32", "unbind 203.0.113.10/32")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if st := inst.Status(); st.State != Withdrawn || st.Withdrawals != 3 {
			t.Errorf("status after stopping: %+v", st)
		}
	})
}

func TestRunStopWithdrawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		inst := New(Config{Instance: "api", VIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.10/32")}, WithdrawDelay: time.Minute}, rec, rec, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := inst.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if calls := rec.take(); len(calls) != 0 {
			t.Errorf("a withdrawn instance that stops calls %v", calls)
		}
	})
}
