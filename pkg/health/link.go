package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/pkg/linkstate"
)

// Delays before subscribing again after the kernel's link events were lost
// (a socket error, typically ENOBUFS after a burst of events).
const (
	minResubscribe = 100 * time.Millisecond
	maxResubscribe = 5 * time.Second
)

// maxIfNameLen is IFNAMSIZ less the terminating NUL.
const maxIfNameLen = 15

// LinkConfig holds what a LinkTracker needs besides its interfaces.
type LinkConfig struct {
	// Source is where the interfaces are read and followed: the kernel
	// through netlink (netif.Links), in the namespace vipd runs in or,
	// in tests, a lab host's.
	Source linkstate.Source
	// Logger receives state changes; nil discards.
	Logger *slog.Logger
}

// A LinkTracker follows the kernel's link events (RTM_NEWLINK and
// RTM_DELLINK, not polling) for a list of interfaces. It publishes the
// state of each as a pseudo-check named LinkCheckName(ifname), in the same
// Status shape as a Monitor's checks; a Monitor given Links runs one
// internally, so that consumers see checks and interfaces together.
//
// An interface is Healthy when it is administratively up (IFF_UP) and
// operational (IFF_RUNNING), and Unhealthy otherwise or when it does not
// exist. The kernel sets IFF_RUNNING when the operational state is "up",
// or "unknown" as for drivers without carrier detection (dummy, loopback);
// it clears it when the carrier is lost (state "down" or
// "lowerlayerdown") and in the "dormant" state. A veth reports "up" while
// its peer is up, in whichever namespace, and loses IFF_RUNNING when the
// peer goes down: to the tracker that is a cable pulled.
//
// There is no rise or fall: the kernel reports edges, not samples. The
// initial state is read when Run starts.
type LinkTracker struct {
	names   []string
	cfg     LinkConfig
	board   *board
	log     *slog.Logger
	started atomic.Bool
}

// NewLinkTracker checks the interface names and returns a tracker that
// reports each as Unknown until Run has read it.
func NewLinkTracker(ifnames []string, cfg LinkConfig) (*LinkTracker, error) {
	return newLinkTracker(ifnames, cfg, newBoard())
}

// newLinkTracker is NewLinkTracker publishing to b, which a Monitor shares.
func newLinkTracker(ifnames []string, cfg LinkConfig, b *board) (*LinkTracker, error) {
	var errs []error
	seen := make(map[string]bool)
	for _, n := range ifnames {
		if err := checkIfName(n); err != nil {
			errs = append(errs, fmt.Errorf("health: track interface %q: %w", n, err))
			continue
		}
		if seen[n] {
			errs = append(errs, fmt.Errorf("health: interface %q is tracked twice", n))
			continue
		}
		seen[n] = true
		b.add(LinkCheckName(n))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LinkTracker{names: slices.Clone(ifnames), cfg: cfg, board: b, log: log}, nil
}

// checkIfName reports whether name can be the name of a Linux interface.
func checkIfName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) > maxIfNameLen:
		return fmt.Errorf("longer than %d bytes", maxIfNameLen)
	case name == "." || name == "..":
		return errors.New("not a valid interface name")
	case strings.ContainsAny(name, "/: \t\n"):
		return errors.New("contains '/', ':' or white space")
	}
	return nil
}

// Run follows the interfaces until ctx ends, then returns nil. It returns
// an error if it cannot subscribe at all; when events are lost later it
// subscribes again and rereads every interface. Run may be called once.
func (t *LinkTracker) Run(ctx context.Context) error {
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("health: LinkTracker.Run called twice")
	}
	if t.cfg.Source == nil {
		return errors.New("health: LinkTracker without a Source")
	}
	now := time.Now()
	for _, n := range t.names {
		t.board.begin(LinkCheckName(n), now)
	}

	delay := minResubscribe
	for first := true; ; first = false {
		began := time.Now()
		err := t.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if first && errors.Is(err, errSubscribe) {
			return fmt.Errorf("health: %w", err)
		}
		if time.Since(began) > maxResubscribe {
			delay = minResubscribe // it had worked for a while
		}
		t.log.Warn("link events lost; subscribing again", "error", err, "after", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, maxResubscribe)
	}
}

// errSubscribe is wrapped by follow when it could not subscribe.
var errSubscribe = errors.New("subscribe to link events")

