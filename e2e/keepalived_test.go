package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/vrrp"
)

// Interop with the real keepalived (2.2.7 as Debian ships it): one
// keepalived router and one or two vipd routers in the same virtual router,
// in each of the modes (VRRPv3 over IPv4 multicast, over IPv6, VRRPv2 with
// a simple password, VRRPv3 over IPv4 unicast). Every case also checks
// that neither side rejected an advert of the other (vipd's drop counters,
// keepalived's log) and decodes every advert of the capture with tshark.

// captureFilter selects adverts and announcements of both families.
const captureFilter = "arp or (ip proto 112) or (ip6 proto 112) or icmp6"

// slack is what a measured takeover may exceed its protocol bound by: timer
// and scheduling latency of two daemons and of the capture, generous so that
// a loaded CI machine does not fail the test, far below one advert interval
// at VRRPv2's one second.
func slack(m mode) time.Duration {
	if m.version == 2 {
		return 250 * time.Millisecond
	}
	return 100 * time.Millisecond
}

// settle is how long a test watches a state to see that it holds, or lets
// a capture record the adverts before an event: three adverts in VRRPv3; in
// VRRPv2, where three would take three seconds each time, one and a bit.
func settle(m mode) time.Duration {
	if m.version == 2 {
		return 1200 * time.Millisecond
	}
	return 3 * m.interval
}

// electTimeout bounds the election at start-up: a master down interval,
// perhaps a preemption after it, and the start of the daemons.
func electTimeout(m mode) time.Duration { return 8*m.interval + 3*time.Second }

// router is one member of a virtual router in an interop test: a node and
// the daemon running there, keepalived or vipd.
type router struct {
	node
	priority int
	runsKA   bool // keepalived, else vipd
	ka       *keepalived
	vipd     *proc
}

// kaRouter and vipdRouter add a host for a keepalived or vipd router at
// 192.0.2.n.
func kaRouter(t testing.TB, l *lab.Lab, name string, n byte, priority int) *router {
	return &router{node: addNode(t, l, name, n), priority: priority, runsKA: true}
}

func vipdRouter(t testing.TB, l *lab.Lab, name string, n byte, priority int) *router {
	return &router{node: addNode(t, l, name, n), priority: priority}
}

func (r *router) name() string { return r.host.Name() }

// start runs keepalived on r when it is the keepalived router, else vipd.
func (r *router) start(t testing.TB, m mode, all []node, extra string) {
	t.Helper()
	if r.runsKA {
		r.ka = startKeepalived(t, r.node, keepalivedConf(m, r.node, all, r.priority))
		return
	}
	r.vipd = startVipd(t, r.host, vipdFile(t, m, r.node, all, r.priority, extra))
}

// stop stops the daemon gracefully and fails the test unless it exits 0.
func (r *router) stop(t testing.TB) {
	t.Helper()
	var err error
	if r.ka != nil {
		err = r.ka.stop()
	} else {
		err = r.vipd.stop()
	}
	if err != nil {
		t.Fatalf("%s exited with %v, want 0", r.name(), err)
	}
}

// state returns what the daemon on r says it is: MASTER, BACKUP or FAULT.
func (r *router) state(t testing.TB) string {
	t.Helper()
	if r.ka != nil {
		return r.ka.state()
	}
	return r.vipd.status(t).State
}

// agree checks that master and every backup agree on who the master is:
// keepalived by the state it last entered, vipd by its state and the
// master it follows.
func agree(t testing.TB, m mode, master *router, backups ...*router) {
	t.Helper()
	if got := master.state(t); got != "MASTER" {
		t.Errorf("%s says it is %s, want MASTER", master.name(), got)
	}
	for _, b := range backups {
		if got := b.state(t); got != "BACKUP" {
			t.Errorf("%s says it is %s, want BACKUP", b.name(), got)
		}
		if b.vipd != nil {
			if got, want := b.vipd.status(t).Master, master.src(m).String(); got != want {
				t.Errorf("vipd on %s follows master %q, want %s (%s)", b.name(), got, want, master.name())
			}
		}
	}
}

// healthy checks that no running daemon rejected an advert.
func healthy(t testing.TB, routers ...*router) {
	t.Helper()
	for _, r := range routers {
		switch {
		case r.ka != nil:
			checkKeepalivedAccepted(t, r.ka)
		case r.vipd != nil:
			checkNoDrops(t, r.vipd)
		}
	}
}

