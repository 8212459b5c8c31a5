package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
)

const ivl = 100 * time.Millisecond

var (
	vip100 = netip.MustParsePrefix("192.0.2.100/24")
	vip101 = netip.MustParsePrefix("192.0.2.101/24")
	vip102 = netip.MustParsePrefix("192.0.2.102/24")
)

// instance returns an instance on eth0 at priority prio.
func instance(name string, vrid, prio uint8, vips ...netip.Prefix) config.Instance {
	return config.Instance{
		Name: name, VRID: vrid, Interface: "eth0", Version: 3, Priority: prio,
		AdvertInterval: ivl, Preempt: true, VIPs: vips, GARPRepeat: 1,
	}
}

// runDaemon runs a daemon for cfg on h; stop ends Run and returns its
// error. The test's end stops it too.
func runDaemon(t *testing.T, h *fakeHost, cfg Config, opts Options) (d *Daemon, stop func() error) {
	t.Helper()
	opts.System = h
	d = New(cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return d, stop
}

// state returns the state of the router of key in d's status, "" if none.
func state(d *Daemon, name, family string) string {
	for _, in := range d.Status().Instances {
		if in.Name == name && in.Family == family {
			return in.State
		}
	}
	return ""
}

// TestShutdownOrder: at shutdown the guard stops following addresses
// before the routers resign; a master resigns with priority 0 and keeps
// its VIPs until a master down interval passes; then the checks stop and
// the sockets close, and Run returns.
func TestShutdownOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		d, stop := runDaemon(t, h, Config{Instances: []config.Instance{instance("api", 51, 200, vip100)}}, Options{})
		time.Sleep(time.Second)
		if got := state(d, "api", "ipv4"); got != control.StateMaster {
			t.Fatalf("api is %s, want MASTER", got)
		}
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		got := h.notes("events closed", "advert vrid 51 priority 0", "remove", "checks stopped", "close")
		want := []string{
			"events closed",
			"advert vrid 51 priority 0",
			"remove 192.0.2.100/24",
			"checks stopped",
			"close eth0 IPv4",
			"close announcer eth0",
			"close addrs",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("shutdown (-want +got)\n%s", diff)
		}
		if h.holds(vip100) {
			t.Error("the VIP outlived the daemon")
		}
	})
}

// TestDrainHandsOver: a drained master hands its VIP over to the backup
// without a moment where nobody holds it; resumed, it takes it back.
func TestDrainHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &fakeNet{}
		a, b := n.host("192.0.2.11"), n.host("192.0.2.12")
		da, _ := runDaemon(t, a, Config{Instances: []config.Instance{instance("api", 51, 200, vip100)}}, Options{})
		db, _ := runDaemon(t, b, Config{Instances: []config.Instance{instance("api", 51, 100, vip100)}}, Options{})
		time.Sleep(time.Second)
		if state(da, "api", "ipv4") != control.StateMaster || state(db, "api", "ipv4") != control.StateBackup {
			t.Fatalf("A is %s, B %s; want A master", state(da, "api", "ipv4"), state(db, "api", "ipv4"))
		}
		if _, err := da.Drain(nil); err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			time.Sleep(time.Millisecond)
			if !a.holds(vip100) && !b.holds(vip100) {
				t.Fatal("nobody held the VIP during the drain")
			}
		}
		if a.holds(vip100) || !b.holds(vip100) {
			t.Fatalf("after the drain the VIP is on A %v, B %v; want B", a.holds(vip100), b.holds(vip100))
		}
		if st := da.Status(); !st.Instances[0].Drained {
			t.Errorf("A's status after the drain: %+v", st.Instances[0])
		}
		if _, err := da.Resume([]string{"api"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if !a.holds(vip100) || b.holds(vip100) {
			t.Fatalf("after the resume the VIP is on A %v, B %v; want A", a.holds(vip100), b.holds(vip100))
		}
	})
}

// TestWaitingRouterStarts: an instance whose interface, or its address,
// is missing waits, in FAULT with the reason; the kernel's event that
// brings it starts the instance.
func TestWaitingRouterStarts(t *testing.T) {
	t.Run("interface", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := (&fakeNet{}).host("192.0.2.11")
			inst := instance("vlan", 60, 200, vip100)
			inst.Interface = "eth1"
			d, _ := runDaemon(t, h, Config{Instances: []config.Instance{inst}}, Options{})
			time.Sleep(time.Second)
			checkWaiting(t, d, "waiting for interface eth1")
			h.addIface("eth1", 3)
			time.Sleep(time.Second)
			if got := state(d, "vlan", "ipv4"); got != control.StateMaster {
				t.Fatalf("vlan is %s after eth1 came, want MASTER", got)
			}
		})
	})
	t.Run("address", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := (&fakeNet{}).host("192.0.2.11")
			h.setFail("source", errNoAddress)
			d, _ := runDaemon(t, h, Config{Instances: []config.Instance{instance("api", 51, 200, vip100)}}, Options{})
			time.Sleep(time.Second)
			checkWaiting(t, d, "waiting for an IPv4 address on eth0")
			h.setFail("source", nil)
			h.event(Event{Index: 2, Addr: h.addr, Added: true})
			time.Sleep(time.Second)
			if got := state(d, "api", "ipv4"); got != control.StateMaster {
				t.Fatalf("api is %s after its address came, want MASTER", got)
			}
		})
	})
}

