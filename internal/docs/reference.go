package docs

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// An item is one element of the reference file, in order.
type item struct {
	kind    itemKind
	lines   []string // prose: its lines, without "# "
	key     string   // key: its name
	value   string   // key: its value as written
	comment []string // key: its trailing comment, with continuation lines
}

type itemKind int

const (
	blank itemKind = iota
	prose
	key
	table
)

// A section is one table of the reference with the prose before and in it.
type section struct {
	name   string // "[cluster]", "[[check]]"
	intro  []item // prose right above the header
	items  []item
	raw    []string
	repeat bool // the table appeared before (an array of tables)
}

var (
	keyLine  = regexp.MustCompile(`^(#\s?)?([a-z][a-z0-9_]*) = (.*)$`)
	contLine = regexp.MustCompile(`^#?\s+#\s?(.*)$`)
)

// parseReference splits the reference into the prose before its first
// table and its tables. Every line must be of a known form, so that a new
// form fails the tests instead of vanishing from the page.
func parseReference(ref []byte) (top []item, sections []section, err error) {
	cur := &top
	var curSec *section
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(ref))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t")
		if curSec != nil {
			curSec.raw = append(curSec.raw, line)
		}
		last := len(*cur) - 1
		switch {
		case line == "":
			*cur = append(*cur, item{kind: blank})
		case strings.HasPrefix(line, "["):
			name := line
			sec := section{name: name, raw: []string{line}, repeat: seen[name]}
			seen[name] = true
			// The prose since the last blank line introduces the table.
			i := len(*cur)
			for i > 0 && (*cur)[i-1].kind == prose {
				i--
			}
			sec.intro = append(sec.intro, (*cur)[i:]...)
			*cur = (*cur)[:i]
			if curSec != nil {
				curSec.raw = curSec.raw[:len(curSec.raw)-1-countLines(sec.intro)]
			}
			sections = append(sections, sec)
			curSec = &sections[len(sections)-1]
			cur = &curSec.items
		case isKey(line):
			m := keyLine.FindStringSubmatch(line)
			value, comment := splitComment(m[3])
			it := item{kind: key, key: m[2], value: value}
			if comment != "" {
				it.comment = []string{comment}
			}
			*cur = append(*cur, it)
		case contLine.MatchString(line) && last >= 0 && (*cur)[last].kind == key:
			(*cur)[last].comment = append((*cur)[last].comment, contLine.FindStringSubmatch(line)[1])
		case line == "#" || strings.HasPrefix(line, "# "):
			l := strings.TrimPrefix(strings.TrimPrefix(line, "#"), " ")
			if last >= 0 && (*cur)[last].kind == prose {
				(*cur)[last].lines = append((*cur)[last].lines, l)
			} else {
				*cur = append(*cur, item{kind: prose, lines: []string{l}})
			}
		default:
			return nil, nil, fmt.Errorf("reference line %d: %q is neither a table, a key nor a comment", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	return top, sections, nil
}

// isKey reports whether line sets a key, maybe commented out: prose that
// happens to read "# word = ..." has no TOML value after the "=".
func isKey(line string) bool {
	m := keyLine.FindStringSubmatch(line)
	if m == nil {
		return false
	}
	value, _ := splitComment(m[3])
	var v map[string]any
	_, err := toml.Decode("k = "+value, &v)
	return err == nil
}

// countLines returns how many lines of the file the prose items span.
func countLines(items []item) int {
	n := 0
	for _, it := range items {
		n += len(it.lines)
	}
	return n
}

// splitComment splits "value   # comment" where the # is outside quotes.
func splitComment(s string) (value, comment string) {
	i := commentAt(s)
	if i < 0 {
		return strings.TrimSpace(s), ""
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
}

// commentAt returns the index of the # that starts the comment of a TOML
// line, or -1.
func commentAt(s string) int {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '#' && !inQuote:
			return i
		}
	}
	return -1
}

