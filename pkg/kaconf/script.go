package kaconf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/pkg/health"
)

// probe is what a keepalived script (a vrrp_script's script, a notify
// program) becomes: a native check where the script only probes a URL or
// a port, else a program run without a shell.
type probe struct {
	typ                string // health.TypeHTTP, TypeHTTPS, TypeTCP or TypeExec
	url                string
	insecure           bool
	caFile             string
	certFile, keyFile  string
	address            string
	command            []string
	timeout            time.Duration // from curl --max-time or timeout(1); 0 when not given
	remarks            []string      // what the operator should know about the translation
	shell              bool          // command is ["/bin/sh", "-c", script]
	defaultProgramPath bool          // command[0] was a bare name, assumed in /usr/bin

	// process checks (from vrrp_track_process, never from a script).
	process     string
	fullCommand bool
	params      []string
	paramMatch  string
	quorum      int
	quorumMax   int // 0: no maximum
}

// Where a program named without a path is assumed to be: vipd runs
// programs by absolute path, without a PATH lookup.
const assumedBinDir = "/usr/bin"

// The shell keepalived runs a script starting with "</" in (system(3)).
const shellPath = "/bin/sh"

// commandText returns the command line of a script or notify statement
// as keepalived 2 reads it: the first word after the keyword (quotes and
// escapes removed), which it splits again into the program and its
// arguments, so that script "killall -0 haproxy" runs killall. The words
// after it are the user and group of notify; after script, keepalived 2
// ignores them (keepalived 1 ran them as part of the command): extra
// reports them.
func commandText(s *stmt) (text string, extra bool, err error) {
	outer, err := kaSplit(s.rest)
	if err != nil {
		return "", false, err
	}
	if len(outer) == 0 {
		return "", false, errors.New("empty command")
	}
	return outer[0], len(outer) > 1 && !strings.HasPrefix(s.keyword(), "notify"), nil
}

// kaSplit splits a command line as keepalived's alloc_strvec_quoted_escaped
// does before it runs the words with execve, without a shell: blanks
// separate words; '...' and "..." quote (escapes work inside both); a
// backslash escapes as in C (\n, \t, \x41, \101, \cA) or quotes the
// character after it.
func kaSplit(s string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && strings.IndexByte(kaWhite, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var w strings.Builder
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return nil, errors.New("a backslash at the end")
				}
				w.WriteByte(kaEscape(s, &i))
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote != 0:
				w.WriteByte(c)
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case strings.IndexByte(kaWhite, c) >= 0:
				break word
			default:
				w.WriteByte(c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("unterminated %c quote", quote)
		}
		words = append(words, w.String())
	}
}

// kaEscape decodes the escape at s[*i] (after the backslash), advancing *i.
func kaEscape(s string, i *int) byte {
	c := s[*i]
	*i++
	hex := func(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }
	switch {
	case c == 'x' && *i < len(s) && hex(s[*i]):
		var v byte
		for *i < len(s) && hex(s[*i]) {
			d := s[*i]
			switch {
			case d <= '9':
				d -= '0'
			case d >= 'a':
				d -= 'a' - 10
			default:
				d -= 'A' - 10
			}
			v = v<<4 | d
			*i++
		}
		return v
	case c == 'c' && *i < len(s):
		v := s[*i] & 0x1f
		*i++
		return v
	case c >= '0' && c <= '7':
		v := c - '0'
		for n := 0; n < 2 && *i < len(s) && s[*i] >= '0' && s[*i] <= '7'; n++ {
			v = v<<3 + s[*i] - '0'
			*i++
		}
		return v
	}
	if e, ok := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}[c]; ok {
		return e
	}
	return c
}

// systemScript reports whether keepalived runs text with system(3), in
// /bin/sh, rather than execve: it does for "</...", a check that a file
// can be opened.
func systemScript(text string) bool {
	t := strings.TrimLeft(text, kaWhite)
	return strings.HasPrefix(t, "<") && strings.HasPrefix(strings.TrimLeft(t[1:], " \t"), "/")
}

// shellSplit splits s into words as a POSIX shell would (blanks separate
// words; single quotes, double quotes and backslashes quote), and reports
// whether s uses more of the shell than that.
func shellSplit(s string) (words []string, shell bool, err error) {
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
				continue
			}
			cur.WriteByte(c)
		case quote == '"':
			switch c {
			case '"':
				quote = 0
				continue
			case '\\':
				if i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
					c = s[i]
				}
			case '$', '`':
				shell = true
			}
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\':
			if i+1 < len(s) {
				i++
			}
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			// '?' and '[' are globs too, but match no file in a URL
			// (?query, [IPv6]), where the shell leaves them as written.
			if strings.IndexByte("|&;<>()$`*\n", c) >= 0 || (c == '~' || c == '#') && !inWord {
				shell = true
			}
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, false, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, false, errors.New("empty command")
	}
	return words, shell, nil
}

