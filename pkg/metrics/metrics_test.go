package metrics

import (
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vipd/vipd/pkg/bgp"
	"github.com/vipd/vipd/pkg/health"
	"github.com/vipd/vipd/pkg/router"
	"github.com/vipd/vipd/pkg/vrrp"
)

// fakeSource returns fixed snapshots.
type fakeSource struct {
	routers []router.Status
	drops   []Drops
	checks  map[string]health.Status
	hooks   []Hooks
	routed  Routed
}

var (
	_ Source       = (*fakeSource)(nil)
	_ RoutedSource = (*fakeSource)(nil)
)

func (s *fakeSource) Routed() Routed { return s.routed }

func (s *fakeSource) Routers() []router.Status         { return s.routers }
func (s *fakeSource) Drops() []Drops                   { return s.drops }
func (s *fakeSource) Checks() map[string]health.Status { return s.checks }
func (s *fakeSource) Hooks() []Hooks                   { return s.hooks }

// fullSource exercises every metric: a master, a faulted and a starting
// router, one socket, and checks in each state.
func fullSource() *fakeSource {
	return &fakeSource{
		routers: []router.Status{
			{
				Instance: "api", VRID: 51, Interface: "eth0", Family: "ipv4", Version: 3,
				State: vrrp.Master, BasePriority: 150, Priority: 150,
				Since: time.Unix(1700000000, 500_000_000),
				Counters: router.Counters{
					AdvertsOut: 120, AdvertsIn: 3, SendErrors: 1, Transitions: 2,
					Announcements: 10, BindErrors: 4, Conflicts: 2, GuardRestored: 1,
				},
			},
			{
				Instance: "api", VRID: 51, Interface: "eth0", Family: "ipv6", Version: 3,
				State: vrrp.Fault, BasePriority: 150, Priority: 1, Fault: vrrp.HardFault,
				Group: "lb", Forced: "sync group lb in fault: ingress/ipv4 tracked interface failed",
				Since: time.Unix(1700000100, 0),
				Counters: router.Counters{
					AdvertsIn: 80, Transitions: 3, Collisions: 7, GuardRemoved: 2, LateTimers: 5,
				},
			},
			{
				Instance: "ingress", VRID: 52, Interface: "eth1", Family: "ipv4", Version: 2,
				State: vrrp.Initialize, BasePriority: 100, Priority: 100,
			},
		},
		drops: []Drops{{
			Interface: "eth0", Family: "ipv4",
			// DropNone counts accepted packets, not drops: not exported.
			ByReason: map[vrrp.DropReason]uint64{vrrp.DropNone: 9, vrrp.DropTTL: 2, vrrp.DropOwn: 5},
		}},
		checks: map[string]health.Status{
			"apiserver": {
				Name: "apiserver", State: health.Healthy, Duration: 12500 * time.Microsecond,
				Since: time.Unix(1700000000, 0), Successes: 40, Probes: 40,
			},
			"haproxy": {
				Name: "haproxy", State: health.Unhealthy, Duration: 2 * time.Second,
				Since: time.Unix(1700000200, 0), Failures: 3, Probes: 7, LastError: "timeout",
			},
			"link:eth0": {Name: "link:eth0", State: health.Unknown},
		},
		hooks: []Hooks{{Instance: "api", Runs: 5, Failures: 2, Timeouts: 1, Dropped: 3}},
		routed: Routed{
			Instances: []RoutedInstance{{Name: "api-routed", Announce: "bgp", Announced: true, Withdrawals: 2}},
			BGP: &bgp.Status{Peers: []bgp.PeerStatus{
				{Address: netip.MustParseAddr("198.51.100.17"), ASN: 64500, State: bgp.Established, Advertised: 1, Ups: 2},
			}},
		},
	}
}