// ConfigPage renders vipd.toml(5) from the reference file.
func ConfigPage(ref []byte, m Meta) ([]byte, error) {
	top, sections, err := parseReference(ref)
	if err != nil {
		return nil, err
	}
	var p page
	p.header("vipd.toml", 5, "File Formats", m, "configuration of vipd, the VRRP virtual IP daemon")
	p.section("SYNOPSIS")
	p.line(code("/etc/vipd/vipd.toml"))
	p.section("DESCRIPTION")
	p.items(top)
	p.para("The tables follow, in the order of the reference file, with every key it knows. " +
		"Each key is shown with an example value; \"default\" says what leaving it out means.")
	p.section("TABLES")
	known := make(map[string]bool)
	for _, s := range sections {
		var fresh bool
		for _, it := range s.items {
			if it.kind == key && !known[s.name+it.key] {
				fresh = true
			}
		}
		if s.repeat {
			// Another table of an array: show it as written, if it
			// says anything new.
			if !fresh && len(s.intro) == 0 {
				continue
			}
			p.subsection("Another " + s.name)
			p.items(s.intro)
			p.literal(trimBlank(s.raw))
		} else {
			p.subsection(s.name)
			p.items(s.intro)
			p.items(s.items)
		}
		for _, it := range s.items {
			if it.kind == key {
				known[s.name+it.key] = true
			}
		}
	}
	p.section("FILES")
	p.tagged(code("/etc/vipd/vipd.toml"), "The configuration, the same on every node of a cluster.")
	p.tagged(code("/usr/share/doc/vipd/examples/"),
		"This reference and configurations for the topologies of the Kubernetes high availability guide.")
	p.section("SEE ALSO")
	p.line(`\fBvipd\fR(8), \fBvipctl\fR(8)`)
	return []byte(p.String()), nil
}

// items renders prose and keys in order.
func (p *page) items(items []item) {
	for _, it := range items {
		switch it.kind {
		case prose:
			p.prose(it.lines)
		case key:
			var lines []string
			for _, c := range it.comment {
				lines = append(lines, text(c))
			}
			p.tagged(bold(it.key)+" = "+code(it.value), lines...)
		}
	}
}

// prose renders comment lines: paragraphs, split at empty lines, with
// indented lines (lists laid out by hand) kept as they are.
func (p *page) prose(lines []string) {
	var para, lit []string
	flush := func() {
		if len(para) > 0 {
			p.para(para...)
		}
		if len(lit) > 0 {
			p.literal(lit)
		}
		para, lit = nil, nil
	}
	for _, l := range lines {
		switch {
		case l == "":
			flush()
		case strings.HasPrefix(l, "  "):
			if len(para) > 0 {
				p.para(para...)
				para = nil
			}
			lit = append(lit, l)
		default:
			if len(lit) > 0 {
				flush()
			}
			para = append(para, l)
		}
	}
	flush()
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// disabledHeader opens the packaged configuration file.
const disabledHeader = `# This file configures nothing yet: every setting below is commented out, and
# the vipd service does not start until a table ([cluster], [[instance]], ...)
# is uncommented (its ExecCondition looks for one). Describe the cluster, check
# the file with "vipd -t", then "systemctl start vipd". More examples are in
# /usr/share/doc/vipd/examples.
#
`

// Disabled returns the reference with every setting and table commented
// out: the packaged /etc/vipd/vipd.toml, which configures nothing until
// edited. Comments stay as they are; a setting is shown as "#key = value",
// ready to be uncommented.
func Disabled(ref []byte) []byte {
	var b bytes.Buffer
	b.WriteString(disabledHeader)
	for line := range strings.SplitAfterSeq(string(ref), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			line = "#" + keepAligned(line)
		}
		b.WriteString(line)
	}
	return b.Bytes()
}

// keepAligned removes a space before the trailing comment of line, if it
// has two or more, so that the comment stays in its column once the line
// starts with "#".
func keepAligned(line string) string {
	if i := commentAt(line); i >= 2 && line[i-2:i] == "  " {
		return line[:i-1] + line[i:]
	}
	return line
}