// devTCP matches bash's /dev/tcp/HOST/PORT pseudo-file, the port probe of
// many keepalived guides ("</dev/tcp/127.0.0.1/6443").
var devTCP = regexp.MustCompile(`/dev/tcp/([^/\s'"]+)/([0-9]+)`)

// shellOperators are what makes a command line more than a single probe.
var shellOperators = regexp.MustCompile("[|;&`]|\\$\\(")

// shellWords are the characters that mean something to a shell, which
// keepalived does not run scripts in.
const shellWords = "|&;<>$`*"

// classify turns a keepalived command line into a probe that runs what
// keepalived runs: the words as a program and its arguments, without a
// shell (a "</..." check excepted, which keepalived runs in /bin/sh).
func classify(text string) (probe, error) {
	if systemScript(text) {
		p := shellProbe(text)
		if p.typ == health.TypeTCP {
			p.remarks = append(p.remarks, "keepalived runs \"</...\" in /bin/sh: where that is dash (Debian, Ubuntu) it cannot open /dev/tcp and the script always fails; the tcp check connects, as bash does")
		}
		return p, nil
	}
	words, err := kaSplit(text)
	if err != nil {
		return probe{}, err
	}
	if len(words) == 0 {
		return probe{}, errors.New("empty command")
	}
	p := classifyWords(words, true)
	shell := isShell(path.Base(words[0])) && len(words) > 1 && words[1] == "-c"
	if p.typ == health.TypeExec && !shell && slices.ContainsFunc(words[1:], func(w string) bool { return strings.ContainsAny(w, shellWords) }) {
		p.remarks = append(p.remarks, fmt.Sprintf("keepalived runs %s without a shell, the shell's syntax (|, &&, $, ...) passed to it as arguments, and so does vipd: the script most likely never did what it says (put it in a script file)", path.Base(words[0])))
	}
	return p, nil
}

// classifyWords classifies a command split into words. unwrap allows one
// level of "sh -c '...'" or "timeout N ..." to be looked through.
func classifyWords(words []string, unwrap bool) probe {
	name := path.Base(words[0])
	switch {
	case unwrap && name == "timeout":
		if d, inner, ok := timeoutPrefix(words); ok {
			p := classifyWords(inner, false)
			if p.typ != health.TypeExec {
				if p.timeout == 0 || d < p.timeout {
					p.timeout = d
				}
				return p
			}
		}
	case unwrap && isShell(name) && len(words) == 3 && words[1] == "-c":
		inner, shell, err := shellSplit(words[2])
		if err == nil {
			var p probe
			if shell {
				p = shellProbe(words[2])
			} else {
				p = classifyWords(inner, false)
			}
			if p.typ != health.TypeExec {
				return p
			}
		}
	case name == "curl":
		p, ok := curlProbe(words)
		if ok {
			return p
		}
		e := execProbe(words)
		e.remarks = p.remarks
		return e
	case name == "nc" || name == "ncat" || name == "netcat":
		if p, ok := ncProbe(words); ok {
			return p
		}
	}
	return execProbe(words)
}

func isShell(name string) bool {
	switch name {
	case "sh", "bash", "dash", "ash", "ksh", "zsh":
		return true
	}
	return false
}

// shellProbe handles a script that needs a shell: a bare /dev/tcp probe
// becomes a tcp check, anything else runs under sh -c.
func shellProbe(script string) probe {
	if m := devTCP.FindAllStringSubmatch(script, -1); len(m) == 1 && !shellOperators.MatchString(script) {
		return probe{typ: health.TypeTCP, address: net.JoinHostPort(m[0][1], m[0][2])}
	}
	return probe{
		typ:     health.TypeExec,
		command: []string{shellPath, "-c", script},
		shell:   true,
	}
}

// execProbe runs the command as it is, its program made absolute.
func execProbe(words []string) probe {
	p := probe{typ: health.TypeExec, command: append([]string(nil), words...)}
	prog := words[0]
	switch {
	case strings.HasPrefix(prog, "/"):
	case !strings.Contains(prog, "/"):
		p.command[0] = assumedBinDir + "/" + prog
		p.defaultProgramPath = true
	default:
		// keepalived runs scripts with / as working directory.
		p.command[0] = path.Clean("/" + prog)
		p.defaultProgramPath = true
	}
	return p
}

// timeoutPrefix parses "timeout [-s SIG] [-k D] DURATION COMMAND...".
func timeoutPrefix(words []string) (time.Duration, []string, bool) {
	i := 1
	for i < len(words) && strings.HasPrefix(words[i], "-") {
		switch words[i] {
		case "-s", "--signal", "-k", "--kill-after":
			i += 2
		default:
			i++
		}
	}
	if i+1 >= len(words) {
		return 0, nil, false
	}
	d, ok := timeoutDuration(words[i])
	if !ok {
		return 0, nil, false
	}
	return d, words[i+1:], true
}

// timeoutDuration parses a duration of timeout(1): a number of seconds
// with an optional s, m or h suffix.
func timeoutDuration(s string) (time.Duration, bool) {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		s, unit = s[:len(s)-1], time.Minute
	case strings.HasSuffix(s, "h"):
		s, unit = s[:len(s)-1], time.Hour
	}
	return seconds(s, unit)
}

