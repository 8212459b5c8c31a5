package health

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/linkstate"
	"github.com/vipd/vipd/pkg/netif"
)

// labLinks returns the links of a lab host for the tracker.
func labLinks(t *testing.T, h *lab.Host) linkstate.Source {
	t.Helper()
	ns, err := netns.GetFromName(h.NetnsName())
	if err != nil {
		t.Fatalf("open namespace %s: %v", h.NetnsName(), err)
	}
	t.Cleanup(func() { ns.Close() })
	return netif.Links(&ns)
}

// statusSource is what the tests read of a LinkTracker or Monitor.
type statusSource interface {
	Status(name string) (Status, bool)
}

// waitState polls until name is in state want and its last error contains
// errPart, and fails the test after a few seconds.
func waitState(t *testing.T, src statusSource, name string, want State, errPart string) Status {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := src.Status(name)
		if !ok {
			t.Fatalf("no status for %s", name)
		}
		if st.State == want && strings.Contains(st.LastError, errPart) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v (%q), want %v with an error containing %q", name, st.State, st.LastError, want, errPart)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// run runs a Run function until the test ends.
func run(t *testing.T, runFn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runFn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
}

func TestLinkTrackerLab(t *testing.T) {
	l := lab.New(t)
	h := l.AddHost("a", "192.0.2.11/24")
	tr, err := NewLinkTracker([]string{"eth0", "lo", "va", "vx"}, LinkConfig{Source: labLinks(t, h)})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"link:eth0", "link:va"} {
		if st, _ := tr.Status(n); st.State != Unknown {
			t.Fatalf("%s before Run: %v", n, st.State)
		}
	}
	run(t, tr.Run)

	// Initial state, read at start. The loopback has no carrier
	// detection: its operational state is unknown, and it is healthy.
	st := waitState(t, tr, "link:eth0", Healthy, "")
	if !strings.Contains(st.LastOutput, "operational state up") {
		t.Errorf("eth0 output %q", st.LastOutput)
	}
	st = waitState(t, tr, "link:lo", Healthy, "")
	if !strings.Contains(st.LastOutput, "operational state unknown") {
		t.Errorf("lo output %q", st.LastOutput)
	}
	waitState(t, tr, "link:va", Unhealthy, "interface va does not exist")
	drain(tr.Changes())

	// Carrier lost and back: the bridge side of the cable goes down.
	h.LinkDown(t)
	waitState(t, tr, "link:eth0", Unhealthy, "interface eth0 has no carrier")
	expectNotified(t, tr.Changes())
	h.LinkUp(t)
	waitState(t, tr, "link:eth0", Healthy, "")
	expectNotified(t, tr.Changes())

	// Administratively down and up.
	nh := h.Handle()
	eth0, err := nh.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := nh.LinkSetDown(eth0); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:eth0", Unhealthy, "interface eth0 is administratively down")
	if err := nh.LinkSetUp(eth0); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:eth0", Healthy, "")

	// Created later: a veth is down, then up without carrier while its
	// peer is down, then healthy.
	va := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb"}
	if err := nh.LinkAdd(va); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:va", Unhealthy, "interface va is administratively down")
	if err := nh.LinkSetUp(va); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:va", Unhealthy, "interface va has no carrier")
	vb, err := nh.LinkByName("vb")
	if err != nil {
		t.Fatal(err)
	}
	if err := nh.LinkSetUp(vb); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:va", Healthy, "")

	// Renamed away (a link must be down to be renamed), then up under
	// the other tracked name.
	if err := nh.LinkSetDown(va); err != nil {
		t.Fatal(err)
	}
	if err := nh.LinkSetName(va, "vx"); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:va", Unhealthy, "interface va renamed to vx")
	if err := nh.LinkSetUp(va); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:vx", Healthy, "")

	// Deleted.
	if err := nh.LinkDel(va); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:vx", Unhealthy, "interface vx deleted")
}

func TestLinkTrackerIgnoresBridgePortEvents(t *testing.T) {
	// An interface enslaved to a bridge and released again gets AF_BRIDGE
	// messages, RTM_DELLINK among them; it was not deleted, and its state
	// must not flap.
	l := lab.New(t)
	h := l.AddHost("a", "192.0.2.11/24")
	nh := h.Handle()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	va := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb"}
	for _, link := range []netlink.Link{br, va} {
		if err := nh.LinkAdd(link); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"br0", "va", "vb"} {
		if err := nh.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			t.Fatalf("up %s: %v", name, err)
		}
	}
	rec := &recorder{}
	tr, err := NewLinkTracker([]string{"va"}, LinkConfig{Source: labLinks(t, h), Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, tr.Run)
	waitState(t, tr, "link:va", Healthy, "")

	if err := nh.LinkSetMaster(va, br); err != nil {
		t.Fatal(err)
	}
	if err := nh.LinkSetNoMaster(va); err != nil {
		t.Fatal(err)
	}
	// A last change, after the bridge's messages: once the tracker has
	// seen it, it has read them too.
	if err := nh.LinkSetDown(va); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, "link:va", Unhealthy, "interface va is administratively down")
	want := []string{
		"INFO interface healthy",
		"WARN interface unhealthy: interface va is administratively down",
	}
	if diff := cmp.Diff(want, rec.messages()); diff != "" {
		t.Fatalf("state changes logged (-want +got)\n%s", diff)
	}
}

func TestMonitorTracksLinks(t *testing.T) {
	l := lab.New(t)
	h := l.AddHost("a", "192.0.2.11/24")
	m, err := NewMonitor(nil, MonitorConfig{Links: []string{"eth0"}, LinkSource: labLinks(t, h)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, m.Run)
	waitState(t, m, "link:eth0", Healthy, "")
	expectNotified(t, m.Changes())
	h.LinkDown(t)
	waitState(t, m, "link:eth0", Unhealthy, "no carrier")
	expectNotified(t, m.Changes())
	prio, fault, pending := Effective(150, []Track{{Check: "link:eth0"}}, m.States())
	if prio != 150 || !fault || pending {
		t.Fatalf("Effective = %d, %v, %v; want 150, fault, not pending", prio, fault, pending)
	}
}

func TestLinkTrackerBadNamespace(t *testing.T) {
	// Any open file that is not a network namespace will do.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	bad := netns.NsHandle(f.Fd())
	tr, err := NewLinkTracker([]string{"eth0"}, LinkConfig{Source: netif.Links(&bad)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "health: subscribe to link events: ") {
		t.Fatalf("Run in no namespace: %v, want a subscription error", err)
	}
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// expectNotified fails unless a notification is waiting (the state change
// that the caller has just seen must have left one).
func expectNotified(t *testing.T, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	default:
		t.Fatal("state changed without a notification")
	}
}
