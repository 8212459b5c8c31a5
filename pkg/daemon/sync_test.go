package daemon

import (
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
)

// syncPair is a balancer's two instances on two nodes: front on eth0
// (VIP 192.0.2.100), back on eth1 (VIP 192.0.2.101), in sync group lb
// (group "" for none).
type syncPair struct {
	a, b   *fakeHost
	da, db *Daemon
}

func syncInstances(prio uint8, group string) []config.Instance {
	front := instance("front", 51, prio, vip100)
	back := instance("back", 52, prio, vip101)
	back.Interface = "eth1"
	front.SyncGroup, back.SyncGroup = group, group
	front.Track = []health.Track{{Check: "web"}}
	return []config.Instance{front, back}
}

func syncConfig(prio uint8, group string) Config {
	return Config{Instances: syncInstances(prio, group), Checks: []health.Spec{{Name: "web", Type: "tcp", Address: "127.0.0.1:80"}}}
}

func newSyncPair(t *testing.T, group string) *syncPair {
	t.Helper()
	n := &fakeNet{}
	p := &syncPair{a: n.host("192.0.2.11"), b: n.host("192.0.2.12")}
	for _, h := range []*fakeHost{p.a, p.b} {
		h.addIface("eth1", 3)
	}
	p.da, _ = runDaemon(t, p.a, syncConfig(200, group), Options{})
	p.db, _ = runDaemon(t, p.b, syncConfig(100, group), Options{})
	p.waitHolds(t, p.a, "start: A master of both")
	return p
}

// waitHolds waits until h, and h only, holds both VIPs.
func (p *syncPair) waitHolds(t *testing.T, h *fakeHost, what string) {
	t.Helper()
	o := p.b
	if h == p.b {
		o = p.a
	}
	for i := 0; !(h.holds(vip100) && h.holds(vip101) && !o.holds(vip100) && !o.holds(vip101)); i++ {
		if i == 1000 {
			t.Fatalf("%s: after 10s, A holds front %v back %v, B front %v back %v", what,
				p.a.holds(vip100), p.a.holds(vip101), p.b.holds(vip100), p.b.holds(vip101))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor waits until cond holds, at most 10s of the bubble's time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 10000 {
			t.Fatalf("%s: not after 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// instanceStatus returns the status of name/ipv4 in d.
func instanceStatus(t *testing.T, d *Daemon, name string) control.Instance {
	t.Helper()
	for _, in := range d.Status().Instances {
		if in.Name == name && in.Family == "ipv4" {
			return in
		}
	}
	t.Fatalf("no instance %s", name)
	return control.Instance{}
}

// TestSyncGroupFault: when one member faults on the master (its interface
// down, or its check failing), both members hand over; the other member is
// in FAULT, forced by the group, and says so; both come back together.
func TestSyncGroupFault(t *testing.T) {
	for _, tt := range []struct {
		name, check, member, forced string
	}{
		{"back's interface down", health.LinkCheckName("eth1"), "front", "sync group lb in fault: back/ipv4 interface down"},
		{"front's check fails", "web", "back", "sync group lb in fault: front/ipv4 tracked check failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newSyncPair(t, "lb")
				p.a.checks().set(tt.check, health.Unhealthy)
				p.waitHolds(t, p.b, "member faulted on A")
				in := instanceStatus(t, p.da, tt.member)
				if in.State != control.StateFault || in.Forced != tt.forced || in.SyncGroup != "lb" {
					t.Errorf("A's %s: state %s, group %q, forced %q; want FAULT forced %q", tt.member, in.State, in.SyncGroup, in.Forced, tt.forced)
				}
				p.a.checks().set(tt.check, health.Healthy)
				p.waitHolds(t, p.b, "member recovered on A") // not too soon
				p.waitHolds(t, p.a, "member recovered on A: preempts back")
				if in := instanceStatus(t, p.da, tt.member); in.Forced == "" || !strings.HasPrefix(in.Forced, "sync group lb becomes master") && !strings.HasPrefix(in.Forced, "sync group lb is master") {
					t.Errorf("A's %s after the recovery: forced %q", tt.member, in.Forced)
				}
			})
		})
	}
}

// TestSyncGroupWithoutGroup: the same fault without the group moves only
// the member that faulted: the control for TestSyncGroupFault.
func TestSyncGroupWithoutGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newSyncPair(t, "")
		p.a.checks().set(health.LinkCheckName("eth1"), health.Unhealthy)
		waitFor(t, "B holds back", func() bool { return p.b.holds(vip101) })
		time.Sleep(2 * time.Second)
		if !p.a.holds(vip100) || p.b.holds(vip100) {
			t.Fatalf("front moved without a group: A %v, B %v", p.a.holds(vip100), p.b.holds(vip100))
		}
	})
}

