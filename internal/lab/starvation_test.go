package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunDelay: two threads spinning on one CPU take turns, so each waits
// while the other runs, and the process's run delay grows by that wait.
func TestRunDelay(t *testing.T) {
	if _, err := RunDelay(1 << 30); err == nil {
		t.Error("RunDelay of a process that does not exist: no error")
	}
	starve(t, 50*time.Millisecond)()
}

// starve makes the test process wait for a CPU for want or more: two
// threads spin on one CPU until its run delay has grown by that much. The
// threads spin on until the function returned is called, as the run delay
// of a thread leaves the process's sum when the thread exits.
func starve(t *testing.T, want time.Duration) (stop func()) {
	t.Helper()
	before, err := RunDelay(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil {
		t.Fatal(err)
	}
	one := -1
	for i := 0; i < 1024 && one < 0; i++ {
		if cpus.IsSet(i) {
			one = i
		}
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // the thread exits with the goroutine
			var set unix.CPUSet
			set.Set(one)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				t.Error(err)
				return
			}
			for !done.Load() { // spin: the thread is runnable throughout
			}
		}()
	}
	stop = func() { done.Store(true); wg.Wait() }
	deadline := time.Now().Add(time.Minute)
	for {
		now, err := RunDelay(os.Getpid())
		if err != nil {
			stop()
			t.Fatal(err)
		}
		if now-before >= want {
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("run delay grew by %v in a minute of two threads sharing a CPU, want %v", now-before, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStarvationWatchFresh: a watch whose sampler has not sampled since a
// stall (it waited for a CPU itself, here: it samples once an hour) takes
// a sample when asked about a window that ends after its last one.
func TestStarvationWatchFresh(t *testing.T) {
	Require(t)
	w := New(t).WatchStarvation(t, time.Hour, true)
	from := time.Now()
	defer starve(t, 50*time.Millisecond)()
	if got := w.Between(from, time.Now()); got < 50*time.Millisecond {
		t.Errorf("Between after a 50 ms wait for a CPU = %v, want 50 ms or more", got)
	}
	if !w.Stalled(time.Now(), time.Minute, 50*time.Millisecond) {
		t.Error("Stalled after a 50 ms wait for a CPU = false, want true")
	}
}

// TestStarvationBetween: a window is widened to the samples around it.
func TestStarvationBetween(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := &StarvationWatch{
		at:  []time.Time{at(0), at(50), at(100), at(150)},
		cum: []time.Duration{0, 10 * time.Millisecond, 40 * time.Millisecond, 45 * time.Millisecond},
	}
	for _, tt := range []struct {
		from, to int
		want     time.Duration
	}{
		{50, 100, 30 * time.Millisecond}, // on samples
		{60, 90, 30 * time.Millisecond},  // between two samples: both around
		{40, 110, 45 * time.Millisecond}, // 0 to 150
		{-10, 20, 10 * time.Millisecond}, // before the first: from it
		{140, 900, 5 * time.Millisecond}, // past the last: to it
		{900, 1000, 0},                   // all past the last
	} {
		if got := w.Between(at(tt.from), at(tt.to)); got != tt.want {
			t.Errorf("Between(%d ms, %d ms) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if got := (&StarvationWatch{}).Between(at(0), at(10)); got != 0 {
		t.Errorf("Between with no samples = %v, want 0", got)
	}
}

// TestStarvationCounts: a Starvation counts the daemons in the lab's hosts,
// added after it started too, not the same command outside the lab nor
// other commands in it.
func TestStarvationCounts(t *testing.T) {
	Require(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	// A daemon's name on a command that does nothing.
	daemon := filepath.Join(t.TempDir(), "vipd")
	if err := os.WriteFile(daemon, b, 0o755); err != nil {
		t.Fatal(err)
	}
	l := New(t)
	s := l.Starvation(false) // before the host: hosts added later count
	h := l.AddHost("cp-1", "192.0.2.11/24")
	start := func(cmd *exec.Cmd) int {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd.Process.Pid
	}
	inLab := start(h.Exec(context.Background(), daemon, "60"))
	outside := start(exec.Command(daemon, "60"))
	other := start(h.Exec(context.Background(), "sleep", "60"))
	// ip netns exec execs the command in its own process once the
	// namespace is entered: wait for that.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.read()
		_, in := got[inLab]
		_, out := got[outside]
		_, oth := got[other]
		if in && !out && !oth && len(got) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counted %v: the daemon in the lab %v (pid %d), outside it %v, another command %v; want only the first", got, in, inLab, out, oth)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStarvationStalled: one daemon's wait over the window counts, not the
// sum of several.
func TestStarvationStalled(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	w := &StarvationWatch{
		at: []time.Time{at(0), at(100), at(200), at(300)},
		each: []map[int]time.Duration{
			{1: 0, 2: 0},
			{1: ms(10), 2: ms(150)},
			{1: ms(160), 2: ms(160), 3: ms(5)}, // 3 started
			{1: ms(170), 3: ms(5)},             // 2 exited
		},
	}
	for _, tt := range []struct {
		at, window, tolerance int
		want                  bool
	}{
		{100, 100, 150, true},  // 2 waited 150 ms
		{100, 100, 151, false}, // nobody that long
		{200, 100, 150, true},  // 1: 150 ms from 100 to 200
		{200, 100, 200, false}, // 1 and 2 together 160, each less
		{300, 100, 20, false},  // 1: 10 ms; 2 gone; 3: 0
		{300, 300, 170, true},  // 1 from the start
	} {
		if got := w.Stalled(at(tt.at), ms(tt.window), ms(tt.tolerance)); got != tt.want {
			t.Errorf("Stalled(%d ms, window %d ms, %d ms) = %v, want %v", tt.at, tt.window, tt.tolerance, got, tt.want)
		}
	}
}
