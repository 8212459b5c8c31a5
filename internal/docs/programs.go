package docs

import (
	"fmt"
	"regexp"
	"strings"
)

// An entry is an option or a command with its description.
type entry struct {
	term string   // "-config string", "status [-o table|json] [NAME]"
	desc []string // lines
}

var (
	flagLine = regexp.MustCompile(`^  (-\S+)(?: (\S+))?(?:\t(.*))?$`)
	flagDesc = regexp.MustCompile(`^    \t(.*)$`)
)

// parseFlags reads the flag package's PrintDefaults output (vipd -h).
func parseFlags(help string) ([]entry, error) {
	var out []entry
	for i, line := range strings.Split(strings.TrimRight(help, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "Usage of "):
		case flagLine.MatchString(line):
			m := flagLine.FindStringSubmatch(line)
			e := entry{term: strings.TrimSpace(m[1] + " " + m[2])}
			if m[3] != "" {
				e.desc = []string{m[3]}
			}
			out = append(out, e)
		case flagDesc.MatchString(line) && len(out) > 0:
			out[len(out)-1].desc = append(out[len(out)-1].desc, flagDesc.FindStringSubmatch(line)[1])
		default:
			return nil, fmt.Errorf("help line %d: %q is not of a flag", i+1, line)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("help lists no flags")
	}
	return out, nil
}

var (
	usageEntry = regexp.MustCompile(`^  (\S.*?)(?:\s{2,}(\S.*))?$`)
	usageCont  = regexp.MustCompile(`^\s{3,}(\S.*)$`)
)

// usage is vipctl's help, split up.
type usage struct {
	synopsis string
	blocks   []usageBlock
}

type usageBlock struct {
	title   string // "Commands", "Flags, accepted before or after the command"
	entries []entry
}

// parseUsage reads vipctl's help: a "usage:" line, then blocks of a title
// ending in ":" and two-column entries.
func parseUsage(help string) (usage, error) {
	var u usage
	for i, line := range strings.Split(strings.TrimRight(help, "\n"), "\n") {
		var cur *usageBlock
		if n := len(u.blocks); n > 0 {
			cur = &u.blocks[n-1]
		}
		switch {
		case strings.HasPrefix(line, "usage: "):
			u.synopsis = strings.TrimPrefix(line, "usage: ")
		case line == "":
		case !strings.HasPrefix(line, " ") && strings.HasSuffix(line, ":"):
			u.blocks = append(u.blocks, usageBlock{title: strings.TrimSuffix(line, ":")})
		case cur != nil && usageCont.MatchString(line) && len(cur.entries) > 0:
			e := &cur.entries[len(cur.entries)-1]
			e.desc = append(e.desc, usageCont.FindStringSubmatch(line)[1])
		case cur != nil && usageEntry.MatchString(line):
			m := usageEntry.FindStringSubmatch(line)
			e := entry{term: m[1]}
			if m[2] != "" {
				e.desc = []string{m[2]}
			}
			cur.entries = append(cur.entries, e)
		default:
			return u, fmt.Errorf("usage line %d: %q is not understood", i+1, line)
		}
	}
	if u.synopsis == "" || len(u.blocks) == 0 {
		return u, fmt.Errorf("usage has no synopsis or no commands")
	}
	return u, nil
}

// term renders "name arg..." with the name bold and the rest as typed.
func term(t string) string {
	name, rest, _ := strings.Cut(t, " ")
	if rest == "" {
		return bold(name)
	}
	return bold(name) + " " + italic(rest)
}

func (p *page) entries(es []entry) {
	for _, e := range es {
		var lines []string
		for _, d := range e.desc {
			lines = append(lines, text(d))
		}
		p.tagged(term(e.term), lines...)
	}
}

