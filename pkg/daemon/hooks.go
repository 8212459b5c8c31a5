package daemon

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/hooks"
)

// hookSet runs the notify hooks: the runner notified of transitions, and
// the runners it replaced while they run what they had queued. Its counts
// survive a runner's replacement.
type hookSet struct {
	mu      sync.Mutex
	current *hooks.Runner // nil once stopped
	cancel  context.CancelFunc
	done    chan struct{} // closed when the current runner's Run returned
	// live are the runners whose Run has not returned, current
	// included; base the counts of those that returned.
	live []*hooks.Runner
	base map[string]hooks.Counts
}

func (h *hookSet) init() { h.base = make(map[string]hooks.Counts) }

// newHooks returns a runner of the instances' notify hooks, not running.
func (d *Daemon) newHooks(instances []config.Instance) (*hooks.Runner, error) {
	runner := hooks.NewRunner(hooks.Options{Timeout: d.opts.HookTimeout, Logger: d.log})
	for _, inst := range instances {
		if len(inst.Notify) == 0 {
			continue
		}
		if err := runner.Register(inst.Name, hooks.Hook{Command: inst.Notify}); err != nil {
			return nil, fmt.Errorf("instance %q: notify: %w", inst.Name, err)
		}
	}
	return runner, nil
}

// swap makes runner the one notified of transitions. The previous runner
// is told to stop: it runs what it has queued, and only then does the new
// one start, so that hooks never run out of order.
func (h *hookSet) swap(runner *hooks.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.mu.Lock()
	prev, prevCancel := h.done, h.cancel
	h.current, h.cancel, h.done = runner, cancel, done
	h.live = append(h.live, runner)
	h.mu.Unlock()
	if prevCancel != nil {
		prevCancel()
	}
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		runner.Run(ctx)
		h.retire(runner)
	}()
}

// retire moves the counts of a runner whose Run returned into base.
func (h *hookSet) retire(runner *hooks.Runner) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key, c := range runner.AllCounts() {
		h.base[key] = h.base[key].Add(c)
	}
	for i, r := range h.live {
		if r == runner {
			h.live = append(h.live[:i:i], h.live[i+1:]...)
			break
		}
	}
}

// notify queues ev for the hook of key, if any.
func (h *hookSet) notify(key string, ev hooks.Event) {
	// Under the lock: a runner is not retired while it is notified,
	// whose drop it might count.
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.current != nil {
		h.current.Notify(key, ev)
	}
}

// stop ends notifications and waits until every runner ran what it had
// queued.
func (h *hookSet) stop() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.current = nil
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// counts returns the counts of key over every runner so far.
func (h *hookSet) counts(key string) hooks.Counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.base[key]
	for _, r := range h.live {
		c = c.Add(r.Counts(key))
	}
	return c
}

// sameHooks reports whether two configurations have the same notify
// commands.
func sameHooks(a, b []config.Instance) bool {
	hooksOf := func(is []config.Instance) map[string][]string {
		m := make(map[string][]string)
		for _, i := range is {
			if len(i.Notify) > 0 {
				m[i.Name] = i.Notify
			}
		}
		return m
	}
	return reflect.DeepEqual(hooksOf(a), hooksOf(b))
}