// follow subscribes to link events, reads the interfaces and applies the
// events until ctx ends or the subscription fails.
func (t *LinkTracker) follow(ctx context.Context) error {
	ev, err := t.cfg.Source.Subscribe()
	if err != nil {
		return fmt.Errorf("%w: %w", errSubscribe, err)
	}
	defer ev.Close()
	stop := context.AfterFunc(ctx, func() { ev.Close() })
	defer stop()

	// Read the links after subscribing: a change in between shows both in
	// what is read and as an event after it, so the last word is right.
	byIndex := make(map[int]string) // tracked interfaces by ifindex, to notice renames
	for _, n := range t.names {
		l, err := ev.Link(n)
		switch {
		case errors.Is(err, linkstate.ErrNotFound):
			t.setMissing(n, "does not exist")
		case err != nil:
			t.setMissing(n, fmt.Sprintf("cannot read: %v", err))
		default:
			byIndex[l.Index] = n
			t.setLink(l)
		}
	}

	for {
		evs, err := ev.Receive()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Err != nil {
				t.log.Debug("unreadable link event", "error", e.Err)
				continue
			}
			t.apply(e, byIndex)
		}
	}
}

// apply applies one link event.
func (t *LinkTracker) apply(e linkstate.Event, byIndex map[int]string) {
	a := e.Link
	if old, ok := byIndex[a.Index]; ok && old != a.Name {
		// Renamed: the tracked name is gone (a new link may take it).
		delete(byIndex, a.Index)
		t.setMissing(old, fmt.Sprintf("renamed to %s", a.Name))
	}
	if !t.tracks(a.Name) {
		return
	}
	if e.Deleted {
		delete(byIndex, a.Index)
		t.setMissing(a.Name, "deleted")
		return
	}
	byIndex[a.Index] = a.Name
	t.setLink(a)
}

func (t *LinkTracker) tracks(name string) bool { return slices.Contains(t.names, name) }

// setLink publishes the state of an existing link.
func (t *LinkTracker) setLink(a linkstate.Link) {
	st, ok := t.board.get(LinkCheckName(a.Name))
	if !ok {
		return
	}
	state, reason := linkState(a)
	out := fmt.Sprintf("index %d, flags %v, operational state %v", a.Index, a.Flags, a.OperState)
	t.publish(st, state, reason, out)
}

// setMissing publishes that a tracked interface does not exist.
func (t *LinkTracker) setMissing(name, why string) {
	st, ok := t.board.get(LinkCheckName(name))
	if !ok {
		return
	}
	t.publish(st, Unhealthy, fmt.Sprintf("interface %s %s", name, why), "")
}

// publish stores a newly read state and logs it when it changed.
func (t *LinkTracker) publish(st Status, state State, lastErr, out string) {
	now := time.Now()
	prev := st.State
	st.Probes++
	st.LastProbe = now
	st.LastError = lastErr
	st.LastOutput = out
	if state != prev {
		st.State = state
		st.Since = now
		st.Successes, st.Failures = 0, 0
	}
	if state == Healthy {
		st.Successes++
	} else {
		st.Failures++
	}
	// Logged before it is published: whoever sees the new state can
	// find it in the log.
	switch {
	case state == prev:
	case state == Healthy:
		t.log.Info("interface healthy", "check", st.Name, "was", prev.String(), "link", out)
	default:
		t.log.Warn("interface unhealthy", "check", st.Name, "was", prev.String(), "error", lastErr)
	}
	t.board.set(st)
}

// linkState judges a link by its flags; see LinkTracker.
func linkState(a linkstate.Link) (State, string) {
	switch {
	case !a.Up:
		return Unhealthy, fmt.Sprintf("interface %s is administratively down", a.Name)
	case !a.Running:
		return Unhealthy, fmt.Sprintf("interface %s has no carrier (operational state %v)", a.Name, a.OperState)
	}
	return Healthy, ""
}

// Changes returns the channel on which the tracker notifies that the
// State of an interface changed; see Monitor.Changes.
func (t *LinkTracker) Changes() <-chan struct{} { return t.board.changes }

// Snapshot returns the status of every tracked interface, by check name.
func (t *LinkTracker) Snapshot() map[string]Status { return t.board.snapshot() }

// States returns the state of every tracked interface, by check name.
func (t *LinkTracker) States() map[string]State { return t.board.states() }

// Status returns the status of the interface with check name name
// ("link:eth0").
func (t *LinkTracker) Status(name string) (Status, bool) { return t.board.get(name) }
