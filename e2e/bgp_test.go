package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// The routed fabric of these tests: a router with a client on
// 192.0.2.0/24 and 2001:db8:c::/64 and each node on a subnet of its own,
// no layer 2 in common. Nodes announce 203.0.113.10 and 2001:db8:f::10,
// bound on lo, where a server on port 80 answers with the node's name.

var (
	routedVIP4 = netip.MustParsePrefix("203.0.113.10/32")
	routedVIP6 = netip.MustParsePrefix("2001:db8:f::10/128")
)

// vipdBGP returns vipd built with GoBGP (the bgp tag), built once.
var vipdBGP = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(vipdBin), "vipd-bgp")
	out, err := exec.Command("go", "build", "-tags", "nethttpomithttp2 bgp", "-o", bin, "../cmd/vipd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build vipd-bgp: %v\n%s", err, out)
	}
	return bin, nil
})

type fabric struct {
	f      *lab.Fabric
	client *lab.Host
	nodes  []*lab.Host
	addrs  [][2]netip.Addr // of each node: IPv4, IPv6
	apis   []*lab.APIServer
}

// newFabric makes a fabric of n nodes, each with an API server and the
// name server.
func newFabric(t *testing.T, n int) *fabric {
	t.Helper()
	fb := &fabric{f: lab.NewFabric(t)}
	fb.client = fb.f.AddHost("client", "192.0.2.100/24", "2001:db8:c::100/64")
	for i := 1; i <= n; i++ {
		a4 := netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/28", 16*i+2))
		a6 := netip.MustParsePrefix(fmt.Sprintf("2001:db8:%d::2/64", i))
		h := fb.f.AddHost(fmt.Sprintf("n%d", i), a4.String(), a6.String())
		fb.nodes = append(fb.nodes, h)
		fb.addrs = append(fb.addrs, [2]netip.Addr{a4.Addr(), a6.Addr()})
		fb.apis = append(fb.apis, lab.StartAPIServer(t, h))
		serveName(t, h)
	}
	return fb
}

// neighbors are the router's neighbours: every node, both families.
func (fb *fabric) neighbors() []lab.Neighbor {
	var out []lab.Neighbor
	for _, a := range fb.addrs {
		out = append(out, lab.Neighbor{Addr: a[0], ASN: 64512}, lab.Neighbor{Addr: a[1], ASN: 64512})
	}
	return out
}

// config returns a vipd.toml for the fabric's nodes with the instance
// lines given and extra tables.
func (fb *fabric) config(t *testing.T, instance, extra string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = %q\n", t.Name())
	for i, h := range fb.nodes {
		fmt.Fprintf(&b, "[[cluster.node]]\nname = %q\naddress = %q\naddress6 = %q\n", h.Name(), fb.addrs[i][0], fb.addrs[i][1])
	}
	b.WriteString(daemonTable)
	b.WriteString(extra)
	fmt.Fprintf(&b, `[[check]]
name = "apiserver"
type = "https"
url = "https://127.0.0.1:6443/readyz"
ca_file = %q
server_name = "kubernetes"
interval = "200ms"
timeout = "150ms"
[[instance]]
name = "api"
vips = ["%s", "%s"]
track = [{ check = "apiserver" }]
withdraw_delay = "1s"
%s
`, fb.apis[0].CAFile, routedVIP4.Addr(), routedVIP6.Addr(), instance)
	return writeConfig(t, b.String())
}

// waitRoutes waits until the router forwards both VIPs to the nodes
// named, and returns how long that took.
func (fb *fabric) waitRoutes(t *testing.T, timeout time.Duration, nodes ...string) time.Duration {
	t.Helper()
	start := time.Now()
	for _, p := range []netip.Prefix{routedVIP4, routedVIP6} {
		for {
			got := fb.f.NextHops(t, p)
			if slices.Equal(got, nodes) {
				break
			}
			if time.Since(start) > timeout {
				t.Fatalf("after %v the router forwards %s to %v, want %v", timeout, p, got, nodes)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// serveName answers every connection to port 80 of h with h's name.
func serveName(t *testing.T, h *lab.Host) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", ":80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(h.Name()))
			c.Close()
		}
	}()
}

