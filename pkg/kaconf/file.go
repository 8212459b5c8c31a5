package kaconf

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
)

// node is one keepalived.conf on its way to a vipd configuration.
type node struct {
	source    string
	name      string // from router_id; nameNodes fills it in otherwise
	nameLine  int
	checks    []*vCheck // in the order of the vrrp_scripts
	instances []*vInstance
}

// vCheck is a [[check]] made from a vrrp_script.
type vCheck struct {
	at   *stmt // the vrrp_script
	name string
	probe
	interval, timeout time.Duration
	rise, fall        int
}

// spec returns the check as health validates it.
func (c *vCheck) spec() health.Spec {
	s := health.Spec{
		Name:               c.name,
		Type:               c.typ,
		URL:                c.url,
		CAFile:             c.caFile,
		CertFile:           c.certFile,
		KeyFile:            c.keyFile,
		InsecureSkipVerify: c.insecure,
		Address:            c.address,
		Command:            c.command,
		Process:            c.process,
		FullCommand:        c.fullCommand,
		Params:             c.params,
		ParamMatch:         c.paramMatch,
		Quorum:             c.quorum,
		QuorumMax:          c.quorumMax,
		Interval:           c.interval,
		Timeout:            c.timeout,
	}
	s = s.WithDefaults()
	s.Rise, s.Fall = c.rise, c.fall
	return s
}

// kaScript is a vrrp_script as keepalived 2.2.7 reads it.
type kaScript struct {
	at       *stmt
	name     string
	script   *stmt
	interval time.Duration // 1s unless set
	timeout  time.Duration // 0: the interval
	weight   int
	reverse  bool
	rise     int
	fall     int
	timeAt   *stmt // the timeout statement
	// check is the conversion, made when an instance first tracks the
	// script; bad says why there is none.
	check    *vCheck
	bad      string
	unsafe   []Note // what makes the check differ from keepalived's script
	resolved bool
	tracked  bool // a track names it
	// proc is the vrrp_track_process this stands for, if it is one.
	proc *kaProcess
}

// kaGroup is a vrrp_sync_group.
type kaGroup struct {
	at      *stmt
	name    string
	members []string
	// keepWeights is sync_group_tracking_weight (or global_tracking):
	// without it keepalived ignores the weighted tracks of its members.
	keepWeights bool
	trackIfs    []kaTrackIf
	tracks      []kaTrack
	lacks       []kaLack
	instances   []*vInstance
}

// fileConv converts the statements of one keepalived.conf.
type fileConv struct {
	path string
	n    *notes
	nd   *node
	// keepalived's global_defs.
	version  int // vrrp_version; 0 when not set
	versAt   *stmt
	strict   bool
	strictAt *stmt
	checkSrc bool          // vrrp_check_unicast_src
	garpRep  int           // vrrp_garp_master_repeat; 0 when not set
	garpRef  time.Duration // vrrp_garp_master_refresh
	garpDel  time.Duration // vrrp_garp_master_delay; keepalived's default 5s
	mcast4   *stmt         // vrrp_mcast_group4 of another group than the standard one
	mcast6   *stmt
	// downTimer is vrrp_down_timer_adverts, the default of the
	// instances' down_timer_adverts.
	downTimer *stmt
	// What is defined so far: keepalived looks up the scripts and
	// processes a track names while it reads the track, so a vrrp_script
	// after the vrrp_instance that tracks it is not found.
	scripts   []*kaScript
	processes []*kaProcess
	files     map[string]*stmt // vrrp_track_file
	groups    []*kaGroup
	// checkNames are the names given to checks so far: two scripts
	// whose names differ only in characters vipd does not allow must
	// not become two checks of one name.
	checkNames map[string]bool
	// fatal are the reasons keepalived would not run the file at all.
	fatal []*RefusalError
}

