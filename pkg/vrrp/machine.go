package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is the state of a virtual router (RFC 9568 section 6.4). RFC 9568
// calls the master the "Active Router"; vipd keeps the words operators know.
type State uint8

// States of a virtual router.
const (
	Initialize State = iota
	Backup
	Master
	// Fault: a tracked check or interface failed. The router stays out of
	// the election (sends nothing, holds no VIPs) but keeps listening.
	Fault
)

func (s State) String() string {
	switch s {
	case Initialize:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Action is a set of things the caller must do after an event, in the
// order of the constants: bind the addresses before the advertisement that
// makes a resigning master release them (make before break), and announce
// them once bound.
type Action uint8

// Actions a Machine asks for.
const (
	// AddVIPs binds the virtual addresses to the interface.
	AddVIPs Action = 1 << iota
	// SendAdvert sends one advertisement with Output.Priority.
	SendAdvert
	// Announce sends gratuitous ARP / unsolicited neighbour advertisements
	// for the virtual addresses.
	Announce
	// RemoveVIPs unbinds the virtual addresses.
	RemoveVIPs
)

// Has reports whether all of b are in a.
func (a Action) Has(b Action) bool { return a&b == b }

// Output is what a Machine returns for an event: the actions to perform
// and, when the state changed, the transition and its reason.
type Output struct {
	Actions Action
	// Priority is the priority to advertise when Actions has SendAdvert:
	// the machine's priority, or 0 when the master resigns.
	Priority uint8
	// From and To differ when the event changed the state.
	From, To State
	// Reason says why the state changed, for logs and status; or, in
	// Fault without a change of state, the new reason to be in it.
	Reason string
	// Event, when not empty, is worth a log line although the state did
	// not change (a master resigning, or keeping the VIPs as a last resort).
	Event string
	// Conflict: a master heard another master of lower priority, and
	// answers at once so that it steps down.
	Conflict bool
	// WantsMaster: a grouped backup would have become master (its
	// Master_Down_Timer ran out, or it starts as the address owner) and
	// waits for its group to Promote it.
	WantsMaster bool
}

// FaultKind says whether, and how, a router's tracked checks failed.
type FaultKind uint8

// Kinds of fault.
const (
	// NoFault: the router takes part in the election.
	NoFault FaultKind = iota
	// Drained: an operator took the router out of service for
	// maintenance. It behaves as SoftFault: it hands the VIPs over and
	// takes them back only when no other router is alive.
	Drained
	// SoftFault: a check failed. When no master is heard for a master
	// down interval, every node may be failing (say, the API servers of the
	// whole cluster are down): the VIP must still be somewhere, so the
	// router takes it as a last resort, advertising LastResortPriority so
	// any healthy router preempts it.
	SoftFault
	// Pending: the first results of the tracked checks are not in yet.
	// The router claims nothing (no last resort either) until they are.
	Pending
	// HardFault: a tracked interface is down; the router could not serve
	// the VIP and never takes it.
	HardFault
	// LinkDown: the router's own interface is down. As HardFault, but a
	// master sends nothing on the way out: a priority-0 advert would not
	// reach anyone, and in unicast mode it would leave the kernel waiting
	// to resolve the peers, holding back the adverts sent once the link
	// is back.
	LinkDown
)

// soft reports whether f lets the router hold the VIPs as a last resort.
func (f FaultKind) soft() bool { return f == Drained || f == SoftFault }

// why says what a fault is, for reasons.
func (f FaultKind) why() string {
	switch f {
	case Drained:
		return "drained"
	case SoftFault:
		return "tracked check failed"
	case Pending:
		return "waiting for the first check results"
	case HardFault:
		return "tracked interface failed"
	case LinkDown:
		return "interface down"
	}
	return "healthy"
}

// LastResortPriority is the priority a faulted router advertises when it
// holds the VIPs because no other router does.
const LastResortPriority = 1

// resignWait is how long a master whose checks failed (or that was
// drained) waits, after its priority-0 advertisement, for another router
// to take over before it keeps the VIPs as a last resort: a healthy backup
// takes over after its skew time, under one interval.
func (m *Machine) resignWait() time.Duration { return m.cfg.Interval * 3 / 2 }

// lastResortWait is how long a faulted router waits after a master's
// priority-0 advertisement before it takes the VIPs as a last resort:
// longer than a resigning master's resignWait (so the two do not both
// claim them) and shorter than a stopping master's master down interval
// (so the VIPs are never nowhere).
func (m *Machine) lastResortWait() time.Duration {
	return 2*m.masterInterval + SkewTime(m.cfg.Version, LastResortPriority, m.masterInterval)
}

// Changed reports whether the event caused a state transition.
func (o Output) Changed() bool { return o.From != o.To }

// Config is the configuration of one virtual router.
type Config struct {
	// Version is 3 (RFC 9568) or 2 (RFC 3768).
	Version uint8
	// Priority is this router's priority, 1..255; 255 means it owns the
	// addresses and takes over at once.
	Priority uint8
	// Interval is the Advertisement_Interval this router sends at.
	Interval time.Duration
	// Preempt lets a backup of higher priority take over from a master of
	// lower priority.
	Preempt bool
	// PreemptDelay holds preemption back for this long after start-up, so a
	// node that just booted does not take the addresses before its services
	// are ready.
	PreemptDelay time.Duration
	// Primary is this router's primary address, the tie-breaker between
	// equal priorities.
	Primary netip.Addr
	// Phase, when not zero, puts a master's adverts on the grid Phase +
	// k × Interval: the first advert after an event goes at once, the
	// next on the grid, at most one interval later. Routers of one
	// process that share a Phase and an Interval send together, and the
	// process wakes once for all of them rather than once for each
	// (their backups, likewise, once per burst of adverts).
	Phase time.Time
	// Grouped makes the router a member of a sync group, which decides
	// when it becomes master: a backup whose Master_Down_Timer runs out
	// says it WantsMaster and stays backup until Promote.
	Grouped bool
}

// Machine is the state machine of one virtual router. It is not safe for
// concurrent use. Every method takes the time of the event; the caller must
// call Timeout when now reaches Deadline.
type Machine struct {
	cfg      Config
	priority uint8 // the priority the router elects with when healthy
	fault    FaultKind
	state    State
	// resigning: a master whose checks failed has sent priority 0 and
	// keeps the VIPs until another router takes over, or keeps them as a
	// last resort when none does.
	resigning bool
	// stopping: a master shutting down has sent priority 0 and keeps the
	// VIPs until another router takes over or a master down interval
	// passes.
	stopping bool
	// wants: a grouped backup's timer ran out since it last heard a
	// master it follows (keepalived's wantstate MASTER).
	wants bool

	started        time.Time
	deadline       time.Time
	masterInterval time.Duration
	masterAddr     netip.Addr
	masterPriority uint8
	// lower is the lower-priority master a backup's timer was shortened
	// to preempt, if it was; lowerPriority its priority. For the reason.
	lower         netip.Addr
	lowerPriority uint8
}

// NewMachine returns a machine in the Initialize state.
func NewMachine(cfg Config) *Machine {
	return &Machine{cfg: cfg, priority: cfg.Priority, masterInterval: cfg.Interval}
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the priority the machine advertises and elects with:
// LastResortPriority while faulted.
func (m *Machine) Priority() uint8 {
	if m.fault != NoFault {
		return LastResortPriority
	}
	return m.priority
}

// Fault returns the current fault.
func (m *Machine) Fault() FaultKind { return m.fault }

// Deadline returns when Timeout must be called next; the zero time means
// no timer is running (Initialize).
func (m *Machine) Deadline() time.Time { return m.deadline }

// Master returns the address and priority of the master last heard from.
// In Master state it is the zero address: this router is the master.
func (m *Machine) Master() (netip.Addr, uint8) { return m.masterAddr, m.masterPriority }

// MasterInterval returns the Master_Adver_Interval in use: the interval
// advertised by the current master (version 3), or the configured one.
func (m *Machine) MasterInterval() time.Duration { return m.masterInterval }

// MasterDownInterval returns the current Master_Down_Interval.
func (m *Machine) MasterDownInterval() time.Duration {
	return MasterDownInterval(m.cfg.Version, m.Priority(), m.masterInterval)
}

// Start is the Startup event (RFC 9568 section 6.4.1).
func (m *Machine) Start(now time.Time) Output {
	if m.state != Initialize {
		return m.none()
	}
	m.started = now
	m.masterInterval = m.cfg.Interval
	if m.fault != NoFault {
		return m.becomeFault(now, "starting: "+m.fault.why())
	}
	if m.priority == 255 {
		if m.cfg.Grouped {
			out := m.becomeBackup(now, "address owner (priority 255) starting, waiting for its sync group")
			m.wants = true
			out.WantsMaster = true
			return out
		}
		return m.becomeMaster(now, "address owner (priority 255) starting")
	}
	return m.becomeBackup(now, "starting")
}

// SetGrouped makes the machine a member of a sync group, or no longer
// one (a configuration reload).
func (m *Machine) SetGrouped(grouped bool) {
	m.cfg.Grouped = grouped
	if !grouped {
		m.wants = false
	}
}

// WantsMaster reports whether a grouped backup waits to become master.
func (m *Machine) WantsMaster() bool { return m.wants }

// Promote makes a backup master because its sync group becomes master
// (keepalived's vrrp_sync_master), whether its own timer ran out or not.
// Other states are left alone.
func (m *Machine) Promote(now time.Time, reason string) Output {
	if m.state != Backup || m.stopping {
		return m.none()
	}
	return m.becomeMaster(now, reason)
}

// Demote makes a master backup because another member of its sync group
// heard a better master (keepalived's vrrp_sync_backup). It removes the
// VIPs and sends nothing: the other router's member is master already,
// and a priority-0 advert would make its backups take over. A master in
// fault (resigning, or a last resort) goes to Fault.
func (m *Machine) Demote(now time.Time, reason string) Output {
	if m.state != Master || m.stopping {
		return m.none()
	}
	m.resigning = false
	var out Output
	if m.fault != NoFault {
		out = m.becomeFault(now, reason)
	} else {
		out = m.becomeBackup(now, reason)
	}
	out.Actions = RemoveVIPs
	return out
}

// Stop is the Shutdown event. A master resigns with a priority-0
// advertisement so that the best backup takes over after its skew time,
// and keeps the VIPs until it hears the new master (make before break: no
// packet to the VIPs is lost) or a master down interval passes; the machine
// reaches Initialize then. Other states reach Initialize at once, and so
// does a master told to Stop a second time.
func (m *Machine) Stop(now time.Time) Output {
	if m.state == Master && !m.stopping {
		m.stopping = true
		m.resigning = false
		m.deadline = now.Add(m.MasterDownInterval())
		out := m.none()
		out.Actions = SendAdvert
		out.Priority = 0
		out.Event = "shutting down: resigning with priority 0, keeping the VIPs until another router takes over"
		return out
	}
	return m.stopped("shutting down")
}

// SetPreempt changes the preemption settings (a configuration reload).
func (m *Machine) SetPreempt(preempt bool, delay time.Duration) {
	m.cfg.Preempt, m.cfg.PreemptDelay = preempt, delay
}

// Stopping reports whether a master is handing over before it stops.
func (m *Machine) Stopping() bool { return m.stopping }

func (m *Machine) stopped(reason string) Output {
	out := m.to(Initialize, reason)
	if out.From == Master {
		out.Actions = RemoveVIPs
	}
	m.stopping, m.resigning = false, false
	m.deadline = time.Time{}
	m.masterAddr, m.masterPriority = netip.Addr{}, 0
	return out
}

// Timeout handles the expiry of the running timer: the Master_Down_Timer in
// Backup, the Adver_Timer in Master. A call before Deadline does nothing.
func (m *Machine) Timeout(now time.Time) Output {
	if m.deadline.IsZero() || now.Before(m.deadline) {
		return m.none()
	}
	if m.stopping {
		return m.stopped(fmt.Sprintf("shutting down: no router took over within %v", m.MasterDownInterval()))
	}
	switch m.state {
	case Backup:
		reason := fmt.Sprintf("no advertisement for %v", m.MasterDownInterval())
		switch {
		case m.masterPriority == 0 && m.masterAddr.IsValid():
			reason = fmt.Sprintf("master %v resigned (priority 0)", m.masterAddr)
		case m.lower.IsValid():
			reason = fmt.Sprintf("preempting lower-priority master %v (priority %d)", m.lower, m.lowerPriority)
		}
		if m.cfg.Grouped {
			// The group decides; until it does, the timer runs again,
			// as keepalived's vrrp_sync_can_goto_master restarts it.
			out := m.none()
			if !m.wants {
				out.Event = reason + ": waiting for the sync group"
			}
			m.wants = true
			m.deadline = now.Add(m.MasterDownInterval())
			out.WantsMaster = true
			return out
		}
		return m.becomeMaster(now, reason)
	case Fault:
		if !m.fault.soft() {
			m.deadline = time.Time{}
			return m.none()
		}
		return m.becomeMaster(now, fmt.Sprintf("no master for %v (%s): taking the VIPs as a last resort at priority %d",
			m.MasterDownInterval(), m.fault.why(), LastResortPriority))
	case Master:
		if m.resigning {
			m.resigning = false
			out := m.advertNow(now, 0)
			out.Event = fmt.Sprintf("no other router took over within %v: keeping the VIPs as a last resort at priority %d",
				m.resignWait(), LastResortPriority)
			return out
		}
		// Keep adverts on their grid: a timer served late must not
		// push every later advert back.
		m.deadline = m.deadline.Add(m.cfg.Interval)
		if !m.deadline.After(now) {
			m.deadline = m.nextAdvert(now)
		}
		out := m.none()
		out.Actions = SendAdvert
		out.Priority = m.Priority()
		return out
	}
	return m.none()
}

// Receive handles an advertisement that passed the receive checks (see
// Filter): from is its source address, priority and interval its fields.
func (m *Machine) Receive(now time.Time, from netip.Addr, priority uint8, interval time.Duration) Output {
	if m.stopping {
		if priority == 0 {
			return m.none()
		}
		return m.stopped(fmt.Sprintf("shutting down: %v took over (priority %d)", from, priority))
	}
	switch m.state {
	case Fault:
		// Listen only to know whether some router holds the VIPs.
		m.masterAddr, m.masterPriority = from, priority
		switch {
		case !m.fault.soft():
		case priority == 0:
			m.deadline = now.Add(m.lastResortWait())
		default:
			m.deadline = now.Add(m.MasterDownInterval())
		}
		return m.none()
	case Backup:
		if priority == 0 {
			// The master resigned: take over after Skew_Time only.
			m.masterAddr, m.masterPriority = from, 0
			m.deadline = now.Add(SkewTime(m.cfg.Version, m.priority, m.masterInterval))
			return m.none()
		}
		if !m.preempts(now, priority) {
			m.wants = false
			m.follow(now, from, priority, interval)
			return m.none()
		}
		if m.masterAddr.IsValid() && from != m.masterAddr && Wins(m.masterPriority, m.masterAddr, m.priority, m.cfg.Primary) {
			// A second master, below the better one this router
			// follows and still hears: a node that cannot hear that
			// one (a one-way partition, loss), or one stepping down.
			// Discard it, as RFC 9568 does: taking over would make a
			// third master, and the one followed answers it.
			return m.none()
		}
		// A lower-priority master to preempt (one whose check failed,
		// or that holds the VIPs only as a last resort): RFC 9568
		// discards its adverts and lets the Master_Down_Timer run out.
		// Take over after Skew_Time instead, as from a master that
		// resigned: of several backups that may preempt, the best
		// still wins by its shorter skew, and the others hear it
		// before theirs ends.
		if at := now.Add(SkewTime(m.cfg.Version, m.priority, m.masterInterval)); at.Before(m.deadline) {
			m.deadline = at
			m.lower, m.lowerPriority = from, priority
		}
		return m.none()
	case Master:
		if priority == 0 {
			// Another router resigned; make sure the backups hear a
			// master at once (RFC 9568 section 6.4.3). It was master too
			// (it stepped down on hearing us, or stopped): announce the
			// VIPs again so that neighbours forget its MAC.
			return m.advertNow(now, Announce)
		}
		if Wins(priority, from, m.Priority(), m.cfg.Primary) {
			next := Backup
			if m.fault != NoFault {
				next = Fault
			}
			out := m.to(next, fmt.Sprintf("higher-priority master %v (priority %d)", from, priority))
			out.Actions = RemoveVIPs
			if !m.resigning {
				// One last advert at our own priority: the winner hears
				// a lower-priority master and announces the VIPs again,
				// so that neighbours that followed this router's
				// announcements (a healed partition) forget its MAC.
				// Not priority 0: backups would shorten their timers to
				// their skew time, and one might take over. A resigning
				// master has sent priority 0 already.
				out.Actions |= SendAdvert
				out.Priority = m.Priority()
			}
			m.resigning = false
			m.follow(now, from, priority, interval)
			return out
		}
		if m.resigning {
			return m.none()
		}
		// Two masters (a healed partition, a restarted peer): answer at
		// once rather than at the next interval, so the other steps down
		// within a round trip, and announce again so that switches and
		// neighbours forget the other's MAC.
		out := m.advertNow(now, Announce)
		out.Conflict = true
		return out
	}
	return m.none()
}

// SetPriority changes the priority (for example when a tracked check
// fails). A master whose priority falls advertises it at once so that a
// better backup can preempt without waiting for the next interval.
func (m *Machine) SetPriority(now time.Time, priority uint8) Output {
	if m.stopping {
		m.priority = priority
		return m.none()
	}
	old := m.Priority()
	m.priority = priority
	return m.advertiseChange(now, old)
}

// SetFault enters or leaves the Fault state. A master that faults on a
// check (or is drained) resigns with a priority-0 advertisement but keeps
// the VIPs until another router takes over (make before break), and keeps
// them as a last resort when none does. A master whose interface fails
// removes them at once. A router that recovers returns to Backup; a
// last-resort master stays master and advertises its restored priority at
// once.
func (m *Machine) SetFault(now time.Time, f FaultKind) Output {
	if m.stopping {
		m.fault = f
		return m.none()
	}
	old := m.Priority()
	was := m.fault
	m.fault = f
	switch {
	case m.state == Initialize || was == f:
	case (f == HardFault || f == LinkDown) && m.state == Master:
		// The interface is gone: the VIPs cannot be served from here.
		out := m.becomeFault(now, f.why())
		out.Actions = RemoveVIPs
		if f == HardFault {
			out.Actions |= SendAdvert
			out.Priority = 0
		}
		return out
	case f == Pending && m.state == Master:
		// Checks restarted (a reload): keep serving until they report.
		m.fault = was
		return m.none()
	case (f == HardFault || f == LinkDown || f == Pending) && m.state == Fault:
		m.deadline = time.Time{}
	case f != NoFault && m.state == Backup:
		return m.becomeFault(now, f.why())
	case f.soft() && m.state == Master && was == NoFault:
		m.resigning = true
		m.deadline = now.Add(m.resignWait())
		out := m.none()
		out.Actions = SendAdvert
		out.Priority = 0
		out.Event = f.why() + ": resigning with priority 0, keeping the VIPs until another router takes over"
		return out
	case f.soft() && m.state == Fault && !was.soft():
		// The last-resort timer starts now.
		m.deadline = now.Add(m.MasterDownInterval())
	case f == NoFault && m.state == Fault:
		return m.becomeBackup(now, "recovered: no longer "+was.why())
	case f == NoFault && m.state == Master:
		m.resigning = false
	}
	out := m.advertiseChange(now, old)
	if m.state == Fault && f != was && f != NoFault {
		// Still in Fault, for another reason: status says which.
		out.Reason = f.why()
	}
	return out
}

// advertiseChange sends an advertisement at once when a master's
// priority changed from old.
func (m *Machine) advertiseChange(now time.Time, old uint8) Output {
	if m.state == Master && m.Priority() != old {
		return m.advertNow(now, 0)
	}
	return m.none()
}

// advertNow has a master advertise its priority at once (with the extra
// actions) and restarts its Adver_Timer.
func (m *Machine) advertNow(now time.Time, extra Action) Output {
	m.deadline = m.nextAdvert(now)
	out := m.none()
	out.Actions = SendAdvert | extra
	out.Priority = m.Priority()
	return out
}

// preempts reports whether an advertisement of the given priority is to be
// discarded so that this backup takes over: preemption is on, the sender
// has a lower priority, and the preemption delay since start-up is over.
// A master at LastResortPriority holds the VIPs only because it heard no
// one: a healthy backup always takes over from it, preemption or not.
func (m *Machine) preempts(now time.Time, priority uint8) bool {
	if priority >= m.priority {
		return false
	}
	if priority == LastResortPriority {
		return true
	}
	return m.cfg.Preempt && now.Sub(m.started) >= m.cfg.PreemptDelay
}

// follow records the master heard and restarts the Master_Down_Timer. In
// version 3 the master's interval is learned from its advertisement; in
// version 2 it must equal the configured one (checked by Filter).
func (m *Machine) follow(now time.Time, from netip.Addr, priority uint8, interval time.Duration) {
	m.masterAddr, m.masterPriority = from, priority
	m.lower = netip.Addr{}
	if m.cfg.Version == 3 && interval > 0 {
		m.masterInterval = interval
	}
	m.deadline = now.Add(m.MasterDownInterval())
}

func (m *Machine) becomeMaster(now time.Time, reason string) Output {
	out := m.to(Master, reason)
	out.Actions = AddVIPs | SendAdvert | Announce
	out.Priority = m.Priority()
	m.masterAddr, m.masterPriority = netip.Addr{}, 0
	m.masterInterval = m.cfg.Interval
	m.deadline = m.nextAdvert(now)
	return out
}

// nextAdvert is when a master that advertised at now advertises next: an
// interval later, or sooner to join the grid of Config.Phase. Never later:
// backups count their master down interval from the last advert heard.
func (m *Machine) nextAdvert(now time.Time) time.Time {
	ivl := m.cfg.Interval
	if m.cfg.Phase.IsZero() {
		return now.Add(ivl)
	}
	off := now.Sub(m.cfg.Phase) % ivl
	if off < 0 {
		off += ivl
	}
	return now.Add(ivl - off)
}

func (m *Machine) becomeBackup(now time.Time, reason string) Output {
	out := m.to(Backup, reason)
	m.masterInterval = m.cfg.Interval
	m.deadline = now.Add(m.MasterDownInterval())
	return out
}

func (m *Machine) becomeFault(now time.Time, reason string) Output {
	out := m.to(Fault, reason)
	m.masterInterval = m.cfg.Interval
	m.deadline = time.Time{}
	if m.fault.soft() {
		m.deadline = now.Add(m.MasterDownInterval())
	}
	return out
}

func (m *Machine) to(s State, reason string) Output {
	out := Output{From: m.state, To: s, Reason: reason}
	m.state = s
	m.wants = false
	m.lower = netip.Addr{}
	return out
}

func (m *Machine) none() Output { return Output{From: m.state, To: m.state} }
