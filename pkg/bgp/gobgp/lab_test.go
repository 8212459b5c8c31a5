package gobgp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"

	"github.com/vipd/vipd/pkg/bgp"
)

// The lab tests run each speaker in a process of its own inside a node's
// namespace (this test binary again, see TestMain): GoBGP opens its
// sockets from goroutines of its own, which a namespace switched on one
// thread would not reach.

const envHelper = "VIPD_BGP_SPEAKER" // the helper's bgp.Config, as JSON

func TestMain(m *testing.M) {
	if cfg := os.Getenv(envHelper); cfg != "" {
		os.Exit(speakerHelper(cfg))
	}
	os.Exit(m.Run())
}

// speakerHelper runs a Speaker and obeys the lines of stdin: "announce
// PREFIX MED", "withdraw PREFIX", "status" (answered with the bgp.Status as
// JSON); each answered with one line. It stops at the end of stdin.
func speakerHelper(cfgJSON string) int {
	var cfg bgp.Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sp := New(cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sp.Run(ctx) }()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var err error
		switch {
		case len(f) == 3 && f[0] == "announce":
			var med uint32
			fmt.Sscan(f[2], &med)
			err = sp.Announce(netip.MustParsePrefix(f[1]), bgp.Pref{MED: med})
		case len(f) == 2 && f[0] == "withdraw":
			err = sp.Withdraw(netip.MustParsePrefix(f[1]))
		case len(f) == 1 && f[0] == "status":
			b, _ := json.Marshal(sp.Status())
			fmt.Println(string(b))
			continue
		default:
			err = fmt.Errorf("unknown command %q", sc.Text())
		}
		if err != nil {
			fmt.Println("error:", err)
		} else {
			fmt.Println("ok")
		}
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// remote is a speakerHelper running in a lab host.
type remote struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	done chan struct{}
}

