package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vipd/vipd/pkg/linkstate"
)

// MonitorConfig holds what a Monitor needs besides its checks. The zero
// value is usable.
type MonitorConfig struct {
	// Links lists interfaces to track along with the checks; each
	// appears as the pseudo-check LinkCheckName(name). See LinkTracker.
	Links []string
	// LinkSource is where Links are read and followed (netif.Links);
	// needed when Links is not empty.
	LinkSource linkstate.Source

	// Rand draws the start offset of each check; nil means a generator
	// seeded at random.
	Rand *rand.Rand
	// Logger receives state changes and failed probes; nil discards.
	Logger *slog.Logger
	// NewChecker builds the checker of a spec (given with its defaults
	// filled in); nil means New. Tests substitute fakes.
	NewChecker func(Spec) (Checker, error)
	// Seed gives checks and interfaces their starting Status instead of
	// Unknown, by name: a configuration reload hands over the states of
	// the checks it did not change, so that routers do not fall back to
	// waiting for results they already have.
	Seed map[string]Status
}

// A Monitor runs checks, each on its own schedule, and tracks interfaces.
// It keeps the Status of each under its name and notifies one consumer
// when a State changes, so that a single goroutine can recompute the
// priorities of the virtual routers:
//
//	for range m.Changes() {
//		states := m.States()
//		prio, fault, pending := health.Effective(base, tracks, states)
//		...
//	}
type Monitor struct {
	checks  []*check
	links   *LinkTracker // nil without Links
	board   *board
	log     *slog.Logger
	rand    *rand.Rand
	started atomic.Bool
}

type check struct {
	spec    Spec
	checker Checker
}

// NewMonitor validates the specs (after filling in their defaults) and the
// interface names and builds the checkers. Every check and interface is
// Unknown until Run has found out.
func NewMonitor(specs []Spec, cfg MonitorConfig) (*Monitor, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := cfg.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	build := cfg.NewChecker
	if build == nil {
		build = New
	}
	m := &Monitor{board: newBoard(), log: log, rand: r}

	var errs []error
	seen := make(map[string]bool)
	for _, s := range specs {
		s = s.WithDefaults()
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[s.Name] {
			errs = append(errs, &SpecError{Check: s.Name, Key: "name", Msg: fmt.Sprintf("name %q is used by another check", s.Name)})
			continue
		}
		seen[s.Name] = true
		c, err := build(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.checks = append(m.checks, &check{spec: s, checker: c})
		m.board.add(s.Name)
	}
	if len(cfg.Links) > 0 {
		lt, err := newLinkTracker(cfg.Links, LinkConfig{Source: cfg.LinkSource, Logger: log}, m.board)
		if err != nil {
			errs = append(errs, err)
		}
		m.links = lt
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for name, st := range cfg.Seed {
		m.board.seed(name, st)
	}
	return m, nil
}

// Run runs every check in a goroutine of its own, and the link tracker,
// until ctx ends; it then returns nil. It returns an error if the link
// tracker fails. Run may be called once.
//
// Each check waits a random offset within its interval before its first
// probe, so that the nodes of a cluster, started together, do not probe
// together. A probe never overlaps the previous one of the same check:
// probes start an interval apart, and one that overruns the interval (a
// checker that ignores its context) delays the next, which then starts at
// once.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("health: Monitor.Run called twice")
	}
	now := time.Now()
	offsets := make([]time.Duration, len(m.checks))
	for i, c := range m.checks {
		m.board.begin(c.spec.Name, now)
		// Drawn here, not in the goroutines: a rand.Rand is not safe
		// for concurrent use.
		offsets[i] = time.Duration(m.rand.Int64N(int64(c.spec.Interval)))
	}
	g, ctx := errgroup.WithContext(ctx)
	for i, c := range m.checks {
		g.Go(func() error {
			m.runCheck(ctx, c, offsets[i])
			return nil
		})
	}
	if m.links != nil {
		g.Go(func() error { return m.links.Run(ctx) })
	}
	// Like any task, Run lasts until ctx ends, also with nothing to run.
	g.Go(func() error {
		<-ctx.Done()
		return nil
	})
	return g.Wait()
}

