package daemon

import (
	"fmt"

	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// Sync groups: the routers of the instances that name one sync_group
// change state together, as keepalived's vrrp_sync_group
// (keepalived/vrrp/vrrp_sync.c). Every router of a member instance is a
// member: an instance with IPv4 and IPv6 VIPs takes part twice.
//
//   - Fault (vrrp_sync_fault): while one member is in fault, every member
//     is, with the same kind of fault (a member whose own interface is down
//     makes the others HardFault: they resign with priority 0 on theirs).
//     syncFaults computes it with the routers' health.
//   - Backup (vrrp_sync_backup): a member that leaves Master for Backup
//     (it heard a better master) demotes the others, which step down
//     without a word on the wire (syncTransition).
//   - Master (vrrp_sync_can_goto_master, vrrp_sync_master): a member
//     whose master down timer ran out becomes master only when every
//     other member wants to as well, or one is master already; then all
//     become master at once (syncWantMaster). A member that still hears a
//     master holds the whole group back, which prefers backup to
//     thrashing: adverts lost on one link move nothing.
//
// The decisions read the routers' books and send orders through their
// pending requests: no router's machine is locked by another's goroutine.

// groupMembers returns the routers of group g, from the routers running.
func (d *Daemon) groupMembers(g string) []*running {
	d.mu.Lock()
	rs := d.routers
	d.mu.Unlock()
	var out []*running
	for _, r := range rs {
		if r.inst.SyncGroup == g {
			out = append(out, r)
		}
	}
	return out
}

// syncWantMaster runs when a member's timer ran out: it promotes the
// group when every member wants to be master, or the member alone when
// the group is master already.
func (d *Daemon) syncWantMaster(st router.Status) {
	if st.Group == "" {
		return
	}
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	members := d.groupMembers(st.Group)
	self := routerKey(st.Instance, st.Family == "ipv6")
	var others []router.Status
	for _, r := range members {
		if r.key != self {
			others = append(others, r.rt.Status())
		}
	}
	for _, o := range others {
		if o.State == vrrp.Master {
			d.promote(members, self, fmt.Sprintf("sync group %s is master (%s/%s)", st.Group, o.Instance, o.Family))
			return
		}
	}
	for _, o := range others {
		if !o.WantsMaster {
			return
		}
	}
	d.log.Info("sync group becomes master", "group", st.Group, "members", len(members))
	reason := fmt.Sprintf("sync group %s becomes master: every member's master down timer ran out", st.Group)
	d.promote(members, "", reason)
}

// promote orders the members (only the one of key only, if not "") that
// are not master to become master.
func (d *Daemon) promote(members []*running, only, reason string) {
	for _, r := range members {
		if only != "" && r.key != only {
			continue
		}
		if r.rt.State() == vrrp.Backup {
			r.rt.Promote(reason)
		}
	}
}

// syncTransition runs after each state change: a member that left Master
// for Backup takes the other members with it.
func (d *Daemon) syncTransition(st router.Status, t router.Transition) {
	if st.Group == "" || t.From != vrrp.Master || t.To != vrrp.Backup || st.Forced != "" {
		// A member demoted by its group does not demote the others
		// again.
		return
	}
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	self := routerKey(st.Instance, st.Family == "ipv6")
	reason := fmt.Sprintf("sync group %s goes backup: %s/%s %s", st.Group, st.Instance, st.Family, t.Reason)
	n := 0
	for _, r := range d.groupMembers(st.Group) {
		if r.key != self && r.rt.State() == vrrp.Master {
			r.rt.Demote(reason)
			n++
		}
	}
	if n > 0 {
		d.log.Info("sync group goes backup", "group", st.Group, "because", st.Instance+"/"+st.Family, "reason", t.Reason)
	}
}

// syncFaults puts every member of a sync group in fault while one is, or
// waits for its interface: hs[i] is the health of rs[i], changed in place.
func syncFaults(rs []*running, hs []router.Health, waiting []waitingRouter) {
	type worst struct {
		fault vrrp.FaultKind
		who   string
	}
	groups := make(map[string]worst)
	for _, w := range waiting {
		if g := w.inst.SyncGroup; g != "" {
			groups[g] = worst{vrrp.HardFault, w.key + " " + w.reason}
		}
	}
	for i, r := range rs {
		g := r.inst.SyncGroup
		if g == "" || hs[i].Fault == vrrp.NoFault {
			continue
		}
		if w := groups[g]; hs[i].Fault > w.fault {
			groups[g] = worst{hs[i].Fault, r.key + " " + faultWhy(hs[i].Fault)}
		}
	}
	for i, r := range rs {
		w, ok := groups[r.inst.SyncGroup]
		if !ok {
			continue
		}
		f := w.fault
		if f == vrrp.LinkDown {
			// The others' interfaces are up: they resign on theirs.
			f = vrrp.HardFault
		}
		if f > hs[i].Fault {
			hs[i].Fault = f
			hs[i].Forced = fmt.Sprintf("sync group %s in fault: %s", r.inst.SyncGroup, w.who)
		}
	}
}

// faultWhy says what a fault is, for status.
func faultWhy(f vrrp.FaultKind) string {
	switch f {
	case vrrp.Drained:
		return "drained"
	case vrrp.SoftFault:
		return "tracked check failed"
	case vrrp.Pending:
		return "waiting for the first check results"
	case vrrp.HardFault:
		return "tracked interface failed"
	case vrrp.LinkDown:
		return "interface down"
	}
	return "healthy"
}
