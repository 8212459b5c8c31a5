package config

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/vrrp"
)

// reportHeader explains the times of a report, which are worst cases.
const reportHeader = `Times are worst cases, from a failure on the master to a backup holding the VIP,
with every other check healthy. A check sees a failure after fall failing probes,
the last one timing out. A master in fault advertises priority 0 and the best
backup takes over after its skew time; a master whose priority drops is taken
over when the master down interval of a backup with preemption expires.
`

// Report writes what vipd -t shows of each instance beyond its syntax: the
// priority of each node, what it becomes when each tracked check fails on
// its own, and how long the VIP takes to move in each case. Lines starting
// with "warning: " point out tracking that does not do what it seems to:
//
//   - a check that needs longer to see a failure (fall × interval +
//     timeout) than backups need to miss the adverts of a dead master (3 ×
//     advert_interval; both are followed by the same skew time): a failed
//     service then moves the VIP more slowly than a dead node;
//   - a weight too small to cross a gap between priorities: failing
//     leaves a node's priority at or above that of the node after it, so
//     the VIP stays where it is;
//   - positive weights that would raise a priority above 254, where it
//     stops, so that nodes tie whatever their order;
//   - a weight other than 0 with preempt = false, as no backup takes over
//     from a master that only lowers its priority;
//   - a check that no instance tracks.
//
// Report returns the first error writing to w.
func (c *Config) Report(w io.Writer) error {
	r := &reporter{w: w}
	r.printf("%s", reportHeader)
	tracked := make(map[string]bool)
	for i, inst := range c.Instances {
		nodes, err := c.electionOrder(i)
		if err != nil {
			return err
		}
		r.printf("\n")
		r.instance(c, inst, nodes)
		for _, t := range inst.Track {
			tracked[t.Check] = true
		}
	}
	for _, s := range c.Checks {
		if !tracked[s.Name] {
			r.warnf("check %q is tracked by no instance: it runs, but moves no VIP", s.Name)
		}
	}
	return r.err
}

// A reportNode is a node as one instance sees it.
type reportNode struct {
	name    string     // "" without [cluster]
	addr    netip.Addr // of the instance's first family; may be zero
	base    uint8      // configured or derived priority
	healthy uint8      // effective priority while every check is healthy
}

func (n reportNode) String() string {
	if n.name == "" {
		return "this node"
	}
	return n.name
}

// electionOrder returns the nodes of instance i, the master first, as the
// election ranks them when every check is healthy: by effective priority,
// then by address. Without [cluster] it returns the one node described.
func (c *Config) electionOrder(i int) ([]reportNode, error) {
	inst := c.Instances[i]
	tracks := weighted(inst)
	healthy := states(tracks, "")
	var nodes []reportNode
	for _, name := range nodeNames(c) {
		insts, err := c.ForNode(name)
		if err != nil {
			return nil, err
		}
		n := reportNode{name: name, base: insts[i].Priority}
		n.healthy, _, _ = health.Effective(n.base, tracks, healthy)
		if c.Cluster != nil {
			node, _ := c.Cluster.node(name)
			n.addr = node.Address
			if inst.Families()[0].IPv6 {
				n.addr = node.Address6
			}
		}
		nodes = append(nodes, n)
	}
	slices.SortStableFunc(nodes, func(a, b reportNode) int {
		if a.healthy != b.healthy {
			return cmp.Compare(b.healthy, a.healthy)
		}
		if a.addr.IsValid() && b.addr.IsValid() {
			return b.addr.Compare(a.addr) // the higher address wins
		}
		return 0
	})
	return nodes, nil
}

// nodeNames returns the nodes a file can be resolved for: its
// [[cluster.node]] names, or "" without [cluster].
func nodeNames(c *Config) []string {
	if c.Cluster == nil {
		return []string{""}
	}
	return c.Cluster.names()
}

// states returns every check of tracks Healthy, except failing (if not
// "") Unhealthy.
func states(tracks []health.Track, failing string) map[string]health.State {
	m := make(map[string]health.State, len(tracks))
	for _, t := range tracks {
		m[t.Check] = health.Healthy
	}
	if failing != "" {
		m[failing] = health.Unhealthy
	}
	return m
}

