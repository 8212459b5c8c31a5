package control

import (
	"encoding/json"
	"errors"
	"math"
	"time"
)

// DefaultSocket is where vipd listens and vipctl connects unless told
// otherwise.
const DefaultSocket = "/run/vipd/vipd.sock"

// Paths of the API. The version prefix changes only when an existing
// field or endpoint changes meaning; adding fields does not bump it.
const (
	PathStatus = "/v1/status"
	PathDrain  = "/v1/drain"
	PathResume = "/v1/resume"
	// PathLive answers 200 when every virtual router's goroutine
	// answers, 503 when one is stuck: a liveness probe for where
	// systemd's watchdog does not run (a static pod).
	PathLive = "/v1/live"
)

// States of an Instance.
const (
	StateInit   = "INIT"
	StateBackup = "BACKUP"
	StateMaster = "MASTER"
	StateFault  = "FAULT"
	// StateDrained is what vipctl shows for an instance whose Drained is
	// set; Instance.State keeps the VRRP state underneath.
	StateDrained = "DRAINED"
)

// States of a Check.
const (
	CheckHealthy   = "healthy"
	CheckUnhealthy = "unhealthy"
	CheckUnknown   = "unknown"
)

// Address families of an Instance.
const (
	FamilyIPv4 = "ipv4"
	FamilyIPv6 = "ipv6"
)

// ErrUnknownInstance is wrapped by a Backend's Drain and Resume when they
// are given names of no instance; the server answers 400 with the error's
// message, which must name them.
var ErrUnknownInstance = errors.New("unknown instance")

// Status is the answer to GET /v1/status: the daemon and every virtual
// router it runs.
//
// Field names are snake_case and stable. Times are RFC 3339 with
// nanoseconds; a time that is not known yet (zero) is left out. Lists and
// maps are never null: an empty one is [] or {}.
type Status struct {
	// Version of the running vipd.
	Version string `json:"version"`
	// Node is this node's name in the cluster configuration.
	Node string `json:"node"`
	// Config is the path of the configuration file in use.
	Config string `json:"config"`
	// Started is when the daemon started.
	Started time.Time `json:"started"`
	// Waiting says what the daemon waits for before it runs its
	// instances (one of this node's addresses, at boot); "" once they run.
	Waiting string `json:"waiting,omitempty"`
	// Instances has one entry per instance and address family: an
	// instance with IPv4 and IPv6 VIPs runs two virtual routers.
	Instances []Instance `json:"instances"`
	// Checks are all checks and tracked interfaces (named "link:IFNAME").
	Checks []Check `json:"checks"`
	// Routed are the instances announced by routing rather than VRRP
	// (announce = "bgp" or "route"), one entry each.
	Routed []Routed `json:"routed"`
	// BGP is the BGP speaker, absent when no instance is announced over
	// BGP.
	BGP *BGP `json:"bgp,omitempty"`
}

// Instance is one virtual router: an instance of the configuration in one
// address family.
type Instance struct {
	Name        string `json:"name"`
	Family      string `json:"family"` // FamilyIPv4 or FamilyIPv6
	VRID        uint8  `json:"vrid"`
	Interface   string `json:"interface"`
	VRRPVersion uint8  `json:"vrrp_version"` // 2 or 3
	// State is the VRRP state: StateMaster, StateBackup, StateFault or
	// StateInit. A drained instance keeps its VRRP state here (it is a
	// backup once the drain has taken effect) and sets Drained;
	// vipctl shows it as StateDrained.
	State   string `json:"state"`
	Drained bool   `json:"drained"`
	// Priority is the configured priority of this node; EffectivePriority
	// the one advertised, moved by the weights of failing tracked checks.
	Priority          uint8 `json:"priority"`
	EffectivePriority uint8 `json:"effective_priority"`
	// Master is the address of the current master: this node's own source
	// address when it is the master, "" when no master is known.
	Master string `json:"master"`
	// Since is when State was entered, Reason why.
	Since  time.Time `json:"since,omitzero"`
	Reason string    `json:"reason"`
	// SyncGroup is the instance's sync group, "" for none. Forced says
	// why the group holds this router in its state (a member in fault,
	// a member that heard a better master, the group becoming master),
	// "" when it is in it of its own. WantsMaster: a backup whose
	// master down timer ran out waits for the rest of its group.
	SyncGroup   string `json:"sync_group,omitempty"`
	Forced      string `json:"forced,omitempty"`
	WantsMaster bool   `json:"wants_master,omitempty"`
	// VIPs are the virtual addresses as prefixes ("192.0.2.10/32").
	VIPs []string `json:"vips"`
	// VIPDevs are the interfaces of the VIPs bound elsewhere than on
	// Interface (keepalived's dev), by VIP as in VIPs.
	VIPDevs map[string]string `json:"vip_devs,omitempty"`
	// FailingChecks names the tracked checks that fail now.
	FailingChecks []string `json:"failing_checks"`
	// Tracks are the checks this instance tracks and their weights.
	Tracks []Track `json:"tracks"`
	// Transitions are the latest state changes, oldest first.
	Transitions []Transition `json:"transitions"`
	Counters    Counters     `json:"counters"`
	// Hooks counts the runs of the instance's notify hook, shared by its
	// families; absent when it has none.
	Hooks *HookCounters `json:"hooks,omitempty"`
}

// HookCounters count the runs of an instance's notify hook since the
// daemon started.
type HookCounters struct {
	Runs uint64 `json:"runs"`
	// Failures counts the runs that failed, timeouts included.
	Failures uint64 `json:"failures"`
	Timeouts uint64 `json:"timeouts"`
	// Dropped counts the transitions whose hook did not run: its queue
	// was full.
	Dropped uint64 `json:"dropped"`
}

