package daemon

import (
	"reflect"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/router"
)

// verb is what a reload does to one router.
type verb uint8

const (
	// keep leaves a router alone: its settings did not change.
	keep verb = iota
	// reconfigure changes a router's settings in place, keeping its
	// state and VIPs (see router.Reconfigurable).
	reconfigure
	// replace has a router resign, and a new one start in its place.
	replace
	// start starts a router for a new instance or family.
	start
	// stop has a router resign for good.
	stop
)

func (v verb) String() string {
	return [...]string{"keep", "reconfigure", "replace", "start", "stop"}[v]
}

// current is a running router as the plan sees it.
type current struct {
	key  string
	sock sockKey
	rc   router.Config
}

// wanted is a router the new configuration asks for.
type wanted struct {
	key  string
	sock sockKey
	rc   router.Config
	inst config.Instance // not looked at by plan
}

// step is what a reload does to the router of key.
type step struct {
	verb verb
	key  string
	// first, for a stop: a new router takes the VRID on the same socket,
	// so this one resigns before the new ones start; the others resign
	// in the background.
	first bool
}

// plan decides what a reload from the routers that run to the ones
// wanted does to each: the steps for the wanted routers in their order,
// then the stops in the order of have.
func plan(have []current, want []wanted) []step {
	byKey := make(map[string]current, len(have))
	for _, c := range have {
		byKey[c.key] = c
	}
	var steps []step
	// The VRIDs on each socket that new routers take.
	taken := make(map[sockKey]map[uint8]bool)
	for _, w := range want {
		c, ok := byKey[w.key]
		s := step{key: w.key}
		switch {
		case !ok:
			s.verb = start
		case c.sock != w.sock || !router.Reconfigurable(c.rc, w.rc):
			s.verb = replace
		case reflect.DeepEqual(c.rc, w.rc):
			s.verb = keep
		default:
			s.verb = reconfigure
		}
		if s.verb == start || s.verb == replace {
			if taken[w.sock] == nil {
				taken[w.sock] = make(map[uint8]bool)
			}
			taken[w.sock][w.rc.VRID] = true
		}
		steps = append(steps, s)
	}
	wantKeys := make(map[string]bool, len(want))
	for _, w := range want {
		wantKeys[w.key] = true
	}
	for _, c := range have {
		if !wantKeys[c.key] {
			steps = append(steps, step{verb: stop, key: c.key, first: taken[c.sock][c.rc.VRID]})
		}
	}
	return steps
}