// fullExposition is what fullSource exports.
const fullExposition = `
# HELP vipd_advert_send_errors_total Advertisements that could not be sent.
# TYPE vipd_advert_send_errors_total counter
vipd_advert_send_errors_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 1
vipd_advert_send_errors_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_advert_send_errors_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 0
# HELP vipd_adverts_received_total Advertisements received and accepted.
# TYPE vipd_adverts_received_total counter
vipd_adverts_received_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 3
vipd_adverts_received_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_adverts_received_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 80
# HELP vipd_adverts_sent_total Advertisements sent, one per destination.
# TYPE vipd_adverts_sent_total counter
vipd_adverts_sent_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 120
vipd_adverts_sent_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_adverts_sent_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 0
# HELP vipd_announcements_total Gratuitous ARP and unsolicited neighbour advertisement packets sent, one per VIP and round.
# TYPE vipd_announcements_total counter
vipd_announcements_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 10
vipd_announcements_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_announcements_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 0
# HELP vipd_bgp_routes_advertised Routes the peer holds from this node.
# TYPE vipd_bgp_routes_advertised gauge
vipd_bgp_routes_advertised{peer="198.51.100.17"} 1
# HELP vipd_bgp_session_established 1 while the BGP session to the peer is established, 0 otherwise.
# TYPE vipd_bgp_session_established gauge
vipd_bgp_session_established{peer="198.51.100.17",peer_asn="64500"} 1
# HELP vipd_bgp_session_ups_total Times the BGP session to the peer was established.
# TYPE vipd_bgp_session_ups_total counter
vipd_bgp_session_ups_total{peer="198.51.100.17"} 2
# HELP vipd_build_info Always 1; the labels name the vipd version and the Go release it was built with.
# TYPE vipd_build_info gauge
vipd_build_info{goversion="go1.26.8",version="v0.3.0"} 1
# HELP vipd_check_consecutive_failures Consecutive failed probes up to and including the last one.
# TYPE vipd_check_consecutive_failures gauge
vipd_check_consecutive_failures{check="apiserver"} 0
vipd_check_consecutive_failures{check="haproxy"} 3
vipd_check_consecutive_failures{check="link:eth0"} 0
# HELP vipd_check_duration_seconds Duration of the check's last probe.
# TYPE vipd_check_duration_seconds gauge
vipd_check_duration_seconds{check="apiserver"} 0.0125
vipd_check_duration_seconds{check="haproxy"} 2
vipd_check_duration_seconds{check="link:eth0"} 0
# HELP vipd_check_probes_total Probes the check ran (for an interface, link states read).
# TYPE vipd_check_probes_total counter
vipd_check_probes_total{check="apiserver"} 40
vipd_check_probes_total{check="haproxy"} 7
vipd_check_probes_total{check="link:eth0"} 0
# HELP vipd_check_state 1 for the state the check or tracked interface (link:NAME) is in, 0 for the others (state: unknown, healthy, unhealthy).
# TYPE vipd_check_state gauge
vipd_check_state{check="apiserver",state="healthy"} 1
vipd_check_state{check="apiserver",state="unhealthy"} 0
vipd_check_state{check="apiserver",state="unknown"} 0
vipd_check_state{check="haproxy",state="healthy"} 0
vipd_check_state{check="haproxy",state="unhealthy"} 1
vipd_check_state{check="haproxy",state="unknown"} 0
vipd_check_state{check="link:eth0",state="healthy"} 0
vipd_check_state{check="link:eth0",state="unhealthy"} 0
vipd_check_state{check="link:eth0",state="unknown"} 1
# HELP vipd_check_state_since_seconds Unix time the check entered its state; absent until monitoring begins.
# TYPE vipd_check_state_since_seconds gauge
vipd_check_state_since_seconds{check="apiserver"} 1.7e+09
vipd_check_state_since_seconds{check="haproxy"} 1.7000002e+09
# HELP vipd_hook_events_dropped_total Transitions of the instance whose notify hook did not run: its queue was full.
# TYPE vipd_hook_events_dropped_total counter
vipd_hook_events_dropped_total{vrrp_instance="api"} 3
# HELP vipd_hook_failures_total Runs of the instance's notify hook that failed: a status other than 0, a program that could not start, or a timeout.
# TYPE vipd_hook_failures_total counter
vipd_hook_failures_total{vrrp_instance="api"} 2
# HELP vipd_hook_runs_total Runs of the instance's notify hook, failed ones included.
# TYPE vipd_hook_runs_total counter
vipd_hook_runs_total{vrrp_instance="api"} 5
# HELP vipd_hook_timeouts_total Runs of the instance's notify hook killed at the timeout.
# TYPE vipd_hook_timeouts_total counter
vipd_hook_timeouts_total{vrrp_instance="api"} 1
# HELP vipd_instance_base_priority Configured priority of the virtual router on this node.
# TYPE vipd_instance_base_priority gauge
vipd_instance_base_priority{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 150
vipd_instance_base_priority{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 100
vipd_instance_base_priority{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 150
# HELP vipd_instance_priority Effective priority: the base priority moved by tracked check weights, 1 while keeping the VIPs as a last resort.
# TYPE vipd_instance_priority gauge
vipd_instance_priority{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 150
vipd_instance_priority{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 100
vipd_instance_priority{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 1
# HELP vipd_instance_state 1 for the state the virtual router is in, 0 for the others (state: init, backup, master, fault).
# TYPE vipd_instance_state gauge
vipd_instance_state{family="ipv4",interface="eth0",state="backup",vrid="51",vrrp_instance="api"} 0
vipd_instance_state{family="ipv4",interface="eth0",state="fault",vrid="51",vrrp_instance="api"} 0
vipd_instance_state{family="ipv4",interface="eth0",state="init",vrid="51",vrrp_instance="api"} 0
vipd_instance_state{family="ipv4",interface="eth0",state="master",vrid="51",vrrp_instance="api"} 1
vipd_instance_state{family="ipv4",interface="eth1",state="backup",vrid="52",vrrp_instance="ingress"} 0
vipd_instance_state{family="ipv4",interface="eth1",state="fault",vrid="52",vrrp_instance="ingress"} 0
vipd_instance_state{family="ipv4",interface="eth1",state="init",vrid="52",vrrp_instance="ingress"} 1
vipd_instance_state{family="ipv4",interface="eth1",state="master",vrid="52",vrrp_instance="ingress"} 0
vipd_instance_state{family="ipv6",interface="eth0",state="backup",vrid="51",vrrp_instance="api"} 0
vipd_instance_state{family="ipv6",interface="eth0",state="fault",vrid="51",vrrp_instance="api"} 1
vipd_instance_state{family="ipv6",interface="eth0",state="init",vrid="51",vrrp_instance="api"} 0
vipd_instance_state{family="ipv6",interface="eth0",state="master",vrid="51",vrrp_instance="api"} 0
# HELP vipd_instance_state_since_seconds Unix time of the virtual router's last state change; absent before the first.
# TYPE vipd_instance_state_since_seconds gauge
vipd_instance_state_since_seconds{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 1.7000000005e+09
vipd_instance_state_since_seconds{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 1.7000001e+09
# HELP vipd_instance_transitions_total State changes of the virtual router.
# TYPE vipd_instance_transitions_total counter
vipd_instance_transitions_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 2
vipd_instance_transitions_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_instance_transitions_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 3
# HELP vipd_late_timers_total Protocol timers served more than 20ms after their deadline: the process was stopped or starved.
# TYPE vipd_late_timers_total counter
vipd_late_timers_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 0
vipd_late_timers_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_late_timers_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 5
# HELP vipd_master_conflicts_total Advertisements from another master of lower priority, each answered at once: a split brain healing.
# TYPE vipd_master_conflicts_total counter
vipd_master_conflicts_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 2
vipd_master_conflicts_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_master_conflicts_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 0
# HELP vipd_packets_dropped_total VRRP packets a socket received and dropped, by reason.
# TYPE vipd_packets_dropped_total counter
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="address_mismatch"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="auth"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="backlog"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="checksum"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="interval"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="malformed"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="not_peer"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="own"} 5
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="too_short"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="ttl"} 2
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="type"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="unknown_vrid"} 0
vipd_packets_dropped_total{family="ipv4",interface="eth0",reason="version"} 0
# HELP vipd_routed_announced 1 while the routed instance's routes are announced, 0 while withdrawn (announce: bgp or route).
# TYPE vipd_routed_announced gauge
vipd_routed_announced{announce="bgp",routed_instance="api-routed"} 1
# HELP vipd_routed_withdrawals_total Withdrawals of the routed instance's routes: failed checks, drains, stops.
# TYPE vipd_routed_withdrawals_total counter
vipd_routed_withdrawals_total{routed_instance="api-routed"} 2
# HELP vipd_sync_group_forced 1 while the virtual router's sync group holds it in its state (another member is in fault or heard a better master, or the group became master), 0 otherwise; members only.
# TYPE vipd_sync_group_forced gauge
vipd_sync_group_forced{family="ipv6",interface="eth0",sync_group="lb",vrid="51",vrrp_instance="api"} 1
# HELP vipd_vip_bind_errors_total Virtual addresses that could not be bound to the interface.
# TYPE vipd_vip_bind_errors_total counter
vipd_vip_bind_errors_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 4
vipd_vip_bind_errors_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_vip_bind_errors_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 0
# HELP vipd_vip_guard_removed_total Virtual addresses removed from the interface of a virtual router that is not master.
# TYPE vipd_vip_guard_removed_total counter
vipd_vip_guard_removed_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 0
vipd_vip_guard_removed_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_vip_guard_removed_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 2
# HELP vipd_vip_guard_restored_total Virtual addresses put back on the interface of a master after something else removed them.
# TYPE vipd_vip_guard_restored_total counter
vipd_vip_guard_restored_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 1
vipd_vip_guard_restored_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_vip_guard_restored_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 0
# HELP vipd_vrid_collisions_total Advertisements on this VRID with another address list: another virtual router uses the same VRID.
# TYPE vipd_vrid_collisions_total counter
vipd_vrid_collisions_total{family="ipv4",interface="eth0",vrid="51",vrrp_instance="api"} 0
vipd_vrid_collisions_total{family="ipv4",interface="eth1",vrid="52",vrrp_instance="ingress"} 0
vipd_vrid_collisions_total{family="ipv6",interface="eth0",vrid="51",vrrp_instance="api"} 7
`