func nodesOf(rs ...*router) []node {
	ns := make([]node, len(rs))
	for i, r := range rs {
		ns[i] = r.node
	}
	return ns
}

func hostsOfRouters(rs ...*router) []*lab.Host { return hostsOf(nodesOf(rs...)...) }

// TestKeepalivedFailover: the master's link is cut and the best backup
// takes over within the protocol bound, measured on the wire; the link
// comes back and the master preempts, with no period of two masters. Once
// with keepalived as master and the two vipd routers as backups, once with
// a vipd master, keepalived as best backup and the other vipd below it.
//
// VRRPv2 runs the first arrangement only: at one-second intervals each
// arrangement takes a quarter of a minute, and the first already has each
// side send, receive, take over and preempt.
func TestKeepalivedFailover(t *testing.T) {
	// Not parallel: it measures timing, so it runs alone.
	requireKeepalived(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Run("keepalived-master", func(t *testing.T) { failover(t, m, true) })
			if m.version == 3 {
				t.Run("vipd-master", func(t *testing.T) { failover(t, m, false) })
			}
		})
	}
}

// cutFor is how long failover keeps the master's link cut: long enough for
// the takeover. VRRPv2 needs longer for the takeover itself.
func cutFor(m mode) time.Duration {
	if m.version == 2 {
		return 0
	}
	return 1200 * time.Millisecond
}

