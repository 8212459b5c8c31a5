package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
)

// TestDrainAndResume: vipctl shows the master; a drain hands the VIP over
// without losing a ping reply; the drain survives a restart of the
// drained node; resume brings it back, which preempts.
func TestDrainAndResume(t *testing.T) {
	// Not parallel: it counts lost pings, so it runs alone.
	l, hosts, addrs := threeNodes(t, 2)
	client := l.AddHost("client", "192.0.2.50/24")
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 70
vips = ["192.0.2.100/24"]`)
	p1 := startVipd(t, hosts[0], cfg)
	p2 := startVipd(t, hosts[1], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)

	out, err := p1.vipctl("status")
	if err != nil || !strings.Contains(out, "MASTER") {
		t.Fatalf("vipctl status on cp-1: %v\n%s", err, out)
	}
	t.Logf("vipctl status on cp-1:\n%s", out)
	// The static pod's liveness probe, against a real daemon.
	if out, err := p1.vipctl("live"); err != nil || out != "live\n" {
		t.Fatalf("vipctl live on cp-1: %v\n%s", err, out)
	}

	ping := startPing(t, client, vip4, 2*time.Second)
	time.Sleep(500 * time.Millisecond)
	if out, err := p1.vipctl("drain"); err != nil {
		t.Fatalf("vipctl drain: %v\n%s", err, out)
	}
	waitHolder(t, 2*time.Second, vip4, "cp-2", hosts...)
	if lost := ping.lost(t); lost != 0 {
		t.Errorf("%d ping replies lost during the drain, want 0", lost)
	} else {
		t.Log("drain: 0 ping replies lost")
	}
	out, _ = p1.vipctl("status", "-o", "json")
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("vipctl status -o json: %v\n%s", err, out)
	}
	if len(st.Instances) != 1 || !st.Instances[0].Drained {
		t.Fatalf("cp-1 status after drain: %+v", st.Instances)
	}

	// The drain survives a restart.
	if err := p1.stop(); err != nil {
		t.Fatalf("vipd on cp-1 exited with %v", err)
	}
	p1 = startVipd(t, hosts[0], cfg)
	stable(t, time.Second, vip4, "cp-2", hosts...)
	if out, _ := p1.vipctl("status"); !strings.Contains(out, "DRAINED") {
		t.Errorf("restarted cp-1 is not drained:\n%s", out)
	}

	// A drained node is still the last resort.
	ping = startPing(t, client, vip4, 2*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := p2.stop(); err != nil {
		t.Fatalf("vipd on cp-2 exited with %v", err)
	}
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	if lost := ping.lost(t); lost != 0 {
		t.Errorf("graceful stop of the only healthy node: %d ping replies lost while the drained node took over, want 0", lost)
	}

	startVipd(t, hosts[1], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-2", hosts...)
	if out, err := p1.vipctl("resume"); err != nil {
		t.Fatalf("vipctl resume: %v\n%s", err, out)
	}
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
}

// TestGracefulStopLosesNoPing: SIGTERM on the master (systemctl stop):
// the VIP stays bound until the new master is heard.
func TestGracefulStopLosesNoPing(t *testing.T) {
	// Not parallel: it counts lost pings, so it runs alone.
	l, hosts, addrs := threeNodes(t, 2)
	client := l.AddHost("client", "192.0.2.50/24")
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 71
vips = ["192.0.2.100/24"]`)
	p1 := startVipd(t, hosts[0], cfg)
	startVipd(t, hosts[1], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)
	ping := startPing(t, client, vip4, 1500*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	if err := p1.stop(); err != nil {
		t.Fatalf("vipd exited with %v", err)
	}
	waitHolder(t, 2*time.Second, vip4, "cp-2", hosts...)
	if lost := ping.lost(t); lost != 0 {
		t.Errorf("%d ping replies lost during a graceful stop, want 0", lost)
	} else {
		t.Log("graceful stop: 0 ping replies lost")
	}
}