// check returns the [[check]] named name.
func (c *Config) check(name string) (health.Spec, bool) {
	i := slices.IndexFunc(c.Checks, func(s health.Spec) bool { return s.Name == name })
	if i < 0 {
		return health.Spec{}, false
	}
	return c.Checks[i], true
}

// reporter writes a report, keeping the first error.
type reporter struct {
	w      io.Writer
	err    error
	prefix string // of warnings
}

func (r *reporter) printf(format string, args ...any) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.w, format, args...)
	}
}

func (r *reporter) linef(format string, args ...any) {
	r.printf("  "+format+"\n", args...)
}

func (r *reporter) warnf(format string, args ...any) {
	r.printf("warning: %s%s\n", r.prefix, fmt.Sprintf(format, args...))
}

// instance reports one instance; nodes are in election order.
func (r *reporter) instance(c *Config, inst Instance, nodes []reportNode) {
	if inst.Routed() {
		r.routed(c, inst, nodes)
		return
	}
	preempt := "preempt"
	if !inst.Preempt {
		preempt = "no preempt"
	}
	r.printf("instance %q vrid %d on %s (v%d, advert %s, %s):\n",
		inst.Name, inst.VRID, inst.Interface, inst.Version, inst.AdvertInterval, preempt)
	r.prefix = fmt.Sprintf("instance %q: ", inst.Name)
	defer func() { r.prefix = "" }()
	r.table(inst, nodes)

	t := timing{inst: inst, master: nodes[0], cluster: c.Cluster != nil}
	if len(nodes) > 1 {
		t.next = &nodes[1]
	}
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }

	if w := capped(inst, nodes); w != "" {
		warn("%s", w)
	}
	r.linef("%s", t.dies())
	for _, tr := range inst.Track {
		spec, _ := c.check(tr.Check)
		r.linef("%s", t.fails(tr, spec))
		if w := t.slow(spec); w != "" {
			warn("%s", w)
		}
		if tr.Weight == 0 {
			continue
		}
		if !inst.Preempt {
			warn("check %s (weight %s) never moves the VIP: with preempt = false no backup takes over from a master that only lowers its priority; use weight 0 to put the master in fault, or preempt = true",
				tr.Check, signed(tr.Weight))
			continue
		}
		// Each node may be master in turn, when those before it are
		// down: each must hand over to the one after it.
		for j := 0; j+1 < len(nodes); j++ {
			m, nx := nodes[j], nodes[j+1]
			p, _, _ := health.Effective(m.base, inst.Track, states(inst.Track, tr.Check))
			if p >= nx.healthy {
				warn("check %s (weight %s) never moves the VIP from %s: failing lowers its priority from %d to %d, not below the %d of %s (a gap of %d)",
					tr.Check, signed(tr.Weight), m, m.healthy, p, nx.healthy, nx, int(m.healthy)-int(nx.healthy))
			}
		}
	}
	for _, ifname := range inst.TrackedInterfaces()[1:] {
		if i := slices.IndexFunc(inst.TrackInterfaces, func(ti TrackInterface) bool { return ti.Name == ifname }); i >= 0 && inst.TrackInterfaces[i].Weight != 0 {
			tr := health.Track{Check: health.LinkCheckName(ifname), Weight: inst.TrackInterfaces[i].Weight}
			r.linef("%s", t.moves(fmt.Sprintf("interface %s goes down on %s", ifname, t.master), tr, 0, "seen at once"))
			continue
		}
		r.linef("%s", t.linkDown(ifname))
	}
	for _, w := range warnings {
		r.warnf("%s", w)
	}
}

