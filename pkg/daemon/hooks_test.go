package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/metrics"
)

// TestHooksSeeTheNewState: a master whose interface fails is in FAULT at
// the last-resort priority when its hook runs; the runs are counted in
// status and metrics, also across a reload that replaces the runner.
func TestHooksSeeTheNewState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		out := filepath.Join(t.TempDir(), "transitions")
		inst := instance("api", 51, 150, vip100)
		inst.Notify = []string{"/bin/sh", "-c", `echo "$VIPD_FROM $VIPD_TO $VIPD_PRIORITY" >> "$0"`, out}
		d, _ := runDaemon(t, h, Config{Instances: []config.Instance{inst}}, Options{})
		waitState(t, d, "api", control.StateMaster)
		h.checks().set(health.LinkCheckName("eth0"), health.Unhealthy)
		waitHookRuns(t, d, "api", 3)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"INIT BACKUP 150", "BACKUP MASTER 150", "MASTER FAULT 1"}
		if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(string(b)), "\n")); diff != "" {
			t.Errorf("hooks saw (-want +got)\n%s", diff)
		}

		// A new notify command: a new runner, the counts go on.
		inst.Notify = append(inst.Notify[:len(inst.Notify):len(inst.Notify)], "again")
		if err := d.Reload(t.Context(), Config{Instances: []config.Instance{inst}}); err != nil {
			t.Fatal(err)
		}
		h.checks().set(health.LinkCheckName("eth0"), health.Healthy)
		waitHookRuns(t, d, "api", 5)
		got := d.Status().Instances[0].Hooks
		if got == nil || got.Runs < 5 || got.Failures != 0 {
			t.Fatalf("hook counters in status: %+v", got)
		}
		if diff := cmp.Diff([]metrics.Hooks{{Instance: "api", Runs: got.Runs}}, d.Hooks()); diff != "" {
			t.Errorf("hook counters for metrics (-want +got)\n%s", diff)
		}
	})
}

// waitState waits until the router of name in IPv4 is in state.
func waitState(t *testing.T, d *Daemon, name, want string) {
	t.Helper()
	for state(d, name, "ipv4") != want {
		time.Sleep(10 * time.Millisecond)
	}
}

// waitHookRuns waits until the hook of name ran at least n times.
func waitHookRuns(t *testing.T, d *Daemon, name string, n uint64) {
	t.Helper()
	for d.hooks.counts(name).Runs < n {
		time.Sleep(10 * time.Millisecond)
	}
}
