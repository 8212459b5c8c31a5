package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
)

// Sync groups across two segments: a balancer's front VIP on eth0 (the
// lab's segment) and back VIP on eth1 (a second lab's segment), in one
// vrrp_sync_group. keepalived runs with one node's file, vipd with what the
// converter makes of the other's.

// syncConf is keepalived's sync group sample (corpus ka-vrrp-sync) on a
// lab node with two NICs: VI_FRONT on eth0, VI_BACK on eth1, in group G1,
// each tracking a check of its own (weight 0: a failure faults the
// instance, and keepalived then the whole group), in VRRPv3 at 100 ms.
func syncConf(routerID, priority, flags string) string {
	return `global_defs {
    router_id ` + routerID + `
    vrrp_version 3
}

vrrp_script chk_web {
    script "/usr/bin/test ! -e ` + filepath.Join(flags, "web-down") + `"
    interval 1
}

vrrp_script chk_db {
    script "/usr/bin/test ! -e ` + filepath.Join(flags, "db-down") + `"
    interval 1
}

vrrp_sync_group G1 {
  group {
    VI_FRONT
    VI_BACK
  }
}

vrrp_instance VI_FRONT {
    interface eth0
    virtual_router_id 51
    priority ` + priority + `
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.18/24
    }
    track_script {
        chk_web
    }
}

vrrp_instance VI_BACK {
    interface eth1
    virtual_router_id 52
    priority ` + priority + `
    advert_int 0.1
    virtual_ipaddress {
        198.51.100.18/24
    }
    track_script {
        chk_db
    }
}
`
}

var (
	frontVIP = netip.MustParseAddr("192.0.2.18")
	backVIP  = netip.MustParseAddr("198.51.100.18")
)

// backLink is a node's eth1 on the back segment.
type backLink struct {
	back *lab.Lab
	port string // the switch's end of the cable
	addr netip.Addr
}

// attachBack gives h an eth1 at 198.51.100.n/24 on back's segment.
func attachBack(t testing.TB, back *lab.Lab, h *lab.Host, n byte) backLink {
	t.Helper()
	b := backLink{back: back, port: fmt.Sprintf("b%d-%s", n, h.Name()), addr: netip.AddrFrom4([4]byte{198, 51, 100, n})}
	sw := back.SwitchNetns()
	ip(t, "-n", sw, "link", "add", b.port, "type", "veth", "peer", "name", "eth1", "netns", h.NetnsName())
	ip(t, "-n", sw, "link", "set", b.port, "master", back.Bridge(), "up")
	ip(t, "-n", h.NetnsName(), "addr", "add", b.addr.String()+"/24", "dev", "eth1")
	ip(t, "-n", h.NetnsName(), "link", "set", "eth1", "up")
	return b
}

// cable cuts or reconnects the node's back cable: eth1 loses carrier.
func (b backLink) cable(t testing.TB, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	ip(t, "-n", b.back.SwitchNetns(), "link", "set", b.port, state)
}

// loseAdverts makes the back segment drop the VRRP adverts the node sends,
// and nothing else; the returned function heals it (also at cleanup).
func (b backLink) loseAdverts(t testing.TB) (heal func()) {
	t.Helper()
	lab.RequireCommand(t, "nft")
	table := "lost" + strings.ReplaceAll(b.port, "-", "")
	nft := func(script string) error {
		out, err := exec.Command("ip", "netns", "exec", b.back.SwitchNetns(), "nft", script).CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft %s: %v: %s", script, err, out)
		}
		return nil
	}
	if err := nft("add table bridge " + table + "; add chain bridge " + table +
		" fw { type filter hook forward priority 0; }; add rule bridge " + table +
		" fw iifname \"" + b.port + "\" ip protocol vrrp drop"); err != nil {
		t.Fatal(err)
	}
	healed := false
	heal = func() {
		if !healed {
			healed = true
			if err := nft("delete table bridge " + table); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(heal)
	return heal
}

// ip runs the ip command in the test's namespace (every argument names
// a lab namespace) and fails the test when it fails.
func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// syncLab is two balancer nodes on a front and a back segment.
type syncLab struct {
	front, back *lab.Lab
	a, b        node
	ab, bb      backLink
}

func newSyncLab(t *testing.T) *syncLab {
	t.Helper()
	s := &syncLab{front: lab.New(t), back: lab.New(t)}
	s.a, s.b = addNode(t, s.front, "lb-a", 11), addNode(t, s.front, "lb-b", 12)
	s.ab, s.bb = attachBack(t, s.back, s.a.host, 11), attachBack(t, s.back, s.b.host, 12)
	return s
}

// holderOf returns the hosts that hold the front VIP on eth0 and the back
// VIP on eth1.
func (s *syncLab) holderOf(t testing.TB, vip netip.Addr) []string {
	ifname := "eth0"
	if vip == backVIP {
		ifname = "eth1"
	}
	var out []string
	for _, h := range []*lab.Host{s.a.host, s.b.host} {
		if h.HasAddr(t, ifname, vip) {
			out = append(out, h.Name())
		}
	}
	return out
}

// on waits until both VIPs are on want only.
func (s *syncLab) on(t testing.TB, want node, why string) {
	t.Helper()
	waitUntil(t, 10*time.Second, fmt.Sprintf("%s: both VIPs on %s only", why, want.host.Name()), func() (bool, string) {
		for _, vip := range []netip.Addr{frontVIP, backVIP} {
			if got := s.holderOf(t, vip); len(got) != 1 || got[0] != want.host.Name() {
				return false, fmt.Sprintf("%v held by %v", vip, got)
			}
		}
		return true, ""
	})
}

// stays checks that both VIPs stay on want only for d.
func (s *syncLab) stays(t testing.TB, want node, d time.Duration, why string) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		for _, vip := range []netip.Addr{frontVIP, backVIP} {
			if got := s.holderOf(t, vip); len(got) != 1 || got[0] != want.host.Name() {
				t.Fatalf("%s: %v held by %v, want %s only", why, vip, got, want.host.Name())
			}
		}
	}
}

