package daemon

import (
	"sync"
	"testing"

	"github.com/vipd/vipd/pkg/config"
)

// TestStatusDuringDrain: vipctl status while vipctl drain and resume run
// reads the drained instances while they are written. Run with -race.
func TestStatusDuringDrain(t *testing.T) {
	inst := config.Instance{Name: "api", VRID: 51, Interface: "eth0"}
	d := New(Config{Instances: []config.Instance{inst}}, Options{})
	d.waiting = []waitingRouter{{key: routerKey("api", false), inst: inst, ifname: "eth0", reason: "waiting for interface eth0"}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			d.Drain(nil)
			d.Resume(nil)
		}
	})
	wg.Go(func() {
		for range 200 {
			d.Status()
		}
	})
	wg.Wait()
}
