package kaconf

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

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
	interval, timeout time.Duration // timeout 0: vipd's default
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
		Interval:           c.interval,
		Timeout:            c.timeout,
	}
	s = s.WithDefaults()
	s.Rise, s.Fall = c.rise, c.fall
	return s
}

// kaScript is a vrrp_script as keepalived reads it.
type kaScript struct {
	at       *stmt
	name     string
	weight   int // applies where track_script sets none
	check    *vCheck
	bad      bool // keepalived drops it, or vipd cannot run it
	resolved bool // converted (once, when first tracked)
}

// kaGroup is a vrrp_sync_group.
type kaGroup struct {
	at      *stmt
	name    string
	members []string
	// keepWeights is sync_group_tracking_weight: without it keepalived
	// sets the weights of its members' tracks to 0.
	keepWeights bool
	trackIfs    []*stmt
	trackScr    []*stmt
}

// fileConv converts the statements of one keepalived.conf.
type fileConv struct {
	path     string
	n        *notes
	nd       *node
	version  int // global vrrp_version; 0 when not set
	garpRep  int // global vrrp_garp_master_repeat; 0 when not set
	garpRef  time.Duration
	scripts  map[string]*kaScript
	order    []*kaScript
	groupsOf map[string][]*kaGroup // instance name → its sync groups
	tracked  map[string]bool       // vrrp_script names in the instances' track_script
	// checkNames are the names given to checks so far: two scripts
	// whose names differ only in characters vipd does not allow must
	// not become two checks of one name.
	checkNames map[string]bool
}

func convertFile(path string, stmts []*stmt, n *notes) *node {
	c := &fileConv{
		path:       path,
		n:          n,
		nd:         &node{source: path},
		scripts:    make(map[string]*kaScript),
		groupsOf:   make(map[string][]*kaGroup),
		tracked:    make(map[string]bool),
		checkNames: make(map[string]bool),
	}
	var instances []*stmt
	for _, s := range stmts {
		switch kw := s.keyword(); kw {
		case "global_defs":
			if c.needBlock(s) {
				c.globalDefs(s)
			}
		case "vrrp_script":
			if c.needBlock(s) {
				c.vrrpScript(s)
			}
		case "vrrp_sync_group":
			if c.needBlock(s) {
				c.syncGroup(s)
			}
		case "vrrp_instance":
			if c.needBlock(s) {
				instances = append(instances, s)
				for _, k := range s.block {
					if k.keyword() == "track_script" {
						for _, e := range k.block {
							c.tracked[e.keyword()] = true
						}
					}
				}
			}
		default:
			c.n.at(s, "%s", topLevelReason(s))
		}
	}
	for _, s := range instances {
		if in := c.instance(s); in != nil {
			c.nd.instances = append(c.nd.instances, in)
		}
	}
	c.keepValid()
	for _, sc := range c.order {
		used := sc.check != nil && slices.ContainsFunc(c.nd.instances, func(in *vInstance) bool {
			return slices.ContainsFunc(in.track, func(t vTrack) bool { return t.check == sc.check.name })
		})
		switch {
		case used:
			c.nd.checks = append(c.nd.checks, sc.check)
		case sc.bad:
			// Noted when it was converted.
		case !c.tracked[sc.name]:
			c.n.at(sc.at, "vrrp_script %s: no vrrp_instance tracks it, so keepalived does not run it either; not converted", sc.name)
		default:
			c.n.at(sc.at, "vrrp_script %s: only vrrp_instances that are not converted track it; not converted", sc.name)
		}
	}
	return c.nd
}

// needBlock reports whether s has the block its keyword needs, noting it
// if not.
func (c *fileConv) needBlock(s *stmt) bool {
	if !s.hasBlock {
		c.n.at(s, "%s without a { block }; not converted", s.keyword())
	}
	return s.hasBlock
}

