package router

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/vrrp"
)

// ifAddrs is an AddrManager that keeps the addresses of each interface
// apart, as the kernel does.
type ifAddrs struct {
	mu    sync.Mutex
	bound map[int][]netip.Prefix
}

func newIfAddrs() *ifAddrs { return &ifAddrs{bound: make(map[int][]netip.Prefix)} }

func (f *ifAddrs) Add(ifindex int, p netip.Prefix, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.bound[ifindex], p) {
		f.bound[ifindex] = append(f.bound[ifindex], p)
	}
	return nil
}

func (f *ifAddrs) Remove(ifindex int, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bound[ifindex] = slices.DeleteFunc(f.bound[ifindex], func(q netip.Prefix) bool { return q == p })
	return nil
}

func (f *ifAddrs) List(ifindex int) ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bound[ifindex]), nil
}

// where returns the interfaces each prefix is bound on.
func (f *ifAddrs) where() map[netip.Prefix][]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[netip.Prefix][]int)
	for i, ps := range f.bound {
		for _, p := range ps {
			out[p] = append(out[p], i)
			slices.Sort(out[p])
		}
	}
	return out
}

var (
	eth0 = Link{Index: 2, Name: "eth0", Label: "eth0:vipd"}
	eth1 = Link{Index: 3, Name: "eth1", Label: "eth1:vipd"}
	eth2 = Link{Index: 4, Name: "eth2", Label: "eth2:vipd"}
	pub  = netip.MustParsePrefix("203.0.113.10/24")
)

// linkNode is a node whose router binds vip on eth0 and pub on eth1,
// with one announcer per interface.
type linkNode struct {
	*fakeNode
	addrs *ifAddrs
	anns  map[string]*recordingAnnouncer
	rt    *Router
}

func startLinkNode(t *testing.T, h *hub, addr string, prio uint8) *linkNode {
	t.Helper()
	n := &linkNode{fakeNode: h.node(addr), addrs: newIfAddrs(), anns: map[string]*recordingAnnouncer{}}
	for _, l := range []Link{eth0, eth1, eth2} {
		n.anns[l.Name] = &recordingAnnouncer{}
	}
	n.rt = New(Config{
		Instance: "api", VRID: 51, IfIndex: eth0.Index, Interface: eth0.Name, Label: eth0.Label,
		Machine:    vrrp.Config{Version: 3, Priority: prio, Interval: 100 * time.Millisecond, Preempt: true, Primary: n.addr},
		VIPs:       []netip.Prefix{vip, pub},
		VIPLinks:   map[netip.Addr]Link{pub.Addr(): eth1},
		GARPRepeat: 2,
	}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.anns["eth0"], AnnouncerOn: func(name string) Announcer {
		if a, ok := n.anns[name]; ok && name != "eth0" {
			return a
		}
		return nil
	}})
	l := NewListener(n, nil)
	if err := l.Add(n.rt); err != nil {
		t.Fatal(err)
	}
	runRouter(t, n.rt)
	go l.Run(t.Context())
	return n
}

