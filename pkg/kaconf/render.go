package kaconf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
)

// render writes the vipd configuration of a node.
func render(nd *node) []byte {
	var insts []*vInstance
	for _, in := range nd.instances {
		if !in.refused {
			insts = append(insts, in)
		}
	}
	return renderFile(nd.source, nd.name, nd.checks, insts)
}

// renderFile writes a vipd configuration of checks and instances,
// converted from source for the node named name ("" for a fragment,
// without the header).
func renderFile(source, name string, checks []*vCheck, insts []*vInstance) []byte {
	w := &tomlWriter{}
	if name != "" {
		w.comment("vipd configuration of node %q, converted from %s", name, source)
		w.comment("by vipctl convert-keepalived. Check it with: vipd -t -config FILE")
		w.comment("")
		w.comment("Like keepalived.conf it describes one node (no [cluster]) with its own")
		w.comment("priorities, so that vipd and keepalived nodes can share the virtual")
		w.comment("routers during a rolling migration.")
	}
	for _, ch := range checks {
		w.blank()
		w.line("[[check]]")
		w.comment("%s %s (%s:%d)", ch.at.keyword(), ch.at.arg(1), ch.at.file, ch.at.line)
		w.str("name", ch.name)
		w.str("type", ch.typ)
		switch ch.typ {
		case health.TypeHTTP, health.TypeHTTPS:
			w.str("url", ch.url)
			if ch.insecure {
				w.kv("insecure_skip_verify", "true")
			}
			w.optStr("ca_file", ch.caFile)
			w.optStr("cert_file", ch.certFile)
			w.optStr("key_file", ch.keyFile)
		case health.TypeTCP:
			w.str("address", ch.address)
		case health.TypeExec:
			w.strs("command", ch.command)
		case health.TypeProcess:
			w.str("process", ch.process)
			if ch.fullCommand {
				w.kv("full_command", "true")
			}
			if len(ch.params) > 0 {
				w.strs("params", ch.params)
			}
			w.optStr("param_match", ch.paramMatch)
			if ch.quorum != 1 {
				w.kv("quorum", strconv.Itoa(ch.quorum))
			}
			if ch.quorumMax > 0 {
				w.kv("quorum_max", strconv.Itoa(ch.quorumMax))
			}
		}
		w.dur("interval", ch.interval)
		if ch.timeout > 0 {
			w.dur("timeout", ch.timeout)
		}
		w.kv("rise", strconv.Itoa(ch.rise))
		w.kv("fall", strconv.Itoa(ch.fall))
	}
	for _, in := range insts {
		w.blank()
		w.line("[[instance]]")
		w.comment("vrrp_instance %s (%s:%d)", in.kaName, in.at.file, in.at.line)
		if len(in.reasons) == 0 {
			w.comment("Safe for a mixed fleet of keepalived and vipd nodes.")
		} else {
			w.comment("NOT SAFE for a mixed fleet of keepalived and vipd nodes:")
			for _, r := range in.reasons {
				w.comment("  %s", r)
			}
		}
		w.str("name", in.name)
		w.kv("vrid", strconv.Itoa(in.vrid))
		w.str("interface", in.iface)
		w.kv("version", strconv.Itoa(in.version))
		w.kv("priority", strconv.Itoa(in.priority))
		w.dur("advert_interval", in.advert)
		vips := make([]string, len(in.vips))
		for i, p := range in.vips {
			vips[i] = p.String()
			if d, ok := in.vipDevs[p.Addr()]; ok {
				vips[i] += " dev " + d.Interface
				if d.NoTrack {
					vips[i] += " no_track"
				}
			}
		}
		w.strs("vips", vips)
		if !in.preempt {
			w.kv("preempt", "false")
		}
		if in.preemptDelay > 0 {
			w.dur("preempt_delay", in.preemptDelay)
		}
		if len(in.peers) > 0 {
			if in.unicastSource.IsValid() {
				w.str("unicast_source", in.unicastSource.String())
			}
			w.strs("unicast_peers", addrStrings(in.peers))
		}
		w.optStr("auth_password", in.auth)
		if in.garpRepeat > 0 {
			w.kv("garp_repeat", strconv.Itoa(in.garpRepeat))
		}
		if in.garpRefresh > 0 {
			w.dur("garp_refresh", in.garpRefresh)
		}
		if in.garpDelay != config.DefaultGARPDelay {
			w.dur("garp_delay", in.garpDelay)
		}
		if len(in.notify) > 0 {
			w.strs("notify", in.notify)
		}
		if len(in.track) > 0 {
			tracks := make([]string, len(in.track))
			for i, t := range in.track {
				tracks[i] = "{ check = " + quote(t.check)
				if t.weight != 0 {
					tracks[i] += ", weight = " + strconv.Itoa(t.weight)
				}
				tracks[i] += " }"
			}
			w.kv("track", "["+strings.Join(tracks, ", ")+"]")
		}
		if len(in.trackIfaces) > 0 {
			ifs := make([]string, len(in.trackIfaces))
			for i, t := range in.trackIfaces {
				ifs[i] = t.name
				if t.weight != 0 {
					ifs[i] += " weight " + strconv.Itoa(t.weight)
				}
			}
			w.strs("track_interfaces", ifs)
		}
		w.optStr("sync_group", in.syncGroup)
	}
	return []byte(w.b.String())
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// tomlWriter writes the little TOML a vipd configuration needs.
type tomlWriter struct {
	b strings.Builder
}

func (w *tomlWriter) line(s string) {
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *tomlWriter) blank() {
	if w.b.Len() > 0 {
		w.b.WriteByte('\n')
	}
}

// comment writes a comment line; characters TOML does not allow in
// comments (control characters other than tab) become '?'.
func (w *tomlWriter) comment(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
	w.line(strings.TrimRight("# "+s, " "))
}

func (w *tomlWriter) kv(key, value string) { w.line(key + " = " + value) }

func (w *tomlWriter) str(key, value string) { w.kv(key, quote(value)) }

func (w *tomlWriter) optStr(key, value string) {
	if value != "" {
		w.str(key, value)
	}
}

func (w *tomlWriter) strs(key string, values []string) {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	w.kv(key, "["+strings.Join(q, ", ")+"]")
}

func (w *tomlWriter) dur(key string, d time.Duration) { w.str(key, d.String()) }

// quote writes s as a TOML basic string. Bytes that are not UTF-8 become
// U+FFFD, which TOML can hold.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
