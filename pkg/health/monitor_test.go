package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeChecker runs probe and records when each probe started and how many
// ran at once.
type fakeChecker struct {
	probe func(ctx context.Context, n int) (string, error)

	mu     sync.Mutex
	starts []time.Time

	active, maxActive atomic.Int32
}

func (f *fakeChecker) Check(ctx context.Context) (string, error) {
	a := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		m := f.maxActive.Load()
		if a <= m || f.maxActive.CompareAndSwap(m, a) {
			break
		}
	}
	f.mu.Lock()
	n := len(f.starts)
	f.starts = append(f.starts, time.Now())
	f.mu.Unlock()
	return f.probe(ctx, n)
}

func (f *fakeChecker) startTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.starts...)
}

// script returns a probe that fails where results is false, and keeps
// the last result once past the end.
func script(results ...bool) func(context.Context, int) (string, error) {
	return func(_ context.Context, n int) (string, error) {
		ok := results[min(n, len(results)-1)]
		if ok {
			return fmt.Sprintf("ok %d", n), nil
		}
		return fmt.Sprintf("out %d", n), fmt.Errorf("probe %d failed", n)
	}
}

// fakeSpec is a valid spec for a fake checker.
func fakeSpec(name string, interval time.Duration, rise, fall int) Spec {
	return Spec{Name: name, Type: TypeTCP, Address: "127.0.0.1:1", Interval: interval, Rise: rise, Fall: fall}
}

// startMonitor builds a Monitor over fakes, with the random generator
// seeded by seed, runs it and stops it when the test ends. It must be
// called inside a synctest bubble.
func startMonitor(t *testing.T, seed uint64, specs []Spec, fakes map[string]*fakeChecker, log *slog.Logger) *Monitor {
	t.Helper()
	m, err := NewMonitor(specs, MonitorConfig{
		Rand:   rand.New(rand.NewPCG(seed, seed)),
		Logger: log,
		NewChecker: func(s Spec) (Checker, error) {
			f, ok := fakes[s.Name]
			if !ok {
				return nil, fmt.Errorf("no fake for %q", s.Name)
			}
			return f, nil
		},
	})
	if err != nil {
		t.Fatalf("NewMonitor: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return m
}

// offsets returns the start offsets a Monitor with that seed draws for
// checks of those intervals.
func offsets(seed uint64, intervals ...time.Duration) []time.Duration {
	r := rand.New(rand.NewPCG(seed, seed))
	var out []time.Duration
	for _, iv := range intervals {
		out = append(out, time.Duration(r.Int64N(int64(iv))))
	}
	return out
}

func TestAdvance(t *testing.T) {
	spec := Spec{Rise: 2, Fall: 3}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		ok                  bool
		state               State
		successes, failures int
	}
	steps := []step{
		{true, Unknown, 1, 0},
		{false, Unknown, 0, 1}, // a failure resets the successes
		{false, Unknown, 0, 2},
		{false, Unhealthy, 0, 3},
		{false, Unhealthy, 0, 4},
		{true, Unhealthy, 1, 0},
		{true, Healthy, 2, 0},
		{true, Healthy, 3, 0},
		{false, Healthy, 0, 1},
		{false, Healthy, 0, 2},
		{true, Healthy, 1, 0}, // one success in between: still healthy
		{false, Healthy, 0, 1},
		{false, Healthy, 0, 2},
		{false, Unhealthy, 0, 3},
	}
	var st Status
	for i, s := range steps {
		start := t0.Add(time.Duration(i) * time.Second)
		end := start.Add(10 * time.Millisecond)
		var err error
		if !s.ok {
			err = errors.New("boom")
		}
		prev := st.State
		st = advance(st, spec, start, end, "out", err)
		if st.State != s.state || st.Successes != s.successes || st.Failures != s.failures {
			t.Fatalf("step %d (ok=%v): state %v, successes %d, failures %d; want %v, %d, %d",
				i, s.ok, st.State, st.Successes, st.Failures, s.state, s.successes, s.failures)
		}
		if st.Probes != uint64(i+1) || !st.LastProbe.Equal(start) || st.Duration != 10*time.Millisecond || st.LastOutput != "out" {
			t.Fatalf("step %d: probe fields %+v", i, st)
		}
		if s.ok != (st.LastError == "") {
			t.Fatalf("step %d: LastError %q", i, st.LastError)
		}
		if st.State != prev && !st.Since.Equal(end) {
			t.Fatalf("step %d: Since = %v, want the end of the deciding probe %v", i, st.Since, end)
		}
	}
}

func TestMonitorRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 100 * time.Millisecond
		results := []bool{true, true, false, true, false, false, false, true, true}
		want := []State{Unknown, Healthy, Healthy, Healthy, Healthy, Unhealthy, Unhealthy, Unhealthy, Healthy}
		f := &fakeChecker{probe: script(results...)}
		begin := time.Now()
		m := startMonitor(t, 1, []Spec{fakeSpec("api", interval, 2, 2)}, map[string]*fakeChecker{"api": f}, nil)
		synctest.Wait() // Run has started

		st, _ := m.Status("api")
		if st.State != Unknown || !st.Since.Equal(begin) {
			t.Fatalf("before the first probe: %+v, want Unknown since %v", st, begin)
		}
		off := offsets(1, interval)[0]
		var got []State
		for i := range results {
			// Probes take no time here: just after a start the status
			// is that probe's.
			time.Sleep(time.Until(begin.Add(off + time.Duration(i)*interval + time.Millisecond)))
			st, _ := m.Status("api")
			if st.Probes != uint64(i+1) {
				t.Fatalf("after probe %d: %d probes", i, st.Probes)
			}
			got = append(got, st.State)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("states (-want +got)\n%s", diff)
		}
		st, _ = m.Status("api")
		wantSince := begin.Add(off + 8*interval)
		if !st.Since.Equal(wantSince) || st.Successes != 2 || st.LastError != "" || st.LastOutput != "ok 8" {
			t.Fatalf("final status %+v, want healthy since %v after 2 successes", st, wantSince)
		}
	})
}