// TestVIPsOnSeveralInterfaces: the master binds each VIP on its own
// interface and announces it there, the adverts on the router's
// interface list every VIP, a backup holds none; the guard watches each
// interface; a reload moves a VIP to another interface in place.
func TestVIPsOnSeveralInterfaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hub{}
		a, b := startLinkNode(t, h, "192.0.2.11", 250), startLinkNode(t, h, "192.0.2.12", 240)
		time.Sleep(time.Second)
		synctest.Wait()
		if a.rt.Status().State != vrrp.Master || b.rt.Status().State != vrrp.Backup {
			t.Fatalf("A %v, B %v; want MASTER and BACKUP", a.rt.Status().State, b.rt.Status().State)
		}
		want := map[netip.Prefix][]int{vip: {eth0.Index}, pub: {eth1.Index}}
		if diff := cmp.Diff(want, a.addrs.where()); diff != "" {
			t.Errorf("master's VIPs (-want +got)\n%s", diff)
		}
		if got := b.addrs.where(); len(got) != 0 {
			t.Errorf("backup holds %v", got)
		}
		if got := a.lastSent().Addrs; !slices.Equal(got, []netip.Addr{vip.Addr(), pub.Addr()}) {
			t.Errorf("advert lists %v, want every VIP in order", got)
		}
		if !a.anns["eth0"].announced(vip.Addr()) || a.anns["eth0"].announced(pub.Addr()) {
			t.Errorf("eth0 announced %v, want %s only", a.anns["eth0"].got, vip.Addr())
		}
		if !a.anns["eth1"].announced(pub.Addr()) || a.anns["eth1"].announced(vip.Addr()) {
			t.Errorf("eth1 announced %v, want %s only", a.anns["eth1"].got, pub.Addr())
		}
		if got := len(a.anns["eth1"].got); got != 2 {
			t.Errorf("eth1 announced %d rounds, want garp_repeat's 2", got)
		}
		if got := a.rt.Status().VIPDevs; !cmp.Equal(got, map[netip.Addr]string{pub.Addr(): "eth1"}) {
			t.Errorf("status VIPDevs %v", got)
		}

		// Someone removes the VIP of eth1 from the master, and binds it
		// on the backup's eth1: the guard of each puts it right.
		a.addrs.Remove(eth1.Index, pub)
		b.addrs.Add(eth1.Index, pub, "")
		a.rt.CheckVIPs()
		b.rt.CheckVIPs()
		synctest.Wait()
		if diff := cmp.Diff(want, a.addrs.where()); diff != "" {
			t.Errorf("master's VIPs after the guard (-want +got)\n%s", diff)
		}
		if got := b.addrs.where(); len(got) != 0 {
			t.Errorf("backup holds %v after the guard", got)
		}
		if got := len(a.anns["eth1"].got); got != 4 {
			t.Errorf("eth1 announced %d rounds after the guard put the VIP back, want 2 more", got)
		}

		// A reload moves the VIP from eth1 to eth2.
		next := a.rt.Config()
		next.VIPLinks = map[netip.Addr]Link{pub.Addr(): eth2}
		if !Reconfigurable(a.rt.Config(), next) {
			t.Fatal("moving a VIP to another interface is not reconfigurable in place")
		}
		a.rt.Reconfigure(next)
		synctest.Wait()
		want = map[netip.Prefix][]int{vip: {eth0.Index}, pub: {eth2.Index}}
		if diff := cmp.Diff(want, a.addrs.where()); diff != "" {
			t.Errorf("master's VIPs after the reload (-want +got)\n%s", diff)
		}
		if !a.anns["eth2"].announced(pub.Addr()) {
			t.Error("the moved VIP was not announced on eth2")
		}
		if a.rt.Status().State != vrrp.Master {
			t.Errorf("A is %v after the reload, want MASTER still", a.rt.Status().State)
		}

		// A master whose link goes down gives every VIP up, on each
		// interface.
		a.rt.SetHealth(Health{Priority: 250, Fault: vrrp.LinkDown})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := a.addrs.where(); len(got) != 0 {
			t.Errorf("faulted A holds %v", got)
		}
		want = map[netip.Prefix][]int{vip: {eth0.Index}, pub: {eth1.Index}}
		if diff := cmp.Diff(want, b.addrs.where()); diff != "" {
			t.Errorf("B's VIPs after taking over (-want +got)\n%s", diff)
		}
	})
}

// recordingNeighbors records ForgetUnresolved calls, with how many adverts
// the router's node had sent by then.
type recordingNeighbors struct {
	node  *fakeNode
	mu    sync.Mutex
	calls []forgetCall
}

type forgetCall struct {
	ifindex int
	ipv6    bool
	sent    int
}

