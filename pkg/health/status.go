package health

import (
	"fmt"
	"maps"
	"sync"
	"time"
)

// A State is what is known of a check or tracked interface.
type State int

// States. A check starts Unknown and leaves it after Rise consecutive
// successes or Fall consecutive failures; an interface is known from the
// first read of its link.
const (
	Unknown State = iota
	Healthy
	Unhealthy
)

func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// LinkPrefix starts the name under which a tracked interface appears among
// the checks: interface eth0 is "link:eth0".
const LinkPrefix = "link:"

// LinkCheckName returns the name of the pseudo-check of interface ifname.
func LinkCheckName(ifname string) string { return LinkPrefix + ifname }

// Status is what vipctl status shows of a check or tracked interface.
type Status struct {
	Name       string
	State      State
	LastError  string        // of the last probe; empty when it succeeded
	LastOutput string        // of the last probe, at most MaxOutput bytes and a marker
	LastProbe  time.Time     // start of the last probe (for a link, the last event)
	Duration   time.Duration // of the last probe
	Since      time.Time     // when State was entered (for Unknown, when monitoring began)
	Successes  int           // consecutive, up to and including the last probe (for a link, reads while healthy)
	Failures   int           // consecutive, up to and including the last probe (for a link, reads while not)
	Probes     uint64        // probes run (for a link, states read: at start and one per event)
}

// A board holds the statuses of a Monitor or LinkTracker and notifies one
// consumer when a State changes.
type board struct {
	mu     sync.Mutex
	status map[string]Status

	// changes has room for one notification: a consumer that is busy
	// finds one waiting when it comes back, however many changes
	// happened meanwhile, and reads them all with snapshot.
	changes chan struct{}
}

func newBoard() *board {
	return &board{status: make(map[string]Status), changes: make(chan struct{}, 1)}
}

// add registers a name, Unknown.
func (b *board) add(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status[name] = Status{Name: name}
}

// seed sets the starting status of a registered name.
func (b *board) seed(name string, st Status) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.status[name]; ok {
		st.Name = name
		b.status[name] = st
	}
}

// begin records when monitoring of name began, as the Since of its
// Unknown state.
func (b *board) begin(name string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.status[name]; st.State == Unknown && st.Since.IsZero() {
		st.Since = now
		b.status[name] = st
	}
}

// set stores st and notifies if its State differs from the one stored.
func (b *board) set(st Status) {
	b.mu.Lock()
	old := b.status[st.Name]
	b.status[st.Name] = st
	b.mu.Unlock()
	if old.State != st.State {
		select {
		case b.changes <- struct{}{}:
		default:
		}
	}
}

func (b *board) get(name string) (Status, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.status[name]
	return st, ok
}

func (b *board) snapshot() map[string]Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.status)
}

func (b *board) states() map[string]State {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := make(map[string]State, len(b.status))
	for n, st := range b.status {
		m[n] = st.State
	}
	return m
}
