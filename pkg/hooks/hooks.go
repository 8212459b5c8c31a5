package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/pkg/health"
)

// Defaults of Options.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultQueueLen = 64
)

// Event is a state transition of an instance, as passed to its hook.
type Event struct {
	Instance string
	Family   string // "ipv4" or "ipv6"
	VRID     uint8
	From, To string // INIT, BACKUP, MASTER or FAULT
	Reason   string
	VIPs     []netip.Prefix // of the family
	Priority uint8          // effective priority after the transition

	// At is when the transition happened; zero means when Notify was
	// called. The hook does not see it; the log says how long the event
	// waited in the queue.
	At time.Time
}

// Hook is what runs on the transitions of an instance.
type Hook struct {
	// Command is the program, an absolute path, and its arguments; the
	// arguments describing the event follow them.
	Command []string
}

// Options configure a Runner. The zero value is valid.
type Options struct {
	// Timeout bounds each run; zero means DefaultTimeout.
	Timeout time.Duration
	// QueueLen is the number of events that may wait per key; zero means
	// DefaultQueueLen.
	QueueLen int
	// Logger receives the outcome of each run and each dropped event; nil
	// discards.
	Logger *slog.Logger
}

// A Runner runs the hooks registered with it: Register them, start Run,
// then call Notify on every transition.
type Runner struct {
	timeout  time.Duration
	queueLen int
	log      *slog.Logger

	mu      sync.Mutex
	owners  map[string]*owner
	started bool
}

// owner is the queue and the counters of one key.
type owner struct {
	key  string
	argv []string

	// mu orders Notify's sends against the worker's closing, so that an
	// event is either queued before closed is set, and then run, or
	// dropped.
	mu     sync.Mutex
	closed bool
	queue  chan Event

	runs, failures, timeouts, dropped atomic.Uint64
}

