package health

import (
	"context"
	"encoding/pem"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// watchingFake is a fakeChecker whose target connections are pipes: the
// test holds the target's ends and closes them as a dying target would.
type watchingFake struct {
	*fakeChecker
	targets chan net.Conn // the target's end of each watch connection
}

func (f *watchingFake) watchConn(context.Context) (net.Conn, error) {
	client, target := net.Pipe()
	f.targets <- target
	return client, nil
}

// startWatching runs a Monitor of one check over f inside a synctest
// bubble, and stops it when the test ends.
func startWatching(t *testing.T, s Spec, f Checker) *Monitor {
	t.Helper()
	m, err := NewMonitor([]Spec{s}, MonitorConfig{
		Rand:       rand.New(rand.NewPCG(1, 1)),
		NewChecker: func(Spec) (Checker, error) { return f, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return m
}

// TestWatchTargetExits: once the target's connection closes, the check
// probes at once and back to back, and is unhealthy after Fall refused
// probes, long before its next interval.
func TestWatchTargetExits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down sync.Mutex
		dead := false
		f := &watchingFake{targets: make(chan net.Conn, 4), fakeChecker: &fakeChecker{probe: func(context.Context, int) (string, error) {
			down.Lock()
			defer down.Unlock()
			if dead {
				return "", syscall.ECONNREFUSED
			}
			return "", nil
		}}}
		m := startWatching(t, fakeSpec("api", time.Hour, 1, 3), f)
		target := <-f.targets // the first probe passed: the watch connected
		if st, _ := m.Status("api"); st.State != Healthy || st.Probes != 1 {
			t.Fatalf("before the target exits: %+v, want healthy after 1 probe", st)
		}

		down.Lock()
		dead = true
		down.Unlock()
		exited := time.Now()
		target.Close()
		synctest.Wait()
		st, _ := m.Status("api")
		if st.State != Unhealthy || st.Probes != 4 || !st.Since.Equal(exited) {
			t.Fatalf("after the target exited: %+v, want unhealthy at once after 3 more probes", st)
		}
		if st.LastError != syscall.ECONNREFUSED.Error() {
			t.Errorf("last error %q, want %q", st.LastError, syscall.ECONNREFUSED.Error())
		}
		// No more probes until the interval: a failing target is not
		// probed back to back forever.
		time.Sleep(time.Hour - time.Millisecond)
		if st, _ := m.Status("api"); st.Probes != 4 {
			t.Errorf("%d probes within the hour, want 4", st.Probes)
		}
	})
}

// TestWatchIdleClose: a target that closes an idle connection for its own
// reasons passes the probe that follows, and is watched again, at most once
// per interval.
func TestWatchIdleClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = time.Minute
		f := &watchingFake{targets: make(chan net.Conn, 4), fakeChecker: &fakeChecker{probe: script(true)}}
		m := startWatching(t, fakeSpec("api", interval, 1, 1), f)
		first := <-f.targets
		connected := time.Now()
		first.Close()
		second := <-f.targets // after the probe that the close caused
		if got := time.Since(connected); got != interval {
			t.Errorf("connected again %v after the last connection, want %v", got, interval)
		}
		st, _ := m.Status("api")
		if st.State != Healthy || st.Failures != 0 || st.Probes < 2 {
			t.Fatalf("after an idle close: %+v, want healthy, no failure, a probe more", st)
		}
		second.Close()
	})
}

// TestNoWatch: with NoWatch the check keeps no connection to its target.
func TestNoWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &watchingFake{targets: make(chan net.Conn, 4), fakeChecker: &fakeChecker{probe: script(true)}}
		s := fakeSpec("api", time.Second, 1, 1)
		s.NoWatch = true
		startWatching(t, s, f)
		time.Sleep(5 * time.Second)
		if len(f.targets) != 0 {
			t.Fatal("a check with NoWatch connected to its target")
		}
		if got := len(f.startTimes()); got != 5 {
			t.Errorf("%d probes in 5 intervals, want 5", got)
		}
	})
}

// TestWatchRealTargets: tcp and https checks over real sockets notice a
// target that stops at once, though their interval is an hour.
func TestWatchRealTargets(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conns := make(chan net.Conn, 16)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns <- c
			}
		}()
		s := Spec{Name: "lb", Type: TypeTCP, Address: ln.Addr().String(), Interval: time.Hour, Rise: 1, Fall: 2}
		exitSeen(t, s, func() {
			ln.Close()
			for len(conns) > 0 {
				(<-conns).Close()
			}
		}, func() bool { return len(conns) >= 2 }) // a probe's and the watch's
	})
	t.Run("https", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		var conns atomic.Int32
		srv.Config.ConnState = func(_ net.Conn, cs http.ConnState) {
			if cs == http.StateNew {
				conns.Add(1)
			}
		}
		srv.StartTLS()
		defer srv.Close()
		ca := filepath.Join(t.TempDir(), "ca.crt")
		if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
		s := Spec{Name: "api", Type: TypeHTTPS, URL: srv.URL + "/readyz", CAFile: ca, Interval: time.Hour, Rise: 1, Fall: 2}
		exitSeen(t, s, func() {
			srv.Listener.Close()
			srv.CloseClientConnections()
		}, func() bool { return conns.Load() >= 2 }) // a probe's and the watch's
	})
}

// exitSeen runs a check of s until it is healthy and watched, stops the
// target and waits for the check to become unhealthy.
func exitSeen(t *testing.T, s Spec, stop func(), watched func() bool) {
	t.Helper()
	// The first probe at once, not at a random offset into the hour.
	m, err := NewMonitor([]Spec{s}, MonitorConfig{Rand: rand.New(zeroSource{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for {
		<-m.Changes()
		if st, _ := m.Status(s.Name); st.State == Healthy {
			break
		}
	}
	for !watched() {
		time.Sleep(time.Millisecond)
	}
	stop()
	for {
		<-m.Changes()
		if st, _ := m.Status(s.Name); st.State == Unhealthy {
			if st.Probes != 3 {
				t.Errorf("unhealthy after %d probes, want 3: %+v", st.Probes, st)
			}
			return
		}
	}
}

// zeroSource makes Int64N draw zeros: a Monitor with it probes each check at once.
type zeroSource struct{}

func (zeroSource) Uint64() uint64 { return 1 } // Int64N(n) of it is 0

// TestWatchSoftFailure: when the connection closes while the target
// answers with errors (503: up, but not ready), the check probes once at
// once and then keeps its interval: only refused connections are probed
// back to back.
func TestWatchSoftFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		failing := false
		f := &watchingFake{targets: make(chan net.Conn, 4), fakeChecker: &fakeChecker{probe: func(context.Context, int) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return "", errors.New("GET https://127.0.0.1:6443/readyz: status 503")
			}
			return "", nil
		}}}
		m := startWatching(t, fakeSpec("api", time.Hour, 1, 3), f)
		target := <-f.targets
		mu.Lock()
		failing = true
		mu.Unlock()
		target.Close() // the server closes an idle connection
		synctest.Wait()
		if st, _ := m.Status("api"); st.State != Healthy || st.Probes != 2 || st.Failures != 1 {
			t.Fatalf("after an idle close while not ready: %+v, want healthy after 1 failed probe", st)
		}
	})
}
