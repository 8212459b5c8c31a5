package routed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// Publisher announces and withdraws the node's routes to its VIPs.
type Publisher interface {
	Announce(p netip.Prefix, pref bgp.Pref) error
	Withdraw(p netip.Prefix) error
}

// Addrs binds and unbinds the VIPs.
type Addrs interface {
	Add(ifindex int, p netip.Prefix, label string) error
	Remove(ifindex int, p netip.Prefix) error
}

// Config is one routed instance on this node.
type Config struct {
	Instance string
	// IfIndex and Interface are where the VIPs are bound: lo, or a
	// dummy interface.
	IfIndex   int
	Interface string
	// VIPs are host prefixes (/32, /128).
	VIPs []netip.Prefix
	// ECMP makes every healthy node's routes equal.
	ECMP bool
	// Prepend adds the AS to the path as the priority falls (BGP only).
	Prepend bool
	// WithdrawDelay is the wait between withdrawing and unbinding.
	WithdrawDelay time.Duration
}

// ECMPMED is the MED of every node's routes under ECMP.
const ECMPMED = 100

// Target returns whether the node announces its VIPs with health h, with
// which preference, and why (for status and logs). It announces only
// while healthy: a check that is failing or not yet known, a drain or a
// tracked interface down all withdraw.
func Target(cfg Config, h router.Health) (announce bool, pref bgp.Pref, reason string) {
	switch h.Fault {
	case vrrp.NoFault:
	case vrrp.Drained:
		return false, bgp.Pref{}, "drained"
	case vrrp.SoftFault:
		return false, bgp.Pref{}, "tracked check failed"
	case vrrp.Pending:
		return false, bgp.Pref{}, "waiting for the first check results"
	case vrrp.HardFault:
		return false, bgp.Pref{}, "tracked interface failed"
	case vrrp.LinkDown:
		return false, bgp.Pref{}, "interface down"
	default:
		return false, bgp.Pref{}, fmt.Sprintf("fault %d", h.Fault)
	}
	if cfg.ECMP {
		return true, bgp.Pref{MED: ECMPMED}, "healthy"
	}
	return true, bgp.PrefFromPriority(h.Priority, cfg.Prepend), "healthy"
}

// State is what an Instance does with its VIPs.
type State int

const (
	// Withdrawn: no route announced, no VIP bound.
	Withdrawn State = iota
	// Announced: the VIPs are bound and announced.
	Announced
	// Leaving: the routes are withdrawn, or announced with the worst
	// preference (a drain, a stop); the VIPs stay bound until the
	// withdraw delay has passed.
	Leaving
)