// topLevelReason says why a top-level keyword other than global_defs,
// vrrp_script, vrrp_sync_group and vrrp_instance is not converted.
func topLevelReason(s *stmt) string {
	kw := s.keyword()
	switch kw {
	case "virtual_server", "virtual_server_group", "SSL":
		return kw + ": not converted: vipd does not do load balancing (LVS); keep keepalived's checker process or use a load balancer such as HAProxy"
	case "static_ipaddress", "static_routes", "static_rules":
		return kw + ": not converted: vipd manages only the VIPs of its instances; configure static addresses, routes and rules with the system's network configuration"
	case "vrrp_track_file", "vrrp_track_process", "bfd_instance", "track_group":
		return kw + ": not converted: vipd tracks checks ([[check]]: http, https, tcp, exec) and interfaces only; an exec check can test the same condition"
	case "garp_group":
		return "garp_group: not converted: vipd sends its gratuitous ARPs and neighbour advertisements without a delay between them"
	case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets", "instance", "use_pid_dir",
		"linkbeat_use_polling", "child_wait_time", "random_seed":
		return kw + ": not converted: a setting of the keepalived process; vipd runs in the network namespace it is started in"
	case "{", "}":
		return "stray brace; not converted"
	}
	return fmt.Sprintf("%s: not a keepalived keyword this converter knows; not converted", kw)
}

// globalDefs reads global_defs: the router_id names the node; the VRRP
// version and gratuitous ARP settings are defaults of the instances.
func (c *fileConv) globalDefs(g *stmt) {
	for _, s := range g.block {
		switch kw := s.keyword(); kw {
		case "router_id":
			id := s.arg(1)
			if id == "" {
				c.n.at(s, "router_id without a value; not converted")
				continue
			}
			name := safeName(id)
			if name != id {
				c.n.at(s, "router_id %q names the node %q (vipd names may hold letters, digits, '-', '_' and '.')", id, name)
			}
			c.nd.name, c.nd.nameLine = name, s.line
		case "vrrp_version":
			switch v := s.arg(1); v {
			case "2", "3":
				c.version = int(v[0] - '0')
			default:
				c.n.at(s, "vrrp_version %q is neither 2 nor 3; ignored, as keepalived does", v)
			}
		case "vrrp_garp_master_repeat":
			if v, ok := c.garpRepeat("global_defs", s); ok {
				c.garpRep = v
			}
		case "vrrp_garp_master_refresh":
			if d, ok := c.durationArg("global_defs", s); ok {
				c.garpRef = d
			}
		case "vrrp_strict":
			c.n.at(s, "vrrp_strict: not converted: vipd follows RFC 9568 without it, and adds no firewall rules (keepalived's strict mode adds iptables rules that drop traffic to the VIPs)")
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			def := map[string]string{"vrrp_mcast_group4": "224.0.0.18", "vrrp_mcast_group6": "ff02::12"}[kw]
			if s.arg(1) != def {
				c.n.at(s, "%s %s: not converted: vipd sends adverts to the standard group %s only", kw, s.arg(1), def)
			}
		case "vrrp_check_unicast_src", "enable_script_security":
			// vipd always does this: it accepts unicast adverts only
			// from the listed peers, and runs only programs root owns.
		case "script_user":
			if s.arg(1) != "root" {
				c.n.at(s, "script_user %s: not converted: vipd runs checks and notify programs as root, and only those that root owns", s.arg(1))
			}
		case "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout",
			"smtp_helo_name", "smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_email_faults":
			c.n.at(s, "%s: not converted: vipd sends no email; a notify program can", kw)
		case "vrrp_garp_master_delay", "vrrp_garp_interval", "vrrp_gna_interval", "vrrp_garp_lower_prio_delay",
			"vrrp_garp_lower_prio_repeat", "vrrp_garp_master_refresh_repeat", "vrrp_min_garp":
			c.n.at(s, "%s: not converted: vipd sends garp_repeat gratuitous ARPs (or neighbour advertisements) at once on becoming master, and one round every garp_refresh", kw)
		case "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script":
			c.n.at(s, "%s: not converted: vipd has no notify FIFO; give the instances a notify program", kw)
		case "enable_snmp_vrrp", "enable_snmp_keepalived", "enable_snmp_checker", "enable_snmp_rfc",
			"enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_traps", "snmp_socket":
			c.n.at(s, "%s: not converted: vipd has no SNMP agent; it exports Prometheus metrics ([daemon] metrics_listen)", kw)
		case "enable_dbus", "dbus_service_name":
			c.n.at(s, "%s: not converted: vipd has no D-Bus interface; see vipctl status", kw)
		default:
			c.n.at(s, "%s: not converted: a keepalived process setting with no vipd equivalent", kw)
		}
	}
}

