package daemon

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
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

// TestReloadWhileRead: reloads that keep the routers but change what they
// track run while status, metrics, drains and check results read them.
// Run with -race.
func TestReloadWhileRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := (&fakeNet{}).host("192.0.2.11")
		cfgOf := func(i int) Config {
			api := instance("api", 51, uint8(200-i%2*50), vip100, vip101)
			if i%2 == 1 {
				api.VIPs = []netip.Prefix{vip100}
			}
			api.Track = []health.Track{{Check: "apiserver", Weight: -i % 50}}
			return Config{
				Checks:    []health.Spec{{Name: "apiserver", Type: health.TypeTCP, Address: "127.0.0.1:6443", Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 1, Fall: 1}},
				Instances: []config.Instance{api, instance("ingress", 52, 100, vip102)},
			}
		}
		d, _ := runDaemon(t, h, cfgOf(0), Options{})
		time.Sleep(time.Second)
		mon := h.checks()
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 40 {
				if err := d.Reload(t.Context(), cfgOf(i)); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(ivl)
			}
		})
		wg.Go(func() {
			for range 200 {
				d.Status()
				d.Routers()
				d.Hooks()
				d.summary()
				time.Sleep(10 * time.Millisecond)
			}
		})
		wg.Go(func() {
			for i := range 100 {
				st := health.Healthy
				if i%2 == 0 {
					st = health.Unhealthy
				}
				mon.set("apiserver", st)
				if i%10 == 0 {
					d.Drain([]string{"ingress"})
				} else if i%10 == 5 {
					d.Resume(nil)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
		wg.Wait()
	})
}