// TestSyncGroupLostOnOneLink: the master's adverts lost on the back link
// only: B's back wants to be master but B's front still hears A, so the
// group stays on A (keepalived prefers backup to thrashing). Lost on both
// links, B's group becomes master together. Healed on the front link
// only, B's front hears the better master and takes B's back with it,
// although B's back hears nobody.
func TestSyncGroupLostOnOneLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newSyncPair(t, "lb")
		p.a.lose("eth1", true)
		waitFor(t, "B's back wants master", func() bool { return instanceStatus(t, p.db, "back").WantsMaster })
		time.Sleep(5 * time.Second)
		if !p.a.holds(vip100) || !p.a.holds(vip101) || p.b.holds(vip100) || p.b.holds(vip101) {
			t.Fatalf("adverts lost on one link moved something: A front %v back %v, B front %v back %v",
				p.a.holds(vip100), p.a.holds(vip101), p.b.holds(vip100), p.b.holds(vip101))
		}
		if in := instanceStatus(t, p.db, "back"); in.State != control.StateBackup || !in.WantsMaster {
			t.Errorf("B's back: %s, wants master %v; want BACKUP waiting", in.State, in.WantsMaster)
		}

		// Lost on both: B becomes master of both, at once.
		p.a.lose("eth0", true)
		waitFor(t, "B holds both", func() bool {
			if p.b.holds(vip100) != p.b.holds(vip101) {
				t.Fatalf("B took one member alone: front %v back %v", p.b.holds(vip100), p.b.holds(vip101))
			}
			return p.b.holds(vip100) && p.b.holds(vip101)
		})

		// Healed on the front link: B's front hears A (200) and steps
		// down, and B's back with it.
		p.a.lose("eth0", false)
		waitFor(t, "B holds neither", func() bool { return !p.b.holds(vip100) && !p.b.holds(vip101) })
		in := instanceStatus(t, p.db, "back")
		if in.State != control.StateBackup || !strings.HasPrefix(in.Forced, "sync group lb goes backup: front/ipv4 higher-priority master 192.0.2.11") {
			t.Errorf("B's back after the front healed: %s, forced %q", in.State, in.Forced)
		}
		time.Sleep(5 * time.Second)
		if p.b.holds(vip100) || p.b.holds(vip101) {
			t.Fatalf("B took a member again: front %v back %v", p.b.holds(vip100), p.b.holds(vip101))
		}
	})
}

// TestSyncGroupReload: a reload that puts two instances in a group makes
// them fail over together; one that takes them out, alone again.
func TestSyncGroupReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newSyncPair(t, "")
		for _, pr := range []struct {
			d    *Daemon
			prio uint8
		}{{p.da, 200}, {p.db, 100}} {
			if err := pr.d.Reload(t.Context(), syncConfig(pr.prio, "lb")); err != nil {
				t.Fatal(err)
			}
		}
		// The routers take the change in their own time.
		waitFor(t, "routers in the group", func() bool {
			return instanceStatus(t, p.da, "front").SyncGroup == "lb" && instanceStatus(t, p.db, "back").SyncGroup == "lb"
		})
		if in := instanceStatus(t, p.da, "front"); in.State != control.StateMaster {
			t.Fatalf("A's front after the reload: %s", in.State)
		}
		p.a.checks().set(health.LinkCheckName("eth1"), health.Unhealthy)
		p.waitHolds(t, p.b, "grouped by a reload, back's interface down on A")
		p.a.checks().set(health.LinkCheckName("eth1"), health.Healthy)
		p.waitHolds(t, p.a, "back's interface up again on A")

		for _, pr := range []struct {
			d    *Daemon
			prio uint8
		}{{p.da, 200}, {p.db, 100}} {
			if err := pr.d.Reload(t.Context(), syncConfig(pr.prio, "")); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "routers out of the group", func() bool {
			return instanceStatus(t, p.da, "front").SyncGroup == "" && instanceStatus(t, p.db, "back").SyncGroup == ""
		})
		p.a.checks().set(health.LinkCheckName("eth1"), health.Unhealthy)
		waitFor(t, "B holds back", func() bool { return p.b.holds(vip101) })
		time.Sleep(2 * time.Second)
		if !p.a.holds(vip100) {
			t.Fatal("ungrouped by a reload, front still followed back")
		}
	})
}

// TestSyncGroupDualStack: each router of an instance with IPv4 and IPv6
// VIPs is a member: back's interface down on A moves front in both
// families.
func TestSyncGroupDualStack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vip6 := netip.MustParsePrefix("2001:db8::100/64")
		n := &fakeNet{}
		a, b := n.host("192.0.2.11"), n.host("192.0.2.12")
		cfg := func(prio uint8) Config {
			c := syncConfig(prio, "lb")
			c.Instances[0].VIPs = append(c.Instances[0].VIPs, vip6)
			return c
		}
		for _, h := range []*fakeHost{a, b} {
			h.addIface("eth1", 3)
		}
		da, _ := runDaemon(t, a, cfg(200), Options{})
		runDaemon(t, b, cfg(100), Options{})
		waitFor(t, "A holds all", func() bool { return a.holds(vip100) && a.holds(vip6) && a.holds(vip101) })
		a.checks().set(health.LinkCheckName("eth1"), health.Unhealthy)
		waitFor(t, "B holds all", func() bool {
			return b.holds(vip100) && b.holds(vip6) && b.holds(vip101) && !a.holds(vip100) && !a.holds(vip6)
		})
		if got := state(da, "front", "ipv6"); got != control.StateFault {
			t.Errorf("A's front/ipv6 is %s, want FAULT", got)
		}
	})
}