func (s State) String() string {
	switch s {
	case Withdrawn:
		return "WITHDRAWN"
	case Announced:
		return "ANNOUNCED"
	case Leaving:
		return "LEAVING"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status is a snapshot of an Instance.
type Status struct {
	Instance string
	State    State
	Since    time.Time
	Reason   string
	// Priority is the effective priority of the last health; Pref the
	// preference announced (zero when not announced).
	Priority uint8
	Pref     bgp.Pref
	VIPs     []netip.Prefix
	// Withdrawals counts the times the routes were withdrawn; Errors the
	// failed binds, unbinds, announcements and withdrawals.
	Withdrawals uint64
	Errors      uint64
}

// Instance runs one routed instance.
type Instance struct {
	cfg   Config
	pub   Publisher
	addrs Addrs
	log   *slog.Logger
	// wake tells Run that health has changed; health is the latest.
	wake chan struct{}

	mu     sync.Mutex
	health router.Health
	st     Status
}

// New returns an instance for cfg, withdrawn, waiting for its health
// (pending until SetHealth). A nil logger discards.
func New(cfg Config, pub Publisher, addrs Addrs, log *slog.Logger) *Instance {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Instance{
		cfg: cfg, pub: pub, addrs: addrs,
		log:    log.With("instance", cfg.Instance),
		wake:   make(chan struct{}, 1),
		health: router.Health{Fault: vrrp.Pending},
		st:     Status{Instance: cfg.Instance, Reason: "starting", VIPs: cfg.VIPs},
	}
}

// Config returns the instance's configuration.
func (i *Instance) Config() Config { return i.cfg }

// SetHealth hands the instance the result of its tracked checks and
// drains; only the latest matters.
func (i *Instance) SetHealth(h router.Health) {
	i.mu.Lock()
	i.health = h
	i.mu.Unlock()
	select {
	case i.wake <- struct{}{}:
	default:
	}
}

// Status returns a snapshot.
func (i *Instance) Status() Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	st := i.st
	st.VIPs = slices.Clone(st.VIPs)
	return st
}

// Run announces and withdraws as the health changes until ctx ends; then
// it leaves as a drain does before it returns.
//
// A fault withdraws at once and unbinds the VIPs after the withdraw
// delay. A drain or a stop leaves make before break: the routes are
// announced again with the worst preference (LeavingMED), so that routers
// move the traffic to another node as soon as they have one, and keep
// sending it here while they have none; after the withdraw delay they are
// withdrawn and the VIPs unbound. A route that disappears can leave a
// router with none for a moment, even where another node announces one:
// FRR was seen answering "network unreachable" for 30 ms.
func (i *Instance) Run(ctx context.Context) error {
	var timer *time.Timer
	var expired <-chan time.Time // the withdraw delay has passed
	depreffed := false           // Leaving with the worst preference, not withdrawn yet
	wait := func() {
		if timer == nil {
			timer = time.NewTimer(i.cfg.WithdrawDelay)
			expired = timer.C
		}
	}
	stopWait := func() {
		if timer != nil {
			timer.Stop()
			timer, expired = nil, nil
		}
	}
	defer stopWait()
	for {
		i.mu.Lock()
		h := i.health
		state := i.st.State
		i.mu.Unlock()
		announce, pref, reason := Target(i.cfg, h)
		graceful := h.Fault == vrrp.Drained
		switch {
		case announce:
			stopWait()
			depreffed = false
			i.announce(h, pref, reason)
		case state == Announced && graceful:
			i.depref(h, reason)
			depreffed = true
			wait()
		case state == Announced, depreffed && !graceful:
			// A fault, also while draining: withdraw now.
			i.withdraw(h, reason)
			depreffed = false
			wait()
		default:
			i.setReason(h, reason)
		}
		select {
		case <-i.wake:
		case <-expired:
			timer, expired = nil, nil
			if depreffed {
				i.withdraw(h, reason)
				depreffed = false
			}
			i.unbind(reason)
		case <-ctx.Done():
			i.mu.Lock()
			state := i.st.State
			i.mu.Unlock()
			if state == Withdrawn {
				return nil
			}
			if state == Announced {
				i.depref(h, "stopping")
				depreffed = true
			}
			// The routers move the traffic before the routes and
			// the VIPs go.
			wait()
			<-expired
			timer, expired = nil, nil
			if depreffed {
				i.withdraw(h, "stopping")
			}
			i.unbind("stopped")
			return nil
		}
	}
}

// LeavingMED is the MED of the routes of a node that leaves: the worst.
const LeavingMED = 1<<32 - 1

// depref announces the VIPs with the worst preference; they stay bound.
func (i *Instance) depref(h router.Health, reason string) {
	var errs []error
	pref := bgp.Pref{MED: LeavingMED}
	for _, p := range i.cfg.VIPs {
		if err := i.pub.Announce(p, pref); err != nil {
			errs = append(errs, err)
		}
	}
	i.set(Leaving, h, pref, reason, 0, errs)
}

// announce binds the VIPs, then announces them with pref.
func (i *Instance) announce(h router.Health, pref bgp.Pref, reason string) {
	i.mu.Lock()
	same := i.st.State == Announced && i.st.Pref == pref
	i.mu.Unlock()
	if same {
		i.setReason(h, reason)
		return
	}
	var errs []error
	for _, p := range i.cfg.VIPs {
		if err := i.addrs.Add(i.cfg.IfIndex, p, ""); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range i.cfg.VIPs {
		if err := i.pub.Announce(p, pref); err != nil {
			errs = append(errs, err)
		}
	}
	i.set(Announced, h, pref, reason, 0, errs)
}

// withdraw withdraws the routes; the VIPs stay bound.
func (i *Instance) withdraw(h router.Health, reason string) {
	var errs []error
	for _, p := range i.cfg.VIPs {
		if err := i.pub.Withdraw(p); err != nil {
			errs = append(errs, err)
		}
	}
	i.set(Leaving, h, bgp.Pref{}, reason, 1, errs)
}

// unbind unbinds the VIPs.
func (i *Instance) unbind(reason string) {
	var errs []error
	for _, p := range i.cfg.VIPs {
		if err := i.addrs.Remove(i.cfg.IfIndex, p); err != nil {
			errs = append(errs, err)
		}
	}
	i.mu.Lock()
	h := i.health
	i.mu.Unlock()
	i.set(Withdrawn, h, bgp.Pref{}, reason, 0, errs)
}

func (i *Instance) setReason(h router.Health, reason string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.st.Priority = h.Priority
	i.st.Reason = reason
}

// set records a new state and logs the change.
func (i *Instance) set(s State, h router.Health, pref bgp.Pref, reason string, withdrawals uint64, errs []error) {
	i.mu.Lock()
	old := i.st
	i.st.Priority, i.st.Reason, i.st.Pref = h.Priority, reason, pref
	i.st.Withdrawals += withdrawals
	i.st.Errors += uint64(len(errs))
	if old.State != s {
		i.st.State, i.st.Since = s, time.Now()
	}
	i.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		i.log.Error("routed VIPs", "state", s, "error", err)
	}
	switch {
	case old.State != s:
		i.log.Info("routed VIPs "+s.String(), "from", old.State, "reason", reason, "med", pref.MED, "vips", i.cfg.VIPs)
	case old.Pref != pref:
		i.log.Info("routed VIPs announced with another preference", "med", pref.MED, "prepend", pref.Prepend)
	}
}