func convertFile(path string, stmts []*stmt, n *notes) (*node, error) {
	c := &fileConv{
		path:       path,
		n:          n,
		nd:         &node{source: path},
		files:      make(map[string]*stmt),
		checkNames: make(map[string]bool),
		garpDel:    config.DefaultGARPDelay, // keepalived's VRRP_GARP_DELAY too
	}
	// keepalived applies global_defs once it has read the whole file.
	for _, s := range stmts {
		if s.keyword() == "global_defs" && c.needBlock(s) {
			c.globalDefs(s)
		}
	}
	for _, s := range stmts {
		switch kw := s.keyword(); kw {
		case "global_defs":
		case "vrrp_script":
			if c.needBlock(s) && c.needArg(s) {
				c.vrrpScript(s)
			}
		case "vrrp_track_process":
			if c.needBlock(s) && c.needArg(s) {
				c.trackProcess(s)
			}
		case "vrrp_track_file":
			if c.needBlock(s) && c.needArg(s) {
				c.files[s.arg(1)] = s
			}
		case "vrrp_sync_group":
			if c.needBlock(s) {
				c.syncGroup(s)
			}
		case "vrrp_instance":
			if c.needBlock(s) {
				if in := c.instance(s); in != nil {
					c.nd.instances = append(c.nd.instances, in)
				}
			}
		default:
			c.n.at(s, "%s", topLevelReason(s))
		}
	}
	if len(c.fatal) == 0 {
		c.chkMinCfg()
	}
	if len(c.fatal) == 0 {
		c.setGroups()
		for _, in := range c.nd.instances {
			c.complete(in)
		}
	}
	if len(c.fatal) == 0 {
		c.vridConflicts()
	}
	if len(c.fatal) > 0 {
		for _, f := range c.fatal {
			c.n.add(f.File, f.Line, f.Msg)
		}
		return nil, c.fatal[0]
	}
	for _, in := range c.nd.instances {
		c.convertInstance(in)
	}
	c.keepValid()
	c.syncGroups()
	for _, sc := range c.tracked() {
		used := sc.check != nil && slices.ContainsFunc(c.nd.instances, func(in *vInstance) bool {
			return !in.refused && slices.ContainsFunc(in.track, func(t vTrack) bool { return t.check == sc.check.name })
		})
		switch {
		case used:
			c.nd.checks = append(c.nd.checks, sc.check)
		case sc.bad != "":
			// Noted when it was converted.
		case sc.proc != nil && !sc.resolved:
			c.n.at(sc.at, "vrrp_track_process %s: no vrrp_instance tracks it; not converted", sc.name)
		case sc.proc != nil:
			c.n.at(sc.at, "vrrp_track_process %s: only vrrp_instances that are not converted track it; not converted", sc.name)
		case !sc.resolved && sc.tracked:
			c.n.at(sc.at, "vrrp_script %s: keepalived ignores every track of it; not converted", sc.name)
		case !sc.resolved:
			c.n.at(sc.at, "vrrp_script %s: no vrrp_instance tracks it, so keepalived does not run it either; not converted", sc.name)
		default:
			c.n.at(sc.at, "vrrp_script %s: only vrrp_instances that are not converted track it; not converted", sc.name)
		}
	}
	return c.nd, nil
}

// refuseFile records a reason keepalived would not run the file.
func (c *fileConv) refuseFile(s *stmt, format string, args ...any) {
	c.fatal = append(c.fatal, &RefusalError{File: s.file, Line: s.line, Msg: "keepalived 2.2.7 does not run this file: " + fmt.Sprintf(format, args...)})
}

// needBlock reports whether s has the block its keyword needs, noting it
// if not.
func (c *fileConv) needBlock(s *stmt) bool {
	if !s.hasBlock {
		c.n.at(s, "%s without a { block }; not converted", s.keyword())
	}
	return s.hasBlock
}

// needArg reports whether s has an argument; keepalived stops at a keyword
// that misses its parameter ("Configuration line starting ... is missing a
// parameter").
func (c *fileConv) needArg(s *stmt) bool {
	return c.needArgs(s, 1)
}

// needArgs reports whether s has at least n arguments.
func (c *fileConv) needArgs(s *stmt, n int) bool {
	if len(s.words) > n {
		return true
	}
	c.refuseFile(s, "%s is missing a parameter, and keepalived stops there (exit code 2)", s.keyword())
	return false
}

// topLevelReason says why a top-level keyword other than those converted
// is not converted.
func topLevelReason(s *stmt) string {
	kw := s.keyword()
	switch kw {
	case "virtual_server", "virtual_server_group", "SSL", "real_server":
		return kw + ": not converted: vipd does not do load balancing (LVS); keep keepalived's checker process or use a load balancer such as HAProxy"
	case "static_ipaddress", "static_routes", "static_rules":
		return kw + ": not converted: vipd manages only the VIPs of its instances; configure static addresses, routes and rules with the system's network configuration"
	case "bfd_instance", "track_group":
		return kw + ": not converted: vipd tracks checks ([[check]]: http, https, tcp, exec) and interfaces only"
	case "garp_group":
		return "garp_group: not converted: vipd sends its gratuitous ARPs and neighbour advertisements without a delay between them"
	case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets", "instance", "use_pid_dir",
		"linkbeat_use_polling", "linkbeat_interfaces", "child_wait_time", "random_seed", "interface_up_down_delays":
		return kw + ": not converted: a setting of the keepalived process; vipd runs in the network namespace it is started in"
	case "{", "}":
		return "stray brace; not converted"
	}
	return fmt.Sprintf("%s: keepalived 2.2.7 does not know this keyword here and ignores it (\"Unknown keyword\"); not converted", kw)
}

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

