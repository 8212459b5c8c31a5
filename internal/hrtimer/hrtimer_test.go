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

// TestSleepUntil sleeps to points a few milliseconds ahead and reports how
// late it woke. The test fails only on gross lateness, which a busy
// machine can cause too; the figures are in the log.
func TestSleepUntil(t *testing.T) {
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	var late []time.Duration
	for range 50 {
		at := time.Now().Add(2 * time.Millisecond)
		if err := tm.SleepUntil(at); err != nil {
			t.Fatal(err)
		}
		l := time.Since(at)
		if l < 0 {
			t.Fatalf("woke %v before the time", -l)
		}
		late = append(late, l)
	}
	slices.Sort(late)
	t.Logf("lateness: median %v, max %v", late[len(late)/2], late[len(late)-1])
	if late[len(late)/2] > 5*time.Millisecond {
		t.Fatalf("median lateness %v", late[len(late)/2])
	}
	// A time in the past returns at once.
	if err := tm.SleepUntil(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
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
	start := time.Now()
	if err := tm.SleepUntil(start.Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if w := (<-woke).Sub(start); w > 100*time.Millisecond {
		t.Fatalf("the reader woke %v after the start, at the end of the sleep", w)
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

// TestPool: goroutines sleeping at once each wake on time, on Timers of
// their own; the Pool then keeps a few open, and none after Close.
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
	if got := time.Since(at); got > 50*time.Millisecond {
		t.Errorf("the last sleeper woke %v late", got)
	}
	if got := p.Idle(); got != keepIdle {
		t.Errorf("%d idle Timers after %d sleeps at once, want %d", got, n, keepIdle)
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
