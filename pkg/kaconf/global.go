package kaconf

// keepalived's global_defs: what applies to every instance of a file.

import (
	"math"
	"net/netip"
	"strings"
	"time"
)

// globalDefs reads global_defs: the router_id names the node; the VRRP
// version, strict mode and gratuitous ARP settings are defaults of the
// instances.
func (c *fileConv) globalDefs(g *stmt) {
	for _, s := range g.block {
		switch kw := s.keyword(); kw {
		case "router_id":
			if !c.needArg(s) {
				continue
			}
			id := s.arg(1)
			name := safeName(id)
			if name != id {
				c.n.at(s, "router_id %q names the node %q (vipd names may hold letters, digits, '-', '_' and '.')", id, name)
			}
			c.nd.name, c.nd.nameLine = name, s.line
		case "vrrp_version":
			if !c.needArg(s) {
				continue
			}
			if v := kaInt(s.arg(1), 2, 3, true); v.ok {
				c.version, c.versAt = int(v.val), s
			} else {
				c.n.at(s, "vrrp_version %q: keepalived says \"Version must be either 2 or 3\" and ignores it", s.arg(1))
			}
		case "vrrp_strict":
			c.strict, c.strictAt = true, s
		case "vrrp_garp_master_repeat":
			if !c.needArg(s) {
				continue
			}
			if v, ok := c.garpRepeat("global_defs", s); ok {
				c.garpRep = v
			}
		case "vrrp_garp_master_refresh":
			if !c.needArg(s) {
				continue
			}
			c.garpRef = c.garpRefresh("global_defs", s)
		case "vrrp_garp_master_delay":
			if !c.needArg(s) {
				continue
			}
			if d, ok := c.garpDelay("global_defs", s); ok {
				c.garpDel = d
			}
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			if !c.needArg(s) {
				continue
			}
			def := map[string]string{"vrrp_mcast_group4": "224.0.0.18", "vrrp_mcast_group6": "ff02::12"}[kw]
			a, err := netip.ParseAddr(s.arg(1))
			switch {
			case err != nil || !a.IsMulticast() || a.Is6() != (kw == "vrrp_mcast_group6"):
				c.n.at(s, "%s %s is not a multicast address of its family; keepalived ignores it", kw, s.arg(1))
			case a != netip.MustParseAddr(def):
				if kw == "vrrp_mcast_group4" {
					c.mcast4 = s
				} else {
					c.mcast6 = s
				}
			}
		case "vrrp_check_unicast_src":
			c.checkSrc = true
		case "enable_script_security":
			// vipd runs only programs root owns.
		case "vrrp_skip_check_adv_addr":
			c.n.at(s, "vrrp_skip_check_adv_addr: not converted: vipd checks the address list of every advert; it matters only where the lists differ, which the converter reports")
		case "script_user":
			if s.arg(1) != "root" {
				c.n.at(s, "script_user %s: not converted: vipd runs checks and notify programs as root, and only those that root owns", s.arg(1))
			}
		case "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout",
			"smtp_helo_name", "smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_email_faults":
			c.n.at(s, "%s: not converted: vipd sends no email; a notify program can", kw)
		case "vrrp_garp_interval", "vrrp_gna_interval", "vrrp_garp_lower_prio_delay",
			"vrrp_garp_lower_prio_repeat", "vrrp_garp_master_refresh_repeat", "vrrp_min_garp":
			c.n.at(s, "%s: not converted: vipd sends garp_repeat gratuitous ARPs (or neighbour advertisements) at once on becoming master, and one round every garp_refresh", kw)
		case "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert":
			c.n.at(s, "%s: not converted: vipd answers a lower-priority advert as RFC 9568 says; the election is the same", kw)
		case "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script":
			c.n.at(s, "%s: not converted: vipd has no notify FIFO; give the instances a notify program", kw)
		case "enable_snmp_vrrp", "enable_snmp_keepalived", "enable_snmp_checker", "enable_snmp_rfc",
			"enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_traps", "snmp_socket":
			c.n.at(s, "%s: not converted: vipd has no SNMP agent; it exports Prometheus metrics ([daemon] metrics_listen)", kw)
		case "enable_dbus", "dbus_service_name":
			c.n.at(s, "%s: not converted: vipd has no D-Bus interface; see vipctl status", kw)
		case "vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority", "nftables_counters", "nftables_ifindex":
			c.n.at(s, "%s: not converted: vipd adds no firewall rules; its master accepts traffic to the VIPs", kw)
		case "vrrp_down_timer_adverts":
			if s.arg(1) != "3" {
				c.downTimer = s
			}
		case "vrrp_startup_delay":
			c.n.at(s, "vrrp_startup_delay: not converted: vipd starts as a backup and waits the master down interval, whatever the uptime")
		default:
			if globalKeywords[kw] {
				c.n.at(s, "%s: not converted: a keepalived process setting with no vipd equivalent", kw)
			} else {
				c.n.at(s, "%s: keepalived 2.2.7 does not know it here and ignores it (\"Unknown keyword\")", kw)
			}
		}
	}
}