func startRemote(t *testing.T, h *lab.Host, cfg bgp.Config) *remote {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Exec(context.Background(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+string(b))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &remote{t: t, name: h.Name(), cmd: cmd, in: in, out: bufio.NewReader(out), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.in.Close()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// do sends one command and returns the answer.
func (r *remote) do(line string) string {
	r.t.Helper()
	if _, err := fmt.Fprintln(r.in, line); err != nil {
		r.t.Fatalf("speaker on %s: %v", r.name, err)
	}
	ans, err := r.out.ReadString('\n')
	if err != nil {
		r.t.Fatalf("speaker on %s: %v", r.name, err)
	}
	return strings.TrimSpace(ans)
}

func (r *remote) announce(p netip.Prefix, med uint32) {
	r.t.Helper()
	if ans := r.do(fmt.Sprintf("announce %s %d", p, med)); ans != "ok" {
		r.t.Fatalf("speaker on %s: announce %s: %s", r.name, p, ans)
	}
}

func (r *remote) withdraw(p netip.Prefix) {
	r.t.Helper()
	if ans := r.do("withdraw " + p.String()); ans != "ok" {
		r.t.Fatalf("speaker on %s: withdraw %s: %s", r.name, p, ans)
	}
}

func (r *remote) status() bgp.Status {
	r.t.Helper()
	var st bgp.Status
	if err := json.Unmarshal([]byte(r.do("status")), &st); err != nil {
		r.t.Fatalf("speaker on %s: status: %v", r.name, err)
	}
	return st
}

// stop ends the speaker (its sessions close with a Cease) and waits.
func (r *remote) stop() {
	r.in.Close()
	<-r.done
}

var (
	vip4 = netip.MustParsePrefix("203.0.113.10/32")
	vip6 = netip.MustParsePrefix("2001:db8:f::10/128")
)

// routedLab is a router with a client and two nodes, each on a subnet of
// its own, both holding the VIPs on lo and answering on port 80 with
// their name.
type routedLab struct {
	fabric *lab.Fabric
	client *lab.Host
	nodes  []*lab.Host
	addrs  map[string][2]netip.Addr // node → IPv4, IPv6
}

func newRoutedLab(t *testing.T) *routedLab {
	t.Helper()
	f := lab.NewFabric(t)
	rl := &routedLab{fabric: f, addrs: make(map[string][2]netip.Addr)}
	rl.client = f.AddHost("client", "192.0.2.100/24", "2001:db8:c::100/64")
	for i := 1; i <= 2; i++ {
		name := fmt.Sprintf("n%d", i)
		a4 := fmt.Sprintf("198.51.100.%d/28", 16*i+2)
		a6 := fmt.Sprintf("2001:db8:%d::2/64", i)
		h := f.AddHost(name, a4, a6)
		rl.nodes = append(rl.nodes, h)
		rl.addrs[name] = [2]netip.Addr{netip.MustParsePrefix(a4).Addr(), netip.MustParsePrefix(a6).Addr()}
		for _, v := range []netip.Prefix{vip4, vip6} {
			h.Run(t, "ip", "addr", "add", v.String(), "dev", "lo")
		}
		serveName(t, h)
	}
	return rl
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

// ask connects from the client to the VIP's port 80 and returns who
// answered, or "" when none did.
func (rl *routedLab) ask(vip netip.Addr) string {
	var c net.Conn
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	if err := rl.client.Do(func() (err error) {
		c, err = d.Dial("tcp", netip.AddrPortFrom(vip, 80).String())
		return err
	}); err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// waitNextHops waits until the router forwards p to the nodes named.
func (rl *routedLab) waitNextHops(t *testing.T, p netip.Prefix, nodes ...string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = rl.fabric.NextHops(t, p)
		if slices.Equal(got, nodes) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the router forwards %s to %v, want %v", p, got, nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAnswer waits until the client's connections to vip are answered by
// node.
func (rl *routedLab) waitAnswer(t *testing.T, vip netip.Addr, node string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := rl.ask(vip)
		if got == node {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client's connection to %s was answered by %q, want %q", vip, got, node)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// neighbors returns the router's neighbours: both nodes, both families.
func (rl *routedLab) neighbors() []lab.Neighbor {
	var out []lab.Neighbor
	for _, n := range rl.nodes {
		for _, a := range rl.addrs[n.Name()] {
			out = append(out, lab.Neighbor{Addr: a, ASN: 64512})
		}
	}
	return out
}

// TestRouters has two nodes announce the VIPs to FRR and to BIRD, over
// eBGP and iBGP, IPv4 and IPv6: the router prefers the lower MED and the
// client reaches the VIP through it; a withdrawal moves the traffic; equal
// MEDs give one next hop per node; a speaker that stops closes its
// sessions and the router drops its routes at once.
func TestRouters(t *testing.T) {
	lab.Require(t)
	for _, router := range []string{"frr", "bird"} {
		for _, session := range []string{"eBGP", "iBGP"} {
			t.Run(router+"/"+session, func(t *testing.T) {
				asn := uint32(64500)
				if session == "iBGP" {
					asn = 64512
				}
				rl := newRoutedLab(t)
				// AS 64500 is the router's for eBGP; for iBGP the
				// router is in the nodes' AS.
				id := netip.MustParseAddr("192.0.2.1")
				if router == "frr" {
					lab.StartFRR(t, rl.fabric.Router(), lab.FRRRouter(asn, id, rl.neighbors(), nil))
				} else {
					lab.StartBIRD(t, rl.fabric.Router(), lab.BIRDRouter(asn, id, rl.neighbors()))
				}
				var sp []*remote
				for _, n := range rl.nodes {
					a := rl.addrs[n.Name()]
					sp = append(sp, startRemote(t, n, bgp.Config{
						ASN: 64512, RouterID: a[0], HoldTime: 3 * time.Second,
						Peers: []bgp.Peer{
							{Address: lab.RouterAddr(netip.PrefixFrom(a[0], 28)), ASN: asn},
							{Address: lab.RouterAddr(netip.PrefixFrom(a[1], 64)), ASN: asn},
						},
					}))
				}
				for i, r := range sp {
					for _, v := range []netip.Prefix{vip4, vip6} {
						r.announce(v, uint32(5+10*i))
					}
				}
				for _, v := range []netip.Prefix{vip4, vip6} {
					rl.waitNextHops(t, v, "n1")
					rl.waitAnswer(t, v.Addr(), "n1")
				}
				st := sp[0].status()
				for _, p := range st.Peers {
					if p.State != bgp.Established || p.Advertised != 1 {
						t.Errorf("n1's session to %s: %v with %d routes, want bgp.Established with 1", p.Address, p.State, p.Advertised)
					}
				}

				for _, v := range []netip.Prefix{vip4, vip6} {
					sp[0].withdraw(v)
				}
				for _, v := range []netip.Prefix{vip4, vip6} {
					rl.waitNextHops(t, v, "n2")
					rl.waitAnswer(t, v.Addr(), "n2")
				}

				// Equal preferences: ECMP.
				for _, v := range []netip.Prefix{vip4, vip6} {
					sp[0].announce(v, 15)
				}
				for _, v := range []netip.Prefix{vip4, vip6} {
					rl.waitNextHops(t, v, "n1", "n2")
				}

				// A speaker that stops takes its routes with it at once,
				// not after the hold time.
				start := time.Now()
				sp[1].stop()
				for _, v := range []netip.Prefix{vip4, vip6} {
					rl.waitNextHops(t, v, "n1")
				}
				if d := time.Since(start); d >= 3*time.Second {
					t.Errorf("the router dropped a stopped node's routes after %v, not before the hold time", d)
				}
				for _, v := range []netip.Prefix{vip4, vip6} {
					rl.waitAnswer(t, v.Addr(), "n1")
				}
			})
		}
	}
}

// TestPassword: a session with a TCP MD5 key comes up with FRR and BIRD
// when both ends have it, and not when the node has another.
func TestPassword(t *testing.T) {
	lab.Require(t)
	for _, router := range []string{"frr", "bird"} {
		t.Run(router, func(t *testing.T) {
			rl := newRoutedLab(t)
			n1 := rl.addrs["n1"]
			id := netip.MustParseAddr("192.0.2.1")
			neighbors := []lab.Neighbor{{Addr: n1[0], ASN: 64512}, {Addr: rl.addrs["n2"][0], ASN: 64512}}
			if router == "frr" {
				conf := lab.FRRRouter(64500, id, neighbors, nil)
				conf = strings.Replace(conf, " address-family ipv4", fmt.Sprintf(" neighbor %s password s3cret\n neighbor %s password s3cret\n address-family ipv4", n1[0], rl.addrs["n2"][0]), 1)
				lab.StartFRR(t, rl.fabric.Router(), conf)
			} else {
				conf := strings.ReplaceAll(lab.BIRDRouter(64500, id, neighbors), "\tdirect;\n", "\tdirect;\n\tpassword \"s3cret\";\n")
				lab.StartBIRD(t, rl.fabric.Router(), conf)
			}
			for i, n := range rl.nodes {
				a := rl.addrs[n.Name()]
				password := "s3cret"
				if i == 1 {
					password = "wrong"
				}
				r := startRemote(t, n, bgp.Config{ASN: 64512, RouterID: a[0], HoldTime: 3 * time.Second,
					Peers: []bgp.Peer{{Address: lab.RouterAddr(netip.PrefixFrom(a[0], 28)), ASN: 64500, Password: password}}})
				r.announce(vip4, uint32(5+10*i))
			}
			rl.waitNextHops(t, vip4, "n1")
			// n2's key is wrong: its session never comes up, so the
			// router has n1's route alone however long it waits.
			time.Sleep(2 * time.Second)
			rl.waitNextHops(t, vip4, "n1")
		})
	}
}

// TestSource: a peer's source address is the session's: the router knows
// the node by its second address only, and the session comes up from it.
func TestSource(t *testing.T) {
	lab.Require(t)
	rl := newRoutedLab(t)
	n1 := rl.nodes[0]
	second := netip.MustParseAddr("198.51.100.19")
	n1.Run(t, "ip", "addr", "add", second.String()+"/28", "dev", "eth0")
	lab.StartFRR(t, rl.fabric.Router(), lab.FRRRouter(64500, netip.MustParseAddr("192.0.2.1"), []lab.Neighbor{{Addr: second, ASN: 64512}}, nil))
	a := rl.addrs["n1"]
	r := startRemote(t, n1, bgp.Config{ASN: 64512, RouterID: a[0], HoldTime: 3 * time.Second,
		Peers: []bgp.Peer{{Address: lab.RouterAddr(netip.PrefixFrom(a[0], 28)), ASN: 64500, Source: second}}})
	r.announce(vip4, 5)
	rl.waitNextHops(t, vip4, "n1")
}
