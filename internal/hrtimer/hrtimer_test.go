package hrtimer

import (
	"errors"
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestSleepUntil: a sleep never ends before its time, and a time in the
// past returns at once. How late it wakes is BenchmarkSleepUntilLateness's.
func TestSleepUntil(t *testing.T) {
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	for range 50 {
		at := time.Now().Add(2 * time.Millisecond)
		if err := tm.SleepUntil(at); err != nil {
			t.Fatal(err)
		}
		if l := time.Since(at); l < 0 {
			t.Fatalf("woke %v before the time", -l)
		}
	}
	if err := tm.SleepUntil(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSleepUntilLateness reports how late sleeps of 2 ms wake: the
// median and the maximum, in microseconds.
func BenchmarkSleepUntilLateness(b *testing.B) {
	tm, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer tm.Close()
	var late []time.Duration
	for b.Loop() {
		at := time.Now().Add(2 * time.Millisecond)
		if err := tm.SleepUntil(at); err != nil {
			b.Fatal(err)
		}
		late = append(late, time.Since(at))
	}
	slices.Sort(late)
	b.ReportMetric(float64(late[len(late)/2].Microseconds()), "median-late-µs")
	b.ReportMetric(float64(late[len(late)-1].Microseconds()), "max-late-µs")
}

// TestSleepLeavesTheProcessor: with one P, a goroutine sleeping on the
// Timer must let a goroutine waiting for a packet run as the packet
// arrives, not after the sleep.
func TestSleepLeavesTheProcessor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	woke := make(chan time.Time, 1)
	go func() {
		b := make([]byte, 8)
		pc.ReadFrom(b)
		woke <- time.Now()
	}()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		time.Sleep(5 * time.Millisecond)
		c.Write([]byte("x"))
	}()
	// Long enough that the writer runs well within it, however busy the
	// machine: the reader must wake before the sleep ends.
	if err := tm.SleepUntil(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	slept := time.Now()
	if w := <-woke; !w.Before(slept) {
		t.Fatalf("the reader woke %v after the sleep ended, not during it", w.Sub(slept))
	}
}

func TestClose(t *testing.T) {
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- tm.SleepUntil(time.Now().Add(time.Hour)) }()
	time.Sleep(10 * time.Millisecond) // let it sleep; the test holds either way
	tm.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("SleepUntil after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SleepUntil still sleeping after Close")
	}
}

// BenchmarkSleepUntil costs a sleep of 100µs: what a backup pays for its
// precision before a takeover.
func BenchmarkSleepUntil(b *testing.B) {
	tm, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer tm.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := tm.SleepUntil(time.Now().Add(100 * time.Microsecond)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPool: goroutines sleeping at once each wake on time; the Pool keeps
// a few of the Timers they used open, and none after Close.
func TestPool(t *testing.T) {
	var p Pool
	const n = 16
	at := time.Now().Add(20 * time.Millisecond)
	errs := make(chan error, n)
	for range n {
		go func() {
			err := p.SleepUntil(at)
			if err == nil && time.Now().Before(at) {
				err = errors.New("woke before the time")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// How many Timers the sleeps needed depends on how many overlapped,
	// which a busy machine decides.
	if got := p.Idle(); got < 1 || got > keepIdle {
		t.Errorf("%d idle Timers after %d sleeps, want 1 to %d", got, n, keepIdle)
	}
	held := make([]*Timer, n) // as many sleeps at once, for certain
	for i := range held {
		tm, err := p.get()
		if err != nil {
			t.Fatal(err)
		}
		held[i] = tm
	}
	for _, tm := range held {
		p.put(tm, nil)
	}
	if got := p.Idle(); got != keepIdle {
		t.Errorf("%d idle Timers after %d Timers in use at once, want %d", got, n, keepIdle)
	}
	if err := p.SleepUntil(time.Now().Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := p.Idle(); got != keepIdle {
		t.Errorf("%d idle Timers after a sleep on an idle one, want %d", got, keepIdle)
	}
	p.Close()
	if got := p.Idle(); got != 0 {
		t.Errorf("%d idle Timers after Close", got)
	}
	if err := p.SleepUntil(time.Now().Add(time.Millisecond)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("SleepUntil after Close = %v, want os.ErrClosed", err)
	}
	// A time in the past returns at once, even then.
	if err := p.SleepUntil(time.Now().Add(-time.Second)); err != nil {
		t.Error(err)
	}
}