// checkWaiting checks that d's one instance waits for the reason.
func checkWaiting(t *testing.T, d *Daemon, reason string) {
	t.Helper()
	st := d.Status().Instances
	if len(st) != 1 || st[0].State != control.StateFault || !strings.HasPrefix(st[0].Reason, reason) {
		t.Fatalf("status of a waiting instance: %+v, want FAULT: %s", st, reason)
	}
}

// view is what a failed reload must leave as it was.
type view struct {
	Routers  []string // key, VIPs, base priority
	Waiting  int
	Sockets  []string
	Checks   Monitor
	Holds100 bool
	Holds101 bool
	Open     int
}

func viewOf(d *Daemon, h *fakeHost) view {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := view{Waiting: len(d.waiting), Checks: d.checks.mon, Holds100: h.holds(vip100), Holds101: h.holds(vip101), Open: h.openConns()}
	for _, r := range d.routers {
		c := r.rt.Config()
		v.Routers = append(v.Routers, fmt.Sprint(r.key, c.VIPs, c.Machine.Priority))
	}
	for k := range d.socks {
		v.Sockets = append(v.Sockets, k.String())
	}
	slices.Sort(v.Sockets)
	return v
}

// TestReloadAllOrNothing: a reload that fails at any step (a source
// address, a socket, an announcer, the checks, the hooks) changes
// nothing: the routers, their VIPs, sockets and checks stay, and what
// it opened is closed. Then the same reload without the fault applies.
func TestReloadAllOrNothing(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct {
		step string
		// break makes the step fail; the reload's config is passed.
		fail func(h *fakeHost, cfg *Config)
	}{
		{"source address", func(h *fakeHost, _ *Config) { h.setFail("source", boom) }},
		{"VRRP socket", func(h *fakeHost, _ *Config) { h.setFail("vrrp", boom) }},
		{"announcer", func(h *fakeHost, _ *Config) { h.setFail("announcer", boom) }},
		{"checks", func(h *fakeHost, _ *Config) { h.setFail("monitor", boom) }},
		{"hooks", func(_ *fakeHost, cfg *Config) { cfg.Instances[1].Notify = []string{"relative/hook"} }},
	} {
		t.Run(tt.step, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := (&fakeNet{}).host("192.0.2.11")
				h.addIface("eth1", 3)
				d, _ := runDaemon(t, h, Config{Instances: []config.Instance{instance("api", 51, 200, vip100)}}, Options{})
				time.Sleep(time.Second)
				before := viewOf(d, h)
				if !before.Holds100 {
					t.Fatal("api does not hold its VIP")
				}

				// A reload that needs every step: api's VIPs and
				// priority change in place, a check is added, and a
				// new instance on eth1 needs a socket, an announcer
				// and a hook.
				api := instance("api", 51, 150, vip101)
				api.Track = []health.Track{{Check: "apiserver", Weight: -10}}
				eth1 := instance("ingress", 52, 200, vip102)
				eth1.Interface = "eth1"
				eth1.Notify = []string{"/bin/true"}
				next := Config{
					Checks:    []health.Spec{{Name: "apiserver", Type: health.TypeTCP, Address: "127.0.0.1:6443", Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 1, Fall: 1}},
					Instances: []config.Instance{api, eth1},
				}
				bad := next
				bad.Instances = slices.Clone(next.Instances)
				tt.fail(h, &bad)
				if err := d.Reload(t.Context(), bad); err == nil {
					t.Fatal("the reload did not fail")
				}
				time.Sleep(time.Second)
				if diff := cmp.Diff(before, viewOf(d, h), cmp.Comparer(func(a, b Monitor) bool { return a == b })); diff != "" {
					t.Fatalf("a failed reload changed (-before +after)\n%s", diff)
				}

				h.setFail(tt.step, nil)
				for _, s := range []string{"source", "vrrp", "announcer", "monitor"} {
					h.setFail(s, nil)
				}
				if err := d.Reload(t.Context(), next); err != nil {
					t.Fatalf("the reload without the fault: %v", err)
				}
				time.Sleep(time.Second)
				if h.holds(vip100) || !h.holds(vip101) || !h.holds(vip102) {
					t.Errorf("after the reload the host holds %v %v %v, want 101 and 102", h.holds(vip100), h.holds(vip101), h.holds(vip102))
				}
				if st := d.Status(); len(st.Instances) != 2 || st.Instances[0].Priority != 150 || st.Instances[1].State != control.StateMaster {
					t.Errorf("after the reload: %+v", st.Instances)
				}
			})
		})
	}
}

// TestReloadReaddsResigningVRID: a reload removes a master, which resigns
// in the background, and the next reload, before it is done, adds an
// instance on the same VRID: the new router waits for the old one.
func TestReloadReaddsResigningVRID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		api, web := instance("api", 51, 200, vip100), instance("web", 52, 200, vip101)
		d, _ := runDaemon(t, h, Config{Instances: []config.Instance{api, web}}, Options{})
		time.Sleep(time.Second)
		if err := d.Reload(t.Context(), Config{Instances: []config.Instance{api}}); err != nil {
			t.Fatal(err)
		}
		if !h.holds(vip101) {
			t.Fatal("the removed master let its VIP go before a master down interval")
		}
		web2 := instance("web2", 52, 200, vip102)
		if err := d.Reload(t.Context(), Config{Instances: []config.Instance{api, web2}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if got := state(d, "web2", "ipv4"); got != control.StateMaster || h.holds(vip101) || !h.holds(vip102) {
			t.Fatalf("web2 is %s; VIPs held: web's %v, web2's %v", got, h.holds(vip101), h.holds(vip102))
		}
	})
}
