package e2e

import (
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
)

// trackProcessConf is an Ansible role's load balancer (corpus
// ansible-process) on a lab node: unicast from src to peer, a
// vrrp_track_process of weight 50 tracked by the instance. Adapted to the
// lab: VRRPv3 at 100 ms (so without the password, which VRRPv3 does not
// carry), the master's template at priority 101, and a process name of
// the node's own, as both lab nodes share one PID namespace.
func trackProcessConf(routerID, priority, process string, src, peer node) string {
	return `global_defs {
  router_id ` + routerID + `
  vrrp_version 3
}

vrrp_track_process track_haproxy {
  process ` + process + `
  weight 50
}

vrrp_instance VRRP_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ` + priority + `
  advert_int 0.1

  unicast_src_ip ` + src.ip4.String() + `
  unicast_peer {
    ` + peer.ip4.String() + `
  }

  virtual_ipaddress {
    192.0.2.10/24
  }

  track_process {
    track_haproxy
  }
}
`
}

// tracked is a stand-in for a node's haproxy: sleep, started through a
// link of the process's name, which the kernel takes as its comm.
type tracked struct {
	t    testing.TB
	path string
	cmd  *exec.Cmd
}

func newTracked(t testing.TB, name string) *tracked {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.Symlink("/bin/sleep", path); err != nil {
		t.Fatal(err)
	}
	p := &tracked{t: t, path: path}
	t.Cleanup(p.kill)
	return p
}

func (p *tracked) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.path, "infinity")
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
}

// kill kills the process, as a crash would, and reaps it.
func (p *tracked) kill() {
	if p.cmd != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
}

// trackProcessPair builds the two nodes of the process-tracking tests in l:
// lb-a (priority 101) and lb-b (100), each tracking its own haproxy
// (weight 50), with their keepalived.conf files and the conversions.
func trackProcessPair(t *testing.T, l *lab.Lab) (a, b node, pa, pb *tracked, confs, cfg map[string]string) {
	a, b = addNode(t, l, "lb-a", 11), addNode(t, l, "lb-b", 12)
	pa, pb = newTracked(t, "haproxy-lb-a"), newTracked(t, "haproxy-lb-b")
	confs = map[string]string{
		"lb-a": trackProcessConf("lb-a", "101", "haproxy-lb-a", a, b),
		"lb-b": trackProcessConf("lb-b", "100", "haproxy-lb-b", b, a),
	}
	return a, b, pa, pb, confs, convertSet(t, confs)
}

// TestConvertTrackProcess runs keepalived with the file of one node of a
// load balancer pair that tracks haproxy with vrrp_track_process, and vipd
// with the conversion of the other's, in one virtual router, both ways
// round. Both have haproxy: the master (101 + 50) holds the VIP. Its
// haproxy is killed: its priority drops to 101, below the backup's 150,
// and the backup takes the VIP over; haproxy starts again and the master
// takes the VIP back. Five times each way; the test logs the time from
// the kill to the master's first advert at its lowered priority (how soon
// the tracking daemon saw the exit) and to the backup's first gratuitous
// ARP, with their medians.
func TestConvertTrackProcess(t *testing.T) {
	requireKeepalived(t)
	bothWays(t, func(t *testing.T, kaIsMaster bool) {
		l := lab.New(t)
		a, b, pa, pb, confs, cfg := trackProcessPair(t, l)
		text, err := os.ReadFile(cfg["lb-a"])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"type = \"process\"\nprocess = \"haproxy-lb-a\"\n", "rise = 1\nfall = 1\n", `track = [{ check = "track_haproxy", weight = 50 }]`} {
			if !strings.Contains(string(text), want) {
				t.Fatalf("lb-a's conversion lacks %q:\n%s", want, text)
			}
		}
		pa.start()
		pb.start()
		r := &mixedRouter{instance: "VRRP_1", vips: []netip.Addr{netip.MustParseAddr("192.0.2.10")}}
		r.start(t, kaIsMaster, a, b, confs, cfg, startKeepalivedTracking)
		const timeout = 8 * time.Second // start-up, a check's scan, master down intervals
		r.holding(t, timeout, a)
		r.healthy(t)

		pcap := l.Capture(t, "vrrp or arp")
		time.Sleep(300 * time.Millisecond) // the capture is running
		var kills []time.Time
		for range 5 {
			kills = append(kills, time.Now())
			pa.kill()
			r.holding(t, timeout, b)
			pa.start()
			r.holding(t, timeout, a)
		}
		r.healthy(t)
		c := decodeCapture(t, pcap.Stop())

		m := mode{name: "v3-unicast", version: 3, interval: 100 * time.Millisecond, vip: netip.MustParsePrefix("192.0.2.10/24"), unicast: true}
		var detect, garp []time.Duration
		for _, k := range kills {
			lowered := c.firstAfter("advert at priority 101 by lb-a", withPrio(heardBy(m, advertsFrom(m, a), b), 101), k)
			ann := c.firstAfter("gratuitous ARP by lb-b", announcesFrom(m, b), k)
			if ann.Before(lowered) {
				t.Errorf("lb-b announced the VIP at %s, before lb-a lowered its priority at %s", ann.Format("15:04:05.000000"), lowered.Format("15:04:05.000000"))
			}
			detect, garp = append(detect, lowered.Sub(k)), append(garp, ann.Sub(k))
		}
		who := "vipd"
		if kaIsMaster {
			who = "keepalived"
		}
		t.Logf("%s master's haproxy killed: first advert at the lowered priority after %v (median %v); backup's first gratuitous ARP after %v (median %v)",
			who, rounded(detect), median(detect), rounded(garp), median(garp))
	})
}

