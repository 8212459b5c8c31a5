package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

func TestPlan(t *testing.T) {
	eth0, eth1 := sockKey{"eth0", false}, sockKey{"eth0", true}
	rc := func(vrid, prio uint8, vips ...string) router.Config {
		c := router.Config{
			Instance: "x", VRID: vrid, IfIndex: 2, Interface: "eth0",
			Machine: vrrp.Config{Version: 3, Priority: prio, Interval: time.Second, Preempt: true, Primary: netip.MustParseAddr("192.0.2.11")},
		}
		for _, v := range vips {
			c.VIPs = append(c.VIPs, netip.MustParsePrefix(v))
		}
		return c
	}
	base := rc(51, 200, "192.0.2.100/24")
	with := func(c router.Config, f func(*router.Config)) router.Config {
		f(&c)
		return c
	}
	tests := []struct {
		name string
		have []current
		want []wanted
		plan []step
	}{
		{"first start", nil,
			[]wanted{{key: "api/ipv4", sock: eth0, rc: base}},
			[]step{{verb: start, key: "api/ipv4"}}},
		{"nothing changed", []current{{key: "api/ipv4", sock: eth0, rc: base}},
			[]wanted{{key: "api/ipv4", sock: eth0, rc: base}},
			[]step{{verb: keep, key: "api/ipv4"}}},
		{"VIPs, priority and preemption change in place", []current{{key: "api/ipv4", sock: eth0, rc: base}},
			[]wanted{{key: "api/ipv4", sock: eth0, rc: with(rc(51, 150, "192.0.2.101/24"), func(c *router.Config) { c.Machine.Preempt = false })}},
			[]step{{verb: reconfigure, key: "api/ipv4"}}},
		{"interval change replaces", []current{{key: "api/ipv4", sock: eth0, rc: base}},
			[]wanted{{key: "api/ipv4", sock: eth0, rc: with(base, func(c *router.Config) { c.Machine.Interval = 2 * time.Second })}},
			[]step{{verb: replace, key: "api/ipv4"}}},
		{"becoming the address owner replaces", []current{{key: "api/ipv4", sock: eth0, rc: base}},
			[]wanted{{key: "api/ipv4", sock: eth0, rc: rc(51, 255, "192.0.2.100/24")}},
			[]step{{verb: replace, key: "api/ipv4"}}},
		{"another socket replaces", []current{{key: "api/ipv4", sock: eth0, rc: base}},
			[]wanted{{key: "api/ipv4", sock: sockKey{"eth1", false}, rc: base}},
			[]step{{verb: replace, key: "api/ipv4"}}},
		{"removed instance stops in the background", []current{{key: "api/ipv4", sock: eth0, rc: base}, {key: "old/ipv4", sock: eth0, rc: rc(52, 100)}},
			[]wanted{{key: "api/ipv4", sock: eth0, rc: base}},
			[]step{{verb: keep, key: "api/ipv4"}, {verb: stop, key: "old/ipv4"}}},
		{"renamed instance: the old one resigns first", []current{{key: "api/ipv4", sock: eth0, rc: base}},
			[]wanted{{key: "api2/ipv4", sock: eth0, rc: base}},
			[]step{{verb: start, key: "api2/ipv4"}, {verb: stop, key: "api/ipv4", first: true}}},
		{"same VRID on the other family's socket does not clash", []current{{key: "api/ipv4", sock: eth0, rc: base}},
			[]wanted{{key: "api/ipv6", sock: eth1, rc: base}},
			[]step{{verb: start, key: "api/ipv6"}, {verb: stop, key: "api/ipv4"}}},
		{"VRIDs swapped: both replaced", []current{{key: "a/ipv4", sock: eth0, rc: rc(51, 100)}, {key: "b/ipv4", sock: eth0, rc: rc(52, 100)}},
			[]wanted{{key: "a/ipv4", sock: eth0, rc: rc(52, 100)}, {key: "b/ipv4", sock: eth0, rc: rc(51, 100)}},
			[]step{{verb: replace, key: "a/ipv4"}, {verb: replace, key: "b/ipv4"}}},
		{"everything removed", []current{{key: "api/ipv4", sock: eth0, rc: base}}, nil,
			[]step{{verb: stop, key: "api/ipv4"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.plan, plan(tt.have, tt.want), cmp.AllowUnexported(step{})); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
