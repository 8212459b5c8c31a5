package daemon

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

func TestTrackingHealth(t *testing.T) {
	inst := config.Instance{
		Name: "api", Interface: "eth0", Priority: 200, TrackInterfaces: []config.TrackInterface{{Name: "eth1"}},
		Track: []health.Track{{Check: "apiserver"}, {Check: "haproxy", Weight: -30}},
	}
	tr := newTracking(inst)
	all := func(s health.State) map[string]health.State {
		return map[string]health.State{"apiserver": s, "haproxy": s, "link:eth0": s, "link:eth1": s}
	}
	with := func(m map[string]health.State, k string, s health.State) map[string]health.State {
		m[k] = s
		return m
	}
	tests := []struct {
		name   string
		states map[string]health.State
		want   router.Health
	}{
		{"all healthy", all(health.Healthy), router.Health{Priority: 200}},
		{"nothing known yet", all(health.Unknown), router.Health{Priority: 170, Fault: vrrp.Pending}},
		{"weighted check fails", with(all(health.Healthy), "haproxy", health.Unhealthy), router.Health{Priority: 170}},
		{"fault check fails", with(all(health.Healthy), "apiserver", health.Unhealthy), router.Health{Priority: 200, Fault: vrrp.SoftFault}},
		{"own interface down", with(all(health.Healthy), "link:eth0", health.Unhealthy), router.Health{Priority: 200, Fault: vrrp.LinkDown}},
		{"tracked interface down beats a failing check", with(with(all(health.Healthy), "link:eth1", health.Unhealthy), "apiserver", health.Unhealthy),
			router.Health{Priority: 200, Fault: vrrp.HardFault}},
		{"interface not known yet", with(all(health.Healthy), "link:eth1", health.Unknown), router.Health{Priority: 200, Fault: vrrp.Pending}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tr.health(tt.states)); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"eth0", "eth1"}, linkNames([]config.Instance{inst, inst})); diff != "" {
		t.Errorf("linkNames (-want +got)\n%s", diff)
	}
}

// TestTrackingWeightedLinks: a weighted interface moves the priority as
// keepalived's track_interface IF weight W does (a negative weight while
// it is down, a positive one while it is up), and the interface of a VIP
// bound elsewhere faults the instance unless no_track.
func TestTrackingWeightedLinks(t *testing.T) {
	pub := netip.MustParsePrefix("203.0.113.10/24")
	quiet := netip.MustParsePrefix("203.0.113.11/24")
	inst := config.Instance{
		Name: "api", Interface: "eth0", Priority: 200,
		VIPs:            []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24"), pub, quiet},
		VIPDevs:         map[netip.Addr]config.VIPDev{pub.Addr(): {Interface: "eth1"}, quiet.Addr(): {Interface: "eth4", NoTrack: true}},
		TrackInterfaces: []config.TrackInterface{{Name: "eth2", Weight: -20}, {Name: "eth3", Weight: 10}},
	}
	tr := newTracking(inst)
	up := func() map[string]health.State {
		return map[string]health.State{"link:eth0": health.Healthy, "link:eth1": health.Healthy, "link:eth2": health.Healthy, "link:eth3": health.Healthy}
	}
	down := func(names ...string) map[string]health.State {
		m := up()
		for _, n := range names {
			m[n] = health.Unhealthy
		}
		return m
	}
	tests := []struct {
		name   string
		states map[string]health.State
		want   router.Health
	}{
		{"all up", up(), router.Health{Priority: 210}},
		{"negative weight down", down("link:eth2"), router.Health{Priority: 190}},
		{"positive weight down", down("link:eth3"), router.Health{Priority: 200}},
		{"both down", down("link:eth2", "link:eth3"), router.Health{Priority: 180}},
		{"interface of a VIP down", down("link:eth1"), router.Health{Priority: 210, Fault: vrrp.HardFault}},
		{"own interface down", down("link:eth0"), router.Health{Priority: 210, Fault: vrrp.LinkDown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tr.health(tt.states)); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"eth0", "eth1", "eth2", "eth3"}, linkNames([]config.Instance{inst})); diff != "" {
		t.Errorf("linkNames (-want +got)\n%s", diff)
	}
}

func TestDrainPersists(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Instances: []config.Instance{{Name: "api"}, {Name: "ingress"}}}
	d := New(cfg, Options{StateDir: dir})
	got, err := d.Drain([]string{"api"})
	if err != nil || len(got) != 1 || got[0] != "api" {
		t.Fatalf("Drain = %v, %v", got, err)
	}
	if _, err := d.Drain([]string{"nope"}); !errors.Is(err, control.ErrUnknownInstance) {
		t.Errorf("Drain of an unknown instance: %v, want ErrUnknownInstance", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "drained.json"))
	if err != nil || string(b) != "[\"api\"]\n" {
		t.Fatalf("drained.json = %q, %v", b, err)
	}

	// A new daemon (a restart) finds the drain.
	d2 := New(cfg, Options{StateDir: dir})
	d2.drains.load()
	if drained := d2.drains.set(); !drained["api"] || drained["ingress"] {
		t.Fatalf("after restart drained = %v, want api only", drained)
	}
	if _, err := d2.Resume(nil); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "drained.json"))
	if string(b) != "[]\n" {
		t.Errorf("after resume drained.json = %q, want []", b)
	}

	// A corrupt file is logged and ignored, not fatal.
	os.WriteFile(filepath.Join(dir, "drained.json"), []byte("{"), 0o644)
	d3 := New(cfg, Options{StateDir: dir})
	d3.drains.load()
	if drained := d3.drains.set(); len(drained) != 0 {
		t.Errorf("corrupt state file gave drained = %v", drained)
	}
}
