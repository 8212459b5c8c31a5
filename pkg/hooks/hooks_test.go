package hooks

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/internal/procgroup"
	"github.com/vipd/vipd/pkg/health"
)

// The hooks of these tests are shell scripts run as /bin/sh -c SCRIPT:
// /bin/sh is root's in root's directories on any sane system, so it
// passes health.CheckOwnership (as in pkg/health's exec tests), while a
// script file under t.TempDir() would not (/tmp is world-writable). The
// scripts get "hook" as $0 and the test's directory as $1, so that with
// the event's arguments appended $2 is the instance, $3 the family, $4
// the old state, $5 the new state and $6 the reason.

// shHook returns a hook running script with dir as its first argument.
func shHook(script, dir string, extra ...string) Hook {
	return Hook{Command: append([]string{"/bin/sh", "-c", script, "hook", dir}, extra...)}
}

// event returns a transition of instance "api" whose reason is reason.
func event(reason string) Event {
	return Event{Instance: "api", Family: "ipv4", VRID: 51, From: "BACKUP", To: "MASTER", Reason: reason, Priority: 100}
}

// record is what the tests look at of a log record.
type record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// recorder is a slog.Handler keeping the records. The Runner adds no
// attributes or groups to its logger, so those are not kept.
type recorder struct {
	mu   sync.Mutex
	recs []record
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recorder) WithGroup(string) slog.Handler            { return h }

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	rec := record{Level: r.Level, Msg: r.Message, Attrs: make(map[string]string)}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, rec)
	return nil
}

// find returns the records with message msg.
func (h *recorder) find(msg string) []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []record
	for _, r := range h.recs {
		if r.Msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// newRunner returns a Runner logging to a recorder.
func newRunner(opts Options) (*Runner, *recorder) {
	rec := &recorder{}
	opts.Logger = slog.New(rec)
	return NewRunner(opts), rec
}

// mustRegister registers h under key.
func mustRegister(t *testing.T, r *Runner, key string, h Hook) {
	t.Helper()
	if err := r.Register(key, h); err != nil {
		t.Fatalf("Register(%q): %v", key, err)
	}
}

// start runs r until the returned cancel is called or the test ends; done
// is closed when Run has returned. Cleanup waits for that and checks Run's
// result.
func start(t *testing.T, r *Runner) (cancel func(), done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	var err error
	go func() {
		defer close(ch)
		err = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ch:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return")
		}
	})
	return cancel, ch
}

