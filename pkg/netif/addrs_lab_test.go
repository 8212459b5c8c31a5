package netif_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
)

// addrsHost returns a lab host with 192.0.2.11/24 on eth0, eth0's index,
// and an Addrs working in its namespace, closed at cleanup.
func addrsHost(t testing.TB) (*lab.Host, int, *netif.Addrs) {
	t.Helper()
	a := lab.New(t).AddHost("a", "192.0.2.11/24")
	addrs := netif.NewAddrs(a.Handle())
	t.Cleanup(addrs.Close)
	return a, a.Interface(t).Index, addrs
}

func TestAddrsIPv4(t *testing.T) {
	t.Parallel()
	a, idx, addrs := addrsHost(t)
	vip := netip.MustParsePrefix("192.0.2.100/32")

	for i := range 2 { // the second Add finds the address there
		if err := addrs.Add(idx, vip, netif.Label("eth0")); err != nil {
			t.Fatalf("Add #%d: %v", i+1, err)
		}
	}
	list, err := addrs.List(idx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(list, vip) || !slices.Contains(list, netip.MustParsePrefix("192.0.2.11/24")) {
		t.Fatalf("List = %v, want the host's address and %s", list, vip)
	}
	out := a.Run(t, "ip", "-4", "addr", "show", "dev", "eth0")
	if !strings.Contains(out, "inet 192.0.2.100/32 scope global noprefixroute eth0:vipd") {
		t.Fatalf("ip addr does not show %s without prefix route, labelled eth0:vipd:\n%s", vip, out)
	}

	for i := range 2 { // the second Remove finds nothing to remove
		if err := addrs.Remove(idx, vip); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	if a.HasAddr(t, "eth0", vip.Addr()) {
		t.Fatalf("%s still on eth0 after Remove", vip)
	}
	if list, err := addrs.List(idx); err != nil || slices.Contains(list, vip) {
		t.Fatalf("List after Remove = %v, %v", list, err)
	}

	// Errors that are not "already done" come back, with the errno.
	if err := addrs.Add(9999, vip, ""); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("Add to a missing interface = %v, want ENODEV", err)
	}
	if err := addrs.Remove(9999, vip); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("Remove from a missing interface = %v, want ENODEV", err)
	}
	if err := addrs.Add(idx, netip.Prefix{}, ""); err == nil {
		t.Fatal("Add of an invalid prefix succeeded")
	}

	addrs.Close()
	if err := addrs.Add(idx, vip, ""); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Add after Close = %v, want net.ErrClosed", err)
	}
}

// stacks is the memory the process holds for goroutine stacks.
func stacks() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkAddrsStacks reports how much the stacks of goroutines that
// change addresses through Addrs grow; the netlink package's 64 KiB receive
// buffer lives on the stack of Addrs' own goroutine. Without it, each would
// hold a stack of 128 KiB.
func BenchmarkAddrsStacks(b *testing.B) {
	// It reads the process's stack memory: nothing else may run.
	_, idx, addrs := addrsHost(b)
	// No collection in between: it would shrink grown stacks.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))

	const n = 64
	var grown uint64
	for range b.N {
		before := stacks()
		var called, done sync.WaitGroup
		release := make(chan struct{})
		errs := make(chan error, n)
		for i := range n {
			called.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				vip := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)}), 32)
				if err := addrs.Add(idx, vip, ""); err != nil {
					errs <- err
				} else if _, err := addrs.List(idx); err != nil {
					errs <- err
				}
				called.Done()
				<-release // keep the stack until measured
			}()
		}
		called.Wait()
		grown = stacks() - before
		close(release)
		done.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(grown)/n, "stack-B/caller")
}

