package hooks

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCounts: a run that succeeds, one that fails and one killed at the
// timeout are counted apart; AllCounts has every registered key.
func TestCounts(t *testing.T) {
	const script = `case "$6" in fail) exit 3 ;; hang) exec sleep 30 ;; esac`
	dir := t.TempDir()
	r, _ := newRunner(Options{Timeout: 200 * time.Millisecond})
	mustRegister(t, r, "api", shHook(script, dir))
	mustRegister(t, r, "ingress", shHook(script, dir))
	start(t, r)
	for _, reason := range []string{"ok", "fail", "hang"} {
		r.Notify("api", event(reason))
	}
	waitRuns(t, r, "api", 3)
	want := map[string]Counts{"api": {Runs: 3, Failures: 2, Timeouts: 1}, "ingress": {}}
	if diff := cmp.Diff(want, r.AllCounts()); diff != "" {
		t.Errorf("AllCounts (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(want["api"], r.Counts("api")); diff != "" {
		t.Errorf("Counts(api) (-want +got)\n%s", diff)
	}
	if got := r.Counts("nope"); got != (Counts{}) {
		t.Errorf("Counts of an unknown key = %+v, want zeros", got)
	}
	if got := (Counts{1, 2, 3, 4}).Add(Counts{10, 20, 30, 40}); got != (Counts{11, 22, 33, 44}) {
		t.Errorf("Add = %+v", got)
	}
}