// openGate creates the file that gated scripts wait for, and makes sure
// it exists when the test ends, also on failure, so that Run can drain.
func openGate(t *testing.T, dir string) func() {
	t.Helper()
	open := func() {
		if err := os.WriteFile(filepath.Join(dir, "gate"), nil, 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(open)
	return open
}

// gated is a script that marks it has started (file started.REASON) and
// waits for the gate file before it appends its reason to the file log.
const gated = `touch "$1/started.$6"; while [ ! -e "$1/gate" ]; do sleep 0.01; done; echo "$6" >> "$1/log"`

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRuns waits until key has done n runs.
func waitRuns(t *testing.T, r *Runner, key string, n uint64) {
	t.Helper()
	waitFor(t, key+" runs", func() bool {
		runs, _, _ := r.Stats(key)
		return runs >= n
	})
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readLines returns the lines of the file at path.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// checkStats compares the counters of key.
func checkStats(t *testing.T, r *Runner, key string, runs, failures, dropped uint64) {
	t.Helper()
	gr, gf, gd := r.Stats(key)
	if gr != runs || gf != failures || gd != dropped {
		t.Errorf("Stats(%q) = %d runs, %d failures, %d dropped; want %d, %d, %d", key, gr, gf, gd, runs, failures, dropped)
	}
}

func TestArgumentsAndEnvironment(t *testing.T) {
	// The shell's own environment may differ from what it was given
	// (shells export PWD and the like); /proc/$$/environ is exactly what
	// execve passed.
	const script = `d=$1; shift; cat /proc/$$/environ > "$d/env"; printf '%s\n' "$@" > "$d/args"`
	tests := []struct {
		name     string
		ev       Event
		wantArgs []string
		wantEnv  []string
	}{
		{
			name: "ipv4",
			ev: Event{
				Instance: "kube-apiserver", Family: "ipv4", VRID: 51, From: "BACKUP", To: "MASTER",
				Reason:   "no advertisement for 306ms",
				VIPs:     []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("198.51.100.7/32")},
				Priority: 150,
			},
			wantArgs: []string{"--arg", "kube-apiserver", "ipv4", "BACKUP", "MASTER", "no advertisement for 306ms"},
			wantEnv: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"VIPD_INSTANCE=kube-apiserver",
				"VIPD_FAMILY=ipv4",
				"VIPD_VRID=51",
				"VIPD_FROM=BACKUP",
				"VIPD_TO=MASTER",
				"VIPD_REASON=no advertisement for 306ms",
				"VIPD_VIPS=192.0.2.10/24 198.51.100.7/32",
				"VIPD_PRIORITY=150",
			},
		},
		{
			name:     "ipv6, empty reason, no VIPs",
			ev:       Event{Instance: "ingress", Family: "ipv6", VRID: 255, From: "MASTER", To: "INIT"},
			wantArgs: []string{"--arg", "ingress", "ipv6", "MASTER", "INIT", ""},
			wantEnv: []string{
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				"VIPD_INSTANCE=ingress",
				"VIPD_FAMILY=ipv6",
				"VIPD_VRID=255",
				"VIPD_FROM=MASTER",
				"VIPD_TO=INIT",
				"VIPD_REASON=",
				"VIPD_VIPS=",
				"VIPD_PRIORITY=0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, _ := newRunner(Options{})
			mustRegister(t, r, tt.ev.Instance, shHook(script, dir, "--arg"))

			// Queued before Run starts; the caller then reuses its
			// slice, which must not reach the hook.
			ev := tt.ev
			r.Notify(tt.ev.Instance, ev)
			if len(ev.VIPs) > 0 {
				ev.VIPs[0] = netip.MustParsePrefix("203.0.113.99/32")
			}
			start(t, r)
			waitRuns(t, r, tt.ev.Instance, 1)
			checkStats(t, r, tt.ev.Instance, 1, 0, 0)

			if diff := cmp.Diff(tt.wantArgs, readLines(t, filepath.Join(dir, "args"))); diff != "" {
				t.Errorf("arguments (-want +got)\n%s", diff)
			}
			env, err := os.ReadFile(filepath.Join(dir, "env"))
			if err != nil {
				t.Fatal(err)
			}
			gotEnv := strings.Split(strings.TrimSuffix(string(env), "\x00"), "\x00")
			if diff := cmp.Diff(tt.wantEnv, gotEnv); diff != "" {
				t.Errorf("environment (-want +got)\n%s", diff)
			}
		})
	}
}

func TestOrderUnderLoad(t *testing.T) {
	// Each run records its start and end, and a lock directory that a
	// concurrent run of the same key could not create. Two keys are
	// notified alternately, as fast as possible.
	const script = `mkdir "$1/lock" || echo overlap >> "$1/log"
echo "start $6" >> "$1/log"; sleep 0.01; echo "end $6" >> "$1/log"
rmdir "$1/lock"`
	const n = 20
	r, _ := newRunner(Options{})
	keys := []string{"api", "ingress"}
	dirs := make(map[string]string)
	for _, k := range keys {
		dirs[k] = t.TempDir()
		mustRegister(t, r, k, shHook(script, dirs[k]))
	}
	start(t, r)
	for i := range n {
		for _, k := range keys {
			r.Notify(k, event(strconv.Itoa(i)))
		}
	}

	var want []string
	for i := range n {
		want = append(want, "start "+strconv.Itoa(i), "end "+strconv.Itoa(i))
	}
	for _, k := range keys {
		waitRuns(t, r, k, n)
		checkStats(t, r, k, n, 0, 0)
		if diff := cmp.Diff(want, readLines(t, filepath.Join(dirs[k], "log"))); diff != "" {
			t.Errorf("%s: runs (-want +got)\n%s", k, diff)
		}
	}
}

func TestKeysRunConcurrently(t *testing.T) {
	// Each hook waits for the other to have started: both succeed only
	// if they run at the same time.
	const script = `touch "$1/$2"; i=0
while [ ! -e "$1/$(cat "$1/other.$2")" ]; do i=$((i+1)); [ $i -gt 500 ] && exit 1; sleep 0.01; done`
	dir := t.TempDir()
	for name, other := range map[string]string{"api": "ingress", "ingress": "api"} {
		if err := os.WriteFile(filepath.Join(dir, "other."+name), []byte(other), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := newRunner(Options{})
	mustRegister(t, r, "api", shHook(script, dir))
	mustRegister(t, r, "ingress", shHook(script, dir))
	start(t, r)
	for _, k := range []string{"api", "ingress"} {
		ev := event("")
		ev.Instance = k
		r.Notify(k, ev)
	}
	for _, k := range []string{"api", "ingress"} {
		waitRuns(t, r, k, 1)
		checkStats(t, r, k, 1, 0, 0)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	// The first run starts a child, records both pids and hangs; at the
	// timeout both must die, and the next event runs.
	const script = `if [ "$6" = hang ]; then sleep 30 & echo $! > "$1/child"; echo $$ > "$1/parent"; sleep 30; fi
echo "$6" >> "$1/log"`
	const timeout = 300 * time.Millisecond
	dir := t.TempDir()
	r, rec := newRunner(Options{Timeout: timeout})
	mustRegister(t, r, "api", shHook(script, dir))
	start(t, r)
	began := time.Now()
	r.Notify("api", event("hang"))
	r.Notify("api", event("after"))
	waitRuns(t, r, "api", 2)
	if took := time.Since(began); took > timeout+5*time.Second {
		t.Errorf("two runs took %v with a timeout of %v", took, timeout)
	}
	checkStats(t, r, "api", 2, 1, 0)
	if diff := cmp.Diff([]string{"after"}, readLines(t, filepath.Join(dir, "log"))); diff != "" {
		t.Errorf("runs (-want +got)\n%s", diff)
	}

	for _, name := range []string{"parent", "child"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %q is not a pid", name, b)
		}
		waitGone(t, pid)
	}

	failed := rec.find("notify hook failed")
	if len(failed) != 1 {
		t.Fatalf("%d failure records, want 1", len(failed))
	}
	if st := failed[0].Attrs["status"]; !strings.HasPrefix(st, "timed out after 300ms, killed process group ") {
		t.Errorf("status %q, want a timeout", st)
	}
	if failed[0].Level != slog.LevelWarn {
		t.Errorf("level %v, want WARN", failed[0].Level)
	}
}

// waitGone waits until process pid has exited. A zombie counts as gone:
// whether it is reaped depends on the init process of the container.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		// The state follows the parenthesised command name.
		if err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
				return
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOutcomeLogged(t *testing.T) {
	type outcome struct {
		Level  slog.Level
		Msg    string
		Status string
		Output string
	}
	tests := []struct {
		name   string
		script string
		want   outcome
	}{
		{
			name:   "success at debug",
			script: "echo moved; echo warning >&2",
			want:   outcome{Level: slog.LevelDebug, Msg: "notify hook ran", Output: "moved\nwarning\n"},
		},
		{
			name:   "exit status at warn",
			script: "echo boom >&2; exit 3",
			want:   outcome{Level: slog.LevelWarn, Msg: "notify hook failed", Status: "exit status 3", Output: "boom\n"},
		},
		{
			name:   "killed by a signal",
			script: "kill -9 $$",
			want:   outcome{Level: slog.LevelWarn, Msg: "notify hook failed", Status: "killed by signal 9 (killed)"},
		},
		{
			name:   "output is capped",
			script: "yes 0123456789 | head -c 100000",
			want: outcome{
				Level: slog.LevelDebug, Msg: "notify hook ran",
				Output: strings.Repeat("0123456789\n", MaxOutput/11+1)[:MaxOutput] + procgroup.TruncatedMarker,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newRunner(Options{})
			mustRegister(t, r, "api", shHook(tt.script, t.TempDir()))
			start(t, r)
			r.Notify("api", event(""))
			waitRuns(t, r, "api", 1)

			rec.mu.Lock()
			recs := rec.recs
			rec.mu.Unlock()
			if len(recs) != 1 {
				t.Fatalf("%d log records, want 1: %v", len(recs), recs)
			}
			got := outcome{Level: recs[0].Level, Msg: recs[0].Msg, Status: recs[0].Attrs["status"], Output: recs[0].Attrs["output"]}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("log record (-want +got)\n%s", diff)
			}
			for _, k := range []string{"key", "instance", "family", "from", "to", "program", "took", "queued"} {
				if _, ok := recs[0].Attrs[k]; !ok {
					t.Errorf("log record lacks %q: %v", k, recs[0].Attrs)
				}
			}
		})
	}
}

func TestFailureDoesNotStopQueue(t *testing.T) {
	const script = `[ "$6" = fail ] && exit 1; echo "$6" >> "$1/log"`
	dir := t.TempDir()
	r, _ := newRunner(Options{})
	mustRegister(t, r, "api", shHook(script, dir))
	start(t, r)
	for _, reason := range []string{"fail", "first", "fail", "second"} {
		r.Notify("api", event(reason))
	}
	waitRuns(t, r, "api", 4)
	checkStats(t, r, "api", 4, 2, 0)
	if diff := cmp.Diff([]string{"first", "second"}, readLines(t, filepath.Join(dir, "log"))); diff != "" {
		t.Errorf("runs (-want +got)\n%s", diff)
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	// With the hook hung on its first event, 100 more fill the queue of
	// DefaultQueueLen and the rest are dropped, without Notify waiting.
	dir := t.TempDir()
	r, rec := newRunner(Options{})
	mustRegister(t, r, "api", shHook(gated, dir))
	start(t, r)
	gate := openGate(t, dir)
	r.Notify("api", event("hung"))
	waitFor(t, "the first run", func() bool { return exists(filepath.Join(dir, "started.hung")) })

	// In a goroutine, so that a Notify that blocks fails the test rather
	// than hanging it (the gate opens at cleanup).
	const n = 100
	began := time.Now()
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		for i := range n {
			r.Notify("api", event(strconv.Itoa(i)))
		}
	}()
	select {
	case <-notified:
	case <-time.After(time.Second):
		t.Fatalf("%d Notify calls with the hook hung did not return within 1s", n)
	}
	t.Logf("%d Notify calls took %v", n, time.Since(began))
	const dropped = n - DefaultQueueLen
	checkStats(t, r, "api", 0, 0, dropped)
	drops := rec.find("notify hook event dropped")
	if len(drops) != dropped {
		t.Fatalf("%d drop records, want %d", len(drops), dropped)
	}
	if d := drops[0]; d.Level != slog.LevelError || !strings.HasPrefix(d.Attrs["why"], "queue full (64 events)") || d.Attrs["dropped_total"] != "1" {
		t.Errorf("drop record %+v, want an error naming the full queue", d)
	}

	// The queued events run in order once the hook is unstuck.
	gate()
	waitRuns(t, r, "api", DefaultQueueLen+1)
	checkStats(t, r, "api", DefaultQueueLen+1, 0, dropped)
	want := []string{"hung"}
	for i := range DefaultQueueLen {
		want = append(want, strconv.Itoa(i))
	}
	if diff := cmp.Diff(want, readLines(t, filepath.Join(dir, "log"))); diff != "" {
		t.Errorf("runs (-want +got)\n%s", diff)
	}
}

func TestShutdownRunsQueued(t *testing.T) {
	// Events queued when Run's context ends still run, the one in
	// progress is not cut short, and Run returns after them; events
	// notified once the worker has stopped are dropped.
	dir := t.TempDir()
	r, rec := newRunner(Options{})
	mustRegister(t, r, "api", shHook(gated, dir))
	cancel, done := start(t, r)
	gate := openGate(t, dir)
	r.Notify("api", event("1"))
	waitFor(t, "the first run", func() bool { return exists(filepath.Join(dir, "started.1")) })
	r.Notify("api", event("2"))
	cancel()
	// The worker is still in the first run: this is queued too.
	r.Notify("api", event("3"))
	select {
	case <-done:
		t.Fatal("Run returned while hooks were pending")
	case <-time.After(50 * time.Millisecond):
	}

	gate()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	checkStats(t, r, "api", 3, 0, 0)
	if diff := cmp.Diff([]string{"1", "2", "3"}, readLines(t, filepath.Join(dir, "log"))); diff != "" {
		t.Errorf("runs (-want +got)\n%s", diff)
	}

	r.Notify("api", event("late"))
	checkStats(t, r, "api", 3, 0, 1)
	if drops := rec.find("notify hook event dropped"); len(drops) != 1 || drops[0].Attrs["why"] != "runner stopped" {
		t.Errorf("drop records %v, want one for the stopped runner", drops)
	}
}

func TestRegister(t *testing.T) {
	dir := t.TempDir()
	// Writable by anyone, in a directory writable by anyone: refused
	// whatever TMPDIR is.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "on-change")
	if err := os.WriteFile(open, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		command []string
		is      error  // errors.Is target; nil means success
		prefix  string // of the error
	}{
		{name: "system shell", command: []string{"/bin/sh", "-c", "true"}},
		{name: "empty command", prefix: `hooks: "api": empty command`},
		{name: "relative path", command: []string{"bin/on-change"}, is: health.ErrUnsafePath, prefix: `hooks: "api": refusing to run bin/on-change: `},
		{name: "bare name", command: []string{"sh"}, is: health.ErrUnsafePath, prefix: `hooks: "api": refusing to run sh: `},
		{name: "writable by others", command: []string{open}, is: health.ErrUnsafePath, prefix: `hooks: "api": refusing to run ` + open + ": "},
		{name: "missing", command: []string{"/nonexistent/on-change"}, is: fs.ErrNotExist, prefix: `hooks: "api": refusing to run /nonexistent/on-change: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewRunner(Options{}).Register("api", Hook{Command: tt.command})
			if tt.prefix == "" {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.prefix) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("Register: %v, want %q... wrapping %v", err, tt.prefix, tt.is)
			}
		})
	}
}

func TestRegisterTwiceAndAfterRun(t *testing.T) {
	r := NewRunner(Options{})
	h := Hook{Command: []string{"/bin/true"}}
	mustRegister(t, r, "api", h)
	if err := r.Register("api", h); err == nil || err.Error() != `hooks: "api": registered twice` {
		t.Errorf("second Register: %v", err)
	}
	start(t, r)
	// Run has started once Register refuses; poll, as it runs in its
	// own goroutine.
	waitFor(t, "Run to start", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.started
	})
	if err := r.Register("ingress", h); err == nil || err.Error() != `hooks: "ingress": register before Run` {
		t.Errorf("Register after Run: %v", err)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	// A key without a hook is ignored.
	r.Notify("ingress", event(""))
	checkStats(t, r, "ingress", 0, 0, 0)
}

func TestLeftoverProcess(t *testing.T) {
	// The hook succeeds at once but leaves a child behind that holds the
	// output open: the run still ends promptly and succeeds, and the
	// child is left alone, as keepalived leaves its notify scripts'.
	const script = `sleep 30 & echo $! > "$1/child"; echo started`
	dir := t.TempDir()
	r, rec := newRunner(Options{})
	mustRegister(t, r, "api", shHook(script, dir))
	start(t, r)
	began := time.Now()
	r.Notify("api", event(""))
	waitRuns(t, r, "api", 1)
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("run took %v", took)
	}
	checkStats(t, r, "api", 1, 0, 0)
	if ran := rec.find("notify hook ran"); len(ran) != 1 || ran[0].Attrs["output"] != "started\n" {
		t.Errorf("success records %v, want one with the output", ran)
	}

	b, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%q is not a pid", b)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the leftover child %d is gone: %v", pid, err)
	}
}
