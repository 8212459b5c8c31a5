package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/kaconf"
)

// TestRollingMigration starts three keepalived nodes holding a VIP, then
// replaces them one at a time by vipd, each with the configuration
// vipctl convert-keepalived makes of its keepalived.conf, while a client
// pings the VIP every 10 ms. The backups go first, the master last: the
// steps that do not move the master must lose nothing; the master's step
// loses at most the protocol's takeover window (keepalived drops the VIP as
// it sends priority 0, and the best backup takes over after its skew time).
func TestRollingMigration(t *testing.T) {
	// Not parallel: it counts lost pings, so it runs alone.
	requireKeepalived(t)
	m := modes[0] // VRRPv3, IPv4, multicast, 100 ms
	l := lab.New(t)
	nodes := []node{addNode(t, l, "node-1", 11), addNode(t, l, "node-2", 12), addNode(t, l, "node-3", 13)}
	client := l.AddHost("client", "192.0.2.50/24")
	prios := []int{150, 100, 50}
	hosts := hostsOf(nodes...)

	confs := make([]string, len(nodes))
	kas := make([]*keepalived, len(nodes))
	for i, n := range nodes {
		confs[i] = keepalivedConf(m, n, nodes, prios[i])
		kas[i] = startKeepalived(t, n, confs[i])
	}
	waitHolder(t, 5*time.Second, m.vip.Addr(), "node-1", hosts...)
	stable(t, 500*time.Millisecond, m.vip.Addr(), "node-1", hosts...)

	type step struct {
		node     int
		maxLost  int
		moveNote string
	}
	// The master's step: keepalived's VIP is gone as it resigns; node-2
	// takes over after its skew time (61 ms at priority 100), then vipd on
	// node-1 preempts it without loss. 61 ms is 7 pings; allow one more
	// for the ARP cache of the client.
	skewPings := int(time.Duration(256-prios[1])*m.interval/256/(10*time.Millisecond)) + 2
	steps := []step{{2, 0, "backup"}, {1, 0, "backup"}, {0, skewPings, "master"}}
	var report []string
	for _, s := range steps {
		n := nodes[s.node]
		ping := startPing(t, client, m.vip.Addr(), 3*time.Second)
		time.Sleep(300 * time.Millisecond)

		if err := kas[s.node].stop(); err != nil {
			t.Logf("keepalived on %s exited with %v", n.host.Name(), err)
		}
		cfg := convert(t, confs[s.node])
		startVipd(t, n.host, cfg)
		// The VIP ends on node-1 whichever step this is: it is the
		// highest priority, keepalived or vipd.
		waitHolder(t, 3*time.Second, m.vip.Addr(), "node-1", hosts...)
		lost := ping.lost(t)
		report = append(report, fmt.Sprintf("%s (%s): %d ping replies lost (limit %d)", n.host.Name(), s.moveNote, lost, s.maxLost))
		if lost > s.maxLost {
			t.Errorf("replacing %s (%s) lost %d ping replies, want at most %d", n.host.Name(), s.moveNote, lost, s.maxLost)
		}
	}
	for _, r := range report {
		t.Log(r)
	}
	stable(t, 500*time.Millisecond, m.vip.Addr(), "node-1", hosts...)
}

// convert runs the keepalived.conf through the converter, as
// vipctl convert-keepalived does, adds the lab's per-node [daemon] table
// and returns the vipd configuration's path.
func convert(t testing.TB, conf string) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(in, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := kaconf.Convert([]string{in})
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	for _, n := range res.Notes {
		t.Logf("convert note: %v", n)
	}
	if len(res.Nodes) != 1 {
		t.Fatalf("convert made %d files, want 1", len(res.Nodes))
	}
	return writeConfig(t, daemonTable+"\n"+string(res.Nodes[0].TOML))
}