func TestAddrsIPv6NoDAD(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "2001:db8::11/64")
	// The lab turns DAD off; turn it back on so that skipping it is the
	// work of Add.
	a.SetSysctl(t, "net.ipv6.conf.eth0.accept_dad", "1")
	idx := a.Interface(t).Index
	addrs := netif.NewAddrs(a.Handle())
	defer addrs.Close()
	vip := netip.MustParsePrefix("2001:db8::100/128")

	for i := range 2 {
		if err := addrs.Add(idx, vip, netif.Label("eth0")); err != nil {
			t.Fatalf("Add #%d: %v", i+1, err)
		}
	}
	// Added the plain way, an address is tentative for a second; Add's is
	// usable at once.
	a.Run(t, "ip", "addr", "add", "2001:db8::200/128", "dev", "eth0")
	flags := addrFlags(t, a)
	if f, ok := flags[vip.Addr()]; !ok || f&unix.IFA_F_TENTATIVE != 0 || f&unix.IFA_F_NODAD == 0 {
		t.Fatalf("%s: present %v, flags %#x: want present, nodad, not tentative", vip, ok, f)
	}
	if f := flags[netip.MustParseAddr("2001:db8::200")]; f&unix.IFA_F_TENTATIVE == 0 {
		t.Fatalf("control address without nodad is not tentative (flags %#x): the check above proves nothing", f)
	}

	for i := range 2 {
		if err := addrs.Remove(idx, vip); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	list, err := addrs.List(idx)
	if err != nil || slices.Contains(list, vip) {
		t.Fatalf("List after Remove = %v, %v", list, err)
	}
}

func addrFlags(t *testing.T, h *lab.Host) map[netip.Addr]int {
	t.Helper()
	link, err := h.Handle().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.Handle().AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	flags := make(map[netip.Addr]int)
	for _, a := range list {
		ip, _ := netip.AddrFromSlice(a.IP)
		flags[ip] = a.Flags
	}
	return flags
}

