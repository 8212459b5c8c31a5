package kaconf

// A capability is something that keepalived configurations use and that
// vipd may not have yet. An instance that needs one vipd lacks is not
// converted, or converted with a "not safe" verdict, with the reason
// below; the converter asks vipdHas at each place that would convert it.
// When vipd gains one, delete its entry and write the conversion there.
type capability int

const (
	// capVIPInterface: a virtual_ipaddress with "dev IF" on another
	// interface than the instance's.
	capVIPInterface capability = iota
	// capWeightedInterface: track_interface IF weight W, an interface
	// whose link changes the priority instead of faulting the instance.
	capWeightedInterface
)

// vipdLacks says, for each capability vipd does not have yet, what
// follows for a conversion.
var vipdLacks = map[capability]string{
	capVIPInterface: "vipd binds every VIP of an instance on the instance's interface: it cannot yet " +
		"put a VIP on another interface (keepalived's dev)",
	capWeightedInterface: "vipd has no weighted interface tracking yet: a tracked interface that is down " +
		"faults the instance, where keepalived only changes its priority (with the link down on " +
		"every node, keepalived keeps a master and vipd has none)",
}

// vipdHas reports whether vipd has capability c.
func vipdHas(c capability) bool {
	_, lacks := vipdLacks[c]
	return !lacks
}
