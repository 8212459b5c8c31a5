package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/netif"
)

var routedVIP = netip.MustParsePrefix("203.0.113.10/32")

// fakeSpeaker notes what it is asked in its host's journal.
type fakeSpeaker struct {
	h      *fakeHost
	mu     sync.Mutex
	routes map[netip.Prefix]bgp.Pref
}

func (s *fakeSpeaker) Run(ctx context.Context) error {
	s.h.note("speaker started")
	<-ctx.Done()
	s.h.note("speaker stopped")
	return nil
}

func (s *fakeSpeaker) Announce(p netip.Prefix, pref bgp.Pref) error {
	s.mu.Lock()
	s.routes[p] = pref
	s.mu.Unlock()
	s.h.note("announce %v med %d", p, pref.MED)
	return nil
}

func (s *fakeSpeaker) Withdraw(p netip.Prefix) error {
	s.mu.Lock()
	delete(s.routes, p)
	s.mu.Unlock()
	s.h.note("withdraw %v", p)
	return nil
}

func (s *fakeSpeaker) Status() bgp.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := bgp.Status{Running: true, ASN: 64512}
	for p, pref := range s.routes {
		st.Routes = append(st.Routes, bgp.Route{Prefix: p, Pref: pref})
	}
	return st
}

func routedInstance(announce string) config.Instance {
	return config.Instance{
		Name: "api", Interface: "lo", Priority: 250, VIPs: []netip.Prefix{routedVIP},
		Announce: announce, WithdrawDelay: 2 * time.Second, RouteTable: 254, RouteProtocol: 200,
		Track: []health.Track{{Check: "apiserver"}},
	}
}

// TestRoutedBGP: a routed instance binds and announces while healthy,
// withdraws at once when its check fails or it is drained, unbinds after
// the withdraw delay, and at shutdown withdraws, waits, unbinds and only
// then stops the speaker.
func TestRoutedBGP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		h.addIface("lo", 1)
		sp := &fakeSpeaker{h: h, routes: make(map[netip.Prefix]bgp.Pref)}
		cfg := Config{
			Checks:    []health.Spec{{Name: "apiserver"}},
			Instances: []config.Instance{routedInstance(config.AnnounceBGP)},
			BGP:       &bgp.Config{ASN: 64512},
		}
		d, stop := runDaemon(t, h, cfg, Options{NewSpeaker: func(bgp.Config, *slog.Logger) Speaker { return sp }})
		seen := 0
		step := func(what string, want ...string) {
			t.Helper()
			synctest.Wait()
			got := h.notes("add 203", "remove 203", "announce", "withdraw", "speaker stopped")[seen:]
			seen += len(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%s (-want +got)\n%s", what, diff)
			}
		}
		time.Sleep(time.Second)
		step("start", "add 203.0.113.10/32", "announce 203.0.113.10/32 med 5")
		if len(h.notes("speaker started")) != 1 {
			t.Fatal("the speaker did not start")
		}
		st := d.Status()
		if len(st.Routed) != 1 || st.Routed[0].State != control.StateAnnounced || st.Routed[0].MED != 5 || st.BGP == nil || len(st.BGP.Routes) != 1 {
			t.Fatalf("status: %+v, BGP %+v", st.Routed, st.BGP)
		}

		h.checks().set("apiserver", health.Unhealthy)
		step("check fails", "withdraw 203.0.113.10/32")
		if st := d.Status(); st.Routed[0].State != control.StateLeaving || len(st.Routed[0].FailingChecks) != 1 {
			t.Errorf("status with the check failing: %+v", st.Routed[0])
		}
		time.Sleep(2 * time.Second)
		step("withdraw delay", "remove 203.0.113.10/32")
		h.checks().set("apiserver", health.Healthy)
		step("check passes", "add 203.0.113.10/32", "announce 203.0.113.10/32 med 5")

		if _, err := d.Drain([]string{"api"}); err != nil {
			t.Fatal(err)
		}
		step("drained", "announce 203.0.113.10/32 med 4294967295")
		if st := d.Status(); !st.Routed[0].Drained {
			t.Errorf("status when drained: %+v", st.Routed[0])
		}
		if _, err := d.Resume(nil); err != nil {
			t.Fatal(err)
		}
		step("resumed", "add 203.0.113.10/32", "announce 203.0.113.10/32 med 5")

		start := time.Now()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		step("stop", "announce 203.0.113.10/32 med 4294967295", "withdraw 203.0.113.10/32", "remove 203.0.113.10/32", "speaker stopped")
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("stopping took %v, want the withdraw delay, 2s", d)
		}
	})
}

