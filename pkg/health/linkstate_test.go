package health

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/pkg/linkstate"
)

// fakeLinks is a linkstate.Source whose links and events the test sets.
type fakeLinks struct {
	mu    sync.Mutex
	links map[string]linkstate.Link
	subs  int
	ev    *fakeLinkEvents
}

func (f *fakeLinks) Subscribe() (linkstate.Events, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs++
	f.ev = &fakeLinkEvents{f: f, ch: make(chan []linkstate.Event), closed: make(chan struct{})}
	return f.ev, nil
}

// send hands the tracker events, as the kernel would after changing the
// links.
func (f *fakeLinks) send(evs ...linkstate.Event) {
	f.mu.Lock()
	for _, e := range evs {
		if e.Deleted {
			delete(f.links, e.Name)
		} else {
			f.links[e.Name] = e.Link
		}
	}
	ev := f.ev
	f.mu.Unlock()
	ev.ch <- evs
}

// lose makes the subscription fail, as ENOBUFS does.
func (f *fakeLinks) lose() {
	f.mu.Lock()
	ev := f.ev
	f.mu.Unlock()
	ev.Close()
}

type fakeLinkEvents struct {
	f      *fakeLinks
	ch     chan []linkstate.Event
	once   sync.Once
	closed chan struct{}
}

func (e *fakeLinkEvents) Link(name string) (linkstate.Link, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	l, ok := e.f.links[name]
	if !ok {
		return linkstate.Link{}, linkstate.ErrNotFound
	}
	return l, nil
}

func (e *fakeLinkEvents) Receive() ([]linkstate.Event, error) {
	select {
	case evs := <-e.ch:
		return evs, nil
	case <-e.closed:
		return nil, net.ErrClosed
	}
}

func (e *fakeLinkEvents) Close() error {
	e.once.Do(func() { close(e.closed) })
	return nil
}

// TestLinkTrackerEvents: the tracker judges links by their flags, follows
// renames and deletions, and after lost events subscribes again and reads
// the links afresh; without a kernel, in a synctest bubble.
func TestLinkTrackerEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := linkstate.Link{Index: 2, Name: "eth0", Up: true, Running: true}
		src := &fakeLinks{links: map[string]linkstate.Link{"eth0": up}}
		tr, err := NewLinkTracker([]string{"eth0", "eth1"}, LinkConfig{Source: src})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- tr.Run(ctx) }()
		synctest.Wait()
		check := func(name string, want State, lastErr string) {
			t.Helper()
			st, _ := tr.Status(name)
			if st.State != want || st.LastError != lastErr {
				t.Errorf("%s: %v %q, want %v %q", name, st.State, st.LastError, want, lastErr)
			}
		}
		check("link:eth0", Healthy, "")
		check("link:eth1", Unhealthy, "interface eth1 does not exist")

		noCarrier := up
		noCarrier.Running, noCarrier.OperState = false, "down"
		src.send(linkstate.Event{Link: noCarrier})
		synctest.Wait()
		check("link:eth0", Unhealthy, "interface eth0 has no carrier (operational state down)")

		// eth0 renamed eth1: eth0 is gone, eth1 is the link.
		renamed := up
		renamed.Name = "eth1"
		src.send(linkstate.Event{Link: renamed}, linkstate.Event{Err: errors.New("unreadable")})
		synctest.Wait()
		check("link:eth0", Unhealthy, "interface eth0 renamed to eth1")
		check("link:eth1", Healthy, "")

		// Events lost: the links are read again, eth0 back meanwhile.
		src.mu.Lock()
		src.links["eth0"] = linkstate.Link{Index: 3, Name: "eth0", Up: true, Running: true}
		src.mu.Unlock()
		src.lose()
		synctest.Wait()
		check("link:eth0", Unhealthy, "interface eth0 renamed to eth1")
		time.Sleep(maxResubscribe)
		synctest.Wait()
		check("link:eth0", Healthy, "")
		src.send(linkstate.Event{Link: renamed, Deleted: true})
		synctest.Wait()
		check("link:eth1", Unhealthy, "interface eth1 deleted")
		src.mu.Lock()
		subs := src.subs
		src.mu.Unlock()
		if subs != 2 {
			t.Errorf("subscribed %d times, want 2", subs)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