// talkTo sends a UDP datagram from h to each of addrs, as a node's own
// traffic to its peers.
func talkTo(t *testing.T, h *lab.Host, addrs []string) {
	t.Helper()
	err := h.Do(func() error {
		for _, a := range addrs {
			c, err := net.Dial("udp", net.JoinHostPort(a, "9"))
			if err != nil {
				return err
			}
			_, err = c.Write([]byte("etcd"))
			c.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: send to %v: %v", h.Name(), addrs, err)
	}
}

func failover(t *testing.T, m mode, kaMaster bool) {
	l := lab.New(t)
	lab.RequireCommand(t, "tshark")
	ka := kaRouter(t, l, "ka", 21, 0)
	v1 := vipdRouter(t, l, "vd1", 22, 0)
	v2 := vipdRouter(t, l, "vd2", 23, 100)
	master, backup := ka, v1
	if !kaMaster {
		master, backup = v1, ka
	}
	master.priority, backup.priority = 200, 150
	all := []*router{ka, v1, v2}
	hosts := hostsOfRouters(all...)
	vip := m.vip.Addr()
	for _, r := range all {
		r.start(t, m, nodesOf(all...), "")
	}
	waitHolder(t, electTimeout(m), vip, master.name(), hosts...)
	stable(t, settle(m), vip, master.name(), hosts...)

	pcap := l.Capture(t, captureFilter)
	time.Sleep(settle(m))
	starved := l.Starvation(false)
	cut := time.Now()
	master.host.LinkDown(t)
	// The cut-off master faults (both daemons track their interface) and
	// removes the VIP, so the best backup ends up the only holder.
	waitHolder(t, 4*m.interval+2*time.Second, vip, backup.name(), hosts...)
	stable(t, settle(m), vip, backup.name(), hosts...)
	time.Sleep(time.Until(cut.Add(cutFor(m))))
	if m.unicast {
		// A control-plane node keeps talking to its peers while its
		// cable is cut (etcd, the kubelet). The kernel makes neighbour
		// entries for them whose probes go into the dead link, and
		// probes again only a second later (retrans_time_ms): until
		// then it holds the unicast adverts of the returning master.
		talkTo(t, master.host, peersOf(master.node, nodesOf(all...)))
	}

	restore := time.Now()
	master.host.LinkUp(t)
	overlap, _ := watch(t, 9*m.interval+3*time.Second, settle(m), vip, master.name(), hosts...)
	c := decodeCapture(t, pcap.Stop())

	// Takeover: from the cut master's last advert to the new master's
	// first announcement of the VIP, one Master_Down_Interval of the best
	// backup. (The last advert may leave a few milliseconds after cut, while
	// ip(8) is still starting.)
	ann := c.firstAfter("announcement by "+backup.name(), announcesFrom(m, backup.node), cut)
	last := c.lastBefore("advert by "+master.name(), heardBy(m, advertsFrom(m, master.node), backup.node), ann)
	took := ann.Sub(last)
	bound := vrrp.MasterDownInterval(m.version, uint8(backup.priority), m.interval)
	t.Logf("%s: %s master, link cut: %s took over after %v on the wire (Master_Down_Interval %v)",
		m.name, master.name(), backup.name(), took.Round(100*time.Microsecond), bound)
	if allow := slack(m) + starved.Since(); took < bound-time.Millisecond || took > bound+allow {
		t.Errorf("%s took over %v after the last advert of %s, want %v (+%v, of which %v the daemons waited for a CPU)", backup.name(), took, master.name(), bound, allow, allow-slack(m))
	}
	// The lowest router's timer fires 5ms after the best backup's: on a
	// loaded machine it may claim mastership once before it hears the
	// new master, and once more for each interval the daemons waited for
	// a CPU, but no more.
	if n, allow := len(c.all(func(f frame) bool { return f.at.Before(restore) && nonZero(advertsFrom(m, v2.node))(f) })), 1+int(starved.Since()/m.interval); n > allow {
		t.Errorf("%s (priority 100) sent %d adverts while %s was cut off, want at most %d", v2.name(), n, master.name(), allow)
	}

	// Preemption. The returning master ignores the lower-priority master
	// for a Master_Down_Interval, then takes the VIP and advertises. "No
	// period of two masters" is asserted as:
	//  - no other router advertises later than one advert interval after
	//    the preempting advert (the old master steps down on hearing it; one
	//    advert may cross it on the wire);
	//  - the VIP is on two hosts (sampled every 5ms) for at most one advert
	//    interval: the new master binds it as it sends the advert that makes
	//    the old one unbind it.
	// The preempting advert is the first with the returning master's
	// priority that reaches the old master: in unicast mode the priority-0
	// advert it sent into the dead link can reach the wire after the link
	// returns.
	retAnn := c.firstAfter("announcement by "+master.name(), announcesFrom(m, master.node), restore)
	preempt := c.firstAfter("advert by "+master.name(), withPrio(heardBy(m, advertsFrom(m, master.node), backup.node), master.priority), restore)
	oldLast := c.lastBefore("advert by "+backup.name(), nonZero(advertsFrom(m, backup.node)), preempt.Add(time.Hour))
	held := preempt.Sub(retAnn) // the returning master held the VIP this long before its advert was on the wire
	t.Logf("%s: link restored: %s took the VIP back %v later, its first advert %v after that; last advert of %s %v after it; VIP on two hosts for %v",
		m.name, master.name(), retAnn.Sub(restore).Round(time.Millisecond), held.Round(100*time.Microsecond),
		backup.name(), oldLast.Sub(preempt).Round(100*time.Microsecond), overlap)
	stepDown, rest := c.afterStepDown(m, master.node, nodesOf(backup, v2), preempt)
	for _, f := range rest {
		if d := f.at.Sub(preempt); d > m.interval {
			t.Errorf("%s advertised priority %s (frame %s) %v after %s preempted, want nothing after one interval (%v)", f.src, f.prio, f.num, d, master.name(), m.interval)
		}
	}
	if len(stepDown) > 0 {
		var fs []string
		for _, sd := range stepDown {
			fs = append(fs, fmt.Sprintf("%s advertised priority %s (frame %s) %v after priority 0 from %s (frame %s)",
				sd.advert.src, sd.advert.prio, sd.advert.num, sd.advert.at.Sub(sd.zero.at).Round(100*time.Microsecond), sd.zero.src, sd.zero.num))
		}
		t.Errorf("a router stepping down sent priority 0, and a router that heard it took over after its Skew_Time: %s", strings.Join(fs, "; "))
	}
	switch {
	case overlap <= m.interval || len(stepDown) > 0:
	case master.ka != nil && held > 0:
		// keepalived's own adverts waited for its peers' neighbour
		// entries: not vipd's doing, which stepped down one interval
		// after hearing it at most.
		if overlap > held+m.interval {
			t.Errorf("VIP on two hosts for %v after the link came back, want at most one advert interval (%v) after keepalived's advert, %v after it took the VIP", overlap, m.interval, held)
		}
	case m.unicast && held > m.interval:
		t.Errorf("vipd, back from a link cut in unicast mode, held the VIP %v before its first advert was on the wire; two masters for %v", held, overlap)
	default:
		t.Errorf("VIP on two hosts for %v after the link came back, want at most one advert interval (%v)", overlap, m.interval)
	}
	agree(t, m, master, backup, v2)
	healthy(t, all...)
	c.checkWire(m, nodesOf(all...))
}

// TestKeepalivedGracefulStop: the master stops; its priority-0 advert makes
// the backup take over after its Skew_Time, both ways round.
func TestKeepalivedGracefulStop(t *testing.T) {
	// Not parallel: it measures timing, so it runs alone.
	requireKeepalived(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Run("keepalived-stops", func(t *testing.T) { gracefulStop(t, m, true) })
			t.Run("vipd-stops", func(t *testing.T) { gracefulStop(t, m, false) })
		})
	}
}