// TestRoutedNoBGP: a daemon without a speaker refuses instances announced
// over BGP, and runs those in a kernel table.
func TestRoutedNoBGP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		h.addIface("lo", 1)
		cfg := Config{Checks: []health.Spec{{Name: "apiserver"}}, Instances: []config.Instance{routedInstance(config.AnnounceBGP)}, BGP: &bgp.Config{ASN: 64512}}
		d := New(cfg, Options{System: h})
		if err := d.Run(context.Background(), nil); !errors.Is(err, ErrNoBGP) {
			t.Fatalf("Run = %v, want ErrNoBGP", err)
		}

		rt := &fakeRoutes{h: h}
		cfg = Config{Checks: []health.Spec{{Name: "apiserver"}}, Instances: []config.Instance{routedInstance(config.AnnounceRoute)}}
		_, stop := runDaemon(t, h, cfg, Options{Routes: rt})
		time.Sleep(time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		want := []string{
			// Left by a crash, if any.
			"route remove 203.0.113.10/32", "route remove local 203.0.113.10/32",
			// The VIP is a local route, not an address.
			"route add local 203.0.113.10/32 proto 200", "route add 203.0.113.10/32 table 254 proto 200 metric 5",
			"route add 203.0.113.10/32 table 254 proto 200 metric 4294967295",
			"route remove 203.0.113.10/32", "route remove local 203.0.113.10/32",
		}
		if diff := cmp.Diff(want, h.notes("add 203", "remove 203", "route")); diff != "" {
			t.Fatalf("(-want +got)\n%s", diff)
		}
	})
}

type fakeRoutes struct{ h *fakeHost }

func (r *fakeRoutes) Add(rt netif.Route) error {
	r.h.note("route add %v table %d proto %d metric %d", rt.Prefix, rt.Table, rt.Protocol, rt.Metric)
	return nil
}

func (r *fakeRoutes) Remove(rt netif.Route) error {
	r.h.note("route remove %v", rt.Prefix)
	return nil
}

func (r *fakeRoutes) AddLocal(p netip.Prefix, protocol int) error {
	r.h.note("route add local %v proto %d", p, protocol)
	return nil
}

func (r *fakeRoutes) RemoveLocal(p netip.Prefix, _ int) error {
	r.h.note("route remove local %v", p)
	return nil
}

// TestRoutedReload: a reload that changes the priority announces the new
// preference without withdrawing; one that removes the instance has it
// leave in the background, and the speaker stop with it.
func TestRoutedReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		h.addIface("lo", 1)
		sp := &fakeSpeaker{h: h, routes: make(map[netip.Prefix]bgp.Pref)}
		cfg := Config{
			Checks:    []health.Spec{{Name: "apiserver"}},
			Instances: []config.Instance{routedInstance(config.AnnounceBGP)},
			BGP:       &bgp.Config{ASN: 64512},
		}
		d, _ := runDaemon(t, h, cfg, Options{NewSpeaker: func(bgp.Config, *slog.Logger) Speaker { return sp }})
		time.Sleep(time.Second)
		filter := []string{"add 203", "remove 203", "announce", "withdraw", "speaker stopped"}
		seen := len(h.notes(filter...))
		later := func() []string {
			synctest.Wait()
			n := h.notes(filter...)[seen:]
			seen += len(n)
			return n
		}

		cfg.Instances[0].Priority = 240
		if err := d.Reload(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"add 203.0.113.10/32", "announce 203.0.113.10/32 med 15"}, later()); diff != "" {
			t.Errorf("reload of the priority (-want +got)\n%s", diff)
		}

		cfg.Instances = nil
		if err := d.Reload(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		want := []string{"announce 203.0.113.10/32 med 4294967295", "withdraw 203.0.113.10/32", "remove 203.0.113.10/32", "speaker stopped"}
		got := later()
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("reload without the instance (-want +got)\n%s", diff)
		}
		if st := d.Status(); len(st.Routed) != 0 || st.BGP != nil {
			t.Errorf("status after the reload: %+v, BGP %+v", st.Routed, st.BGP)
		}
	})
}
