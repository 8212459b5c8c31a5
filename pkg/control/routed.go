package control

import "time"

// States of a routed instance.
const (
	StateAnnounced = "ANNOUNCED"
	StateWithdrawn = "WITHDRAWN"
	// StateLeaving: withdrawn, or announced with the worst MED (drain,
	// stop), the VIPs still bound until the withdraw delay has passed.
	StateLeaving = "LEAVING"
)

// Routed is an instance announced by routing: every healthy node binds its
// VIPs and announces routes to them.
type Routed struct {
	Name string `json:"name"`
	// Announce is "bgp" or "route".
	Announce  string `json:"announce"`
	Interface string `json:"interface"`
	// State is StateAnnounced, StateWithdrawn or StateLeaving.
	State   string    `json:"state"`
	Drained bool      `json:"drained"`
	Since   time.Time `json:"since,omitzero"`
	Reason  string    `json:"reason"`
	// Priority is the configured priority, EffectivePriority the one the
	// checks leave; MED is the preference announced (0 when withdrawn).
	Priority          uint8  `json:"priority"`
	EffectivePriority uint8  `json:"effective_priority"`
	MED               uint32 `json:"med"`
	Prepend           uint8  `json:"prepend"`
	ECMP              bool   `json:"ecmp"`
	// Table and Protocol are where announce = "route" puts the routes.
	Table         int      `json:"table,omitempty"`
	Protocol      int      `json:"protocol,omitempty"`
	VIPs          []string `json:"vips"`
	FailingChecks []string `json:"failing_checks"`
	Tracks        []Track  `json:"tracks"`
	Withdrawals   uint64   `json:"withdrawals"`
	Errors        uint64   `json:"errors"`
}

// BGP is the node's BGP speaker: its sessions and the routes it announces.
type BGP struct {
	ASN      uint32    `json:"asn"`
	RouterID string    `json:"router_id"`
	Peers    []BGPPeer `json:"peers"`
	// Routes are the prefixes announced, with their MED.
	Routes      []BGPRoute `json:"routes"`
	Withdrawals uint64     `json:"withdrawals"`
}

// BGPPeer is one session.
type BGPPeer struct {
	Address string `json:"address"`
	ASN     uint32 `json:"asn"`
	// State is the session's state: "Idle", "Connect", "Active",
	// "OpenSent", "OpenConfirm" or "Established".
	State string    `json:"state"`
	Since time.Time `json:"since,omitzero"`
	// HoldTimeMS is the negotiated hold time of an established session.
	HoldTimeMS int64 `json:"hold_time_ms"`
	// Advertised counts the routes the peer holds from this node.
	Advertised uint64 `json:"advertised"`
	// Ups counts the times the session was established.
	Ups uint64 `json:"ups"`
}

// BGPRoute is a prefix announced.
type BGPRoute struct {
	Prefix  string `json:"prefix"`
	MED     uint32 `json:"med"`
	Prepend uint8  `json:"prepend"`
}
