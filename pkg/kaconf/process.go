package kaconf

import (
	"fmt"
	"strings"
	"time"

	"github.com/vipd/vipd/pkg/health"
)

// processInterval is the interval of a converted process check: the scan
// that finds processes that started, which keepalived's process events see
// at once. Exits are seen at once by both.
const processInterval = time.Second

// kaProcess is a vrrp_track_process as keepalived 2.2.7 reads it
// (vrrp_tprocess_*_handler in vrrp/vrrp_parser.c).
type kaProcess struct {
	at   *stmt
	name string
	// sc stands for the process among the tracks, as a vrrp_script does:
	// its weight, its reverse and, once tracked, its check.
	sc          *kaScript
	processAt   *stmt
	process     string
	params      []string
	paramMatch  string // "", or health.ParamExact, ParamPartial, ParamInitial
	fullCommand bool
	quorum      int
	quorumMax   int // -1: keepalived's UINT_MAX, no maximum
	delays      []*stmt
}

// trackProcess reads a vrrp_track_process; it is converted when first
// tracked. One without process is removed, as keepalived does.
func (c *fileConv) trackProcess(s *stmt) {
	p := &kaProcess{at: s, name: s.arg(1), quorum: 1, quorumMax: -1}
	p.sc = &kaScript{at: s, name: p.name, proc: p}
	label := "vrrp_track_process " + p.name
	weightSet := false
	for _, k := range s.block {
		switch kw := k.keyword(); kw {
		case "process":
			if p.process != "" {
				c.n.at(k, "%s: process is set twice: keepalived ignores this one (\"Process already set\")", label)
				continue
			}
			if !c.needArg(k) {
				continue
			}
			p.processAt, p.process = k, k.arg(1)
			if len(k.words) > 2 {
				p.params = k.words[2:]
				if p.paramMatch == "" {
					p.paramMatch = health.ParamExact
				}
				p.fullCommand = true
			}
		case "param_match":
			switch k.arg(1) {
			case "":
				p.paramMatch = health.ParamExact
			case "initial", "partial":
				p.paramMatch = k.arg(1)
			default:
				c.n.at(k, "%s: param_match %s: keepalived ignores it (\"Invalid param_match type\")", label, k.arg(1))
				continue
			}
			p.fullCommand = true
		case "full_command":
			p.fullCommand = true
		case "weight":
			if len(k.words) < 2 {
				c.n.at(k, "%s: weight without a value: keepalived ignores it", label)
				continue
			}
			if weightSet && p.sc.weight != 0 {
				c.n.at(k, "%s: weight is set twice: keepalived ignores this one", label)
				continue
			}
			v := kaInt(k.arg(1), -254, 254, true)
			if !v.ok {
				c.n.at(k, "%s: weight %s is not from -254 to 254: keepalived ignores it", label, k.arg(1))
				continue
			}
			if !v.clean {
				c.n.at(k, "%s: weight %q: keepalived reads %d", label, k.arg(1), v.val)
			}
			weightSet = true
			p.sc.weight = int(v.val)
			switch k.arg(2) {
			case "":
			case "reverse":
				p.sc.reverse = true
			default:
				c.n.at(k, "%s: weight option %s: keepalived ignores it", label, k.arg(2))
			}
		case "quorum":
			v := kaUnsigned(k.arg(1), 1, health.MaxQuorum, true)
			switch {
			case !v.ok:
				c.n.at(k, "%s: quorum %q is not from 1 to %d: keepalived ignores it", label, k.arg(1), health.MaxQuorum)
			case p.quorumMax >= 0 && int(v.val) > p.quorumMax:
				c.n.at(k, "%s: quorum %d is above quorum_max %d: keepalived ignores it", label, v.val, p.quorumMax)
			default:
				p.quorum = int(v.val)
			}
		case "quorum_max":
			v := kaUnsigned(k.arg(1), 0, health.MaxQuorum, true)
			switch {
			case !v.ok:
				c.n.at(k, "%s: quorum_max %q is not from 0 to %d: keepalived ignores it", label, k.arg(1), health.MaxQuorum)
			case (v.val != 0 || p.quorum > 1) && int(v.val) < p.quorum:
				c.n.at(k, "%s: quorum_max %d is below quorum %d: keepalived ignores it", label, v.val, p.quorum)
			default:
				p.quorumMax = int(v.val)
				if p.quorumMax == 0 {
					p.quorum = 0
				}
			}
		case "delay", "terminate_delay", "fork_delay":
			p.delays = append(p.delays, k)
		default:
			c.n.at(k, "%s: %s: keepalived 2.2.7 does not know it and ignores it", label, kw)
		}
	}
	if p.process == "" {
		c.n.at(s, "%s has no process: keepalived removes it (\"process name not specified\")", label)
		return
	}
	c.processes = append(c.processes, p)
}

