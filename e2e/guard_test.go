package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// TestVIPGuard: a VIP removed from the master by someone else comes back at
// once; a VIP bound on the backup by someone else is removed.
func TestVIPGuard(t *testing.T) {
	t.Parallel()
	_, hosts, addrs := threeNodes(t, 2)
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 80
vips = ["192.0.2.100/24"]`)
	p1 := startVipd(t, hosts[0], cfg)
	p2 := startVipd(t, hosts[1], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)

	removed := time.Now()
	hosts[0].Run(t, "ip", "addr", "del", "192.0.2.100/24", "dev", "eth0")
	waitHolder(t, time.Second, vip4, "cp-1", hosts...)
	t.Logf("VIP removed from the master by hand: back after %v", time.Since(removed))

	hosts[1].Run(t, "ip", "addr", "add", "192.0.2.100/24", "dev", "eth0")
	waitHolder(t, time.Second, vip4, "cp-1", hosts...)
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)

	if !strings.Contains(p1.log.String(), "VIP guard: VIPs removed by someone else put back") {
		t.Errorf("master did not log the restore:\n%s", p1.log.String())
	}
	if !strings.Contains(p2.log.String(), "VIP guard: VIPs bound while not master removed") {
		t.Errorf("backup did not log the removal:\n%s", p2.log.String())
	}
}

// TestSplitBrainHeals: the master is cut off the segment without losing
// its carrier (its switch port leaves the bridge), so both nodes are
// master in their halves. When the port comes back, the lower-priority
// master steps down within one advert interval and the survivor announces
// the VIP again.
func TestSplitBrainHeals(t *testing.T) {
	// Not parallel: it measures timing, so it runs alone.
	l, hosts, addrs := threeNodes(t, 2)
	lab.RequireCommand(t, "tshark")
	const ivl = 200 * time.Millisecond
	cfg := cluster(t, "200ms", hosts, addrs, `name = "api"
vrid = 81
vips = ["192.0.2.100/24"]`)
	startVipd(t, hosts[0], cfg)
	startVipd(t, hosts[1], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)

	port := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"-n", l.SwitchNetns(), "link", "set", hosts[0].Port()}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip link set %s %v: %v\n%s", hosts[0].Port(), args, err, out)
		}
	}
	port("nomaster")
	waitHolder(t, 2*time.Second, vip4, "cp-2", hosts[1])
	if !hosts[0].HasAddr(t, "eth0", vip4) {
		t.Fatal("cp-1 gave the VIP up although it kept its carrier: no split brain to heal")
	}
	time.Sleep(2 * ivl)

	capture := l.Capture(t, "vrrp or arp")
	healed := time.Now()
	port("master", l.Bridge())
	waitHolder(t, 2*time.Second, vip4, "cp-1", hosts...)
	took := time.Since(healed)
	time.Sleep(ivl)
	pcap := capture.Stop()
	t.Logf("partition healed: one master again after %v (advert interval %v)", took, ivl)
	if took > ivl+100*time.Millisecond {
		t.Errorf("two masters for %v after the partition healed, want at most one interval (%v)", took, ivl)
	}
	garps := tshark(t, pcap, "arp.isgratuitous && arp.src.proto_ipv4==192.0.2.100 && eth.src=="+hosts[0].HardwareAddr().String(), "frame.time_epoch")
	if len(garps) == 0 {
		t.Error("the surviving master did not announce the VIP again after the partition healed")
	}
}