// TestTrackProcessFailover measures the same failover with one daemon on
// both nodes: keepalived with the files, then vipd with their
// conversions. The time from the kill of the master's haproxy to the
// backup's first gratuitous ARP, five times each, is the time a client
// of the VIP waits with each daemon.
func TestTrackProcessFailover(t *testing.T) {
	requireKeepalived(t)
	for _, daemon := range []string{"keepalived", "vipd"} {
		t.Run(daemon, func(t *testing.T) {
			l := lab.New(t)
			a, b, pa, pb, confs, cfg := trackProcessPair(t, l)
			pa.start()
			pb.start()
			if daemon == "keepalived" {
				startKeepalivedTracking(t, a, confs["lb-a"])
				startKeepalivedTracking(t, b, confs["lb-b"])
			} else {
				startVipd(t, a.host, cfg["lb-a"])
				startVipd(t, b.host, cfg["lb-b"])
			}
			vip := netip.MustParseAddr("192.0.2.10")
			hosts := []*lab.Host{a.host, b.host}
			const timeout = 8 * time.Second
			holding := func(want node) {
				t.Helper()
				waitUntil(t, timeout, "the VIP on "+want.host.Name()+" only", func() (bool, string) {
					got := holders(t, vip, hosts...)
					return len(got) == 1 && got[0] == want.host.Name(), fmt.Sprintf("held by %v", got)
				})
			}
			holding(a)

			pcap := l.Capture(t, "vrrp or arp")
			time.Sleep(300 * time.Millisecond) // the capture is running
			var kills []time.Time
			for range 5 {
				kills = append(kills, time.Now())
				pa.kill()
				holding(b)
				pa.start()
				holding(a)
			}
			c := decodeCapture(t, pcap.Stop())
			m := mode{name: "v3-unicast", version: 3, interval: 100 * time.Millisecond, vip: netip.MustParsePrefix("192.0.2.10/24"), unicast: true}
			var garp []time.Duration
			for _, k := range kills {
				garp = append(garp, c.firstAfter("gratuitous ARP by lb-b", announcesFrom(m, b), k).Sub(k))
			}
			t.Logf("%s on both nodes, the master's haproxy killed: the backup's first gratuitous ARP after %v (median %v)", daemon, rounded(garp), median(garp))
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Microsecond)
}

func rounded(ds []time.Duration) string {
	var ss []string
	for _, d := range ds {
		ss = append(ss, d.Round(100*time.Microsecond).String())
	}
	return fmt.Sprint(ss)
}