// NewRunner returns a Runner with no hooks.
func NewRunner(opts Options) *Runner {
	r := &Runner{
		timeout:  opts.Timeout,
		queueLen: opts.QueueLen,
		log:      opts.Logger,
		owners:   make(map[string]*owner),
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.queueLen <= 0 {
		r.queueLen = DefaultQueueLen
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Register attaches h to key, normally the instance name. It refuses an
// empty command, a program that health.CheckOwnership finds unsafe (the
// error then wraps health.ErrUnsafePath), a key registered already, and
// any call once Run has started.
func (r *Runner) Register(key string, h Hook) error {
	if len(h.Command) == 0 {
		return fmt.Errorf("hooks: %q: empty command", key)
	}
	if err := health.CheckOwnership(h.Command[0]); err != nil {
		return fmt.Errorf("hooks: %q: refusing to run %s: %w", key, h.Command[0], err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.started:
		return fmt.Errorf("hooks: %q: register before Run", key)
	case r.owners[key] != nil:
		return fmt.Errorf("hooks: %q: registered twice", key)
	}
	r.owners[key] = &owner{
		key:   key,
		argv:  slices.Clone(h.Command),
		queue: make(chan Event, r.queueLen),
	}
	return nil
}

// Notify queues ev for the hook of key and returns at once; a key without
// a hook is ignored. When the queue is full, or Run has stopped the key's
// worker, the event is dropped, logged and counted.
func (r *Runner) Notify(key string, ev Event) {
	r.mu.Lock()
	o := r.owners[key]
	r.mu.Unlock()
	if o == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	// The caller keeps its slice.
	ev.VIPs = slices.Clone(ev.VIPs)

	why := ""
	o.mu.Lock()
	if o.closed {
		why = "runner stopped"
	} else {
		select {
		case o.queue <- ev:
		default:
			why = fmt.Sprintf("queue full (%d events), the hook is too slow or hangs", cap(o.queue))
		}
	}
	o.mu.Unlock()
	if why == "" {
		return
	}
	n := o.dropped.Add(1)
	r.log.Error("notify hook event dropped", "key", key, "instance", ev.Instance, "family", ev.Family,
		"from", ev.From, "to", ev.To, "why", why, "dropped_total", n)
}

// Stats returns the counters of key: the runs done (failed ones
// included), the runs that failed (including timeouts and programs that
// could not start) and the events dropped. An unknown key has zeros.
func (r *Runner) Stats(key string) (runs, failures, dropped uint64) {
	c := r.Counts(key)
	return c.Runs, c.Failures, c.Dropped
}

// Counts are the counters of one key.
type Counts struct {
	// Runs are the runs done, failed ones included; Failures the runs
	// that failed, timeouts and programs that could not start included;
	// Timeouts the runs killed at the timeout.
	Runs, Failures, Timeouts uint64
	// Dropped are the events dropped: the queue was full, or the runner
	// had stopped.
	Dropped uint64
}

// Add returns the sum of c and o.
func (c Counts) Add(o Counts) Counts {
	return Counts{Runs: c.Runs + o.Runs, Failures: c.Failures + o.Failures, Timeouts: c.Timeouts + o.Timeouts, Dropped: c.Dropped + o.Dropped}
}

// Counts returns the counters of key; an unknown key has zeros.
func (r *Runner) Counts(key string) Counts {
	r.mu.Lock()
	o := r.owners[key]
	r.mu.Unlock()
	if o == nil {
		return Counts{}
	}
	return o.counts()
}

// AllCounts returns the counters of every key registered.
func (r *Runner) AllCounts() map[string]Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Counts, len(r.owners))
	for key, o := range r.owners {
		out[key] = o.counts()
	}
	return out
}

func (o *owner) counts() Counts {
	return Counts{Runs: o.runs.Load(), Failures: o.failures.Load(), Timeouts: o.timeouts.Load(), Dropped: o.dropped.Load()}
}

// Run runs the hooks, one worker per key, until ctx ends; then each
// worker runs the events already queued and Run returns nil once all have.
// Run may be called once.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("hooks: Run called twice")
	}
	r.started = true
	owners := make([]*owner, 0, len(r.owners))
	for _, o := range r.owners {
		owners = append(owners, o)
	}
	r.mu.Unlock()

	var wg sync.WaitGroup
	for _, o := range owners {
		wg.Go(func() { r.work(ctx, o) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// work runs the events of o in order until ctx ends, then those still
// queued.
func (r *Runner) work(ctx context.Context, o *owner) {
	for {
		select {
		case ev := <-o.queue:
			r.run(o, ev)
		case <-ctx.Done():
			o.mu.Lock()
			o.closed = true
			o.mu.Unlock()
			if n := len(o.queue); n > 0 {
				r.log.Info("running pending notify hooks before stopping", "key", o.key, "pending", n)
			}
			// Nothing is sent once closed is set: the queue only
			// empties.
			for {
				select {
				case ev := <-o.queue:
					r.run(o, ev)
				default:
					return
				}
			}
		}
	}
}

// run runs o's program for ev and logs the outcome.
func (r *Runner) run(o *owner, ev Event) {
	start := time.Now()
	out, err := execHook(append(slices.Clip(o.argv), args(ev)...), environ(ev), r.timeout)
	// The run counts once its outcome is logged: whoever sees the count
	// move finds the log line.
	defer o.runs.Add(1)
	attrs := []any{
		"key", o.key, "instance", ev.Instance, "family", ev.Family, "from", ev.From, "to", ev.To,
		"queued", start.Sub(ev.At), "took", time.Since(start), "output", out,
	}
	if err != nil {
		o.failures.Add(1)
		if errors.Is(err, context.DeadlineExceeded) {
			o.timeouts.Add(1)
		}
		r.log.Warn("notify hook failed", append(attrs, "program", o.argv[0], "status", err.Error())...)
		return
	}
	r.log.Debug("notify hook ran", append(attrs, "program", o.argv[0])...)
}
