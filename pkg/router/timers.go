package router

import (
	"time"

	"github.com/vipd/vipd/pkg/vrrp"
)

// early is how long before a takeover deadline the router's timer wakes
// it when it has a Sleeper: more than Go's timers are late.
const early = 3 * time.Millisecond

// lateTimer is how late a timer must fire to be counted and logged;
// lateSettle how long the router then lets the listener read the socket
// before it decides.
const (
	lateTimer  = 20 * time.Millisecond
	lateSettle = 5 * time.Millisecond
)

// quiet is the least time between two log lines about the same kind of
// incident (conflicts, late timers), which can otherwise repeat at the
// advert rate.
const quiet = 10 * time.Second

// arm sets the timer to the machine's deadline, early for a takeover. It
// runs with r.machine held, as do the other timer methods.
func (r *Router) arm(t *time.Timer) {
	d := r.m.Deadline()
	r.armed = d
	if d.IsZero() {
		t.Stop()
		return
	}
	if r.sleeper != nil && r.m.State() == vrrp.Backup {
		d = d.Add(-early)
	}
	t.Reset(time.Until(d))
}

// expire serves the timer: the machine times out if its deadline has come,
// and is left alone if adverts moved it meanwhile.
func (r *Router) expire() {
	r.machine.Lock()
	defer r.machine.Unlock()
	if r.late() {
		// After a stall the Listener has a socket backlog to read, and
		// adverts waiting there must win over the late timer, so that a
		// healthy master is not usurped: let it read them first. With
		// nothing waiting, the lateness is the process's own work
		// (hundreds of routers taking over at once): go on.
		if r.unread() {
			r.logLate("reading waiting adverts before acting")
			r.machine.Unlock()
			time.Sleep(lateSettle)
			r.machine.Lock()
		} else {
			r.logLate("no advert waiting")
		}
	}
	if d := r.m.Deadline(); !d.IsZero() && r.sleeper != nil && r.m.State() == vrrp.Backup && time.Until(d) <= early {
		// Sleep the rest precisely, with the machine unlocked: the
		// Listener hands over adverts meanwhile, and one that comes
		// moves the deadline, which Timeout then finds not reached.
		r.machine.Unlock()
		err := r.sleeper.SleepUntil(d)
		r.machine.Lock()
		if err != nil {
			r.log.Error("precise timer failed: takeovers may come up to a millisecond late", "error", err)
			r.sleeper = nil
		}
	}
	r.apply(r.m.Timeout(time.Now()))
}

// late counts a timer served well after the deadline it was set for, and
// reports whether it was.
func (r *Router) late() bool {
	d := r.armed
	if d.IsZero() {
		return false
	}
	if time.Since(d) < lateTimer {
		return false
	}
	r.counters.lateTimers.Add(1)
	return true
}

// unread reports whether the router's Listener may have adverts received
// before now still to hand over; true if unknown.
func (r *Router) unread() bool {
	l := r.listener.Load()
	return l == nil || l.pending()
}

// logLate logs a late timer, at most once per quiet period and Listener:
// a stall, or a burst of takeovers, makes every router's timer late.
func (r *Router) logLate(then string) {
	last := &r.loggedLate
	if l := r.listener.Load(); l != nil {
		last = &l.loggedLate
	}
	now := time.Now()
	if prev := last.Load(); prev != 0 && now.Sub(time.Unix(0, prev)) <= quiet {
		return
	}
	last.Store(now.UnixNano())
	r.log.Warn("timer fired late: the process was stopped or starved; "+then,
		"late", time.Since(r.armed).Round(time.Millisecond), "state", r.m.State().String())
}