// vrrpScript reads a vrrp_script as keepalived does; it is converted when
// first tracked.
func (c *fileConv) vrrpScript(s *stmt) {
	name := s.arg(1)
	sc := &kaScript{at: s, name: name, interval: time.Second, rise: 1, fall: 1}
	label := "vrrp_script " + name
	for _, k := range s.block {
		switch kw := k.keyword(); kw {
		case "script":
			sc.script = k
		case "interval", "timeout":
			if !c.needArg(k) {
				continue
			}
			v := kaUnsigned(k.arg(1), 0, math.MaxUint32/timerHz, true)
			switch {
			case !v.ok:
				c.n.at(k, "%s: %s %q: keepalived says it is invalid and ignores it", label, kw, k.arg(1))
				continue
			case !v.clean:
				c.n.at(k, "%s: %s %q: keepalived reads %d (whole seconds) and warns; keepalived -t rejects it", label, kw, k.arg(1), v.val)
			}
			d := time.Duration(v.val) * time.Second
			if d == 0 {
				c.n.at(k, "%s: %s 0: keepalived makes it 1 second", label, kw)
				d = time.Second
			}
			if kw == "interval" {
				sc.interval = d
			} else {
				sc.timeout, sc.timeAt = d, k
			}
		case "weight":
			if !c.needArg(k) {
				continue
			}
			v := kaInt(k.arg(1), -253, 253, true)
			if !v.clean {
				c.n.at(k, "%s: weight %q is not a number from -253 to 253: keepalived reads %d", label, k.arg(1), v.val)
			}
			sc.weight = int(max(min(v.val, 253), -253))
			switch k.arg(2) {
			case "":
			case "reverse":
				sc.reverse = true
			default:
				c.n.at(k, "%s: weight option %s: keepalived ignores it", label, k.arg(2))
			}
		case "rise", "fall":
			if !c.needArg(k) {
				continue
			}
			v := kaUnsigned(k.arg(1), 1, math.MaxInt32, true)
			n := 1
			switch {
			case !v.ok:
				c.n.at(k, "%s: %s %q is invalid: keepalived makes it 1", label, kw, k.arg(1))
			case !v.clean:
				c.n.at(k, "%s: %s %q: keepalived reads %d and warns; keepalived -t makes it 1", label, kw, k.arg(1), v.val)
				n = int(v.val)
			default:
				n = int(v.val)
			}
			if kw == "rise" {
				sc.rise = n
			} else {
				sc.fall = n
			}
		case "init_fail":
			// vipd starts every check failing, as init_fail asks.
		case "user":
			if k.arg(1) != "root" {
				c.n.at(k, "%s: user %s: not converted: vipd runs checks as root, and only programs that root owns", label, k.arg(1))
			}
		default:
			c.n.at(k, "%s: %s: keepalived 2.2.7 does not know it and ignores it", label, kw)
		}
	}
	if sc.script == nil || sc.script.rest == "" {
		// keepalived removes it ("No script set for vrrp_script"), so
		// a track naming it finds nothing.
		c.n.at(s, "%s has no script: keepalived removes it; not converted", label)
		return
	}
	c.scripts = append(c.scripts, sc)
}

// tracked returns what tracks name: the vrrp_scripts, then the
// vrrp_track_processes.
func (c *fileConv) tracked() []*kaScript {
	scs := slices.Clone(c.scripts)
	for _, p := range c.processes {
		scs = append(scs, p.sc)
	}
	return scs
}

// findScript finds a vrrp_script defined so far by name, the first
// defined as keepalived's find_script_by_name.
func (c *fileConv) findScript(name string) *kaScript {
	for _, sc := range c.scripts {
		if sc.name == name {
			return sc
		}
	}
	return nil
}

