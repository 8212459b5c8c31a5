package daemon

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/health"
)

var pub = netip.MustParsePrefix("203.0.113.10/24")

// withDev is inst with pub bound on ifname.
func withDev(inst config.Instance, ifname string) config.Instance {
	inst.VIPs = append(slices.Clone(inst.VIPs), pub)
	inst.VIPDevs = map[netip.Addr]config.VIPDev{pub.Addr(): {Interface: ifname}}
	return inst
}

// boundOn returns the interface index p is bound on, 0 if none.
func (h *fakeHost) boundIndex(p netip.Prefix) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.boundOn[p]
}

// announcedOn reports whether a was announced on ifname.
func (h *fakeHost) announcedOn(ifname string, a netip.Addr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.announced[ifname], a)
}

// TestVIPOnAnotherInterface: the master binds a VIP with dev on that
// interface and announces it there with an announcer of its own, the
// backup holds nothing, status says where the VIP is; a reload that
// moves the VIP to a third interface keeps the master and moves the VIP;
// the VIP's interface going down faults the master, as its own would.
func TestVIPOnAnotherInterface(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &fakeNet{}
		a, b := n.host("192.0.2.11"), n.host("192.0.2.12")
		for _, h := range []*fakeHost{a, b} {
			h.addIface("eth1", 3)
			h.addIface("eth2", 4)
		}
		instA, instB := withDev(instance("api", 51, 200, vip100), "eth1"), withDev(instance("api", 51, 100, vip100), "eth1")
		da, _ := runDaemon(t, a, Config{Instances: []config.Instance{instA}}, Options{})
		db, _ := runDaemon(t, b, Config{Instances: []config.Instance{instB}}, Options{})
		time.Sleep(time.Second)
		if state(da, "api", "ipv4") != control.StateMaster || state(db, "api", "ipv4") != control.StateBackup {
			t.Fatalf("A is %s, B %s; want A master", state(da, "api", "ipv4"), state(db, "api", "ipv4"))
		}
		if got := a.boundIndex(vip100); got != 2 {
			t.Errorf("%v bound on interface %d, want eth0 (2)", vip100, got)
		}
		if got := a.boundIndex(pub); got != 3 {
			t.Errorf("%v bound on interface %d, want eth1 (3)", pub, got)
		}
		if b.holds(vip100) || b.holds(pub) {
			t.Error("the backup holds a VIP")
		}
		if !a.announcedOn("eth1", pub.Addr()) || a.announcedOn("eth0", pub.Addr()) || a.announcedOn("eth1", vip100.Addr()) {
			t.Errorf("announced %v; want each VIP on its own interface", a.announced)
		}
		if got := a.notes("open announcer"); !cmp.Equal(got, []string{"open announcer eth0", "open announcer eth1"}) {
			t.Errorf("announcers opened: %v", got)
		}
		st := da.Status().Instances[0]
		if diff := cmp.Diff(map[string]string{pub.String(): "eth1"}, st.VIPDevs); diff != "" {
			t.Errorf("status VIPDevs (-want +got)\n%s", diff)
		}

		// A reload moves the VIP to eth2: in place, without resigning.
		moved := withDev(instance("api", 51, 200, vip100), "eth2")
		if err := da.Reload(context.Background(), Config{Instances: []config.Instance{moved}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if got := a.boundIndex(pub); got != 4 {
			t.Errorf("after the reload %v is bound on interface %d, want eth2 (4)", pub, got)
		}
		if !a.announcedOn("eth2", pub.Addr()) {
			t.Error("the moved VIP was not announced on eth2")
		}
		if got := a.notes("advert vrid 51 priority 0"); len(got) != 0 {
			t.Errorf("the master resigned for the reload: %v", got)
		}
		if state(da, "api", "ipv4") != control.StateMaster {
			t.Errorf("A is %s after the reload, want MASTER", state(da, "api", "ipv4"))
		}

		// eth2 carries a VIP: its link is tracked, and down it faults A.
		a.checks().set(health.LinkCheckName("eth2"), health.Unhealthy)
		time.Sleep(time.Second)
		if state(da, "api", "ipv4") != control.StateFault || state(db, "api", "ipv4") != control.StateMaster {
			t.Fatalf("with eth2 down A is %s, B %s; want FAULT and MASTER", state(da, "api", "ipv4"), state(db, "api", "ipv4"))
		}
		if a.holds(pub) || b.boundIndex(pub) != 3 {
			t.Errorf("after the takeover A holds %v: %v, B has it on %d (want eth1, 3)", pub, a.holds(pub), b.boundIndex(pub))
		}
	})
}

// TestVIPInterfaceMissing: an instance whose VIP's interface is not there
// waits for it, as for its own interface.
func TestVIPInterfaceMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		d, _ := runDaemon(t, h, Config{Instances: []config.Instance{withDev(instance("api", 51, 200, vip100), "eth1")}}, Options{})
		time.Sleep(time.Second)
		checkWaiting(t, d, "waiting for interface eth1 of VIP 203.0.113.10")
		if h.holds(vip100) {
			t.Error("a waiting instance holds its VIP")
		}
		h.addIface("eth1", 3)
		time.Sleep(time.Second)
		if got := state(d, "api", "ipv4"); got != control.StateMaster {
			t.Fatalf("api is %s after eth1 came, want MASTER", got)
		}
		if h.boundIndex(pub) != 3 {
			t.Errorf("%v on interface %d, want 3", pub, h.boundIndex(pub))
		}
	})
}