// Track is a check an instance tracks and the weight it adds to (or, if
// negative, takes from) the priority while the check fails.
type Track struct {
	Check  string `json:"check"`
	Weight int    `json:"weight"`
}

// Transition is one state change of an instance.
type Transition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
}

// Counters count what an instance did since the daemon started.
type Counters struct {
	AdvertsOut    uint64 `json:"adverts_out"`
	AdvertsIn     uint64 `json:"adverts_in"`
	SendErrors    uint64 `json:"send_errors"`
	Transitions   uint64 `json:"transitions"`
	Announcements uint64 `json:"announcements"`
	BindErrors    uint64 `json:"bind_errors"`
	// Conflicts counts adverts from another master of lower priority,
	// each answered at once: a split brain healing.
	Conflicts uint64 `json:"conflicts"`
	// Collisions counts adverts on this VRID with another address list:
	// another virtual router on the network uses the same VRID.
	Collisions uint64 `json:"collisions"`
	// GuardRestored counts VIPs put back on a master after something else
	// removed them; GuardRemoved VIPs removed from an instance that is not
	// master.
	GuardRestored uint64 `json:"guard_restored"`
	GuardRemoved  uint64 `json:"guard_removed"`
	// LateTimers counts protocol timers served well after their deadline:
	// the daemon was stopped or starved.
	LateTimers uint64 `json:"late_timers"`
	// Dropped counts the packets dropped on the instance's socket, by
	// drop reason ("ttl", "checksum", ...). The socket is shared by the
	// instances of one interface and family, so they show the same drops.
	Dropped map[string]uint64 `json:"dropped"`
}

// Check is the state of one check or tracked interface.
//
// Its JSON fields are name, state, last_error, last_output, last_probe,
// duration_ms, since and probes. duration_ms is the Duration in
// milliseconds, a number with fractions (1.5 is 1500µs).
type Check struct {
	Name  string // "link:IFNAME" for a tracked interface
	State string // CheckHealthy, CheckUnhealthy or CheckUnknown
	// LastError is the error of the last probe, "" when it succeeded;
	// LastOutput what it printed or answered, cut short by the daemon.
	LastError  string
	LastOutput string
	LastProbe  time.Time     // start of the last probe
	Duration   time.Duration // of the last probe
	Since      time.Time     // when State was entered
	Probes     uint64        // probes run
}

// checkJSON is the wire form of a Check. Duration travels as
// milliseconds, which people and tools read more easily than Go's
// nanosecond integer.
type checkJSON struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`
	LastError  string    `json:"last_error"`
	LastOutput string    `json:"last_output"`
	LastProbe  time.Time `json:"last_probe,omitzero"`
	DurationMS float64   `json:"duration_ms"`
	Since      time.Time `json:"since,omitzero"`
	Probes     uint64    `json:"probes"`
}

// MarshalJSON implements json.Marshaler.
func (c Check) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkJSON{
		Name:       c.Name,
		State:      c.State,
		LastError:  c.LastError,
		LastOutput: c.LastOutput,
		LastProbe:  c.LastProbe,
		DurationMS: float64(c.Duration) / float64(time.Millisecond),
		Since:      c.Since,
		Probes:     c.Probes,
	})
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Check) UnmarshalJSON(b []byte) error {
	var j checkJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Check{
		Name:       j.Name,
		State:      j.State,
		LastError:  j.LastError,
		LastOutput: j.LastOutput,
		LastProbe:  j.LastProbe,
		// Round to whole nanoseconds: ms*1e6 lands a hair off for
		// most values.
		Duration: time.Duration(math.Round(j.DurationMS * float64(time.Millisecond))),
		Since:    j.Since,
		Probes:   j.Probes,
	}
	return nil
}

// InstancesRequest is the body of POST /v1/drain and /v1/resume. An empty
// list means every instance.
type InstancesRequest struct {
	Instances []string `json:"instances"`
}

// InstancesResponse is the answer to drain and resume: the names of the
// instances affected.
type InstancesResponse struct {
	Instances []string `json:"instances"`
}

// LiveResponse is the answer to GET /v1/live when vipd is live.
type LiveResponse struct {
	Live bool `json:"live"`
}

// ErrorResponse is the body of every answer with a status other than 200.
type ErrorResponse struct {
	Error string `json:"error"`
}

// normalized returns s with every nil list and map replaced by an empty
// one, so the JSON shows [] and {} rather than null.
func (s Status) normalized() Status {
	s.Instances = nonNil(s.Instances)
	s.Checks = nonNil(s.Checks)
	insts := make([]Instance, len(s.Instances))
	for i, in := range s.Instances {
		in.VIPs = nonNil(in.VIPs)
		in.FailingChecks = nonNil(in.FailingChecks)
		in.Tracks = nonNil(in.Tracks)
		in.Transitions = nonNil(in.Transitions)
		if in.Counters.Dropped == nil {
			in.Counters.Dropped = map[string]uint64{}
		}
		insts[i] = in
	}
	s.Instances = insts
	s.Routed = nonNil(s.Routed)
	routed := make([]Routed, len(s.Routed))
	for i, r := range s.Routed {
		r.VIPs = nonNil(r.VIPs)
		r.FailingChecks = nonNil(r.FailingChecks)
		r.Tracks = nonNil(r.Tracks)
		routed[i] = r
	}
	s.Routed = routed
	if s.BGP != nil {
		b := *s.BGP
		b.Peers = nonNil(b.Peers)
		b.Routes = nonNil(b.Routes)
		s.BGP = &b
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