// table writes the priority of each node, healthy and with each tracked
// check failing on its own.
func (r *reporter) table(inst Instance, nodes []reportNode) {
	positive := slices.ContainsFunc(inst.Track, func(t health.Track) bool { return t.Weight > 0 })
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(cells []string) { fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t")) }

	head := []string{"node", "priority"}
	if positive {
		head = append(head, "healthy")
	}
	for _, t := range inst.Track {
		w := "fault"
		if t.Weight != 0 {
			w = signed(t.Weight)
		}
		head = append(head, fmt.Sprintf("%s(%s)", t.Check, w))
	}
	row(head)
	for _, n := range nodes {
		cells := []string{n.String(), fmt.Sprint(n.base)}
		if positive {
			cells = append(cells, fmt.Sprint(n.healthy))
		}
		for _, t := range inst.Track {
			p, fault, _ := health.Effective(n.base, inst.Track, states(inst.Track, t.Check))
			if fault {
				cells = append(cells, "fault")
			} else {
				cells = append(cells, fmt.Sprint(p))
			}
		}
		row(cells)
	}
	tw.Flush() // cannot fail: it writes to b
	r.printf("%s", b.Bytes())
}

// capped returns a warning when positive weights would raise the priority
// of a node above 254, where priorities stop; "" otherwise. Derived
// priorities start at 250, so a positive weight above 4 does this.
func capped(inst Instance, nodes []reportNode) string {
	sum := 0
	for _, t := range inst.Track {
		sum += max(t.Weight, 0)
	}
	var raised, tied []string
	for _, n := range nodes {
		if p := int(n.base) + sum; n.base != 255 && p > 254 {
			raised = append(raised, fmt.Sprintf("%s to %d", n, p))
			tied = append(tied, n.String())
		}
	}
	if len(raised) == 0 {
		return ""
	}
	w := fmt.Sprintf("positive weights would raise the priority of %s, but priorities stop at 254", strings.Join(raised, ", "))
	if len(tied) > 1 {
		w += fmt.Sprintf(": %s tie there, and the highest address wins whatever their order", strings.Join(tied, ", "))
	}
	return w
}

// timing phrases how long the VIP of an instance takes to move.
type timing struct {
	inst    Instance
	master  reportNode
	next    *reportNode // the best backup; nil when there is none
	cluster bool        // false: the backups are not in the file
}

// unknownBackup is the priority assumed of a backup that the file does
// not describe: the lowest, whose skew time is the longest.
const unknownBackup = 1

func (t timing) skew(prio uint8) time.Duration {
	return vrrp.SkewTime(t.inst.Version, prio, t.inst.AdvertInterval)
}

func (t timing) masterDown(prio uint8) time.Duration {
	return vrrp.MasterDownInterval(t.inst.Version, prio, t.inst.AdvertInterval)
}

// masterDownTerms spells the master down interval of a backup of priority
// prio.
func (t timing) masterDownTerms(prio uint8) string {
	return fmt.Sprintf("3 × advert %s + skew %s", t.inst.AdvertInterval, show(t.skew(prio)))
}

// dies phrases the master dying, or losing the instance's interface: the
// backups stop hearing it.
func (t timing) dies() string {
	what := fmt.Sprintf("%s (master) dies or loses %s", t.master, t.inst.Interface)
	switch {
	case !t.cluster:
		return fmt.Sprintf("this node dies or loses %s while master: a backup takes over within %s (master down interval: 3 × advert %s + skew of the backup, at most %s)",
			t.inst.Interface, show(t.masterDown(unknownBackup)), t.inst.AdvertInterval, show(t.skew(unknownBackup)))
	case t.next == nil:
		return fmt.Sprintf("%s: the VIP goes down with it (no other node)", what)
	}
	return fmt.Sprintf("%s: VIP moves to %s within %s (master down interval of %s: %s)",
		what, t.next, show(t.masterDown(t.next.healthy)), t.next, t.masterDownTerms(t.next.healthy))
}

// detect returns the longest a check takes to see a failure, and its
// terms.
func detect(s health.Spec) (time.Duration, string) {
	if s.Type == health.TypeProcess {
		// A pidfd tells of the exit, and the fall scans that follow
		// take microseconds each.
		return 0, fmt.Sprintf("an exit seen at once, then fall %d back-to-back scans", s.Fall)
	}
	return time.Duration(s.Fall)*s.Interval + s.Timeout,
		fmt.Sprintf("fall %d × %s + timeout %s", s.Fall, s.Interval, s.Timeout)
}

// weighted returns the tracks of inst that move its priority: its
// checks, and its weighted interfaces.
func weighted(inst Instance) []health.Track {
	out := slices.Clone(inst.Track)
	for _, ti := range inst.TrackInterfaces {
		if ti.Weight != 0 {
			out = append(out, health.Track{Check: health.LinkCheckName(ti.Name), Weight: ti.Weight})
		}
	}
	return out
}

// fails phrases check tr (whose spec is s) failing on the master.
func (t timing) fails(tr health.Track, s health.Spec) string {
	d, terms := detect(s)
	return t.moves(fmt.Sprintf("check %s fails on %s", tr.Check, t.master), tr, d, terms)
}

// moves phrases what tr failing on the master does, where says what
// failed, d and terms how long it takes to be seen.
func (t timing) moves(where string, tr health.Track, d time.Duration, terms string) string {
	if !t.cluster {
		where += " while master"
	}
	if tr.Weight == 0 {
		switch {
		case !t.cluster:
			skew := t.skew(unknownBackup)
			return fmt.Sprintf("%s: a backup takes over within %s (%s + skew of the backup, at most %s)",
				where, show(d+skew), terms, show(skew))
		case t.next == nil:
			return fmt.Sprintf("%s: the VIP goes down within %s (%s; no other node)", where, show(d), terms)
		}
		skew := t.skew(t.next.healthy)
		return fmt.Sprintf("%s: VIP moves to %s within %s (%s + skew %s of %s)",
			where, t.next, show(d+skew), terms, show(skew), t.next)
	}

	tracks := weighted(t.inst)
	p, _, _ := health.Effective(t.master.base, tracks, states(tracks, tr.Check))
	where += fmt.Sprintf(": priority %d → %d", t.master.healthy, p)
	switch {
	case !t.inst.Preempt:
		return where + ", VIP stays (no preempt)"
	case !t.cluster && p >= 254:
		return fmt.Sprintf("%s, VIP stays (no backup can have a priority above %d)", where, p)
	case !t.cluster:
		// The backup of the lowest priority that still preempts has
		// the longest master down interval.
		b := p + 1
		md := t.masterDown(b)
		return fmt.Sprintf("%s; a backup above %d takes over within %s (%s + master down interval: 3 × advert %s + skew of the backup, at most %s)",
			where, p, show(d+md), terms, t.inst.AdvertInterval, show(t.skew(b)))
	case t.next == nil:
		return where + ", VIP stays (no other node)"
	case p >= t.next.healthy:
		return fmt.Sprintf("%s, VIP stays (%s has %d)", where, t.next, t.next.healthy)
	}
	md := t.masterDown(t.next.healthy)
	return fmt.Sprintf("%s, VIP moves to %s within %s (%s + master down interval of %s: %s)",
		where, t.next, show(d+md), terms, t.next, t.masterDownTerms(t.next.healthy))
}

// slow returns a warning when check s takes longer to see a failure than
// backups take to see that a dead master's adverts stopped (3 ×
// advert_interval, the master down interval without the skew, which the
// takeover after a fault adds as well); "" otherwise. A weight-0 check
// that is slower moves the VIP more slowly when its service fails than
// when the whole node dies.
func (t timing) slow(s health.Spec) string {
	if t.cluster && t.next == nil {
		return "" // nothing to move to
	}
	d, terms := detect(s)
	limit := 3 * t.inst.AdvertInterval
	if d <= limit {
		return ""
	}
	return fmt.Sprintf("check %s takes up to %s to see a failure (%s), longer than backups take to miss a dead master's adverts (3 × advert %s = %s): a failed service moves the VIP more slowly than a dead node",
		s.Name, show(d), terms, t.inst.AdvertInterval, show(limit))
}

// linkDown phrases tracked interface ifname (not the instance's own) going
// down on the master, which netlink reports at once: the master goes into
// fault and advertises priority 0 on its own interface.
func (t timing) linkDown(ifname string) string {
	switch {
	case !t.cluster:
		skew := t.skew(unknownBackup)
		return fmt.Sprintf("interface %s goes down on this node while master: a backup takes over within %s (skew of the backup, at most %s)",
			ifname, show(skew), show(skew))
	case t.next == nil:
		return fmt.Sprintf("interface %s goes down on %s: the VIP goes down at once (no other node)", ifname, t.master)
	}
	skew := t.skew(t.next.healthy)
	return fmt.Sprintf("interface %s goes down on %s: VIP moves to %s within %s (skew of %s)",
		ifname, t.master, t.next, show(skew), t.next)
}

// show formats a duration rounded up, as the times reported are upper
// bounds: to the millisecond, or below 10ms to 10µs.
func show(d time.Duration) string {
	unit := time.Millisecond
	if d < 10*time.Millisecond {
		unit = 10 * time.Microsecond
	}
	if r := d % unit; r != 0 {
		d += unit - r
	}
	return d.String()
}

// signed writes a weight with its sign.
func signed(w int) string {
	return fmt.Sprintf("%+d", w)
}