// ask connects from the client to vip's port 80 and returns who answered.
func ask(client *lab.Host, vip netip.Addr) (string, error) {
	var c net.Conn
	d := net.Dialer{Timeout: time.Second}
	if err := client.Do(func() (err error) {
		c, err = d.Dial("tcp", netip.AddrPortFrom(vip, 80).String())
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	b, err := io.ReadAll(c)
	if err == nil && len(b) == 0 {
		err = io.ErrUnexpectedEOF
	}
	return string(b), err
}

// waitServed waits until the client's requests to both VIPs are answered
// by node.
func (fb *fabric) waitServed(t *testing.T, node string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range []netip.Prefix{routedVIP4, routedVIP6} {
		for {
			got, err := ask(fb.client, p.Addr())
			if got == node {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("requests to %s are answered by %q (%v), want %s", p.Addr(), got, err, node)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// requests are a client's requests to a VIP every 10 ms, for a bounded
// time, with who answered each.
type requests struct {
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	failed []string
	by     map[string]int
}

func startRequests(t *testing.T, client *lab.Host, vip netip.Addr, max time.Duration) *requests {
	r := &requests{stop: make(chan struct{}), done: make(chan struct{}), by: make(map[string]int)}
	go func() {
		defer close(r.done)
		end := time.Now().Add(max)
		for time.Now().Before(end) {
			at := time.Now()
			name, err := ask(client, vip)
			r.mu.Lock()
			if err != nil {
				r.failed = append(r.failed, fmt.Sprintf("%s: %v", at.Format("15:04:05.000"), err))
			} else {
				r.by[name]++
			}
			r.mu.Unlock()
			select {
			case <-r.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(r.end)
	return r
}

// end stops the requests and waits for the last.
func (r *requests) end() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// check ends the requests and fails t if any failed, but for one reset
// connection: a connection opened at the instant the router switches
// sends its SYN to the old node and its ACK to the new one, which resets
// it. No node can prevent that; any other failure is a lost request.
func (r *requests) check(t *testing.T, what string) {
	t.Helper()
	r.end()
	r.mu.Lock()
	defer r.mu.Unlock()
	resets := 0
	for _, f := range r.failed {
		if strings.HasSuffix(f, "connection reset by peer") {
			resets++
		}
	}
	switch {
	case len(r.failed) > resets || resets > 1:
		t.Errorf("%s: %d requests failed: %v", what, len(r.failed), r.failed)
	case resets == 1:
		t.Logf("%s: requests answered by %v; one connection opened as the router switched was reset: %v", what, r.by, r.failed)
	default:
		t.Logf("%s: requests answered by %v, none lost", what, r.by)
	}
}

// startRoutedVipd runs bin with cfg on node h.
func startRoutedVipd(t *testing.T, bin string, h *lab.Host, cfg string) *proc {
	t.Helper()
	own, socket := ownConfig(t, h, cfg)
	return startProc(t, h, cfg, socket, h.Exec(context.Background(), bin, "-config", own))
}

// silence drops every packet to and from h, as a node that died without
// closing its sessions would: only the hold time tells the router.
func silence(t *testing.T, h *lab.Host) {
	t.Helper()
	lab.RequireCommand(t, "nft")
	h.Run(t, "nft", "add table inet dead; add chain inet dead in { type filter hook input priority -300; policy drop; }; add chain inet dead out { type filter hook output priority -300; policy drop; }")
}

// TestBGPFailover runs vipd-bgp on two nodes of a routed fabric, with FRR
// (eBGP) and BIRD (iBGP) as the router: the router prefers n1; a drain and
// a graceful stop move the traffic to n2 without losing a request; a
// failing API server check withdraws n1's routes in under a second; kill
// -9 closes n1's sessions at once, and a node that dies silently is
// dropped after the hold time, 3s.
func TestBGPFailover(t *testing.T) {
	lab.Require(t)
	for _, tc := range []struct {
		router string
		asn    uint32
	}{
		{"frr", 64500},
		{"bird", 64512},
	} {
		t.Run(tc.router, func(t *testing.T) {
			bin, err := vipdBGP()
			if err != nil {
				t.Fatal(err)
			}
			fb := newFabric(t, 2)
			id := netip.MustParseAddr("192.0.2.1")
			if tc.router == "frr" {
				lab.StartFRR(t, fb.f.Router(), lab.FRRRouter(tc.asn, id, fb.neighbors(), nil))
			} else {
				lab.StartBIRD(t, fb.f.Router(), lab.BIRDRouter(tc.asn, id, fb.neighbors()))
			}
			// Every node peers with the router's address on the client's
			// subnet: one hop away from each, and the same in every
			// node's copy of the file.
			cfg := fb.config(t, `announce = "bgp"`, fmt.Sprintf(`[bgp]
asn = 64512
hold_time = "3s"
[[bgp.peer]]
address = "192.0.2.1"
asn = %[1]d
[[bgp.peer]]
address = "2001:db8:c::1"
asn = %[1]d
`, tc.asn))
			n1 := startRoutedVipd(t, bin, fb.nodes[0], cfg)
			startRoutedVipd(t, bin, fb.nodes[1], cfg)
			fb.waitRoutes(t, 30*time.Second, "n1")
			fb.waitServed(t, "n1")
			out, err := n1.vipctl("status")
			if err != nil || !strings.Contains(out, "ANNOUNCED") || strings.Count(out, "Established") != 2 {
				t.Errorf("vipctl status on n1: %v\n%s", err, out)
			}

			// A drain: withdrawn at once, unbound a second later.
			reqs := startRequests(t, fb.client, routedVIP4.Addr(), 10*time.Second)
			if out, err := n1.vipctl("drain"); err != nil {
				t.Fatalf("vipctl drain: %v\n%s", err, out)
			}
			d := fb.waitRoutes(t, 5*time.Second, "n2")
			time.Sleep(1500 * time.Millisecond) // past the withdraw delay
			reqs.check(t, "drain")
			t.Logf("%s: drain of n1: the router forwards to n2 after %v", tc.router, d.Round(time.Millisecond))
			if out, err := n1.vipctl("resume"); err != nil {
				t.Fatalf("vipctl resume: %v\n%s", err, out)
			}
			fb.waitRoutes(t, 5*time.Second, "n1")

			// The API server fails: withdrawn in under a second.
			starved := fb.f.Starvation(true)
			fb.apis[0].Down.Store(true)
			d = fb.waitRoutes(t, 5*time.Second, "n2")
			t.Logf("%s: API server of n1 fails: the router forwards to n2 after %v", tc.router, d.Round(time.Millisecond))
			if waited := starved.Since(); d >= time.Second+waited {
				t.Errorf("a failing check moved the traffic after %v, not under a second (+%v the daemons and the test waited for a CPU)", d, waited)
			}
			fb.waitServed(t, "n2")
			fb.apis[0].Down.Store(false)
			fb.waitRoutes(t, 5*time.Second, "n1")

			// A graceful stop: withdraw, wait, unbind, close.
			reqs = startRequests(t, fb.client, routedVIP4.Addr(), 10*time.Second)
			start := time.Now()
			stopped := make(chan error, 1)
			go func() { stopped <- n1.stop() }()
			d = fb.waitRoutes(t, 5*time.Second, "n2")
			if err := <-stopped; err != nil {
				t.Errorf("vipd on n1 stopped with %v", err)
			}
			reqs.check(t, "graceful stop")
			t.Logf("%s: graceful stop of n1: the router forwards to n2 after %v; vipd exited after %v", tc.router, d.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

			// kill -9: the kernel closes the sessions, the router sees it.
			n1 = startRoutedVipd(t, bin, fb.nodes[0], cfg)
			fb.waitRoutes(t, 30*time.Second, "n1")
			n1.kill()
			d = fb.waitRoutes(t, 5*time.Second, "n2")
			t.Logf("%s: kill -9 of vipd on n1: the router forwards to n2 after %v", tc.router, d.Round(time.Millisecond))

			// A node that dies silently: the hold time.
			n1 = startRoutedVipd(t, bin, fb.nodes[0], cfg)
			fb.waitRoutes(t, 30*time.Second, "n1")
			silence(t, fb.nodes[0])
			starved = fb.f.Starvation(true)
			n1.kill()
			d = fb.waitRoutes(t, 10*time.Second, "n2")
			t.Logf("%s: n1 dies silently: the router forwards to n2 after %v (hold time 3s)", tc.router, d.Round(time.Millisecond))
			if waited := starved.Since(); d > 3*time.Second+500*time.Millisecond+waited {
				t.Errorf("a dead node's routes went after %v, beyond the 3s hold time (+%v the daemons and the test waited for a CPU)", d, waited)
			}
			fb.waitServed(t, "n2")
		})
	}
}

// TestBGPECMP: with ecmp = true the router holds one next hop per healthy
// node, and drops a node's as it fails.
func TestBGPECMP(t *testing.T) {
	lab.Require(t)
	bin, err := vipdBGP()
	if err != nil {
		t.Fatal(err)
	}
	fb := newFabric(t, 2)
	lab.StartFRR(t, fb.f.Router(), lab.FRRRouter(64500, netip.MustParseAddr("192.0.2.1"), fb.neighbors(), nil))
	cfg := fb.config(t, "announce = \"bgp\"\necmp = true", `[bgp]
asn = 64512
hold_time = "3s"
[[bgp.peer]]
address = "192.0.2.1"
asn = 64500
[[bgp.peer]]
address = "2001:db8:c::1"
asn = 64500
`)
	for _, h := range fb.nodes {
		startRoutedVipd(t, bin, h, cfg)
	}
	fb.waitRoutes(t, 30*time.Second, "n1", "n2")
	fb.apis[1].Down.Store(true)
	fb.waitRoutes(t, 5*time.Second, "n1")
	fb.apis[1].Down.Store(false)
	fb.waitRoutes(t, 5*time.Second, "n1", "n2")
}

// TestRouteMode runs plain vipd (no GoBGP) with announce = "route" on two
// nodes whose FRR (or BIRD) exports the routes vipd puts in the kernel
// table to the router: the same failover as over BGP.
func TestRouteMode(t *testing.T) {
	lab.Require(t)
	for _, daemon := range []string{"frr", "bird"} {
		t.Run(daemon, func(t *testing.T) {
			fb := newFabric(t, 2)
			table := 254
			if daemon == "bird" {
				table = 100
			}
			id := netip.MustParseAddr("192.0.2.1")
			for i, h := range fb.nodes {
				router := [2]netip.Addr{
					lab.RouterAddr(netip.PrefixFrom(fb.addrs[i][0], 28)),
					lab.RouterAddr(netip.PrefixFrom(fb.addrs[i][1], 64)),
				}
				if daemon == "frr" {
					lab.StartFRR(t, h, lab.FRRExporter(router, fb.addrs[i][0], table))
				} else {
					lab.StartBIRD(t, h, lab.BIRDExporter(router, fb.addrs[i][0], table))
				}
			}
			if daemon == "frr" {
				lab.StartFRR(t, fb.f.Router(), lab.FRRRouter(64500, id, fb.neighbors(), nil))
			} else {
				lab.StartBIRD(t, fb.f.Router(), lab.BIRDRouter(64500, id, fb.neighbors()))
			}
			cfg := fb.config(t, fmt.Sprintf("announce = \"route\"\nroute_table = %d", table), "")
			n1 := startVipd(t, fb.nodes[0], cfg)
			startVipd(t, fb.nodes[1], cfg)
			fb.waitRoutes(t, 30*time.Second, "n1")
			fb.waitServed(t, "n1")

			starved := fb.f.Starvation(true)
			fb.apis[0].Down.Store(true)
			d := fb.waitRoutes(t, 5*time.Second, "n2")
			t.Logf("route/%s: API server of n1 fails: the router forwards to n2 after %v", daemon, d.Round(time.Millisecond))
			if waited := starved.Since(); d >= time.Second+waited {
				t.Errorf("a failing check moved the traffic after %v, not under a second (+%v the daemons and the test waited for a CPU)", d, waited)
			}
			fb.apis[0].Down.Store(false)
			fb.waitRoutes(t, 5*time.Second, "n1")

			reqs := startRequests(t, fb.client, routedVIP4.Addr(), 10*time.Second)
			stopped := make(chan error, 1)
			go func() { stopped <- n1.stop() }()
			d = fb.waitRoutes(t, 5*time.Second, "n2")
			if err := <-stopped; err != nil {
				t.Errorf("vipd on n1 stopped with %v", err)
			}
			reqs.check(t, "graceful stop")
			t.Logf("route/%s: graceful stop of n1: the router forwards to n2 after %v", daemon, d.Round(time.Millisecond))
			if out := fb.nodes[0].Run(t, "ip", "route", "show", "table", fmt.Sprint(table), "proto", "200"); strings.TrimSpace(out) != "" {
				t.Errorf("vipd left routes behind in table %d:\n%s", table, out)
			}
		})
	}
}

// TestREADMERoutingConfigs checks the FRR and BIRD configurations of the
// README's "Routed fabrics" section with the daemons' own checkers: the
// lab runs the same configurations (lab.FRRRouter, lab.BIRDRouter,
// lab.FRRExporter, lab.BIRDExporter), these are their short forms.
func TestREADMERoutingConfigs(t *testing.T) {
	lab.RequireCommand(t, "bird")
	lab.RequireCommand(t, "vtysh")
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Routed fabrics")
	if !ok {
		t.Fatal(`README.md has no "Routed fabrics" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := strings.Split(section, "```")
	checked := 0
	for i := 1; i < len(blocks); i += 2 {
		block := strings.TrimPrefix(blocks[i], "\n")
		file := filepath.Join(t.TempDir(), "conf")
		switch {
		case strings.Contains(block, "router bgp"):
			if err := os.WriteFile(file, []byte(block), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("/usr/lib/frr/bgpd", "-C", "-S", "-f", file).CombinedOutput()
			if err != nil || strings.Contains(string(out), "No such command") || strings.Contains(string(out), "rror") {
				t.Errorf("FRR refuses the README's\n%s\n%v: %s", block, err, out)
			}
		case strings.Contains(block, "protocol "):
			if err := os.WriteFile(file, []byte("router id 192.0.2.1;\nprotocol device {}\n"+block), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("bird", "-p", "-c", file).CombinedOutput(); err != nil {
				t.Errorf("BIRD refuses the README's\n%s\n%v: %s", block, err, out)
			}
		default:
			continue
		}
		checked++
	}
	if checked != 4 {
		t.Errorf("checked %d configurations in the README's section, want 4 (FRR and BIRD, router and node)", checked)
	}
}
