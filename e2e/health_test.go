package e2e

import (
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// TestAPIServerCheck: three nodes, each checking its own API server over
// HTTPS. The master's API server fails: the VIP moves. It recovers: the
// VIP returns (preemption). All three fail: the VIP stays on one node.
func TestAPIServerCheck(t *testing.T) {
	// Not parallel: it measures timing, so it runs alone.
	_, hosts, addrs := threeNodes(t, 3)
	var apis []*lab.APIServer
	for _, h := range hosts {
		apis = append(apis, lab.StartAPIServer(t, h))
	}
	// The fake servers' certificates share the lab's CA; they name
	// kubernetes, not 127.0.0.1, as kubeadm's do.
	ca := apis[0].CAFile
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 60
vips = ["192.0.2.100/24"]
track = [{ check = "apiserver" }]
[[check]]
name = "apiserver"
type = "https"
url = "https://127.0.0.1:6443/readyz"
ca_file = "`+ca+`"
server_name = "kubernetes"
interval = "200ms"
timeout = "150ms"
rise = 2
fall = 2`)
	for _, h := range hosts {
		startVipd(t, h, cfg)
	}
	waitHolder(t, 5*time.Second, vip4, "cp-1", hosts...)
	stable(t, 500*time.Millisecond, vip4, "cp-1", hosts...)

	failed := time.Now()
	apis[0].Down.Store(true)
	waitHolder(t, 3*time.Second, vip4, "cp-2", hosts...)
	t.Logf("API server of cp-1 down -> VIP only on cp-2 after %v", time.Since(failed))
	stable(t, 500*time.Millisecond, vip4, "cp-2", hosts...)

	apis[0].Down.Store(false)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)

	// A cluster-wide outage: the VIP must never vanish. While the checks
	// of the nodes fail one after the other (within fall x interval of
	// each other) it may move to a node whose check has not failed yet;
	// once all have failed it stays put.
	for _, a := range apis {
		a.Down.Store(true)
	}
	outage := time.Now()
	var last string
	var moves []time.Duration
	for end := outage.Add(4 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		got := holders(t, vip4, hosts...)
		if len(got) == 0 {
			t.Fatalf("VIP vanished %v into a cluster-wide API server outage", time.Since(outage))
		}
		if got[0] != last {
			moves = append(moves, time.Since(outage))
			last = got[0]
		}
	}
	settle := 2 * (2*200*time.Millisecond + 150*time.Millisecond) // two fall windows
	for _, m := range moves[1:] {
		if m > settle {
			t.Errorf("VIP moved %v into the outage, after every check had failed (moves at %v)", m, moves)
		}
	}
	t.Logf("during the outage the VIP moved at %v and stayed on %s", moves[1:], last)
}

// TestLinkFaultReleasesVIP: a master whose link is cut goes to FAULT and
// removes its VIP at once (its own interface is tracked), instead of
// holding it on an isolated node.
func TestLinkFaultReleasesVIP(t *testing.T) {
	t.Parallel()
	_, hosts, addrs := threeNodes(t, 2)
	cfg := cluster(t, "100ms", hosts, addrs, `name = "api"
vrid = 61
vips = ["192.0.2.100/24"]`)
	startVipd(t, hosts[0], cfg)
	startVipd(t, hosts[1], cfg)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	hosts[0].LinkDown(t)
	waitHolder(t, 3*time.Second, vip4, "cp-2", hosts...)
	hosts[0].LinkUp(t)
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
}