func gracefulStop(t *testing.T, m mode, kaStops bool) {
	l := lab.New(t)
	lab.RequireCommand(t, "tshark")
	ka := kaRouter(t, l, "ka", 21, 0)
	vd := vipdRouter(t, l, "vd", 22, 0)
	master, backup := ka, vd
	if !kaStops {
		master, backup = vd, ka
	}
	master.priority, backup.priority = 200, 150
	all := []*router{ka, vd}
	hosts := hostsOfRouters(all...)
	vip := m.vip.Addr()
	for _, r := range all {
		r.start(t, m, nodesOf(all...), "")
	}
	waitHolder(t, electTimeout(m), vip, master.name(), hosts...)
	stable(t, settle(m), vip, master.name(), hosts...)
	healthy(t, all...)

	pcap := l.Capture(t, captureFilter)
	time.Sleep(settle(m))
	starved := l.Starvation(false)
	stopped := time.Now()
	master.stop(t)
	waitHolder(t, 2*m.interval+time.Second, vip, backup.name(), hosts...)
	stable(t, settle(m), vip, backup.name(), hosts...)
	c := decodeCapture(t, pcap.Stop())

	zero := c.all(withPrio(heardBy(m, advertsFrom(m, master.node), backup.node), 0))
	if len(zero) != 1 {
		t.Fatalf("%d priority-0 adverts from the stopped master %s, want 1", len(zero), master.name())
	}
	if early := c.all(func(f frame) bool { return f.at.Before(zero[0].at) && nonZero(advertsFrom(m, backup.node))(f) }); len(early) > 0 {
		last, _ := c.last(advertsFrom(m, master.node), early[0].at)
		t.Fatalf("%s took over (frame %s) before %s resigned: %s had sent nothing for %v; a starved machine, nothing to measure",
			backup.name(), early[0].num, master.name(), master.name(), early[0].at.Sub(last.at).Round(time.Millisecond))
	}
	took := c.firstAfter("announcement by "+backup.name(), announcesFrom(m, backup.node), zero[0].at).Sub(zero[0].at)
	skew := vrrp.SkewTime(m.version, uint8(backup.priority), m.interval)
	t.Logf("%s: %s stopped: priority 0 on the wire %v after SIGTERM, %s took over %v later (Skew_Time %v)",
		m.name, master.name(), zero[0].at.Sub(stopped).Round(time.Millisecond), backup.name(), took.Round(100*time.Microsecond), skew)
	if allow := slack(m) + starved.Since(); took < skew-time.Millisecond || took > skew+allow {
		t.Errorf("%s took over %v after the priority-0 advert, want its Skew_Time %v (+%v, of which %v the daemons waited for a CPU)", backup.name(), took, skew, allow, allow-slack(m))
	}
	after := func(f frame) bool { return f.at.After(zero[0].at) && nonZero(advertsFrom(m, master.node))(f) }
	if n := len(c.all(after)); n != 0 {
		t.Errorf("the stopped master %s sent %d adverts after its priority-0 one", master.name(), n)
	}
	if got := backup.state(t); got != "MASTER" {
		t.Errorf("%s says it is %s, want MASTER", backup.name(), got)
	}
	healthy(t, backup)
	c.checkWire(m, nodesOf(all...))
}