// vrrpScript records a vrrp_script; it is converted when first tracked.
func (c *fileConv) vrrpScript(s *stmt) {
	name := s.arg(1)
	if name == "" {
		c.n.at(s, "vrrp_script without a name; not converted")
		return
	}
	sc := &kaScript{at: s, name: name}
	for _, k := range s.block {
		if k.keyword() == "weight" {
			if w, ok := c.weightArg("vrrp_script "+name, k, 253); ok {
				sc.weight = w
			}
		}
	}
	if old, ok := c.scripts[name]; ok {
		c.n.at(s, "vrrp_script %s is also defined on line %d; this one is used", name, old.at.line)
		c.order = slices.DeleteFunc(c.order, func(o *kaScript) bool { return o == old })
	}
	c.scripts[name] = sc
	c.order = append(c.order, sc)
}

// resolve converts a tracked vrrp_script into a check, once.
func (c *fileConv) resolve(sc *kaScript) *vCheck {
	if sc.resolved {
		return sc.check
	}
	sc.resolved = true
	ch := &vCheck{at: sc.at, name: checkName(sc.name), rise: 1, fall: 1, interval: time.Second}
	if c.checkNames[ch.name] {
		base := ch.name
		for i := 2; c.checkNames[ch.name]; i++ {
			suffix := fmt.Sprintf("-%d", i)
			ch.name = base[:min(len(base), 63-len(suffix))] + suffix
		}
		c.n.at(sc.at, "vrrp_script %s: its check is named %q, as %q is another script's", sc.name, ch.name, base)
	}
	c.checkNames[ch.name] = true
	var script, timeoutAt *stmt
	var timeout time.Duration
	for _, k := range sc.at.block {
		switch kw := k.keyword(); kw {
		case "script":
			script = k
		case "interval":
			if d, ok := c.durationArg("vrrp_script "+sc.name, k); ok {
				ch.interval = max(d, time.Second) // keepalived's minimum
			}
		case "timeout":
			if d, ok := c.durationArg("vrrp_script "+sc.name, k); ok {
				timeout, timeoutAt = d, k
			}
		case "rise", "fall":
			v, ok := c.intArg("vrrp_script "+sc.name, k, 1, math.MaxInt32)
			if !ok {
				continue
			}
			if v > health.MaxRiseFall {
				c.n.at(k, "vrrp_script %s: %s %d is above vipd's maximum of %d; %d", sc.name, kw, v, health.MaxRiseFall, health.MaxRiseFall)
				v = health.MaxRiseFall
			}
			if kw == "rise" {
				ch.rise = v
			} else {
				ch.fall = v
			}
		case "weight", "init_fail":
			// weight is read with the script; vipd starts every check
			// failing, as init_fail asks.
		case "user":
			if k.arg(1) != "root" {
				c.n.at(k, "vrrp_script %s: user %s: not converted: vipd runs checks as root, and only programs that root owns", sc.name, k.arg(1))
			}
		default:
			c.n.at(k, "vrrp_script %s: %s: not converted: unknown to the converter", sc.name, kw)
		}
	}
	if script == nil || script.rest == "" {
		c.n.at(sc.at, "vrrp_script %s has no script, so keepalived drops it; not converted", sc.name)
		sc.bad = true
		return nil
	}
	text, extra, err := commandText(script)
	var p probe
	if err == nil {
		p, err = classify(text)
	}
	if err != nil {
		c.n.at(script, "vrrp_script %s: script %s: %v; not converted", sc.name, script.rest, err)
		sc.bad = true
		return nil
	}
	if extra {
		c.n.at(script, "vrrp_script %s: the script is not quoted: keepalived 2 runs only %q, ignoring the words after it; the check runs the whole line, as keepalived 1 did (quote it in keepalived.conf)", sc.name, script.arg(1))
	}
	ch.probe = p
	c.remarkProbe(script, "vrrp_script "+sc.name, &ch.probe)
	switch {
	case timeout > 0:
		ch.timeout = timeout
	case p.timeout > 0:
		ch.timeout, timeoutAt = p.timeout, script
	}
	if ch.typ == health.TypeExec && ch.interval < health.MinExecInterval {
		ch.interval = health.MinExecInterval
	}
	if ch.timeout >= ch.interval {
		c.n.at(timeoutAt, "vrrp_script %s: timeout %s is not shorter than the interval %s, as vipd requires; vipd's default applies (3/4 of the interval: %s)",
			sc.name, ch.timeout, ch.interval, min(ch.interval*3/4, health.MaxDefaultTimeout))
		ch.timeout = 0
	}
	if err := ch.spec().Validate(); err != nil {
		c.n.at(sc.at, "vrrp_script %s: vipd rejects the check: %s; not converted", sc.name, strings.ReplaceAll(err.Error(), "\n", "; "))
		sc.bad = true
		return nil
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
		c.n.at(s, "%s: %q needs a shell: it runs as [%q, \"-c\", ...]; better put it in a root-owned script file (vipd runs programs without a shell, and only those root owns, in directories only root can write)", what, scriptText(s), shellPath)
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
	words, _, err := shellSplit(text)
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

// syncGroup records a vrrp_sync_group: vipd has no sync groups, but
// keepalived applies the group's tracking to each member.
func (c *fileConv) syncGroup(s *stmt) {
	g := &kaGroup{at: s, name: s.arg(1)}
	for _, k := range s.block {
		switch kw := k.keyword(); kw {
		case "group":
			for _, m := range k.block {
				g.members = append(g.members, m.words...)
			}
		case "sync_group_tracking_weight", "global_tracking":
			g.keepWeights = true
		case "track_interface":
			g.trackIfs = append(g.trackIfs, k)
		case "track_script":
			g.trackScr = append(g.trackScr, k)
			for _, e := range k.block {
				c.tracked[e.keyword()] = true
			}
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			c.n.at(k, "vrrp_sync_group %s: %s: not converted: vipd runs notify programs per instance; give the members a notify program", g.name, kw)
		default:
			c.n.at(k, "vrrp_sync_group %s: %s: not converted", g.name, kw)
		}
	}
	c.n.at(s, "vrrp_sync_group %s: not converted as a group: vipd moves each instance on its own (the two families of one instance do follow one master); the group's tracking is added to each member", g.name)
	for _, m := range g.members {
		c.groupsOf[m] = append(c.groupsOf[m], g)
	}
}

// intArg reads argument 1 of s as an integer in lo..hi. label names what
// s belongs to, for the note.
func (c *fileConv) intArg(label string, s *stmt, lo, hi int) (int, bool) {
	return c.intArgAt(label, s, 1, lo, hi)
}

// weightArg reads argument 1 of s as a tracking weight.
func (c *fileConv) weightArg(label string, s *stmt, limit int) (int, bool) {
	return c.intArgAt(label, s, 1, -limit, limit)
}

// intArgAt reads argument i of s as an integer in lo..hi.
func (c *fileConv) intArgAt(label string, s *stmt, i, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(s.arg(i))
	if err != nil || v < lo || v > hi {
		c.n.at(s, "%s: %s: %q is not a number from %d to %d; ignored, as keepalived does", label, s.keyword(), s.arg(i), lo, hi)
		return 0, false
	}
	return v, true
}

// durationArg reads argument 1 of s as keepalived's seconds (fractional
// allowed), up to a day.
func (c *fileConv) durationArg(label string, s *stmt) (time.Duration, bool) {
	d, ok := seconds(s.arg(1), time.Second)
	if !ok || d > 24*time.Hour {
		c.n.at(s, "%s: %s %q is not a number of seconds; ignored, as keepalived does", label, s.keyword(), s.arg(1))
		return 0, false
	}
	return d, true
}

// maxGARPRepeat is vipd's limit of garp_repeat.
const maxGARPRepeat = 100

// garpRepeat reads a gratuitous ARP count, capped at vipd's maximum.
func (c *fileConv) garpRepeat(label string, s *stmt) (int, bool) {
	v, err := strconv.Atoi(s.arg(1))
	switch {
	case err != nil || v < 0:
		c.n.at(s, "%s: %s %q is not a count; ignored, as keepalived does", label, s.keyword(), s.arg(1))
		return 0, false
	case v == 0:
		c.n.at(s, "%s: %s 0: vipd sends at least one gratuitous ARP on becoming master; 1", label, s.keyword())
		return 1, true
	case v > maxGARPRepeat:
		c.n.at(s, "%s: %s %d is above vipd's maximum of %d; %d", label, s.keyword(), v, maxGARPRepeat, maxGARPRepeat)
		return maxGARPRepeat, true
	}
	return v, true
}
