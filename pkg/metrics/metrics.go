package metrics

import (
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// Names of the metrics vipd exports. The table in the package documentation
// lists them with their type, labels and help; a test keeps both in sync.
const (
	MetricBuildInfo                = "vipd_build_info"
	MetricInstanceState            = "vipd_instance_state"
	MetricInstanceStateSince       = "vipd_instance_state_since_seconds"
	MetricInstancePriority         = "vipd_instance_priority"
	MetricInstanceBasePriority     = "vipd_instance_base_priority"
	MetricInstanceTransitions      = "vipd_instance_transitions_total"
	MetricAdvertsSent              = "vipd_adverts_sent_total"
	MetricAdvertsReceived          = "vipd_adverts_received_total"
	MetricAdvertSendErrors         = "vipd_advert_send_errors_total"
	MetricAnnouncements            = "vipd_announcements_total"
	MetricVIPBindErrors            = "vipd_vip_bind_errors_total"
	MetricMasterConflicts          = "vipd_master_conflicts_total"
	MetricVRIDCollisions           = "vipd_vrid_collisions_total"
	MetricVIPGuardRestored         = "vipd_vip_guard_restored_total"
	MetricVIPGuardRemoved          = "vipd_vip_guard_removed_total"
	MetricLateTimers               = "vipd_late_timers_total"
	MetricSyncGroupForced          = "vipd_sync_group_forced"
	MetricPacketsDropped           = "vipd_packets_dropped_total"
	MetricCheckState               = "vipd_check_state"
	MetricCheckStateSince          = "vipd_check_state_since_seconds"
	MetricCheckDuration            = "vipd_check_duration_seconds"
	MetricCheckProbes              = "vipd_check_probes_total"
	MetricCheckConsecutiveFailures = "vipd_check_consecutive_failures"
	MetricHookRuns                 = "vipd_hook_runs_total"
	MetricHookFailures             = "vipd_hook_failures_total"
	MetricHookTimeouts             = "vipd_hook_timeouts_total"
	MetricHookEventsDropped        = "vipd_hook_events_dropped_total"
	MetricRoutedAnnounced          = "vipd_routed_announced"
	MetricRoutedWithdrawals        = "vipd_routed_withdrawals_total"
	MetricBGPSessionEstablished    = "vipd_bgp_session_established"
	MetricBGPRoutesAdvertised      = "vipd_bgp_routes_advertised"
	MetricBGPSessionUps            = "vipd_bgp_session_ups_total"
)

// Source is what the daemon exposes for metrics. It is read on each scrape,
// so nothing is updated for metrics on the packet path. Its methods are
// called concurrently when scrapes overlap.
type Source interface {
	// Routers returns a snapshot of every virtual router.
	Routers() []router.Status
	// Drops returns the drop counters of every VRRP socket.
	Drops() []Drops
	// Checks returns the status of every check and tracked interface, by
	// name.
	Checks() map[string]health.Status
	// Hooks returns the counters of every instance's notify hook.
	Hooks() []Hooks
}

// RoutedSource is a Source that also runs instances announced by routing
// (announce = "bgp" or "route"); the collector reads Routed when its
// Source has it.
type RoutedSource interface {
	Routed() Routed
}

// Routed are the routed instances and the BGP speaker.
type Routed struct {
	Instances []RoutedInstance
	// BGP is the speaker's status; nil without one.
	BGP *bgp.Status
}

// RoutedInstance is one routed instance.
type RoutedInstance struct {
	Name     string
	Announce string // "bgp" or "route"
	// Announced is whether its routes are announced now.
	Announced   bool
	Withdrawals uint64
}

// Hooks count the runs of one instance's notify hook.
type Hooks struct {
	Instance string
	// Failures include Timeouts.
	Runs, Failures, Timeouts, Dropped uint64
}

// Drops are the packets one VRRP socket dropped, by reason.
type Drops struct {
	Interface string
	Family    string // "ipv4" or "ipv6"
	// ByReason counts drops; a reason of vrrp.DropReasons that is missing
	// counts zero.
	ByReason map[vrrp.DropReason]uint64
}

// BuildInfo describes the running binary for vipd_build_info.
type BuildInfo struct {
	// Version is the vipd version; empty is reported as "unknown".
	Version string
	// GoVersion is the Go release vipd was built with; empty is reported
	// as runtime.Version().
	GoVersion string
}

// instanceState is a state of a virtual router and its label value.
type instanceState struct {
	state vrrp.State
	label string
}

// Label values of MetricInstanceState, in the order they are exported.
// The vrrp package's names are upper case for logs; label values are lower
// case by Prometheus convention.
var instanceStates = []instanceState{
	{vrrp.Initialize, "init"},
	{vrrp.Backup, "backup"},
	{vrrp.Master, "master"},
	{vrrp.Fault, "fault"},
}

// Label values of MetricCheckState, in the order they are exported.
var checkStates = []health.State{health.Unknown, health.Healthy, health.Unhealthy}

// routerLabels identify a virtual router. It is not called "instance":
// Prometheus gives that name to the scrape target (the node), and would
// rename ours to exported_instance.
var routerLabels = []string{"vrrp_instance", "family", "vrid", "interface"}

// def defines one metric.
type def struct {
	name   string
	typ    prometheus.ValueType
	labels []string
	help   string
}

// defs are vipd's metrics, in the order of the documentation table.
var defs = []def{
	{MetricBuildInfo, prometheus.GaugeValue, []string{"version", "goversion"},
		"Always 1; the labels name the vipd version and the Go release it was built with."},
	{MetricInstanceState, prometheus.GaugeValue, withLabels(routerLabels, "state"),
		"1 for the state the virtual router is in, 0 for the others (state: init, backup, master, fault)."},
	{MetricInstanceStateSince, prometheus.GaugeValue, routerLabels,
		"Unix time of the virtual router's last state change; absent before the first."},
	{MetricInstancePriority, prometheus.GaugeValue, routerLabels,
		"Effective priority: the base priority moved by tracked check weights, 1 while keeping the VIPs as a last resort."},
	{MetricInstanceBasePriority, prometheus.GaugeValue, routerLabels,
		"Configured priority of the virtual router on this node."},
	{MetricInstanceTransitions, prometheus.CounterValue, routerLabels,
		"State changes of the virtual router."},
	{MetricAdvertsSent, prometheus.CounterValue, routerLabels,
		"Advertisements sent, one per destination."},
	{MetricAdvertsReceived, prometheus.CounterValue, routerLabels,
		"Advertisements received and accepted."},
	{MetricAdvertSendErrors, prometheus.CounterValue, routerLabels,
		"Advertisements that could not be sent."},
	{MetricAnnouncements, prometheus.CounterValue, routerLabels,
		"Gratuitous ARP and unsolicited neighbour advertisement packets sent, one per VIP and round."},
	{MetricVIPBindErrors, prometheus.CounterValue, routerLabels,
		"Virtual addresses that could not be bound to the interface."},
	{MetricMasterConflicts, prometheus.CounterValue, routerLabels,
		"Advertisements from another master of lower priority, each answered at once: a split brain healing."},
	{MetricVRIDCollisions, prometheus.CounterValue, routerLabels,
		"Advertisements on this VRID with another address list: another virtual router uses the same VRID."},
	{MetricVIPGuardRestored, prometheus.CounterValue, routerLabels,
		"Virtual addresses put back on the interface of a master after something else removed them."},
	{MetricVIPGuardRemoved, prometheus.CounterValue, routerLabels,
		"Virtual addresses removed from the interface of a virtual router that is not master."},
	{MetricLateTimers, prometheus.CounterValue, routerLabels,
		"Protocol timers served more than 20ms after their deadline: the process was stopped or starved."},
	{MetricSyncGroupForced, prometheus.GaugeValue, withLabels(routerLabels, "sync_group"),
		"1 while the virtual router's sync group holds it in its state (another member is in fault or heard a better master, or the group became master), 0 otherwise; members only."},
	{MetricPacketsDropped, prometheus.CounterValue, []string{"interface", "family", "reason"},
		"VRRP packets a socket received and dropped, by reason."},
	{MetricCheckState, prometheus.GaugeValue, []string{"check", "state"},
		"1 for the state the check or tracked interface (link:NAME) is in, 0 for the others (state: unknown, healthy, unhealthy)."},
	{MetricCheckStateSince, prometheus.GaugeValue, []string{"check"},
		"Unix time the check entered its state; absent until monitoring begins."},
	{MetricCheckDuration, prometheus.GaugeValue, []string{"check"},
		"Duration of the check's last probe."},
	{MetricCheckProbes, prometheus.CounterValue, []string{"check"},
		"Probes the check ran (for an interface, link states read)."},
	{MetricCheckConsecutiveFailures, prometheus.GaugeValue, []string{"check"},
		"Consecutive failed probes up to and including the last one."},
	{MetricHookRuns, prometheus.CounterValue, []string{"vrrp_instance"},
		"Runs of the instance's notify hook, failed ones included."},
	{MetricHookFailures, prometheus.CounterValue, []string{"vrrp_instance"},
		"Runs of the instance's notify hook that failed: a status other than 0, a program that could not start, or a timeout."},
	{MetricHookTimeouts, prometheus.CounterValue, []string{"vrrp_instance"},
		"Runs of the instance's notify hook killed at the timeout."},
	{MetricHookEventsDropped, prometheus.CounterValue, []string{"vrrp_instance"},
		"Transitions of the instance whose notify hook did not run: its queue was full."},
	{MetricRoutedAnnounced, prometheus.GaugeValue, []string{"routed_instance", "announce"},
		"1 while the routed instance's routes are announced, 0 while withdrawn (announce: bgp or route)."},
	{MetricRoutedWithdrawals, prometheus.CounterValue, []string{"routed_instance"},
		"Withdrawals of the routed instance's routes: failed checks, drains, stops."},
	{MetricBGPSessionEstablished, prometheus.GaugeValue, []string{"peer", "peer_asn"},
		"1 while the BGP session to the peer is established, 0 otherwise."},
	{MetricBGPRoutesAdvertised, prometheus.GaugeValue, []string{"peer"},
		"Routes the peer holds from this node."},
	{MetricBGPSessionUps, prometheus.CounterValue, []string{"peer"},
		"Times the BGP session to the peer was established."},
}

func withLabels(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}

// New registers vipd's metrics on reg: a collector that reads src on each
// scrape, vipd_build_info, and the Go runtime and process collectors.
func New(src Source, reg prometheus.Registerer, build BuildInfo) error {
	if build.Version == "" {
		build.Version = "unknown"
	}
	if build.GoVersion == "" {
		build.GoVersion = runtime.Version()
	}
	cs := []struct {
		name string
		c    prometheus.Collector
	}{
		{"vipd", newCollector(src, build)},
		{"go", collectors.NewGoCollector()},
		{"process", collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})},
	}
	for _, c := range cs {
		if err := reg.Register(c.c); err != nil {
			return fmt.Errorf("metrics: register %s collector: %w", c.name, err)
		}
	}
	return nil
}