// resolve converts a tracked vrrp_script into a check, once.
func (c *fileConv) resolve(sc *kaScript) *vCheck {
	if sc.resolved {
		return sc.check
	}
	sc.resolved = true
	label := sc.at.keyword() + " " + sc.name
	bad := func(s *stmt, format string, args ...any) *vCheck {
		sc.bad = fmt.Sprintf(format, args...)
		c.n.at(s, "%s: %s; not converted", label, sc.bad)
		return nil
	}
	ch := &vCheck{at: sc.at, name: checkName(sc.name), rise: sc.rise, fall: sc.fall, interval: sc.interval}
	if c.checkNames[ch.name] {
		base := ch.name
		for i := 2; c.checkNames[ch.name]; i++ {
			suffix := fmt.Sprintf("-%d", i)
			ch.name = base[:min(len(base), 63-len(suffix))] + suffix
		}
		c.n.at(sc.at, "%s: its check is named %q, as %q is another script's", label, ch.name, base)
	}
	c.checkNames[ch.name] = true
	if sc.proc != nil {
		sc.check = c.processCheck(sc.proc, ch, bad)
		return sc.check
	}
	script := sc.script
	text, extra, err := commandText(script)
	var p probe
	if err == nil {
		p, err = classify(text)
	}
	if err != nil {
		return bad(script, "script %s: %v", script.rest, err)
	}
	if extra {
		c.n.at(script, "%s: the script is not quoted: keepalived 2 runs only %q, ignoring the words after it, and so does the check (quote the script in keepalived.conf to pass them)", label, text)
	}
	ch.probe = p
	c.remarkProbe(script, label, &ch.probe)
	for _, r := range [...]struct {
		kw string
		v  *int
	}{{"rise", &ch.rise}, {"fall", &ch.fall}} {
		if *r.v > health.MaxRiseFall {
			sc.unsafe = append(sc.unsafe, Note{sc.at.file, sc.at.line, fmt.Sprintf("%s: %s %d is above vipd's maximum of %d: the check changes state sooner than keepalived's", label, r.kw, *r.v, health.MaxRiseFall)})
			c.n.at(sc.at, "%s: %s %d is above vipd's maximum of %d; %d", label, r.kw, *r.v, health.MaxRiseFall, health.MaxRiseFall)
			*r.v = health.MaxRiseFall
		}
	}
	// keepalived gives a script its timeout, else the whole interval; a
	// timeout of timeout(1) or curl inside the script ends it sooner.
	timeout, timeAt := sc.timeout, sc.timeAt
	if timeout == 0 {
		timeout, timeAt = sc.interval, sc.at
	}
	if p.timeout > 0 && p.timeout <= timeout {
		timeout, timeAt = p.timeout, script
	}
	if ch.typ == health.TypeExec && ch.interval < health.MinExecInterval {
		ch.interval = health.MinExecInterval
	}
	ch.timeout = timeout
	if ch.timeout >= ch.interval {
		ch.timeout = ch.interval - time.Millisecond
		switch {
		case sc.timeout == 0:
			c.n.at(timeAt, "%s: without timeout keepalived gives the script its whole interval (%s); vipd needs a timeout shorter than the interval: %s", label, sc.interval, ch.timeout)
		default:
			c.n.at(timeAt, "%s: timeout %s is not shorter than the interval %s, as vipd requires: %s; a run that takes longer passes in keepalived and fails in vipd", label, timeout, ch.interval, ch.timeout)
		}
	}
	if err := ch.spec().Validate(); err != nil {
		return bad(sc.at, "vipd rejects the check: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	sc.check = ch
	return ch
}

// remarkProbe notes what the operator should know about how a script was
// translated.
func (c *fileConv) remarkProbe(s *stmt, what string, p *probe) {
	switch {
	case p.typ != health.TypeExec:
		target := p.url
		if p.typ == health.TypeTCP {
			target = p.address
		}
		c.n.at(s, "%s: %q becomes a native %s check of %s (no process per probe)", what, scriptText(s), p.typ, target)
	case p.shell:
		c.n.at(s, "%s: keepalived runs %q in %s, and so does the check", what, scriptText(s), shellPath)
	case p.defaultProgramPath:
		c.n.at(s, "%s: vipd runs programs by absolute path, without PATH: %q is assumed to be %s; check where it is on the node", what, pathlessName(scriptText(s)), p.command[0])
	}
	if p.typ == health.TypeExec && len(p.command) >= 2 && strings.HasSuffix(p.command[0], "/killall") && p.command[1] == "-0" {
		c.n.at(s, "%s: killall -0 only sees that a process exists; a tcp check of the port it serves also notices when it hangs", what)
	}
	if p.typ == health.TypeExec && strings.Contains(p.command[0], "apiserver") {
		c.n.at(s, "%s: vipd can check the API server itself, without a script: type = \"https\", url = \"https://127.0.0.1:6443/readyz\", ca_file = \"/etc/kubernetes/pki/ca.crt\"", what)
	}
	for _, r := range p.remarks {
		c.n.at(s, "%s: %s", what, r)
	}
}

// scriptText returns the command line of a script or notify statement
// for a note.
func scriptText(s *stmt) string {
	text, _, err := commandText(s)
	if err != nil {
		return s.rest
	}
	return text
}

// pathlessName returns the program of a command line for a note.
func pathlessName(text string) string {
	words, err := kaSplit(text)
	if err != nil || len(words) == 0 {
		return text
	}
	return words[0]
}

// checkName makes a vrrp_script name a valid check name.
func checkName(s string) string {
	b := []byte(safeName(s))
	if len(b) > 63 {
		b = b[:63]
	}
	if len(b) == 0 || !(b[0] >= 'a' && b[0] <= 'z' || b[0] >= 'A' && b[0] <= 'Z' || b[0] >= '0' && b[0] <= '9') {
		b = append([]byte("s"), b...)
		b = b[:min(len(b), 63)]
	}
	if strings.HasPrefix(string(b), health.LinkPrefix) {
		b = append([]byte("script-"), b...)
		b = b[:min(len(b), 63)]
	}
	return string(b)
}

// syncGroup reads a vrrp_sync_group; its tracks are looked up now, as
// keepalived does, and its members once every instance is read.
func (c *fileConv) syncGroup(s *stmt) {
	if len(s.words) != 2 {
		c.n.at(s, "vrrp_sync_group without a name: keepalived skips it (\"vrrp_sync_group must have a name\")")
		return
	}
	if slices.ContainsFunc(c.groups, func(g *kaGroup) bool { return g.name == s.arg(1) }) {
		c.n.at(s, "vrrp_sync_group %s is defined twice: keepalived skips this one", s.arg(1))
		return
	}
	g := &kaGroup{at: s, name: s.arg(1)}
	label := "vrrp_sync_group " + g.name
	groupSet := false
	for _, k := range s.block {
		switch kw := k.keyword(); kw {
		case "group":
			if groupSet {
				c.n.at(k, "%s: the group list is given twice: keepalived ignores this one", label)
				continue
			}
			groupSet = true
			for _, m := range k.block {
				g.members = append(g.members, m.words...)
			}
		case "sync_group_tracking_weight", "global_tracking":
			g.keepWeights = true
		case "track_interface":
			for _, e := range k.block {
				if t, ok := c.readTrackIf(label, e, g.trackIfs); ok {
					g.trackIfs = append(g.trackIfs, t)
				}
			}
		case "track_script":
			for _, e := range k.block {
				if t, ok := c.readTrack(label, e, g.tracks); ok {
					g.tracks = append(g.tracks, t)
				}
			}
		case "track_process":
			for _, e := range k.block {
				if t, ok := c.readTrackProcess(label, e, g.tracks); ok {
					g.tracks = append(g.tracks, t)
				}
			}
		case "track_file", "track_bfd":
			for _, e := range k.block {
				g.lacks = append(g.lacks, kaLack{kw, e})
			}
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			c.n.at(k, "%s: %s: not converted: vipd runs notify programs per instance; give the members a notify program", label, kw)
		case "smtp_alert", "notify_priority_changes":
			c.n.at(k, "%s: %s: not converted", label, kw)
		default:
			c.n.at(k, "%s: %s: keepalived 2.2.7 does not know it and ignores it", label, kw)
		}
	}
	c.groups = append(c.groups, g)
}

// setGroups makes the instances members of their sync groups, as
// keepalived's vrrp_sync_set_group: an unknown name or an instance already
// in a group is skipped, and a group without members removed.
func (c *fileConv) setGroups() {
	var kept []*kaGroup
	for _, g := range c.groups {
		for _, m := range g.members {
			i := slices.IndexFunc(c.nd.instances, func(in *vInstance) bool { return in.kaName == m })
			switch {
			case i < 0:
				c.n.at(g.at, "vrrp_sync_group %s: there is no vrrp_instance %s: keepalived ignores it", g.name, m)
			case c.nd.instances[i].group != nil:
				c.n.at(g.at, "vrrp_sync_group %s: vrrp_instance %s is already in vrrp_sync_group %s: keepalived ignores it here", g.name, m, c.nd.instances[i].group.name)
			default:
				c.nd.instances[i].group = g
				g.instances = append(g.instances, c.nd.instances[i])
			}
		}
		if len(g.instances) == 0 {
			c.n.at(g.at, "vrrp_sync_group %s has no vrrp_instance: keepalived removes it", g.name)
			continue
		}
		kept = append(kept, g)
	}
	c.groups = kept
}

// maxGARPRepeat is vipd's limit of garp_repeat, maxGARPDelay of
// garp_delay.
const (
	maxGARPRepeat = 100
	maxGARPDelay  = time.Hour
)

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
