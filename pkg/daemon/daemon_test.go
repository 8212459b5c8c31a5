package daemon

import (
	"errors"
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
		Name: "api", Interface: "eth0", Priority: 200, TrackInterfaces: []string{"eth1"},
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