// findProcess finds a vrrp_track_process defined so far by name, the
// first, as keepalived's find_tracked_process_by_name.
func (c *fileConv) findProcess(name string) *kaProcess {
	for _, p := range c.processes {
		if p.name == name {
			return p
		}
	}
	return nil
}

// readTrackProcess reads a track_process entry as keepalived's
// alloc_track_process: NAME [weight W [reverse|noreverse]].
func (c *fileConv) readTrackProcess(label string, e *stmt, have []kaTrack) (kaTrack, bool) {
	name := e.keyword()
	p := c.findProcess(name)
	if p == nil {
		c.n.at(e, "%s: track_process %s: there is no vrrp_track_process %s before it, so keepalived ignores it (\"track process not found\")", label, name, name)
		return kaTrack{}, false
	}
	t := kaTrack{at: e, script: p.sc, weight: p.sc.weight, reverse: p.sc.reverse}
	if containsScript(have, p.sc) {
		c.n.at(e, "%s: track_process %s is listed twice: keepalived ignores this one", label, name)
		return t, false
	}
	p.sc.tracked = true
	return t, c.readTrackWeight(label, "track_process", "process's", 254, e, &t)
}

func containsScript(ts []kaTrack, sc *kaScript) bool {
	for _, t := range ts {
		if t.script == sc {
			return true
		}
	}
	return false
}

// processCheck makes ch the process check of p, or says why it cannot be.
func (c *fileConv) processCheck(p *kaProcess, ch *vCheck, bad func(*stmt, string, ...any) *vCheck) *vCheck {
	label := "vrrp_track_process " + p.name
	if len(p.delays) > 0 {
		d := p.delays[0]
		return bad(d, "%s %s: keepalived waits that long before it acts on a process that starts or exits, and vipd's process checks act at once, which would move the VIP where keepalived keeps it", d.keyword(), d.arg(1))
	}
	if p.quorumMax == 0 {
		return bad(p.at, "quorum_max 0: keepalived's track passes only while no such process runs; a vipd process check needs at least one")
	}
	if !p.fullCommand {
		why := ""
		switch {
		case strings.Contains(p.process, "/"):
			why = "which has no '/'"
		case len(p.process) > health.MaxCommLen:
			why = fmt.Sprintf("which the kernel cuts to %d characters", health.MaxCommLen)
		}
		if why != "" {
			return bad(p.processAt, "process %s: keepalived compares it with the process name (comm), %s, so it never matches and keepalived sees no process ever; write the name as ps -o comm shows it, or add full_command to compare argv[0]", p.process, why)
		}
	}
	ch.probe = probe{
		typ:         health.TypeProcess,
		process:     p.process,
		fullCommand: p.fullCommand,
		params:      p.params,
		paramMatch:  p.paramMatch,
		quorum:      p.quorum,
	}
	if p.quorumMax > 0 {
		ch.quorumMax = p.quorumMax
	}
	ch.interval, ch.rise, ch.fall = processInterval, 1, 1
	c.n.at(p.at, "%s: becomes a process check: an exit is seen at once, as keepalived sees it, and fails it at once (rise 1, fall 1, as keepalived has none); a process that starts is found by a scan of /proc every %s, where keepalived's process events see it at once", label, processInterval)
	if err := ch.spec().Validate(); err != nil {
		return bad(p.at, "vipd rejects the check: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return ch
}