// TestKeepalivedEqualPriority: vipd and keepalived at the same priority
// agree on one master, the router with the higher primary address.
//
// The address decides only between two masters: a backup that hears an
// advert of its own priority accepts the sender as master whatever its
// address (RFC 9568 section 6.4.2; keepalived's vrrp_state_backup does
// the same). So when both start together, the first whose
// Master_Down_Timer fires wins, and start-together only checks that they
// agree. To see the tie-break, the routers start on isolated bridge ports
// (links up, but they do not hear each other), both become master, and the
// ports are joined: the lower address must step down within one interval.
func TestKeepalivedEqualPriority(t *testing.T) {
	t.Parallel()
	requireKeepalived(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			t.Run("vipd-higher", func(t *testing.T) { t.Parallel(); tieBreak(t, m, true) })
			t.Run("keepalived-higher", func(t *testing.T) { t.Parallel(); tieBreak(t, m, false) })
			t.Run("start-together", func(t *testing.T) { t.Parallel(); startTogether(t, m) })
		})
	}
}

func tieBreak(t *testing.T, m mode, vipdHigher bool) {
	l := lab.New(t)
	lab.RequireCommand(t, "tshark")
	// The MAC, and so the link-local address, follows the IPv4 address.
	var ka, vd, higher, lower *router
	if vipdHigher {
		ka, vd = kaRouter(t, l, "ka", 21, 100), vipdRouter(t, l, "vd", 22, 100)
		higher, lower = vd, ka
	} else {
		vd, ka = vipdRouter(t, l, "vd", 21, 100), kaRouter(t, l, "ka", 22, 100)
		higher, lower = ka, vd
	}
	all := []*router{ka, vd}
	hosts := hostsOfRouters(all...)
	vip := m.vip.Addr()

	isolate(t, l, true, hosts...)
	for _, r := range all {
		r.start(t, m, nodesOf(all...), "")
	}
	deadline := time.Now().Add(electTimeout(m))
	for len(holders(t, vip, hosts...)) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("isolated routers: VIP on %v after %v, want both", holders(t, vip, hosts...), electTimeout(m))
		}
		time.Sleep(10 * time.Millisecond)
	}

	pcap := l.Capture(t, captureFilter)
	time.Sleep(settle(m))
	starved := l.Starvation(false)
	join := time.Now()
	isolate(t, l, false, hosts...)
	waitHolder(t, 3*m.interval+2*time.Second, vip, higher.name(), hosts...)
	stable(t, settle(m), vip, higher.name(), hosts...)
	c := decodeCapture(t, pcap.Stop())

	first := c.firstAfter("advert by "+higher.name(), heardBy(m, advertsFrom(m, higher.node), lower.node), join)
	last := c.lastBefore("advert by "+lower.name(), nonZero(advertsFrom(m, lower.node)), first.Add(time.Hour))
	// It steps down on hearing that advert, with one last advert of its
	// own. The latest by time, not by capture order: in unicast the
	// kernel flushes adverts it queued while the peer did not answer
	// ARP, and the capture of several ports is not in time order.
	for _, f := range c.all(nonZero(advertsFrom(m, lower.node))) {
		if f.at.After(last) {
			last = f.at
		}
	}
	t.Logf("%s: both master, joined: %s (lower address) last advertised %v after the first advert of %s",
		m.name, lower.name(), last.Sub(first).Round(100*time.Microsecond), higher.name())
	if d, allow := last.Sub(first), slack(m)+starved.Since(); d > m.interval+allow {
		t.Errorf("%s (lower address) advertised %v after %s's first advert, want within an interval and the lab's slack (%v, of which %v the daemons waited for a CPU)", lower.name(), d, higher.name(), m.interval+allow, allow-slack(m))
	}
	agree(t, m, higher, lower)
	healthy(t, all...)
	c.checkWire(m, nodesOf(all...))
}

// isolate turns bridge port isolation on or off for the hosts' ports:
// isolated ports do not forward to each other, but links stay up, so
// neither daemon faults, and the capture on the bridge still sees both.
func isolate(t testing.TB, l *lab.Lab, on bool, hosts ...*lab.Host) {
	t.Helper()
	state := "off"
	if on {
		state = "on"
	}
	for _, h := range hosts {
		out, err := exec.CommandContext(t.Context(), "ip", "-n", l.SwitchNetns(), "link", "set", "dev", h.Port(), "type", "bridge_slave", "isolated", state).CombinedOutput()
		if err != nil {
			t.Fatalf("isolate %s %s: %v\n%s", h.Name(), state, err, out)
		}
	}
}

