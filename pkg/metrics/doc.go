// Package metrics exports vipd's state to Prometheus.
//
// Nothing is counted for metrics on the packet path: the daemon's routers,
// sockets and checks already keep counters and states for vipctl status,
// and a collector registered by New reads their snapshots through a Source
// on each scrape and turns them into const metrics. The registry is passed
// in; nothing registers on the global one. Serve exposes it at /metrics.
//
// States are exported one series per state, valued 1 for the current state
// and 0 for the others, so that alerts and dashboards select a state by
// label: a node is master of a virtual router when
//
//	vipd_instance_state{state="master"} == 1
//
// and a check is failing when vipd_check_state{state="unhealthy"} == 1. A
// virtual router is labelled vrrp_instance, not instance: Prometheus gives
// the name instance to the scrape target, which names the node. Timestamps
// are absent rather than 0 until there is something to report.
//
// # Metrics
//
// Besides the go_* and process_* metrics of the Go runtime and process
// collectors, vipd exports:
//
//	| Metric | Type | Labels | Help |
//	|---|---|---|---|
//	| vipd_build_info | gauge | version, goversion | Always 1; the labels name the vipd version and the Go release it was built with. |
//	| vipd_instance_state | gauge | vrrp_instance, family, vrid, interface, state | 1 for the state the virtual router is in, 0 for the others (state: init, backup, master, fault). |
//	| vipd_instance_state_since_seconds | gauge | vrrp_instance, family, vrid, interface | Unix time of the virtual router's last state change; absent before the first. |
//	| vipd_instance_priority | gauge | vrrp_instance, family, vrid, interface | Effective priority: the base priority moved by tracked check weights, 1 while keeping the VIPs as a last resort. |
//	| vipd_instance_base_priority | gauge | vrrp_instance, family, vrid, interface | Configured priority of the virtual router on this node. |
//	| vipd_instance_transitions_total | counter | vrrp_instance, family, vrid, interface | State changes of the virtual router. |
//	| vipd_adverts_sent_total | counter | vrrp_instance, family, vrid, interface | Advertisements sent, one per destination. |
//	| vipd_adverts_received_total | counter | vrrp_instance, family, vrid, interface | Advertisements received and accepted. |
//	| vipd_advert_send_errors_total | counter | vrrp_instance, family, vrid, interface | Advertisements that could not be sent. |
//	| vipd_announcements_total | counter | vrrp_instance, family, vrid, interface | Gratuitous ARP and unsolicited neighbour advertisement packets sent, one per VIP and round. |
//	| vipd_vip_bind_errors_total | counter | vrrp_instance, family, vrid, interface | Virtual addresses that could not be bound to the interface. |
//	| vipd_master_conflicts_total | counter | vrrp_instance, family, vrid, interface | Advertisements from another master of lower priority, each answered at once: a split brain healing. |
//	| vipd_vrid_collisions_total | counter | vrrp_instance, family, vrid, interface | Advertisements on this VRID with another address list: another virtual router uses the same VRID. |
//	| vipd_vip_guard_restored_total | counter | vrrp_instance, family, vrid, interface | Virtual addresses put back on the interface of a master after something else removed them. |
//	| vipd_vip_guard_removed_total | counter | vrrp_instance, family, vrid, interface | Virtual addresses removed from the interface of a virtual router that is not master. |
//	| vipd_late_timers_total | counter | vrrp_instance, family, vrid, interface | Protocol timers served more than 20ms after their deadline: the process was stopped or starved. |
//	| vipd_sync_group_forced | gauge | vrrp_instance, family, vrid, interface, sync_group | 1 while the virtual router's sync group holds it in its state (another member is in fault or heard a better master, or the group became master), 0 otherwise; members only. |
//	| vipd_packets_dropped_total | counter | interface, family, reason | VRRP packets a socket received and dropped, by reason. |
//	| vipd_check_state | gauge | check, state | 1 for the state the check or tracked interface (link:NAME) is in, 0 for the others (state: unknown, healthy, unhealthy). |
//	| vipd_check_state_since_seconds | gauge | check | Unix time the check entered its state; absent until monitoring begins. |
//	| vipd_check_duration_seconds | gauge | check | Duration of the check's last probe. |
//	| vipd_check_probes_total | counter | check | Probes the check ran (for an interface, link states read). |
//	| vipd_check_consecutive_failures | gauge | check | Consecutive failed probes up to and including the last one. |
//	| vipd_hook_runs_total | counter | vrrp_instance | Runs of the instance's notify hook, failed ones included. |
//	| vipd_hook_failures_total | counter | vrrp_instance | Runs of the instance's notify hook that failed: a status other than 0, a program that could not start, or a timeout. |
//	| vipd_hook_timeouts_total | counter | vrrp_instance | Runs of the instance's notify hook killed at the timeout. |
//	| vipd_hook_events_dropped_total | counter | vrrp_instance | Transitions of the instance whose notify hook did not run: its queue was full. |
//	| vipd_routed_announced | gauge | routed_instance, announce | 1 while the routed instance's routes are announced, 0 while withdrawn (announce: bgp or route). |
//	| vipd_routed_withdrawals_total | counter | routed_instance | Withdrawals of the routed instance's routes: failed checks, drains, stops. |
//	| vipd_bgp_session_established | gauge | peer, peer_asn | 1 while the BGP session to the peer is established, 0 otherwise. |
//	| vipd_bgp_routes_advertised | gauge | peer | Routes the peer holds from this node. |
//	| vipd_bgp_session_ups_total | counter | peer | Times the BGP session to the peer was established. |
//
// The reason label of vipd_packets_dropped_total takes every value of
// vrrp.DropReasons, zero counts included, so that rates exist from the
// first scrape: ttl, too_short, version, type, checksum, malformed,
// unknown_vrid, auth, interval, address_mismatch, not_peer, own, backlog.
//
// Five router counters count incidents that should stay at zero, and an
// increase of any of them is worth an alert: vipd_master_conflicts_total
// (two masters at once, a split brain being healed),
// vipd_vrid_collisions_total (another virtual router on the network uses
// the same VRID, a configuration error that VRRP cannot resolve),
// vipd_vip_guard_restored_total and vipd_vip_guard_removed_total (something
// else adds or removes the VIPs behind vipd's back) and
// vipd_late_timers_total (the daemon was stopped or starved, which can
// cost a needless failover).
//
// The hook counters are per instance, its families' transitions together
// (the key of pkg/hooks), and exported only for instances with a notify
// hook; they count from the daemon's start, across reloads.
//
// The Grafana dashboard configs/grafana-dashboard.json shows these metrics
// per node (the Prometheus instance label) and virtual router; a test
// checks that its queries and variables name no other metric.
package metrics