// newRegistry registers the metrics of src on a pedantic registry, which
// also checks that every collected metric matches its description.
func newRegistry(t *testing.T, src Source, build BuildInfo) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := New(src, reg, build); err != nil {
		t.Fatalf("New: %v", err)
	}
	return reg
}

// names returns the names of every metric vipd defines.
func names() []string {
	n := make([]string, len(defs))
	for i, d := range defs {
		n[i] = d.name
	}
	return n
}

func TestFullExposition(t *testing.T) {
	reg := newRegistry(t, fullSource(), BuildInfo{Version: "v0.3.0", GoVersion: "go1.26.8"})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fullExposition), names()...); err != nil {
		t.Fatal(err)
	}
}

func TestLint(t *testing.T) {
	reg := newRegistry(t, fullSource(), BuildInfo{Version: "v0.3.0"})
	problems, err := testutil.GatherAndLint(reg, names()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestInstanceState(t *testing.T) {
	const tmpl = `
# HELP vipd_instance_state 1 for the state the virtual router is in, 0 for the others (state: init, backup, master, fault).
# TYPE vipd_instance_state gauge
vipd_instance_state{family="ipv6",interface="bond0",state="backup",vrid="7",vrrp_instance="x"} BACKUP
vipd_instance_state{family="ipv6",interface="bond0",state="fault",vrid="7",vrrp_instance="x"} FAULT
vipd_instance_state{family="ipv6",interface="bond0",state="init",vrid="7",vrrp_instance="x"} INIT
vipd_instance_state{family="ipv6",interface="bond0",state="master",vrid="7",vrrp_instance="x"} MASTER
`
	for _, state := range []vrrp.State{vrrp.Initialize, vrrp.Backup, vrrp.Master, vrrp.Fault, vrrp.State(9)} {
		t.Run(state.String(), func(t *testing.T) {
			src := &fakeSource{routers: []router.Status{{
				Instance: "x", VRID: 7, Interface: "bond0", Family: "ipv6", State: state,
			}}}
			want := tmpl
			for _, s := range []string{"INIT", "BACKUP", "MASTER", "FAULT"} {
				v := "0"
				if s == state.String() {
					v = "1"
				}
				want = strings.ReplaceAll(want, "} "+s+"\n", "} "+v+"\n")
			}
			reg := newRegistry(t, src, BuildInfo{})
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), MetricInstanceState); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBuildInfoDefaults(t *testing.T) {
	reg := newRegistry(t, &fakeSource{}, BuildInfo{})
	want := `
# HELP vipd_build_info Always 1; the labels name the vipd version and the Go release it was built with.
# TYPE vipd_build_info gauge
vipd_build_info{goversion="` + runtime.Version() + `",version="unknown"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), MetricBuildInfo); err != nil {
		t.Fatal(err)
	}
}

// TestScrapeReadsSource checks that each scrape reads the source anew:
// nothing is cached at registration.
func TestScrapeReadsSource(t *testing.T) {
	src := &fakeSource{routers: []router.Status{{Instance: "api", VRID: 51, Family: "ipv4", Interface: "eth0"}}}
	c := newCollector(src, BuildInfo{})
	for _, n := range []uint64{0, 5, 6} {
		src.routers[0].Counters.AdvertsOut = n
		// Filter the collector's output down to one series.
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var got float64 = -1
		for _, mf := range mfs {
			if mf.GetName() == MetricAdvertsSent {
				got = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		if got != float64(n) {
			t.Fatalf("%s = %v, want %d", MetricAdvertsSent, got, n)
		}
	}
}

func TestScrapeFailsOnDuplicateRouters(t *testing.T) {
	st := router.Status{Instance: "api", VRID: 51, Family: "ipv4", Interface: "eth0"}
	reg := newRegistry(t, &fakeSource{routers: []router.Status{st, st}}, BuildInfo{})
	if _, err := reg.Gather(); err == nil {
		t.Fatal("Gather succeeded with two routers of the same labels")
	}
}

func TestScrapeFailsOnInvalidLabel(t *testing.T) {
	reg := newRegistry(t, &fakeSource{checks: map[string]health.Status{"\xff": {}}}, BuildInfo{})
	_, err := reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("Gather: %v, want an error about UTF-8", err)
	}
}

func TestNewTwice(t *testing.T) {
	reg := newRegistry(t, &fakeSource{}, BuildInfo{})
	err := New(&fakeSource{}, reg, BuildInfo{})
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("second New: %v, want AlreadyRegisteredError", err)
	}
	if !strings.HasPrefix(err.Error(), "metrics: register vipd collector: ") {
		t.Fatalf("second New: %q does not say what it registered", err)
	}
}

// TestRuntimeCollectors checks that New registers the Go and process
// collectors next to vipd's.
func TestRuntimeCollectors(t *testing.T) {
	reg := newRegistry(t, &fakeSource{}, BuildInfo{})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, n := range []string{"go_goroutines", "process_start_time_seconds"} {
		if !seen[n] {
			t.Errorf("%s not gathered", n)
		}
	}
}

// TestEveryStateExported checks that a state added to vrrp or health gets
// a label value here: a router or check in it would otherwise export 0 for
// every state.
func TestEveryStateExported(t *testing.T) {
	for s := vrrp.State(0); !strings.HasPrefix(s.String(), "State("); s++ {
		if !slices.ContainsFunc(instanceStates, func(is instanceState) bool { return is.state == s }) {
			t.Errorf("vrrp state %v has no %s label value", s, MetricInstanceState)
		}
	}
	for s := health.State(0); !strings.HasPrefix(s.String(), "State("); s++ {
		if !slices.Contains(checkStates, s) {
			t.Errorf("health state %v has no %s label value", s, MetricCheckState)
		}
	}
}