func (f *recordingNeighbors) ForgetUnresolved(ifindex int, ipv6 bool) (int, error) {
	sent := f.node.sentCount()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, forgetCall{ifindex, ipv6, sent})
	return 1, nil
}

func (f *recordingNeighbors) taken() []forgetCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// TestLinkBackForgetsUnresolvedNeighbours: a unicast router whose own
// interface comes back forgets the neighbour entries probed meanwhile,
// before it advertises again; a multicast one, and one whose other tracked
// interface comes back, do not.
func TestLinkBackForgetsUnresolvedNeighbours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ivl = 100 * time.Millisecond
		h := &hub{}
		a, b := h.node("192.0.2.11"), h.node("192.0.2.12")
		run := func(n *fakeNode, prio uint8, peers ...netip.Addr) (*Router, *recordingNeighbors) {
			nb := &recordingNeighbors{node: n}
			rt, _, _ := startDeps(t, n, Config{
				Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0",
				Machine: vrrp.Config{Version: 3, Priority: prio, Interval: ivl, Preempt: true, Primary: n.addr},
				VIPs:    []netip.Prefix{vip}, Peers: peers, GARPRepeat: 1,
			}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann, Neighbors: nb})
			return rt, nb
		}
		ra, na := run(a, 250, b.addr)
		rb, nb := run(b, 240, a.addr)
		time.Sleep(time.Second)
		if ra.Status().State != vrrp.Master {
			t.Fatal("A is not master")
		}

		a.setCut(true)
		ra.SetHealth(Health{Priority: 250, Fault: vrrp.LinkDown})
		time.Sleep(time.Second)
		if rb.Status().State != vrrp.Master {
			t.Fatal("B did not take over while A's link was down")
		}
		before := a.sentCount()
		a.setCut(false)
		ra.SetHealth(Health{Priority: 250})
		time.Sleep(time.Second)
		if ra.Status().State != vrrp.Master {
			t.Fatalf("A is %v after its link came back, want MASTER again", ra.Status().State)
		}
		want := []forgetCall{{ifindex: 2, ipv6: false, sent: before}}
		if diff := cmp.Diff(want, na.taken(), cmp.AllowUnexported(forgetCall{})); diff != "" {
			t.Errorf("A's calls of ForgetUnresolved (-want +got), sent: adverts A had sent by then:\n%s", diff)
		}
		if got := nb.taken(); len(got) != 0 {
			t.Errorf("B, whose link never went down, forgot neighbours: %v", got)
		}

		// Another tracked interface failing and coming back leaves the
		// router's own neighbours alone.
		ra.SetHealth(Health{Priority: 250, Fault: vrrp.HardFault})
		time.Sleep(time.Second)
		ra.SetHealth(Health{Priority: 250})
		time.Sleep(time.Second)
		if got := na.taken(); len(got) != 1 {
			t.Errorf("A called ForgetUnresolved %d times after a tracked interface came back, want only the first call", len(got))
		}
	})
}

// TestLinkBackMulticast: a multicast router has no peers to resolve.
func TestLinkBackMulticast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := (&hub{}).node("192.0.2.11")
		nb := &recordingNeighbors{node: n}
		rt, _, _ := startDeps(t, n, Config{
			Instance: "api", VRID: 51, IfIndex: 2, Interface: "eth0",
			Machine: vrrp.Config{Version: 3, Priority: 100, Interval: 100 * time.Millisecond, Primary: n.addr},
			VIPs:    []netip.Prefix{vip}, GARPRepeat: 1,
		}, Deps{Sender: n, Addrs: n.addrs, Announcer: n.ann, Neighbors: nb})
		rt.SetHealth(Health{Priority: 100, Fault: vrrp.LinkDown})
		time.Sleep(time.Second)
		rt.SetHealth(Health{Priority: 100})
		time.Sleep(time.Second)
		if got := nb.taken(); len(got) != 0 {
			t.Errorf("multicast router forgot neighbours: %v", got)
		}
	})
}