func TestMonitorSchedule(t *testing.T) {
	tests := []struct {
		name     string
		probe    time.Duration // how long a probe takes, ignoring its context
		wantStep time.Duration // between starts
	}{
		{name: "interval between starts", probe: 70 * time.Millisecond, wantStep: 100 * time.Millisecond},
		{name: "overrun delays the next probe", probe: 250 * time.Millisecond, wantStep: 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const interval = 100 * time.Millisecond
				f := &fakeChecker{probe: func(context.Context, int) (string, error) {
					time.Sleep(tt.probe)
					return "", nil
				}}
				spec := fakeSpec("slow", interval, 1, 1)
				spec.Timeout = 80 * time.Millisecond
				begin := time.Now()
				startMonitor(t, 2, []Spec{spec}, map[string]*fakeChecker{"slow": f}, nil)
				time.Sleep(3 * time.Second)

				starts := f.startTimes()
				if len(starts) < 10 {
					t.Fatalf("%d probes in 3s", len(starts))
				}
				if want := begin.Add(offsets(2, interval)[0]); !starts[0].Equal(want) {
					t.Errorf("first probe at %v, want %v", starts[0].Sub(begin), want.Sub(begin))
				}
				for i := 1; i < len(starts); i++ {
					if d := starts[i].Sub(starts[i-1]); d != tt.wantStep {
						t.Fatalf("probe %d started %v after the previous, want %v", i, d, tt.wantStep)
					}
				}
				if n := f.maxActive.Load(); n != 1 {
					t.Fatalf("%d probes ran at once", n)
				}
			})
		})
	}
}

func TestMonitorJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		var (
			specs     []Spec
			intervals []time.Duration
		)
		fakes := make(map[string]*fakeChecker)
		for i := range n {
			name := fmt.Sprintf("c%d", i)
			iv := time.Duration(i+1) * 50 * time.Millisecond
			specs = append(specs, fakeSpec(name, iv, 1, 1))
			intervals = append(intervals, iv)
			fakes[name] = &fakeChecker{probe: script(true)}
		}
		begin := time.Now()
		startMonitor(t, 3, specs, fakes, nil)
		time.Sleep(n * 50 * time.Millisecond) // the longest interval

		want := offsets(3, intervals...)
		distinct := make(map[time.Duration]bool)
		for i, s := range specs {
			starts := fakes[s.Name].startTimes()
			if len(starts) == 0 {
				t.Fatalf("%s: no probe within its interval %v", s.Name, s.Interval)
			}
			off := starts[0].Sub(begin)
			if off < 0 || off >= s.Interval {
				t.Errorf("%s: first probe at %v, outside its interval %v", s.Name, off, s.Interval)
			}
			if off != want[i] {
				t.Errorf("%s: first probe at %v, want the drawn offset %v", s.Name, off, want[i])
			}
			distinct[off] = true
		}
		if len(distinct) < n/2 {
			t.Errorf("only %d distinct start offsets among %d checks", len(distinct), n)
		}
	})
}

func TestMonitorTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeChecker{probe: func(ctx context.Context, _ int) (string, error) {
			<-ctx.Done()
			return "partial", ctx.Err()
		}}
		spec := fakeSpec("hung", 200*time.Millisecond, 2, 2)
		spec.Timeout = 50 * time.Millisecond
		m := startMonitor(t, 4, []Spec{spec}, map[string]*fakeChecker{"hung": f}, nil)
		time.Sleep(time.Second)

		st, _ := m.Status("hung")
		if st.State != Unhealthy {
			t.Fatalf("state %v, want unhealthy", st.State)
		}
		if want := "timed out after 50ms: context deadline exceeded"; st.LastError != want {
			t.Errorf("LastError %q, want %q", st.LastError, want)
		}
		if st.Duration != spec.Timeout || st.LastOutput != "partial" {
			t.Errorf("Duration %v, output %q; want %v, %q", st.Duration, st.LastOutput, spec.Timeout, "partial")
		}
	})
}

func TestMonitorChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 100 * time.Millisecond
		// a: healthy after 2 probes, then stays so. b: unhealthy after
		// 2, healthy after 5.
		fa := &fakeChecker{probe: script(true)}
		fb := &fakeChecker{probe: script(false, false, false, true, true)}
		m := startMonitor(t, 5, []Spec{fakeSpec("a", interval, 2, 2), fakeSpec("b", interval, 2, 2)},
			map[string]*fakeChecker{"a": fa, "b": fb}, nil)

		select {
		case <-m.Changes():
			t.Fatal("notified before any probe")
		default:
		}
		// By 2.5 intervals both checks have left Unknown: two changes,
		// one notification waiting.
		time.Sleep(interval*5/2 + interval)
		want := map[string]State{"a": Healthy, "b": Unhealthy}
		if diff := cmp.Diff(want, m.States()); diff != "" {
			t.Fatalf("(-want +got)\n%s", diff)
		}
		select {
		case <-m.Changes():
		default:
			t.Fatal("no notification after the states changed")
		}
		select {
		case <-m.Changes():
			t.Fatal("a second notification for the same changes")
		default:
		}

		// Further probes that change nothing notify nothing; b's
		// recovery does.
		time.Sleep(3 * interval)
		select {
		case <-m.Changes():
		default:
			t.Fatal("no notification after b recovered")
		}
		time.Sleep(10 * interval)
		select {
		case <-m.Changes():
			t.Fatal("notified without a change of state")
		default:
		}
		if diff := cmp.Diff(map[string]State{"a": Healthy, "b": Healthy}, m.States()); diff != "" {
			t.Fatalf("(-want +got)\n%s", diff)
		}
		snap := m.Snapshot()
		if len(snap) != 2 || snap["b"].Name != "b" || snap["b"].Probes < 10 {
			t.Fatalf("Snapshot %+v", snap)
		}
	})
}

// recorder is a slog handler that keeps the messages it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
	return nil
}