// runCheck probes c until ctx ends.
//
// A tcp, http or https check also keeps an idle connection to its target
// while it passes (unless Spec.NoWatch), and a process check a pidfd of
// each process it counts: when the target closes the connection or a
// process exits, the check probes at once, and after a failure probes
// again at once until it fails Fall times or passes. A target that exits is so found unhealthy
// within a few milliseconds, its refused connections being certain
// failures; one that closes an idle connection for its own reasons passes
// the probe and costs nothing more.
func (m *Monitor) runCheck(ctx context.Context, c *check, offset time.Duration) {
	log := m.log.With("check", c.spec.Name)
	st, _ := m.board.get(c.spec.Name)
	t := time.NewTimer(offset)
	defer t.Stop()
	var ready chan struct{}    // to the watch, if any
	var closed <-chan struct{} // from the watch or the checker, if any
	if w, ok := c.checker.(connWatcher); ok && !c.spec.NoWatch {
		ready = make(chan struct{}, 1)
		cl := make(chan struct{}, 1)
		go watch(ctx, w, c.spec, ready, cl)
		closed = cl
	}
	if w, ok := c.checker.(exitWatcher); ok {
		closed = w.watchExits(ctx)
	}
	var next time.Time // planned start of the next probe
	burst := false     // probing back to back after the connection closed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-closed:
			log.Debug("the target may be gone: probing now")
			burst = true
		}
		start := time.Now()
		if next.IsZero() {
			next = start
		}
		out, err := probe(ctx, c)
		if ctx.Err() != nil {
			return // stopping is no failure of the check
		}
		end := time.Now()

		prev := st.State
		st = advance(st, c.spec, start, end, out, err)
		logProbe(log, prev, st, err) // before publishing, as the link tracker
		m.board.set(st)

		if err == nil && ready != nil {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
		// Only refused connections and missing processes are certain: a
		// target that answers with an error (503 while etcd is away)
		// keeps the ordinary rise/fall timing.
		certain := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, errQuorum)
		burst = burst && certain && st.State != Unhealthy
		if burst {
			t.Reset(0)
			continue
		}
		next = next.Add(c.spec.Interval)
		if next.Before(end) {
			next = end // overran: start at once, without catching up
		}
		t.Reset(next.Sub(end))
	}
}

// probe runs one probe of c within its timeout.
func probe(ctx context.Context, c *check) (string, error) {
	pctx, cancel := context.WithTimeout(ctx, c.spec.Timeout)
	defer cancel()
	out, err := c.checker.Check(pctx)
	if err != nil && errors.Is(pctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %v: %w", c.spec.Timeout, err)
	}
	return out, err
}

// advance returns st after a probe that ran from start to end and returned
// out and err: the consecutive counts move, and the State changes when a
// count reaches Rise or Fall.
func advance(st Status, s Spec, start, end time.Time, out string, err error) Status {
	st.Probes++
	st.LastProbe = start
	st.Duration = end.Sub(start)
	st.LastOutput = out
	if err == nil {
		st.LastError = ""
		st.Successes++
		st.Failures = 0
		if st.State != Healthy && st.Successes >= s.Rise {
			st.State = Healthy
			st.Since = end
		}
		return st
	}
	st.LastError = err.Error()
	st.Failures++
	st.Successes = 0
	if st.State != Unhealthy && st.Failures >= s.Fall {
		st.State = Unhealthy
		st.Since = end
	}
	return st
}

// logProbe logs a change of state once, and each failed probe at debug
// level: at a 200ms interval a failing check would otherwise fill the
// journal.
func logProbe(log *slog.Logger, prev State, st Status, err error) {
	switch {
	case st.State == prev:
		if err != nil {
			log.Debug("probe failed", "error", st.LastError, "failures", st.Failures)
		}
	case st.State == Healthy:
		log.Info("check healthy", "was", prev.String(), "successes", st.Successes)
	case st.State == Unhealthy:
		log.Warn("check unhealthy", "was", prev.String(), "failures", st.Failures,
			"error", st.LastError, "output", brief(st.LastOutput))
	}
}

// Changes returns the channel on which the Monitor notifies that the State
// of a check or interface changed. It has room for one notification, which
// stands for every change since the consumer last read it: after reading,
// get the states with States or Snapshot. It is meant for one consumer.
func (m *Monitor) Changes() <-chan struct{} { return m.board.changes }

// Snapshot returns the status of every check and tracked interface, by
// name.
func (m *Monitor) Snapshot() map[string]Status { return m.board.snapshot() }

// States returns the state of every check and tracked interface, by name,
// as Effective takes them.
func (m *Monitor) States() map[string]State { return m.board.states() }

// Status returns the status of one check or tracked interface.
func (m *Monitor) Status(name string) (Status, bool) { return m.board.get(name) }