// garpRepeat reads a gratuitous ARP count as keepalived does, capped at
// vipd's maximum.
func (c *fileConv) garpRepeat(label string, s *stmt) (int, bool) {
	v := kaUnsigned(s.arg(1), 0, math.MaxUint32, true)
	switch {
	case !v.ok:
		c.n.at(s, "%s: %s %q is invalid: keepalived ignores it", label, s.keyword(), s.arg(1))
		return 0, false
	case v.val == 0:
		c.n.at(s, "%s: %s 0: keepalived makes it 1", label, s.keyword())
		return 1, true
	case v.val > maxGARPRepeat:
		c.n.at(s, "%s: %s %d is above vipd's maximum of %d; %d", label, s.keyword(), v.val, maxGARPRepeat, maxGARPRepeat)
		return maxGARPRepeat, true
	}
	return int(v.val), true
}

// garpDelay reads the delay of the second burst of gratuitous ARPs:
// whole seconds, 0 for none. keepalived ignores an invalid value, keeping
// its default; vipd's garp_delay stops at maxGARPDelay.
func (c *fileConv) garpDelay(label string, s *stmt) (time.Duration, bool) {
	v := kaUnsigned(s.arg(1), 0, math.MaxUint32/100, true)
	switch {
	case !v.ok:
		c.n.at(s, "%s: %s %q is invalid: keepalived ignores it", label, s.keyword(), s.arg(1))
		return 0, false
	case !v.clean:
		c.n.at(s, "%s: %s %q: keepalived reads %d seconds and warns", label, s.keyword(), s.arg(1), v.val)
	}
	d := time.Duration(v.val) * time.Second
	if d > maxGARPDelay {
		c.n.at(s, "%s: %s %d is above vipd's maximum of %v; %v", label, s.keyword(), v.val, maxGARPDelay, maxGARPDelay)
		d = maxGARPDelay
	}
	return d, true
}

// garpRefresh reads a gratuitous ARP refresh interval: whole seconds, 0
// (also for an invalid value) for none.
func (c *fileConv) garpRefresh(label string, s *stmt) time.Duration {
	v := kaUnsigned(s.arg(1), 0, math.MaxUint32, true)
	switch {
	case !v.ok:
		c.n.at(s, "%s: %s %q is invalid: keepalived sends no refresh", label, s.keyword(), s.arg(1))
		return 0
	case !v.clean:
		c.n.at(s, "%s: %s %q: keepalived reads %d seconds and warns", label, s.keyword(), s.arg(1), v.val)
	}
	return time.Duration(v.val) * time.Second
}

// globalKeywords are the keywords of global_defs that keepalived 2.2.7
// knows (core/global_parser.c).
var globalKeywords = func() map[string]bool {
	m := make(map[string]bool)
	for _, kw := range strings.Fields(globalKeywordList) {
		m[kw] = true
	}
	return m
}()

const globalKeywordList = "" +
	"bfd_cpu_affinity bfd_no_swap bfd_priority bfd_process_name bfd_rlimit_rtime bfd_rlimit_rttime " +
	"bfd_rt_priority checker_cpu_affinity checker_log_all_failures checker_no_swap checker_priority " +
	"checker_process_name checker_rlimit_rtime checker_rlimit_rttime checker_rt_priority config_save_dir " +
	"data_use_instance dbus_service_name default_interface disable_local_igmp dynamic_interfaces " +
	"enable_dbus enable_script_security enable_snmp_checker enable_snmp_keepalived enable_snmp_rfc " +
	"enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_vrrp enable_traps fifo_write_vrrp_states_on_reload " +
	"include_check log_unknown_vrids lvs_flush lvs_flush_on_stop lvs_flush_onstop " +
	"lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs " +
	"lvs_netlink_monitor_rcv_bufs_force lvs_notify_fifo lvs_notify_fifo_script lvs_process_name " +
	"lvs_sync_daemon lvs_timeouts max_auto_priority min_auto_priority_delay nftables nftables_counters " +
	"nftables_ifindex nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_priority " +
	"no_checker_emails no_email_faults notification_email notification_email_from notify_fifo " +
	"notify_fifo_script process_monitor_rcv_bufs process_monitor_rcv_bufs_force process_name " +
	"process_names random_seed reload_check_config reload_file reload_repeat reload_time_file router_id " +
	"rs_init_notifies script_user shutdown_script shutdown_script_timeout smtp_alert smtp_alert_checker " +
	"smtp_alert_vrrp smtp_connect_timeout smtp_helo_name smtp_server snmp_socket startup_script " +
	"startup_script_timeout tmp_config_directory umask vmac_addr_prefix vmac_prefix " +
	"vrrp_check_unicast_src vrrp_cpu_affinity vrrp_down_timer_adverts vrrp_garp_extra_if " +
	"vrrp_garp_interval vrrp_garp_lower_prio_delay vrrp_garp_lower_prio_repeat vrrp_garp_master_delay " +
	"vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_master_repeat vrrp_gna_interval " +
	"vrrp_higher_prio_send_advert vrrp_ipsets vrrp_iptables vrrp_lower_prio_no_advert vrrp_mcast_group4 " +
	"vrrp_mcast_group6 vrrp_min_garp vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force " +
	"vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force vrrp_no_swap vrrp_notify_fifo " +
	"vrrp_notify_fifo_script vrrp_notify_priority_changes vrrp_priority vrrp_process_name " +
	"vrrp_rlimit_rtime vrrp_rlimit_rttime vrrp_rt_priority vrrp_rx_bufs_multiplier vrrp_rx_bufs_policy " +
	"vrrp_skip_check_adv_addr vrrp_startup_delay vrrp_strict vrrp_version vrrp_vmac_garp_intvl "

// maxGARPRepeat is vipd's limit of garp_repeat, maxGARPDelay of
// garp_delay.
const (
	maxGARPRepeat = 100
	maxGARPDelay  = time.Hour
)
