package daemon

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/hooks"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// running is one router and what it was built from. It is not changed once
// in Daemon.routers: a reload that keeps the router puts a new running
// there, with the same router and task.
type running struct {
	key   string // instance name and family
	inst  config.Instance
	sock  sockKey
	rt    *router.Router
	track tracking
	*task
}

// task is the goroutine of one router.
type task struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newTask() *task {
	ctx, cancel := context.WithCancel(context.Background())
	return &task{ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// waitingRouter is a router that waits for its interface or source
// address; status shows it in FAULT with the reason.
type waitingRouter struct {
	key    string
	inst   config.Instance
	fam    config.Family
	ifname string
	reason string
	since  time.Time
}

func routerKey(name string, ipv6 bool) string {
	if ipv6 {
		return name + "/ipv6"
	}
	return name + "/ipv4"
}

// newRouter builds the router of w on the socket and announcer given; it
// does not run yet.
func (d *Daemon) newRouter(w wanted, s *sock, ann Announcer) *running {
	rt := router.New(w.rc, router.Deps{
		Sender:       s.conn,
		Addrs:        d.addrs,
		Announcer:    ann,
		AnnouncerOn:  d.announcerOn,
		Neighbors:    d.addrs,
		Logger:       d.log,
		OnTransition: d.transition,
		OnWantMaster: d.syncWantMaster,
		Sleeper:      d.sys.Sleeper(),
	})
	return &running{key: w.key, inst: w.inst, sock: w.sock, rt: rt, track: newTracking(w.inst), task: newTask()}
}

// announcerOn returns the announcer of the interface named ifname, for
// the VIPs bound on another interface than their router's.
func (d *Daemon) announcerOn(ifname string) router.Announcer {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.anns[ifname]; a != nil {
		return a
	}
	return nil
}

// startRouter registers r with the listener of s and runs it.
func startRouter(r *running, s *sock) {
	if err := s.listener.Add(r.rt); err != nil {
		// Config validation rules out two instances on one VRID and
		// socket; a router being replaced was stopped first.
		panic(fmt.Sprintf("daemon: %v", err))
	}
	go func() {
		defer close(r.done)
		r.rt.Run(r.ctx)
	}()
}

// stopRouters makes the routers resign and waits until they have handed
// their VIPs over; then they leave their listeners.
func (d *Daemon) stopRouters(rs []*running) {
	for _, r := range rs {
		r.cancel()
	}
	d.mu.Lock()
	socks := d.socks
	d.mu.Unlock()
	for _, r := range rs {
		<-r.done
		socks[r.sock].listener.Remove(r.rt)
	}
}

// ping waits for the router's goroutine to go round its loop; a router
// that has stopped has nothing to answer.
func (r *running) ping(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	default:
	}
	return r.rt.Ping(ctx)
}

// transition runs with a router's state machine locked after each state
// change; st is the router's status after it.
func (d *Daemon) transition(st router.Status) {
	t := st.Transitions[len(st.Transitions)-1]
	d.syncTransition(st, t)
	d.hooks.notify(st.Instance, hooks.Event{
		Instance: st.Instance, Family: st.Family, VRID: st.VRID,
		From: t.From.String(), To: t.To.String(), Reason: t.Reason,
		VIPs: st.VIPs, Priority: st.Priority, At: t.At,
	})
	select {
	case d.changed <- struct{}{}:
	default: // Run has yet to see an earlier change.
	}
}

// summary is one line of every router's state, e.g.
// "api/ipv4 MASTER, ingress/ipv4 BACKUP".
func (d *Daemon) summary() string {
	d.mu.Lock()
	rs, ws := d.routers, d.waiting
	d.mu.Unlock()
	var b []byte
	for i, r := range rs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s %v", r.key, r.rt.State())
	}
	for _, w := range ws {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s %v (%s)", w.key, vrrp.Fault, w.reason)
	}
	d.mu.Lock()
	routed := d.routed
	d.mu.Unlock()
	for _, r := range routed {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s %v", r.inst.Name, r.ri.Status().State)
	}
	return string(b)
}

// updateHealth hands every router the result of its tracked checks and
// interfaces, and of drains.
func (d *Daemon) updateHealth() {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	d.mu.Lock()
	rs, checks := d.routers, d.checks
	d.mu.Unlock()
	if checks == nil {
		return
	}
	states := checks.mon.States()
	drained := d.drains.set()
	hs := make([]router.Health, len(rs))
	for i, r := range rs {
		hs[i] = r.track.health(states)
		if drained[r.inst.Name] && hs[i].Fault < vrrp.Drained {
			hs[i].Fault = vrrp.Drained
		}
	}
	d.mu.Lock()
	waiting := d.waiting
	d.mu.Unlock()
	syncFaults(rs, hs, waiting)
	for i, r := range rs {
		r.rt.SetHealth(hs[i])
	}
	d.mu.Lock()
	routed := d.routed
	d.mu.Unlock()
	for _, r := range routed {
		h := r.track.health(states)
		if drained[r.inst.Name] && h.Fault < vrrp.Drained {
			h.Fault = vrrp.Drained
		}
		r.ri.SetHealth(h)
	}
}

// Routers returns the status of every router, for metrics.
func (d *Daemon) Routers() []router.Status {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	out := make([]router.Status, len(rs))
	for i, r := range rs {
		out[i] = r.rt.Status()
	}
	return out
}

// socketDrops returns the drop counters of one socket.
func (d *Daemon) socketDrops(sk sockKey) map[vrrp.DropReason]uint64 {
	d.mu.Lock()
	s := d.socks[sk]
	d.mu.Unlock()
	out := make(map[vrrp.DropReason]uint64)
	if s == nil {
		return out
	}
	for _, r := range vrrp.DropReasons() {
		out[r] = s.listener.Dropped(r)
	}
	return out
}

// sockets returns the open sockets' keys in a stable order.
func (d *Daemon) sockets() []sockKey {
	d.mu.Lock()
	keys := slices.Collect(maps.Keys(d.socks))
	d.mu.Unlock()
	slices.SortFunc(keys, func(a, b sockKey) int {
		if a.ifname != b.ifname {
			if a.ifname < b.ifname {
				return -1
			}
			return 1
		}
		if a.ipv6 == b.ipv6 {
			return 0
		}
		if b.ipv6 {
			return -1
		}
		return 1
	})
	return keys
}
