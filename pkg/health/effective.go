package health

// Limits of Track.Weight.
const (
	MinWeight = -254
	MaxWeight = 254
)

// Priorities Effective works with (RFC 9568 section 5.2.4): 255 is the
// address owner's, 1 to 254 are for backups; 0 means "leaving" and is never
// an effective priority.
const (
	ownerPriority = 255
	maxPriority   = 254
	minPriority   = 1
)

// A Track ties a virtual router to a check or tracked interface (by its
// check name, such as "apiserver" or "link:eth0").
//
// Weight 0 means the router is in fault while the check is not healthy.
// Otherwise the weight follows keepalived, so that its configurations keep
// their meaning: a negative weight lowers the priority by its magnitude
// while the check is not healthy; a positive weight raises the priority by
// it while the check is healthy. Weights range over MinWeight..MaxWeight.
type Track struct {
	Check  string
	Weight int
}

// Effective returns the priority of a virtual router whose configured
// priority is base and which tracks tracks, given the states of the checks
// by name.
//
// A check that is Unknown (not yet decided, or absent from states) counts
// as not healthy: a node claims no priority its checks have not earned, so
// on start it does not take the VIPs before its API server is known to
// answer. pending reports that some tracked check is still Unknown, so the
// caller may wait rather than act on a provisional answer.
//
// fault is true when a check of weight 0 is not healthy; priority is
// computed all the same. priority is base moved by the weights that apply,
// clamped to 1..254: a tracked check never makes a router the address
// owner nor makes it give up its mastership by sending priority 0. A base
// of 255 (the address owner) stays 255 while every tracked check is
// healthy, whatever positive weights say.
func Effective(base uint8, tracks []Track, states map[string]State) (priority uint8, fault bool, pending bool) {
	delta := 0
	failing := false
	for _, t := range tracks {
		st := states[t.Check] // absent reads as Unknown
		if st == Unknown {
			pending = true
		}
		healthy := st == Healthy
		if !healthy {
			failing = true
		}
		switch {
		case t.Weight == 0:
			if !healthy {
				fault = true
			}
		case t.Weight < 0:
			if !healthy {
				delta += t.Weight
			}
		default:
			if healthy {
				delta += t.Weight
			}
		}
	}
	if base == ownerPriority && !failing {
		return ownerPriority, fault, pending
	}
	p := int(base) + delta
	p = max(minPriority, min(maxPriority, p))
	return uint8(p), fault, pending
}