// TestConvertSyncGroup: keepalived with the sync group sample and vipd
// with its conversion, on two nodes and two segments, agree on the master
// of both instances and hand both over together, both ways round: when a
// member's check fails on the master, when the master's back cable is cut,
// and not at all when only the master's back adverts are lost (the other
// node's front still hears the master, and keepalived's
// vrrp_sync_can_goto_master keeps the group backup).
func TestConvertSyncGroup(t *testing.T) {
	requireKeepalived(t)
	bothWays(t, func(t *testing.T, kaIsMaster bool) {
		s := newSyncLab(t)
		flagsA, flagsB := t.TempDir(), t.TempDir()
		confs := map[string]string{"lb-a": syncConf("lb-a", "150", flagsA), "lb-b": syncConf("lb-b", "100", flagsB)}
		cfg := convertSet(t, confs)
		if text, err := os.ReadFile(cfg["lb-a"]); err != nil || strings.Count(string(text), `sync_group = "G1"`) != 2 {
			t.Fatalf("the conversion of lb-a has no sync_group G1 for both members (%v):\n%s", err, text)
		}
		var k *keepalived
		var p *proc
		if kaIsMaster {
			k = startKeepalived(t, s.a, confs["lb-a"])
			p = startVipd(t, s.b.host, cfg["lb-b"])
		} else {
			k = startKeepalived(t, s.b, confs["lb-b"])
			p = startVipd(t, s.a.host, cfg["lb-a"])
		}
		s.on(t, s.a, "start")
		kaWant := map[bool]string{true: "MASTER", false: "BACKUP"}[kaIsMaster]
		waitUntil(t, 5*time.Second, "keepalived's states", func() (bool, string) {
			f, b := kaStateOf(k, "VI_FRONT"), kaStateOf(k, "VI_BACK")
			return f == kaWant && b == kaWant, fmt.Sprintf("VI_FRONT %q, VI_BACK %q", f, b)
		})

		// VI_FRONT's check fails on lb-a: both hand over.
		web := filepath.Join(flagsA, "web-down")
		if err := os.WriteFile(web, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s.on(t, s.b, "front's check failed on lb-a")
		if !kaIsMaster {
			in := vipdInstance(t, p, "VI_BACK")
			if in.State != "FAULT" || !strings.HasPrefix(in.Forced, "sync group G1 in fault: VI_FRONT/ipv4") {
				t.Errorf("vipd's VI_BACK: %s, forced %q; want FAULT forced by VI_FRONT", in.State, in.Forced)
			}
		}
		if err := os.Remove(web); err != nil {
			t.Fatal(err)
		}
		s.on(t, s.a, "front's check passes again on lb-a")

		// lb-a's back cable is cut: both hand over.
		s.ab.cable(t, false)
		s.on(t, s.b, "lb-a's back cable cut")
		s.ab.cable(t, true)
		s.on(t, s.a, "lb-a's back cable back")

		// lb-a's back adverts are lost: lb-b's back wants to be
		// master, but its front still hears lb-a: nothing moves.
		mark := len(k.log.String())
		heal := s.ab.loseAdverts(t)
		if kaIsMaster {
			waitUntil(t, 5*time.Second, "vipd's VI_BACK waiting for its group", func() (bool, string) {
				in := vipdInstance(t, p, "VI_BACK")
				return in.WantsMaster, fmt.Sprintf("VI_BACK %s, wants master %v", in.State, in.WantsMaster)
			})
		}
		s.stays(t, s.a, 3*time.Second, "lb-a's back adverts lost")
		if !kaIsMaster {
			// keepalived's VI_BACK timed out and stayed backup:
			// vrrp_sync_can_goto_master said no.
			log := k.log.String()[mark:]
			if !strings.Contains(log, "(VI_BACK) Receive advertisement timeout") || strings.Contains(log, "Entering MASTER STATE") {
				t.Errorf("keepalived's log while lb-a's back adverts were lost:\n%s", log)
			}
		}
		heal()
		s.stays(t, s.a, time.Second, "lb-a's back adverts heard again")

		checkNoDropsAll(t, p)
		checkKeepalivedAccepted(t, k)
	})
}

// vipdInstance returns vipd's status of its IPv4 router of name.
func vipdInstance(t testing.TB, p *proc, name string) control.Instance {
	t.Helper()
	out, err := p.vipctl("status", "-o", "json")
	if err != nil {
		t.Fatalf("vipctl status: %v\n%s", err, out)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("vipctl status -o json: %v\n%s", err, out)
	}
	i := slices.IndexFunc(st.Instances, func(in control.Instance) bool { return in.Name == name && in.Family == "ipv4" })
	if i < 0 {
		t.Fatalf("vipd on %s has no instance %s", p.host.Name(), name)
	}
	return st.Instances[i]
}

// TestSyncGroupHandover measures, with VIPD_SYNC_HANDOVER=1, how long the
// second member of a sync group takes to hand over when the first member's
// check fails on the master: two keepalived nodes with the sync group
// sample, then two vipd nodes with its conversion, 5 runs each, from the
// wire (captures on both segments), from the old master's priority-0
// advert on the front segment (the first member resigns). It reports
// medians of
//
//   - release: to the old master's priority-0 advert on the back segment
//     (its group faults the second member);
//   - takeover: to the new master's first back advert (its back member
//     heard priority 0 too, and its group becomes master together).
//
// A cut cable is not measured: the kernel reports a veth's carrier loss
// up to a second late (linkwatch), to keepalived and vipd alike.
func TestSyncGroupHandover(t *testing.T) {
	if os.Getenv("VIPD_SYNC_HANDOVER") != "1" {
		t.Skip("VIPD_SYNC_HANDOVER=1 measures the handover of a sync group's second member")
	}
	requireKeepalived(t)
	for _, impl := range []string{"keepalived", "vipd"} {
		t.Run(impl, func(t *testing.T) {
			s := newSyncLab(t)
			flagsA := t.TempDir()
			confs := map[string]string{"lb-a": syncConf("lb-a", "150", flagsA), "lb-b": syncConf("lb-b", "100", t.TempDir())}
			if impl == "keepalived" {
				startKeepalived(t, s.a, confs["lb-a"])
				startKeepalived(t, s.b, confs["lb-b"])
			} else {
				cfg := convertSet(t, confs)
				startVipd(t, s.a.host, cfg["lb-a"])
				startVipd(t, s.b.host, cfg["lb-b"])
			}
			web := filepath.Join(flagsA, "web-down")
			aFront, aBack, bBack := s.a.ip4.String(), s.ab.addr.String(), s.bb.addr.String()
			var release, takeover []time.Duration
			for run := range 5 {
				s.on(t, s.a, fmt.Sprintf("run %d: start", run))
				time.Sleep(time.Second)
				front, back := s.front.Capture(t, "vrrp"), s.back.Capture(t, "vrrp")
				if err := os.WriteFile(web, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				s.on(t, s.b, fmt.Sprintf("run %d: front's check failed on lb-a", run))
				time.Sleep(300 * time.Millisecond)
				fr, bk := decode(t, front.Stop()), decode(t, back.Stop())
				if err := os.Remove(web); err != nil {
					t.Fatal(err)
				}
				var zeroFront, zeroBack, firstB time.Time
				for _, f := range fr {
					if f.vrrp && f.src == aFront && f.prio == "0" {
						zeroFront = f.at
						break
					}
				}
				for _, f := range bk {
					switch {
					case zeroBack.IsZero() && f.vrrp && f.src == aBack && f.prio == "0":
						zeroBack = f.at
					case firstB.IsZero() && f.vrrp && f.src == bBack && f.prio != "0":
						firstB = f.at
					}
				}
				if zeroFront.IsZero() || zeroBack.IsZero() || firstB.IsZero() {
					t.Fatalf("run %d: lb-a's priority 0 on front %v, on back %v; lb-b's first back advert %v", run, zeroFront, zeroBack, firstB)
				}
				release = append(release, zeroBack.Sub(zeroFront))
				takeover = append(takeover, firstB.Sub(zeroFront))
				t.Logf("%s run %d: release %v, takeover %v", impl, run, zeroBack.Sub(zeroFront), firstB.Sub(zeroFront))
			}
			t.Logf("%s: median release %v, median takeover %v (5 runs)", impl, median(release), median(takeover))
		})
	}
}
