package lab_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

func TestPing(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24", "2001:db8::11/64")
	b := l.AddHost("b", "192.0.2.12/24", "2001:db8::12/64")

	a.Run(t, "ping", "-c", "1", "-W", "5", "192.0.2.12")
	b.Run(t, "ping", "-c", "1", "-W", "5", "192.0.2.11")
	a.Run(t, "ping", "-6", "-c", "1", "-W", "5", "2001:db8::12")
	// Link-local works at once: DAD is off on eth0.
	bll := linkLocal(t, b)
	a.Run(t, "ping", "-6", "-c", "1", "-W", "5", bll.String()+"%eth0")
}

func linkLocal(t *testing.T, h *lab.Host) netip.Addr {
	t.Helper()
	for _, p := range h.Addrs(t, "eth0") {
		if p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	t.Fatalf("host %s has no link-local address", h.Name())
	return netip.Addr{}
}

func TestHostAddrsAndInterface(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	mac := net.HardwareAddr{0x72, 0x25, 0x9d, 0x47, 0x68, 0xec}
	a := l.AddHostMAC("a", mac, "192.0.2.11/24", "2001:db8::11/64")
	b := l.AddHost("b")

	ifi := a.Interface(t)
	if ifi.Name != "eth0" || !bytes.Equal(ifi.HardwareAddr, mac) {
		t.Fatalf("Interface() = %s %s, want eth0 %s", ifi.Name, ifi.HardwareAddr, mac)
	}
	if got := b.Interface(t).HardwareAddr.String(); got != "02:76:6c:00:00:02" {
		t.Fatalf("default MAC of the second host = %s, want 02:76:6c:00:00:02", got)
	}
	for _, s := range []string{"192.0.2.11", "2001:db8::11", "fe80::7025:9dff:fe47:68ec"} {
		if !a.HasAddr(t, "eth0", netip.MustParseAddr(s)) {
			t.Errorf("host a lacks %s: %v", s, a.Addrs(t, "eth0"))
		}
	}
	if a.HasAddr(t, "eth0", netip.MustParseAddr("192.0.2.12")) {
		t.Errorf("host a has b's address")
	}
	// The host's addresses are not in the namespace the test runs in.
	local, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range local {
		if strings.HasPrefix(a.String(), "192.0.2.11/") {
			t.Fatalf("lab address leaked into the test's namespace: %s", a)
		}
	}

	// Do runs in the host's namespace and returns to the original one.
	var inside []net.Interface
	if err := a.Do(func() error {
		var err error
		inside, err = net.Interfaces()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ifi := range inside {
		names = append(names, ifi.Name)
	}
	if strings.Join(names, ",") != "lo,eth0" {
		t.Fatalf("interfaces inside host a: %v, want lo,eth0", names)
	}
	// The accept_dad sysctl written through Do landed in the host's
	// namespace.
	if out := strings.TrimSpace(a.Run(t, "cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad")); out != "0" {
		t.Fatalf("accept_dad inside host a = %q, want 0", out)
	}
	a.SetSysctl(t, "net.ipv6.conf.eth0.accept_dad", "1")
	if out := strings.TrimSpace(a.Run(t, "cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad")); out != "1" {
		t.Fatalf("accept_dad inside host a after SetSysctl = %q, want 1", out)
	}
	if out := strings.TrimSpace(b.Run(t, "cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad")); out != "0" {
		t.Fatalf("SetSysctl on host a changed host b: accept_dad = %q", out)
	}
}

func TestLinkDown(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24")
	b := l.AddHost("b", "192.0.2.12/24")
	a.Run(t, "ping", "-c", "1", "-W", "5", "192.0.2.12")

	b.LinkDown(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := a.Exec(ctx, "ping", "-c", "1", "-W", "1", "192.0.2.12").CombinedOutput(); err == nil {
		t.Fatalf("ping across a cut link succeeded:\n%s", out)
	}
	// The host sees the carrier loss.
	waitFor(t, func() bool {
		return strings.Contains(b.Run(t, "ip", "link", "show", "eth0"), "NO-CARRIER")
	})

	b.LinkUp(t)
	waitFor(t, func() bool {
		return !strings.Contains(b.Run(t, "ip", "link", "show", "eth0"), "NO-CARRIER")
	})
	a.Run(t, "ping", "-c", "1", "-W", "5", "192.0.2.12")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCleanupRemovesNamespaces(t *testing.T) {
	t.Parallel()
	var names []string
	t.Run("lab", func(t *testing.T) {
		l := lab.New(t)
		a := l.AddHost("a", "192.0.2.11/24")
		b := l.AddHost("b", "192.0.2.12/24")
		names = []string{l.SwitchNetns(), a.NetnsName(), b.NetnsName()}
		list := netnsList(t)
		for _, n := range names {
			if !strings.Contains(list, n) {
				t.Fatalf("namespace %s missing from ip netns list:\n%s", n, list)
			}
		}
	})
	if len(names) != 3 {
		t.Fatal("subtest did not build the lab")
	}
	list := netnsList(t)
	for _, n := range names {
		if strings.Contains(list, n) {
			t.Errorf("namespace %s survived its test:\n%s", n, list)
		}
	}
}

// A test that fails half-way still removes what it built.
func TestCleanupAfterFailure(t *testing.T) {
	if os.Getenv("LAB_TEST_HELPER") == "fail-half-way" {
		l := lab.New(t)
		a := l.AddHost("a", "192.0.2.11/24")
		os.WriteFile(os.Getenv("LAB_TEST_NAMES"), []byte(l.SwitchNetns()+"\n"+a.NetnsName()), 0o600)
		l.AddHost("b", "not-an-address")
		return
	}
	lab.Require(t)
	t.Parallel()
	namesFile := filepath.Join(t.TempDir(), "names")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleanupAfterFailure$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LAB_TEST_HELPER=fail-half-way", "LAB_TEST_NAMES="+namesFile)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not-an-address") {
		t.Fatalf("helper test did not fail as planned: %v\n%s", err, out)
	}
	b, err := os.ReadFile(namesFile)
	if err != nil {
		t.Fatal(err)
	}
	list := netnsList(t)
	for _, n := range strings.Fields(string(b)) {
		if strings.Contains(list, n) {
			t.Errorf("namespace %s survived the failed test:\n%s", n, list)
		}
	}
}

func netnsList(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	return string(out)
}

// TestCaptureBurst: a burst of frames is captured whole (Stop fails if
// tcpdump dropped any), as a node of 255 routers sends on taking over.
func TestCaptureBurst(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24")
	l.AddHost("b", "192.0.2.12/24")
	c := l.Capture(t, "udp port 9")
	const n = 3000
	err := a.Do(func() error {
		// Unconnected: b's port unreachable errors do not fail sends.
		conn, err := net.ListenPacket("udp4", "192.0.2.11:0")
		if err != nil {
			return err
		}
		defer conn.Close()
		to := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 12), Port: 9}
		for range n {
			if _, err := conn.WriteTo([]byte("burst"), to); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Until tcpdump has written what it got; Stop fails if it dropped any.
	for seen, last := 0, -1; seen != last; {
		time.Sleep(200 * time.Millisecond)
		frames, err := c.Frames()
		if err != nil {
			t.Fatal(err)
		}
		seen, last = len(frames), seen
	}
	frames, err := lab.ReadPcap(c.Stop())
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != n {
		t.Fatalf("%d frames captured, want %d", len(frames), n)
	}
}

func TestCapture(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24")
	b := l.AddHost("b", "192.0.2.12/24")
	c := l.Capture(t, "icmp")

	a.Run(t, "ping", "-c", "1", "-W", "5", "192.0.2.12")
	// Unicast between two ports is seen on the bridge too: request and
	// reply.
	frames := c.Wait(2, nil)
	path := c.Stop()
	if !bytes.Equal(frames[0][6:12], a.HardwareAddr()) || !bytes.Equal(frames[0][0:6], b.HardwareAddr()) {
		t.Fatalf("first frame %x is not a's echo request to b", frames[0])
	}
	all, err := lab.ReadPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(frames) {
		t.Fatalf("pcap after Stop has %d frames, Wait saw %d", len(all), len(frames))
	}
	if out, err := exec.Command("tshark", "-r", path).CombinedOutput(); err == nil && !strings.Contains(string(out), "Echo (ping) request") {
		t.Fatalf("tshark does not see the ping in %s:\n%s", path, out)
	}
}