// VipdPage renders vipd(8); help is what vipd -h prints.
func VipdPage(help string, m Meta) ([]byte, error) {
	flags, err := parseFlags(help)
	if err != nil {
		return nil, err
	}
	var p page
	p.header("vipd", 8, "System Administration", m, "VRRP daemon that keeps virtual IP addresses on one healthy node")
	p.section("SYNOPSIS")
	syn := []string{bold("vipd")}
	for _, f := range flags {
		syn = append(syn, "["+term(f.term)+"]")
	}
	p.line(strings.Join(syn, " "))
	p.section("DESCRIPTION")
	p.para("vipd keeps virtual IP addresses (VIPs) on exactly one healthy node of a cluster, " +
		"typically in front of the API servers of a highly available Kubernetes control plane. " +
		"The nodes elect a master with VRRP: version 3 (RFC 9568) for IPv4 and IPv6, " +
		"and version 2 (RFC 3768) to join keepalived fleets, over multicast or to unicast peers.")
	p.para("The master adds the VIPs to its interface and announces them " +
		"(gratuitous ARP, unsolicited neighbour advertisements); backups never hold them. " +
		"Each node checks local services (HTTPS, HTTP, TCP or a program); " +
		"a node whose checks fail hands its VIPs over, and when every node fails, the VIPs stay on one of them.")
	p.para("One file, the same on every node, describes the cluster: see vipd.toml(5). " +
		"Run vipd -t on it after every change: it reports every mistake with its line, " +
		"and shows each node's priorities and how long a failure takes to move each VIP.")
	p.section("OPTIONS")
	p.entries(flags)
	p.section("SIGNALS")
	p.tagged(bold("SIGHUP"), text("Re-read the configuration file. An invalid file is refused, "+
		"with the error logged, and the running configuration kept. "+
		"Unchanged instances keep their state and VIPs."))
	p.tagged(bold("SIGTERM")+", "+bold("SIGINT"), text("Stop. A master resigns with a priority-0 advertisement "+
		"and keeps its VIPs until it hears the new master, so that no packet is lost."))
	p.section("EXIT STATUS")
	p.line(text("0 when stopped by a signal, or with -t when the file is valid; " +
		"1 on an invalid file or a failure; 2 on a wrong command line."))
	p.section("ENVIRONMENT")
	p.tagged(bold("NOTIFY_SOCKET"), text("Set by systemd: vipd reports readiness, its state (STATUS=) "+
		"and feeds the watchdog while every virtual router answers."))
	p.tagged(bold("GOMAXPROCS"), text("vipd runs on one processor unless this says otherwise."))
	p.section("FILES")
	p.tagged(code("/etc/vipd/vipd.toml"), text("The configuration (-config)."))
	p.tagged(code("/run/vipd/vipd.sock"), text("The control socket that vipctl(8) talks to."))
	p.tagged(code("/var/lib/vipd"), text("Which instances are drained, kept across restarts."))
	p.section("NOTES")
	p.para("vipd needs the capabilities CAP_NET_ADMIN (addresses) and CAP_NET_RAW (VRRP and ARP sockets), " +
		"and no others; its systemd unit grants only these.")
	p.section("SEE ALSO")
	p.line(`\fBvipctl\fR(8), \fBvipd.toml\fR(5), \fBkeepalived\fR(8)`)
	return []byte(p.String()), nil
}

// VipctlPage renders vipctl(8); help is what vipctl help prints.
func VipctlPage(help string, m Meta) ([]byte, error) {
	u, err := parseUsage(help)
	if err != nil {
		return nil, err
	}
	var p page
	p.header("vipctl", 8, "System Administration", m, "show and steer a running vipd")
	p.section("SYNOPSIS")
	p.line(term(u.synopsis))
	p.section("DESCRIPTION")
	p.para("vipctl talks to vipd(8) through its control socket: it shows the state of every " +
		"instance, drains a node for maintenance and resumes it. Status is open to whoever can " +
		"reach the socket; drain and resume only to root. vipctl also converts keepalived " +
		"configurations and writes Kubernetes manifests that run vipd; these need no daemon.")
	for _, b := range u.blocks {
		p.section(strings.ToUpper(strings.SplitN(b.title, ",", 2)[0]))
		if _, more, ok := strings.Cut(b.title, ", "); ok {
			p.para(strings.ToUpper(more[:1]) + more[1:] + ".")
		}
		p.entries(b.entries)
	}
	p.section("EXIT STATUS")
	p.line(text("0 on success, 1 when the call failed, 2 on a wrong command line."))
	p.section("FILES")
	p.tagged(code("/run/vipd/vipd.sock"), text("vipd's control socket (-socket)."))
	p.section("SEE ALSO")
	p.line(`\fBvipd\fR(8), \fBvipd.toml\fR(5)`)
	return []byte(p.String()), nil
}