func startTogether(t *testing.T, m mode) {
	l := lab.New(t)
	ka := kaRouter(t, l, "ka", 21, 100)
	vd := vipdRouter(t, l, "vd", 22, 100)
	all := []*router{ka, vd}
	hosts := hostsOfRouters(all...)
	vip := m.vip.Addr()
	for _, r := range all {
		r.start(t, m, nodesOf(all...), "")
	}
	deadline := time.Now().Add(electTimeout(m))
	var got []string
	for got = holders(t, vip, hosts...); len(got) != 1; got = holders(t, vip, hosts...) {
		if time.Now().After(deadline) {
			t.Fatalf("VIP on %v after %v, want one host", got, electTimeout(m))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stable(t, settle(m), vip, got[0], hosts...)
	master, backup := ka, vd
	if got[0] == vd.name() {
		master, backup = vd, ka
	}
	t.Logf("%s: started together at equal priority, %s won", m.name, master.name())
	agree(t, m, master, backup)
	healthy(t, all...)
}

// TestKeepalivedCheckFailure: a tracked check fails on the vipd master; it
// resigns with priority 0 and keepalived takes over after its Skew_Time;
// the check recovers and vipd preempts.
func TestKeepalivedCheckFailure(t *testing.T) {
	// Not parallel: it measures timing, so it runs alone.
	requireKeepalived(t)
	for _, m := range modes {
		if m.version == 2 {
			// A resignation is the priority-0 advert of a graceful
			// stop, which TestKeepalivedGracefulStop covers in VRRPv2.
			continue
		}
		t.Run(m.name, func(t *testing.T) { checkFailure(t, m) })
	}
}

func checkFailure(t *testing.T, m mode) {
	l := lab.New(t)
	lab.RequireCommand(t, "tshark")
	ka := kaRouter(t, l, "ka", 21, 150)
	vd := vipdRouter(t, l, "vd", 22, 200)
	all := []*router{ka, vd}
	hosts := hostsOfRouters(all...)
	vip := m.vip.Addr()
	const (
		every = 100 * time.Millisecond
		fall  = 2
	)
	svc := startTCPService(t, vd.host, "127.0.0.1:8080")
	ka.start(t, m, nodesOf(all...), "")
	vd.start(t, m, nodesOf(all...), fmt.Sprintf(`track = [{ check = "svc" }]
[[check]]
name = "svc"
type = "tcp"
address = "127.0.0.1:8080"
interval = %q
timeout = "50ms"
rise = 2
fall = %d`, every, fall))
	waitHolder(t, electTimeout(m), vip, vd.name(), hosts...)
	stable(t, settle(m), vip, vd.name(), hosts...)

	pcap := l.Capture(t, captureFilter)
	time.Sleep(settle(m))
	starved := l.Starvation(false)
	failed := time.Now()
	svc.Close()
	waitHolder(t, 2*time.Second, vip, ka.name(), hosts...)
	stable(t, settle(m), vip, ka.name(), hosts...)
	if got := ka.state(t); got != "MASTER" {
		t.Errorf("keepalived says it is %s, want MASTER", got)
	}
	if in := vd.vipd.status(t); in.State != "FAULT" || in.Master != ka.src(m).String() {
		t.Errorf("vipd with its check failing says %s following %q, want FAULT following %s", in.State, in.Master, ka.src(m))
	}

	recovered := time.Now()
	svc.Open()
	overlap, _ := watch(t, 3*time.Second, settle(m), vip, vd.name(), hosts...)
	c := decodeCapture(t, pcap.Stop())

	zero := c.firstAfter("priority-0 advert by vd", withPrio(heardBy(m, advertsFrom(m, vd.node), ka.node), 0), failed)
	took := c.firstAfter("announcement by ka", announcesFrom(m, ka.node), zero).Sub(zero)
	skew := vrrp.SkewTime(m.version, uint8(ka.priority), m.interval)
	t.Logf("%s: check failed: vipd resigned %v later, keepalived took over %v after the priority-0 advert (Skew_Time %v)",
		m.name, zero.Sub(failed).Round(time.Millisecond), took.Round(100*time.Microsecond), skew)
	allow := slack(m) + starved.Since()
	if detect := zero.Sub(failed); detect > fall*every+every+allow {
		t.Errorf("vipd resigned %v after its check began to fail, want within %v (+%v, of which %v the daemons waited for a CPU)", detect, fall*every+every, allow, allow-slack(m))
	}
	if took < skew-time.Millisecond || took > skew+allow {
		t.Errorf("keepalived took over %v after vipd's priority-0 advert, want its Skew_Time %v (+%v, of which %v the daemons waited for a CPU)", took, skew, allow, allow-slack(m))
	}
	preempt := c.firstAfter("advert by vd", withPrio(heardBy(m, advertsFrom(m, vd.node), ka.node), vd.priority), recovered)
	kaLast := c.lastBefore("advert by ka", nonZero(advertsFrom(m, ka.node)), preempt.Add(time.Hour))
	t.Logf("%s: check recovered: vipd preempted %v later; keepalived's last advert %v after; VIP on two hosts for %v",
		m.name, preempt.Sub(recovered).Round(time.Millisecond), kaLast.Sub(preempt).Round(100*time.Microsecond), overlap)
	if d := kaLast.Sub(preempt); d > m.interval {
		t.Errorf("keepalived still advertised %v after vipd preempted, want at most one interval (%v)", d, m.interval)
	}
	if overlap > m.interval {
		t.Errorf("VIP on two hosts for %v after the check recovered, want at most one advert interval (%v)", overlap, m.interval)
	}
	agree(t, m, vd, ka)
	healthy(t, all...)
	c.checkWire(m, nodesOf(all...))
}

// TestKeepalivedRejectsMismatch is the control of the checks every other
// case makes with healthy: routers that do not agree on the password or on
// the address list reject each other's adverts, and both vipd's drop
// counters and keepalived's log say so.
func TestKeepalivedRejectsMismatch(t *testing.T) {
	t.Parallel()
	requireKeepalived(t)
	wrongPassword, otherVIP := modes[2], modes[0]
	wrongPassword.password = "other"
	otherVIP.vip = netip.MustParsePrefix("192.0.2.101/24")
	for _, tc := range []struct {
		name     string
		ka, vipd mode   // each side's view of the virtual router
		drop     string // vipd's drop reason
		reject   string // what keepalived logs
	}{
		{"password", modes[2], wrongPassword, "auth", "received an invalid passwd"},
		{"addresses", modes[0], otherVIP, "address_mismatch", "not present in MASTER advert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := lab.New(t)
			ka := kaRouter(t, l, "ka", 21, 100)
			vd := vipdRouter(t, l, "vd", 22, 200)
			ka.ka = startKeepalived(t, ka.node, keepalivedConf(tc.ka, ka.node, nodesOf(ka, vd), ka.priority))
			vd.vipd = startVipd(t, vd.host, vipdFile(t, tc.vipd, vd.node, nodesOf(ka, vd), vd.priority, ""))
			deadline := time.Now().Add(electTimeout(tc.ka) + 2*tc.ka.interval)
			for {
				var dropped uint64
				if in, err := vd.vipd.instance(); err == nil { // not yet listening at first
					dropped = in.Counters.Dropped[tc.drop]
				}
				rejected := slices.ContainsFunc(ka.ka.rejects(), func(l string) bool { return strings.Contains(l, tc.reject) })
				if dropped > 0 && rejected {
					t.Logf("vipd dropped %d adverts for %q; keepalived: %s", dropped, tc.drop, ka.ka.rejects()[0])
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after %v: vipd dropped %d adverts for %q, keepalived logged %q: %v",
						electTimeout(tc.ka), dropped, tc.drop, tc.reject, ka.ka.rejects())
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Neither heard a master it accepts: both hold their VIP.
			if !ka.host.HasAddr(t, "eth0", tc.ka.vip.Addr()) || !vd.host.HasAddr(t, "eth0", tc.vipd.vip.Addr()) {
				t.Errorf("keepalived holds %v, vipd %v; want each its VIP", ka.host.Addrs(t, "eth0"), vd.host.Addrs(t, "eth0"))
			}
		})
	}
}