// collector turns the snapshots of a Source into const metrics.
type collector struct {
	src   Source
	build BuildInfo
	descs map[string]*prometheus.Desc
	types map[string]prometheus.ValueType
}

var _ prometheus.Collector = (*collector)(nil)

func newCollector(src Source, build BuildInfo) *collector {
	c := &collector{
		src:   src,
		build: build,
		descs: make(map[string]*prometheus.Desc, len(defs)),
		types: make(map[string]prometheus.ValueType, len(defs)),
	}
	for _, d := range defs {
		c.descs[d.name] = prometheus.NewDesc(d.name, d.help, d.labels, nil)
		c.types[d.name] = d.typ
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range defs {
		ch <- c.descs[d.name]
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.emit(ch, MetricBuildInfo, 1, c.build.Version, c.build.GoVersion)

	for _, st := range c.src.Routers() {
		c.collectRouter(ch, st)
	}

	for _, d := range c.src.Drops() {
		for _, r := range vrrp.DropReasons() {
			c.emit(ch, MetricPacketsDropped, float64(d.ByReason[r]), d.Interface, d.Family, r.String())
		}
	}

	for name, st := range c.src.Checks() {
		for _, s := range checkStates {
			c.emit(ch, MetricCheckState, oneIf(st.State == s), name, s.String())
		}
		if !st.Since.IsZero() {
			c.emit(ch, MetricCheckStateSince, unixSeconds(st.Since), name)
		}
		c.emit(ch, MetricCheckDuration, st.Duration.Seconds(), name)
		c.emit(ch, MetricCheckProbes, float64(st.Probes), name)
		c.emit(ch, MetricCheckConsecutiveFailures, float64(st.Failures), name)
	}

	for _, h := range c.src.Hooks() {
		c.emit(ch, MetricHookRuns, float64(h.Runs), h.Instance)
		c.emit(ch, MetricHookFailures, float64(h.Failures), h.Instance)
		c.emit(ch, MetricHookTimeouts, float64(h.Timeouts), h.Instance)
		c.emit(ch, MetricHookEventsDropped, float64(h.Dropped), h.Instance)
	}

	rs, ok := c.src.(RoutedSource)
	if !ok {
		return
	}
	r := rs.Routed()
	for _, in := range r.Instances {
		c.emit(ch, MetricRoutedAnnounced, oneIf(in.Announced), in.Name, in.Announce)
		c.emit(ch, MetricRoutedWithdrawals, float64(in.Withdrawals), in.Name)
	}
	if r.BGP != nil {
		for _, p := range r.BGP.Peers {
			c.emit(ch, MetricBGPSessionEstablished, oneIf(p.State == bgp.Established), p.Address.String(), strconv.FormatUint(uint64(p.ASN), 10))
			c.emit(ch, MetricBGPRoutesAdvertised, float64(p.Advertised), p.Address.String())
			c.emit(ch, MetricBGPSessionUps, float64(p.Ups), p.Address.String())
		}
	}
}

func (c *collector) collectRouter(ch chan<- prometheus.Metric, st router.Status) {
	lv := []string{st.Instance, st.Family, strconv.Itoa(int(st.VRID)), st.Interface}
	for _, s := range instanceStates {
		c.emit(ch, MetricInstanceState, oneIf(st.State == s.state), append(lv, s.label)...)
	}
	// A router that never left Initialize has no last change to report,
	// and 0 would read as 1970.
	if !st.Since.IsZero() {
		c.emit(ch, MetricInstanceStateSince, unixSeconds(st.Since), lv...)
	}
	c.emit(ch, MetricInstancePriority, float64(st.Priority), lv...)
	c.emit(ch, MetricInstanceBasePriority, float64(st.BasePriority), lv...)
	n := st.Counters
	c.emit(ch, MetricInstanceTransitions, float64(n.Transitions), lv...)
	c.emit(ch, MetricAdvertsSent, float64(n.AdvertsOut), lv...)
	c.emit(ch, MetricAdvertsReceived, float64(n.AdvertsIn), lv...)
	c.emit(ch, MetricAdvertSendErrors, float64(n.SendErrors), lv...)
	c.emit(ch, MetricAnnouncements, float64(n.Announcements), lv...)
	c.emit(ch, MetricVIPBindErrors, float64(n.BindErrors), lv...)
	c.emit(ch, MetricMasterConflicts, float64(n.Conflicts), lv...)
	c.emit(ch, MetricVRIDCollisions, float64(n.Collisions), lv...)
	c.emit(ch, MetricVIPGuardRestored, float64(n.GuardRestored), lv...)
	c.emit(ch, MetricVIPGuardRemoved, float64(n.GuardRemoved), lv...)
	c.emit(ch, MetricLateTimers, float64(n.LateTimers), lv...)
	if st.Group != "" {
		c.emit(ch, MetricSyncGroupForced, oneIf(st.Forced != ""), append(lv, st.Group)...)
	}
}

// emit sends one sample of metric name. A sample that cannot be built
// (label values that are not UTF-8) is sent as an invalid metric, which
// fails the scrape with the reason instead of panicking the daemon.
func (c *collector) emit(ch chan<- prometheus.Metric, name string, v float64, lvs ...string) {
	desc := c.descs[name]
	m, err := prometheus.NewConstMetric(desc, c.types[name], v, lvs...)
	if err != nil {
		m = prometheus.NewInvalidMetric(desc, err)
	}
	ch <- m
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