// NewAddrs(nil) and the interface helpers work in the namespace of the
// calling thread.
func TestCurrentNamespace(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24", "2001:db8::11/64")
	ifi := a.Interface(t)
	vip := netip.MustParsePrefix("192.0.2.100/32")
	if err := a.Do(func() error {
		addrs := netif.NewAddrs(nil)
		if err := addrs.Add(ifi.Index, vip, ""); err != nil {
			return err
		}
		list, err := addrs.List(ifi.Index)
		if err != nil {
			return err
		}
		if !slices.Contains(list, vip) {
			t.Errorf("List in the host = %v, want %s", list, vip)
		}

		// The VIP is excluded, the host's own address found.
		isVIP := func(a netip.Addr) bool { return a == vip.Addr() }
		if got, err := netif.PrimaryIPv4(ifi, isVIP); err != nil || got != netip.MustParseAddr("192.0.2.11") {
			t.Errorf("PrimaryIPv4 = %v, %v, want 192.0.2.11", got, err)
		}
		all := func(netip.Addr) bool { return true }
		if _, err := netif.PrimaryIPv4(ifi, all); !errors.Is(err, netif.ErrNoAddress) {
			t.Errorf("PrimaryIPv4 excluding everything: %v, want ErrNoAddress", err)
		}
		// Derived from the default MAC of the first host, 02:76:6c:00:00:01.
		if got, err := netif.LinkLocal(ifi); err != nil || got != netip.MustParseAddr("fe80::76:6cff:fe00:1") {
			t.Errorf("LinkLocal = %v, %v, want fe80::76:6cff:fe00:1", got, err)
		}
		local, err := netif.LocalAddrs()
		if err != nil {
			return err
		}
		for _, s := range []string{"127.0.0.1", "::1", "192.0.2.11", "192.0.2.100", "2001:db8::11", "fe80::76:6cff:fe00:1"} {
			if !slices.Contains(local, netip.MustParseAddr(s)) {
				t.Errorf("LocalAddrs in the host = %v, lacks %s", local, s)
			}
		}
		if len(local) != 6 {
			t.Errorf("LocalAddrs in the host = %v, want 6 addresses", local)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Outside the host, the address is not there.
	local, err := netif.LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(local, vip.Addr()) {
		t.Fatalf("LocalAddrs of the test's namespace has the host's %s", vip.Addr())
	}
}

func TestLinkLocalTentative(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a")
	ifi := a.Interface(t)
	// With DAD on, a link coming up has a tentative link-local address
	// for about a second: LinkLocal must not offer it.
	a.SetSysctl(t, "net.ipv6.conf.eth0.accept_dad", "1")
	a.Run(t, "ip", "link", "set", "eth0", "down")
	a.Run(t, "ip", "link", "set", "eth0", "up")
	var err error
	a.Do(func() error { _, err = netif.LinkLocal(ifi); return nil })
	if !errors.Is(err, netif.ErrNoAddress) {
		t.Fatalf("LinkLocal during DAD = %v, want ErrNoAddress", err)
	}
	if f := addrFlags(t, a)[netip.MustParseAddr("fe80::76:6cff:fe00:1")]; f&unix.IFA_F_TENTATIVE == 0 {
		t.Fatalf("link-local flags %#x, want tentative (the check above proves nothing)", f)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ll netip.Addr
		a.Do(func() error { ll, err = netif.LinkLocal(ifi); return nil })
		if err == nil {
			if ll != netip.MustParseAddr("fe80::76:6cff:fe00:1") {
				t.Fatalf("LinkLocal after DAD = %s", ll)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LinkLocal still fails after DAD: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Without CAP_NET_ADMIN, Add fails with an error that says so.
func TestAddrsPermission(t *testing.T) {
	if ifindex := os.Getenv("NETIF_TEST_PERM_IFINDEX"); ifindex != "" {
		idx, _ := strconv.Atoi(ifindex)
		err := netif.NewAddrs(nil).Add(idx, netip.MustParsePrefix("192.0.2.100/32"), "")
		if !errors.Is(err, os.ErrPermission) || !errors.Is(err, syscall.EPERM) {
			t.Fatalf("Add without CAP_NET_ADMIN = %v, want a permission error", err)
		}
		return
	}
	t.Parallel()
	l := lab.New(t)
	lab.RequireCommand(t, "setpriv")
	a := l.AddHost("a", "192.0.2.11/24")
	idx := a.Interface(t).Index
	cmd := a.Exec(t.Context(), "setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin",
		os.Args[0], "-test.run=^TestAddrsPermission$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "NETIF_TEST_PERM_IFINDEX="+strconv.Itoa(idx))
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestAddrsPermission") {
		t.Fatalf("helper without CAP_NET_ADMIN: %v\n%s", err, out)
	}
	if a.HasAddr(t, "eth0", netip.MustParseAddr("192.0.2.100")) {
		t.Fatal("address added without CAP_NET_ADMIN")
	}
}

// TestAddrsWarm: after a collection halved the idle requests' goroutine's
// stack, Warm grows it back, and the next request grows no stack.
func TestAddrsWarm(t *testing.T) {
	// Not parallel: it reads the process's stack memory.
	_, idx, addrs := addrsHost(t)
	for _, warm := range []bool{false, true} {
		if _, err := addrs.List(idx); err != nil { // a full-grown stack
			t.Fatal(err)
		}
		runtime.GC() // halves it: the goroutine waits using little
		runtime.GC()
		if warm {
			addrs.Warm()
		}
		gc := debug.SetGCPercent(-1)
		before := stacks()
		if _, err := addrs.List(idx); err != nil {
			t.Fatal(err)
		}
		grown := int64(stacks()) - int64(before)
		debug.SetGCPercent(gc)
		t.Logf("warm %v: a request grew the stacks by %d KiB", warm, grown>>10)
		if warm && grown > 0 {
			t.Errorf("after Warm a request grew the stacks by %d KiB, want none", grown>>10)
		}
		if !warm && grown <= 0 {
			t.Errorf("without Warm a request after a collection grew no stack: the test shows nothing")
		}
	}
}