// messages returns the messages at info level and above.
func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		if !strings.HasPrefix(m, "DEBUG ") {
			out = append(out, m)
		}
	}
	return out
}

func TestMonitorLogsChangesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		f := &fakeChecker{probe: script(true, true, true, false, false, false, false, false)}
		startMonitor(t, 6, []Spec{fakeSpec("api", 100*time.Millisecond, 2, 2)},
			map[string]*fakeChecker{"api": f}, slog.New(rec))
		time.Sleep(2 * time.Second)

		want := []string{"INFO check healthy", "WARN check unhealthy: probe 4 failed"}
		if diff := cmp.Diff(want, rec.messages()); diff != "" {
			t.Fatalf("logs at info and above (-want +got)\n%s", diff)
		}
		rec.mu.Lock()
		debug := len(rec.msgs) - len(want)
		rec.mu.Unlock()
		if debug < 10 {
			t.Errorf("%d failed probes logged at debug level, want one per failure", debug)
		}
	})
}

func TestMonitorRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := NewMonitor(nil, MonitorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Run with nothing to run returned at once: %v", err)
		default:
		}
		if err := m.Run(ctx); err == nil {
			t.Error("second Run succeeded")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	})
}

func TestNewMonitorErrors(t *testing.T) {
	ok := func(Spec) (Checker, error) { return &fakeChecker{probe: script(true)}, nil }
	tests := []struct {
		name  string
		specs []Spec
		cfg   MonitorConfig
		want  []string
	}{
		{
			name:  "invalid spec",
			specs: []Spec{{Name: "a", Type: TypeTCP}},
			cfg:   MonitorConfig{NewChecker: ok},
			want:  []string{`check "a": address is missing`},
		},
		{
			name:  "duplicate name",
			specs: []Spec{fakeSpec("a", 0, 0, 0), fakeSpec("a", 0, 0, 0)},
			cfg:   MonitorConfig{NewChecker: ok},
			want:  []string{`check "a": name "a" is used by another check`},
		},
		{
			name:  "checker fails",
			specs: []Spec{fakeSpec("a", 0, 0, 0)},
			cfg:   MonitorConfig{NewChecker: func(Spec) (Checker, error) { return nil, errors.New("no CA") }},
			want:  []string{"no CA"},
		},
		{
			name: "bad interfaces",
			cfg:  MonitorConfig{Links: []string{"eth0", "", "a-very-long-name0", "eth0", "a/b"}},
			want: []string{
				`interface ""`, `"a-very-long-name0": longer than 15 bytes`,
				`interface "eth0" is tracked twice`, `"a/b": contains '/'`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMonitor(tt.specs, tt.cfg)
			if err == nil {
				t.Fatal("NewMonitor succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewMonitorGivesDefaults(t *testing.T) {
	var got []Spec
	_, err := NewMonitor([]Spec{{Name: "api", Type: TypeHTTP, URL: "http://127.0.0.1:1/"}}, MonitorConfig{
		NewChecker: func(s Spec) (Checker, error) {
			got = append(got, s)
			return &fakeChecker{}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Spec{Spec{Name: "api", Type: TypeHTTP, URL: "http://127.0.0.1:1/"}.WithDefaults()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

func TestMonitorSeed(t *testing.T) {
	seed := map[string]Status{
		"a":     {State: Healthy, Successes: 5},
		"other": {State: Healthy},
	}
	m, err := NewMonitor([]Spec{{Name: "a", Type: TypeTCP, Address: "127.0.0.1:1"}, {Name: "b", Type: TypeTCP, Address: "127.0.0.1:1"}},
		MonitorConfig{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	states := m.States()
	if states["a"] != Healthy || states["b"] != Unknown {
		t.Errorf("states %v, want a seeded healthy and b unknown", states)
	}
	if _, ok := states["other"]; ok {
		t.Error("a seed for an unknown name was added")
	}
	if st, _ := m.Status("a"); st.Name != "a" || st.Successes != 5 {
		t.Errorf("seeded status %+v", st)
	}
}