// TestReloadKeepsMaster: SIGHUP with a file that changes another
// instance: the master of the unchanged one keeps its VIP and sends every
// advert; the changed one moves its VIP list in place; an invalid file is
// refused.
func TestReloadKeepsMaster(t *testing.T) {
	t.Parallel()
	l, hosts, addrs := threeNodes(t, 2)
	lab.RequireCommand(t, "tshark")
	two := func(vip2 string) string {
		return `name = "api"
vrid = 72
vips = ["192.0.2.100/24"]
[[instance]]
name = "ingress"
vrid = 73
vips = ["` + vip2 + `"]`
	}
	cfg := cluster(t, "100ms", hosts, addrs, two("192.0.2.101/24"))
	p1 := startVipd(t, hosts[0], cfg)
	startVipd(t, hosts[1], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	capture := l.Capture(t, "vrrp")
	starved := l.Starvation(false)
	time.Sleep(300 * time.Millisecond)

	// Rewrite cp-1's own copy of the file, as an operator would.
	own := filepath.Join(filepath.Dir(cfg), "cp-1", "vipd.toml")
	text, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(text), `"192.0.2.101/24"`, `"192.0.2.102/24"`, 1)
	if err := os.WriteFile(own, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	p1.cmd.Process.Signal(syscallHUP)
	vip102 := vip4.Next().Next()
	deadline := time.Now().Add(2 * time.Second)
	// The new VIP is bound before the old one goes (make before break).
	for (!hosts[0].HasAddr(t, "eth0", vip102) || hosts[0].HasAddr(t, "eth0", vip4.Next())) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !hosts[0].HasAddr(t, "eth0", vip102) || hosts[0].HasAddr(t, "eth0", vip4.Next()) {
		t.Fatalf("after reload cp-1 holds %v, want 192.0.2.102 instead of .101", hosts[0].Addrs(t, "eth0"))
	}
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)

	// An invalid file is refused and changes nothing.
	if err := os.WriteFile(own, []byte(changed+"\nbogus = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p1.cmd.Process.Signal(syscallHUP)
	stable(t, 500*time.Millisecond, vip4, "cp-1", hosts...)
	pcap := capture.Stop()
	if !strings.Contains(p1.log.String(), "reload refused") {
		t.Errorf("invalid reload not refused in the log:\n%s", p1.log.String())
	}

	// Every advert of the unchanged instance went out on time.
	rows := tshark(t, pcap, "vrrp.virt_rtr_id==72 && ip.src==192.0.2.11", "frame.time_epoch")
	var worst time.Duration
	for i := 1; i < len(rows); i++ {
		if gap := epoch(t, rows[i][0]).Sub(epoch(t, rows[i-1][0])); gap > worst {
			worst = gap
		}
	}
	t.Logf("%d adverts of the unchanged instance across two reloads, longest gap %v", len(rows), worst)
	if allow := 150*time.Millisecond + starved.Since(); len(rows) < 5 || worst > allow {
		t.Errorf("adverts of the unchanged master: %d, longest gap %v; want none missed (gap < %v, of which %v the daemons waited for a CPU)", len(rows), worst, allow, allow-150*time.Millisecond)
	}
}

// TestNotifyHook: the notify program runs on each transition, in order,
// with the documented arguments.
func TestNotifyHook(t *testing.T) {
	t.Parallel()
	_, hosts, addrs := threeNodes(t, 1)
	out := filepath.Join(t.TempDir(), "transitions")
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 74
vips = ["192.0.2.100/24"]
notify = ["/bin/sh", "-c", "echo \"$*\" >> `+out+`", "hook"]`)
	p := startVipd(t, hosts[0], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("hook never ran: %v\n%s", err, p.log.String())
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{"api ipv4 INIT FAULT", "api ipv4 FAULT BACKUP", "api ipv4 BACKUP MASTER", "api ipv4 MASTER INIT"}
	if len(got) != len(want) {
		t.Fatalf("hook ran for %q, want %d transitions %q", got, len(want), want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("transition %d: %q, want %q...", i, got[i], want[i])
		}
	}
}

// TestReloadRenamedInstance: a reload that removes an instance and adds
// another on the same VRID replaces the router without a crash; the VIP
// ends on the master again.
func TestReloadRenamedInstance(t *testing.T) {
	t.Parallel()
	_, hosts, addrs := threeNodes(t, 1)
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 75
vips = ["192.0.2.100/24"]`)
	p := startVipd(t, hosts[0], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	own := filepath.Join(filepath.Dir(cfg), "cp-1", "vipd.toml")
	text, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, []byte(strings.Replace(string(text), `name = "api"`, `name = "api2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscallHUP)
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(p.log.String(), "reload done") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	out, err := p.vipctl("status")
	if err != nil || !strings.Contains(out, "api2") || !strings.Contains(out, "MASTER") {
		t.Fatalf("after the reload vipctl status says (%v):\n%s", err, out)
	}
}