// seconds parses a non-negative decimal number of units.
func seconds(s string, unit time.Duration) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e6 || f != f {
		return 0, false
	}
	return time.Duration(f * float64(unit)).Round(time.Millisecond), true
}

// curl options understood, without and with a value. Anything else (a
// header, a POST body, credentials) has no native equivalent and leaves
// the script an exec check.
var (
	curlFlags = map[string]bool{
		"s": true, "silent": true, "S": true, "show-error": true, "f": true, "fail": true,
		"fail-early": true, "fail-with-body": true, "k": true, "insecure": true,
		"L": true, "location": true, "I": true, "head": true, "q": true, "disable": true,
		"no-progress-meter": true, "4": true, "ipv4": true, "6": true, "ipv6": true,
		"v": true, "verbose": true, "compressed": true, "no-keepalive": true,
		"N": true, "no-buffer": true, "http1.1": true, "http2": true,
	}
	curlValues = map[string]string{ // option → canonical name
		"o": "output", "output": "output", "m": "max-time", "max-time": "max-time",
		"connect-timeout": "connect-timeout", "cacert": "cacert", "E": "cert", "cert": "cert",
		"key": "key", "w": "write-out", "write-out": "write-out", "X": "request",
		"request": "request", "retry": "retry", "retry-delay": "retry", "retry-max-time": "retry",
		"A": "user-agent", "user-agent": "user-agent",
	}
)

// curlProbe recognises a curl of one http or https URL.
func curlProbe(words []string) (probe, bool) {
	flags := make(map[string]bool)
	values := make(map[string]string)
	var urls []string
	args := words[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			urls = append(urls, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			if curlFlags[name] && !hasVal {
				flags[name] = true
				continue
			}
			canon, ok := curlValues[name]
			if !ok {
				return probe{}, false
			}
			if !hasVal {
				if i+1 >= len(args) {
					return probe{}, false
				}
				i++
				val = args[i]
			}
			values[canon] = val
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				l := a[j : j+1]
				if curlFlags[l] {
					flags[l] = true
					continue
				}
				canon, ok := curlValues[l]
				if !ok {
					return probe{}, false
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return probe{}, false
					}
					i++
					val = args[i]
				}
				values[canon] = val
				break
			}
		default:
			urls = append(urls, a)
		}
	}
	if len(urls) != 1 {
		return probe{}, false
	}
	if m, ok := values["request"]; ok && m != "GET" && m != "HEAD" {
		return probe{}, false
	}
	raw := urls[0]
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // curl's default scheme
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return probe{}, false
	}
	p := probe{typ: u.Scheme, url: raw}
	has := func(names ...string) bool {
		for _, n := range names {
			if flags[n] {
				return true
			}
		}
		return false
	}
	if u.Scheme == "https" {
		p.insecure = has("k", "insecure")
		p.caFile = values["cacert"]
		if p.insecure && p.caFile != "" {
			p.remarks = append(p.remarks, "curl -k verified nothing, so --cacert is dropped (vipd's insecure_skip_verify excludes ca_file)")
			p.caFile = ""
		}
		if cert, ok := values["cert"]; ok {
			if strings.Contains(cert, ":") {
				return probe{}, false // cert:password
			}
			p.certFile, p.keyFile = cert, cert
			if key, ok := values["key"]; ok {
				p.keyFile = key
			}
		}
	}
	for _, k := range []string{"max-time", "connect-timeout"} {
		if v, ok := values[k]; ok {
			d, ok := seconds(v, time.Second)
			if !ok {
				return probe{}, false
			}
			if p.timeout == 0 || d > p.timeout {
				p.timeout = d
			}
		}
	}
	switch {
	case !has("f", "fail", "fail-early", "fail-with-body"):
		// A native check judges the status; this curl passes on any
		// answer, also a 500 or a 401.
		return probe{remarks: []string{"curl without --fail passes on any HTTP answer, where a native http check judges the status: kept as a program (with --fail it would become a native check)"}}, false
	case has("L", "location"):
		return probe{remarks: []string{"curl -L follows redirects, which a native http check does not: kept as a program"}}, false
	}
	return p, true
}

// ncProbe recognises "nc -z HOST PORT", netcat's port probe.
func ncProbe(words []string) (probe, bool) {
	zero := false
	var pos []string
	args := words[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || len(a) == 1 {
			pos = append(pos, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			switch a[j] {
			case 'z':
				zero = true
			case 'v', 'n', '4', '6':
			case 'w':
				if j == len(a)-1 {
					i++ // the value is the next word
				}
				j = len(a)
			default:
				return probe{}, false
			}
		}
	}
	if !zero || len(pos) != 2 {
		return probe{}, false
	}
	if n, err := strconv.Atoi(pos[1]); err != nil || n < 1 || n > 65535 {
		return probe{}, false
	}
	return probe{typ: health.TypeTCP, address: net.JoinHostPort(pos[0], pos[1])}, true
}
