package daemon

import (
	"slices"
	"strings"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// tracking is what one router's health depends on: its configured
// priority, the checks and weighted interfaces it tracks with their
// weights, and the interfaces whose failure faults it (its own first,
// those of its VIPs, and the unweighted track_interfaces).
type tracking struct {
	base   uint8
	checks []health.Track
	links  []health.Track
}

func newTracking(inst config.Instance) tracking {
	t := tracking{base: inst.Priority, checks: slices.Clone(inst.Track)}
	for _, tr := range inst.Tracks() {
		switch {
		case !strings.HasPrefix(tr.Check, health.LinkPrefix):
		case tr.Weight == 0:
			t.links = append(t.links, tr)
		default:
			t.checks = append(t.checks, tr)
		}
	}
	return t
}

// health computes the router's Health from the current states. A failing
// interface is a hard fault (the VIP could not be served there); a failing
// check a soft one (the node may still hold the VIP as a last resort when
// no other node does); a check or interface not yet known leaves the
// router pending.
func (t tracking) health(states map[string]health.State) router.Health {
	prio, fault, pending := health.Effective(t.base, t.checks, states)
	h := router.Health{Priority: prio}
	switch {
	case pending:
		// Claim nothing on a guess: neither mastership nor, like a
		// faulted node, the VIPs as a last resort.
		h.Fault = vrrp.Pending
	case fault:
		h.Fault = vrrp.SoftFault
	}
	for i, l := range t.links {
		switch states[l.Check] {
		case health.Unhealthy:
			// The instance's own interface comes first.
			h.Fault = vrrp.HardFault
			if i == 0 {
				h.Fault = vrrp.LinkDown
			}
			return h
		case health.Unknown:
			h.Fault = vrrp.Pending
		}
	}
	return h
}

// linkNames returns the interfaces the instances track, each once.
func linkNames(instances []config.Instance) []string {
	var names []string
	for _, inst := range instances {
		for _, n := range inst.TrackedInterfaces() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}
