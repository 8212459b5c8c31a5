package kaconf

import (
	"fmt"
	"math"
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
