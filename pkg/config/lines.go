package config

import (
	"fmt"
	"strings"
)

// BurntSushi/toml keeps the position of each key private (and, for arrays
// of tables, only the last element's), so error messages could not name the
// line of instance 3's vrid. lineIndex recovers those positions with a small
// scanner run over a document the library has already accepted: it only has
// to find where statements start, never judge whether they are valid.

// A lineIndex maps each table and key of a TOML document to the line it is
// written on. Paths give array-of-tables elements an index, counted from 0:
// "instance[1].vrid", "cluster.node[0]". Keys inside inline tables are not
// indexed; line falls back to the enclosing key.
type lineIndex struct {
	lines   map[string]int
	entries []lineEntry // every table header and key, in document order
}

// A lineEntry is one table header or key: its path without element indexes
// (as MetaData.Keys spells it), its path with them, and its line.
type lineEntry struct {
	plain, path string
	line        int
}

// line returns the line of path, or of its nearest enclosing table or key
// that has one, or 0 when none does.
func (x *lineIndex) line(path string) int {
	for path != "" {
		if n, ok := x.lines[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// occurrence returns the n-th (from 0) entry whose plain path is plain.
func (x *lineIndex) occurrence(plain string, n int) (lineEntry, bool) {
	for _, e := range x.entries {
		if e.plain != plain {
			continue
		}
		if n == 0 {
			return e, true
		}
		n--
	}
	return lineEntry{}, false
}

// enclosing returns the entry of the nearest key or table enclosing the key
// k (as MetaData.Keys spells it) that has one: its last occurrence so far,
// given seen, the occurrences so far of each plain path. It finds the line
// of keys inside inline tables, which are not indexed.
func (x *lineIndex) enclosing(k []string, seen map[string]int) (lineEntry, bool) {
	for n := len(k) - 1; n > 0; n-- {
		plain := strings.Join(k[:n], ".")
		if seen[plain] == 0 {
			continue
		}
		if e, ok := x.occurrence(plain, seen[plain]-1); ok {
			return e, true
		}
	}
	return lineEntry{}, false
}

// indexLines scans src, which must be a valid TOML document.
func indexLines(src string) *lineIndex {
	x := &lineIndex{lines: make(map[string]int)}
	sc := &scanner{s: src, line: 1}
	arrays := make(map[string]int) // array of tables (indexed path) → elements seen
	var table, plainTable string   // current table

	// resolve gives a header's key its element indexes: every prefix that
	// names an array of tables refers to that array's last element.
	resolve := func(segs []string) string {
		var p string
		for _, s := range segs {
			p = join(p, s)
			if n, ok := arrays[p]; ok {
				p = fmt.Sprintf("%s[%d]", p, n-1)
			}
		}
		return p
	}
	record := func(plain, path string, line int) {
		if _, ok := x.lines[path]; !ok {
			x.lines[path] = line
		}
		x.entries = append(x.entries, lineEntry{plain: plain, path: path, line: line})
	}

	for {
		sc.skipBlank()
		if sc.eof() {
			return x
		}
		line := sc.line
		switch {
		case strings.HasPrefix(sc.s[sc.i:], "[["):
			sc.i += 2
			segs := sc.key()
			parent := resolve(segs[:len(segs)-1])
			p := join(parent, segs[len(segs)-1])
			n := arrays[p]
			arrays[p] = n + 1
			table = fmt.Sprintf("%s[%d]", p, n)
			plainTable = strings.Join(segs, ".")
			if n == 0 {
				x.lines[p] = line // the array as a whole
			}
			record(plainTable, table, line)
		case sc.peek() == '[':
			sc.i++
			segs := sc.key()
			table = resolve(segs)
			plainTable = strings.Join(segs, ".")
			record(plainTable, table, line)
		default:
			segs := sc.key()
			k := strings.Join(segs, ".")
			record(join(plainTable, k), join(table, k), line)
			sc.skipValue()
		}
		sc.skipLine()
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// A scanner walks a TOML document, counting lines.
type scanner struct {
	s    string
	i    int
	line int
}

func (sc *scanner) eof() bool { return sc.i >= len(sc.s) }

func (sc *scanner) peek() byte {
	if sc.eof() {
		return 0
	}
	return sc.s[sc.i]
}

func (sc *scanner) advance() {
	if sc.s[sc.i] == '\n' {
		sc.line++
	}
	sc.i++
}

// skipBlank skips whitespace, newlines and comments.
func (sc *scanner) skipBlank() {
	for !sc.eof() {
		switch sc.peek() {
		case ' ', '\t', '\r', '\n':
			sc.advance()
		case '#':
			sc.skipLine()
		default:
			return
		}
	}
}

// skipLine skips the rest of the line, but not its newline.
func (sc *scanner) skipLine() {
	for !sc.eof() && sc.peek() != '\n' {
		sc.i++
	}
}

func (sc *scanner) skipSpace() {
	for !sc.eof() && (sc.peek() == ' ' || sc.peek() == '\t') {
		sc.i++
	}
}

// key reads a dotted key and the delimiter after it ('=', ']' or "]]").
// Quoted parts are returned without their quotes.
func (sc *scanner) key() []string {
	var segs []string
	for {
		sc.skipSpace()
		switch sc.peek() {
		case '"', '\'':
			start := sc.i + 1
			sc.skipString(sc.peek())
			segs = append(segs, sc.s[start:max(start, sc.i-1)])
		default:
			start := sc.i
			for !sc.eof() && isBareKeyChar(sc.peek()) {
				sc.i++
			}
			segs = append(segs, sc.s[start:sc.i])
		}
		sc.skipSpace()
		if sc.peek() != '.' {
			break
		}
		sc.i++
	}
	for !sc.eof() && (sc.peek() == '=' || sc.peek() == ']') {
		sc.i++
	}
	return segs
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// skipValue skips a value, which may span lines inside brackets and
// multi-line strings, up to the end of its line.
func (sc *scanner) skipValue() {
	depth := 0
	for !sc.eof() {
		switch c := sc.peek(); c {
		case '"', '\'':
			sc.skipString(c)
		case '[', '{':
			depth++
			sc.i++
		case ']', '}':
			depth--
			sc.i++
		case '#':
			sc.skipLine()
		case '\n':
			if depth <= 0 {
				return
			}
			sc.advance()
		default:
			sc.i++
		}
	}
}

// skipString skips a basic (q is '"') or literal (q is '\”) string, either
// single-line or multi-line, starting at its opening quote.
func (sc *scanner) skipString(q byte) {
	delim := string([]byte{q, q, q})
	multi := strings.HasPrefix(sc.s[sc.i:], delim)
	if multi {
		sc.i += 3
	} else {
		sc.i++
	}
	for !sc.eof() {
		c := sc.peek()
		switch {
		case c == '\\' && q == '"':
			sc.advance()
			if !sc.eof() {
				sc.advance()
			}
		case multi && strings.HasPrefix(sc.s[sc.i:], delim):
			// A closing delimiter may be preceded by up to two quotes
			// that belong to the string: consume the whole run.
			for !sc.eof() && sc.peek() == q {
				sc.i++
			}
			return
		case !multi && c == q:
			sc.i++
			return
		default:
			sc.advance()
		}
	}
}
