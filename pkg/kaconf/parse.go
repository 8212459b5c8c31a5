package kaconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Limits that keep a hostile or broken file from exhausting the parser.
const (
	maxIncludeDepth = 16  // keepalived has no limit; a deeper chain is a loop in practice
	maxBlockDepth   = 64  // keepalived's deepest real block is 3 levels
	maxExpansion    = 16  // nested parameter substitutions
	maxBraceWords   = 256 // words a brace expression of an include may expand to
)

// placeholder matches a ${NAME} left after substitution.
var placeholder = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// ErrSyntax marks errors that make a keepalived configuration unreadable:
// a block never closed, a '}' closing nothing, an unterminated quote.
// keepalived logs these and carries on with a guess; a converter guessing
// at a broken file would only hide the mistake, so it stops.
var ErrSyntax = errors.New("kaconf: syntax error")

// A SyntaxError is an ErrSyntax at a place in a file.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Unwrap makes errors.Is(err, ErrSyntax) hold.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// stmt is one statement of a keepalived configuration: a keyword with its
// arguments on one line and, if it opens one, its block.
type stmt struct {
	file string
	line int
	// words are the keyword (words[0]) and its arguments, split as
	// keepalived splits them: at blanks, a "quoted string" being one word
	// without its quotes.
	words []string
	// rest is the text after the keyword as written, for the keywords
	// whose argument is a command line (script, notify): keepalived
	// splits those again with quotes and escapes of their own.
	rest     string
	hasBlock bool
	block    []*stmt
}

func (s *stmt) keyword() string { return s.words[0] }

// arg returns the i-th argument (words[i]), or "" if there is none.
func (s *stmt) arg(i int) string {
	if i < len(s.words) {
		return s.words[i]
	}
	return ""
}

// loader gives the parser the files it reads: the real file system for
// Convert, a map for the fuzz test.
type loader interface {
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching pattern (filepath.Match syntax), sorted.
	Glob(pattern string) ([]string, error)
}

// osLoader reads the file system.
type osLoader struct{}

func (osLoader) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osLoader) Glob(pattern string) ([]string, error) {
	names, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	// keepalived skips directories (GLOB_MARK), so a conf.d/* pattern
	// does not trip over a subdirectory.
	out := names[:0]
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil && !fi.IsDir() {
			out = append(out, n)
		}
	}
	return out, nil
}

// segment is a piece of a line: keepalived cuts each line at every '{' and
// '}' outside quotes, so "track_script { chk }" is three segments.
type segment struct {
	file  string
	line  int
	brace byte // '{' or '}', or 0 for words
	words []string
	raw   string // the words as written
}

// parseSettings are what reading a file depends on besides the file.
type parseSettings struct {
	// root is prefixed to the absolute paths of includes ("" for none).
	root string
	// configID is keepalived's -i, which selects conditional lines;
	// configIDSet tells an empty id from none given.
	configID    string
	configIDSet bool
}

// parser reads one keepalived configuration, its includes spliced in,
// into statements.
type parser struct {
	load  loader
	set   parseSettings
	notes *notes
	segs  []segment
	defs  map[string]string // $NAME=VALUE definitions, as keepalived substitutes them
	files []string          // the include chain, to catch loops
	pos   int
}

// parseFile reads the file at path and the files it includes.
func parseFile(load loader, path string, set parseSettings, n *notes) ([]*stmt, error) {
	p := &parser{load: load, set: set, notes: n, defs: make(map[string]string)}
	data, err := load.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kaconf: %w", err)
	}
	if err := p.read(path, data); err != nil {
		return nil, err
	}
	return p.statements()
}

// read splits one file into segments, following its includes.
func (p *parser) read(name string, data []byte) error {
	if len(p.files) >= maxIncludeDepth {
		return &SyntaxError{File: name, Line: 1, Msg: fmt.Sprintf("includes nested more than %d deep", maxIncludeDepth)}
	}
	p.files = append(p.files, name)
	p.notes.file(name)
	defer func() { p.files = p.files[:len(p.files)-1] }()

	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		num := i + 1
		text, err := decomment(strings.TrimRight(lines[i], "\r"))
		if err != nil {
			return &SyntaxError{File: name, Line: num, Msg: err.Error()}
		}
		if text == "" {
			continue
		}
		if text[0] == '@' {
			var keep bool
			var err error
			text, keep, err = p.conditional(name, num, text)
			if err != nil {
				return err
			}
			if !keep {
				continue
			}
		}
		switch {
		case text[0] == '$':
			if param, value, ok := definition(text); ok {
				if strings.HasSuffix(value, `\`) {
					// A multi-line definition: keepalived expands it into
					// whole blocks. Skip its lines.
					for i+1 < len(lines) && strings.HasSuffix(strings.TrimRight(lines[i], " \t\r"), `\`) {
						i++
					}
					p.notes.add(name, num, fmt.Sprintf("multi-line definition $%s not converted: expand it into the file first", param))
					continue
				}
				p.defs[param] = value
				continue
			}
		case strings.HasPrefix(text, "~SEQ"):
			p.notes.add(name, num, "~SEQ not converted: expand the sequence into the file first")
			continue
		}
		text = p.substitute(text)
		if m := placeholder.FindString(text); m != "" {
			// keepalived would cut the line at the brace and read
			// nonsense; the line is a template's, not yet filled in.
			p.notes.add(name, num, fmt.Sprintf("%s is not defined (a placeholder of a template?): the line is not converted", m))
			continue
		}

		words, err := splitWords(text)
		if err != nil {
			return &SyntaxError{File: name, Line: num, Msg: err.Error()}
		}
		if len(words) == 2 && words[0] == "include" {
			if err := p.include(name, num, words[1]); err != nil {
				return err
			}
			continue
		}
		if err := p.split(name, num, text); err != nil {
			return err
		}
	}
	return nil
}

// conditional applies a conditional line as keepalived does: "@ID rest"
// is rest when the config id is ID, "@^ID rest" when it is not; a line
// with nothing after the id is dropped.
func (p *parser) conditional(file string, line int, text string) (string, bool, error) {
	if !p.set.configIDSet {
		return "", false, &RefusalError{File: file, Line: line, Msg: "a conditional line (@ID): which lines keepalived reads depends on its config id " +
			"(keepalived -i, by default the host name up to the first dot); give it (vipctl convert-keepalived -id ID)"}
	}
	rev := strings.HasPrefix(text, "@^")
	id := strings.TrimPrefix(strings.TrimPrefix(text, "@^"), "@")
	end := strings.IndexAny(id, " \t")
	if end < 0 {
		return "", false, nil
	}
	if (id[:end] == p.set.configID) == rev {
		return "", false, nil
	}
	return strings.TrimLeft(id[end:], " \t"), true, nil
}

// include reads the files matching pattern, relative to the directory of
// the including file, as keepalived does; an absolute pattern is read
// under the root given.
func (p *parser) include(from string, line int, pattern string) error {
	switch {
	case !filepath.IsAbs(pattern):
		pattern = filepath.Join(filepath.Dir(from), pattern)
	case p.set.root != "":
		pattern = filepath.Join(p.set.root, pattern)
	}
	var names []string
	for _, pat := range expandBraces(pattern) {
		m, err := p.load.Glob(pat)
		if err != nil {
			p.notes.add(from, line, fmt.Sprintf("include %s: %v; skipped", pattern, err))
			continue
		}
		names = append(names, m...)
	}
	if len(names) == 0 {
		p.notes.add(from, line, fmt.Sprintf("include %s: no file matches; skipped (as keepalived does)", pattern))
		return nil
	}
	for _, name := range names {
		if slices.Contains(p.files, name) {
			p.notes.add(from, line, fmt.Sprintf("include %s: %s includes itself; skipped", pattern, name))
			continue
		}
		data, err := p.load.ReadFile(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				p.notes.add(from, line, fmt.Sprintf("include %s: %v; skipped", pattern, err))
				continue
			}
			return fmt.Errorf("kaconf: %s:%d: include: %w", from, line, err)
		}
		if err := p.read(name, data); err != nil {
			return err
		}
	}
	return nil
}

// split cuts a line into segments at the braces outside quotes.
func (p *parser) split(file string, line int, text string) error {
	for text != "" {
		i := braceIndex(text)
		before := strings.TrimSpace(text[:max(i, 0)])
		if i < 0 {
			before = strings.TrimSpace(text)
		}
		if before != "" {
			words, err := splitWords(before)
			if err != nil {
				return &SyntaxError{File: file, Line: line, Msg: err.Error()}
			}
			p.segs = append(p.segs, segment{file: file, line: line, words: words, raw: before})
		}
		if i < 0 {
			break
		}
		p.segs = append(p.segs, segment{file: file, line: line, brace: text[i]})
		text = text[i+1:]
	}
	return nil
}

// statements builds the statement tree of the segments.
func (p *parser) statements() ([]*stmt, error) {
	p.pos = 0
	return p.block(nil, 0)
}

// block reads statements up to the '}' closing open (nil at the top level).
func (p *parser) block(open *segment, depth int) ([]*stmt, error) {
	if depth > maxBlockDepth {
		return nil, &SyntaxError{File: open.file, Line: open.line, Msg: fmt.Sprintf("blocks nested more than %d deep", maxBlockDepth)}
	}
	var out []*stmt
	for p.pos < len(p.segs) {
		seg := &p.segs[p.pos]
		p.pos++
		switch seg.brace {
		case '}':
			if open == nil {
				return nil, &SyntaxError{File: seg.file, Line: seg.line, Msg: "'}' closes no block"}
			}
			return out, nil
		case '{':
			// keepalived accepts the '{' of a block on the line after its
			// keyword.
			var owner *stmt
			if n := len(out); n > 0 && !out[n-1].hasBlock {
				owner = out[n-1]
			}
			inner, err := p.block(seg, depth+1)
			if err != nil {
				return nil, err
			}
			if owner == nil {
				p.notes.add(seg.file, seg.line, "block without a keyword before it; not converted")
				continue
			}
			owner.hasBlock, owner.block = true, inner
		default:
			rest := strings.TrimSpace(strings.TrimPrefix(seg.raw, rawFirstWord(seg.raw)))
			out = append(out, &stmt{file: seg.file, line: seg.line, words: seg.words, rest: rest})
		}
	}
	if open != nil {
		return nil, &SyntaxError{File: open.file, Line: open.line, Msg: "the block opened here is not closed (missing '}')"}
	}
	return out, nil
}

// rawFirstWord returns the first word of s as written, quotes included.
func rawFirstWord(s string) string {
	if strings.HasPrefix(s, `"`) {
		if j := strings.IndexByte(s[1:], '"'); j >= 0 {
			return s[:j+2]
		}
		return s
	}
	if j := strings.IndexAny(s, " \t\f\v\""); j >= 0 {
		return s[:j]
	}
	return s
}

// decomment removes a comment (from '#' or '!' outside double quotes to the
// end of the line) and surrounding blanks, and unescapes \# and \! outside
// quotes, as keepalived's decomment does.
func decomment(line string) (string, error) {
	var b strings.Builder
	quote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && i+1 < len(line):
			if !quote && (line[i+1] == '#' || line[i+1] == '!') {
				i++
				c = line[i]
			} else {
				b.WriteByte(c)
				i++
				c = line[i]
			}
		case !quote && (c == '#' || c == '!'):
			return strings.TrimSpace(b.String()), nil
		}
		b.WriteByte(c)
	}
	if quote {
		return "", errors.New("unterminated quote")
	}
	return strings.TrimSpace(b.String()), nil
}

// definition parses a "$NAME=VALUE" line.
func definition(line string) (name, value string, ok bool) {
	eq := strings.IndexByte(line, '=')
	if eq < 2 {
		return "", "", false
	}
	name = strings.TrimRight(line[1:eq], " \t")
	if !isParamName(name) {
		return "", "", false
	}
	return name, strings.TrimSpace(line[eq+1:]), true
}

func isParamName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// substitute replaces $NAME and ${NAME} of defined parameters, repeatedly,
// as keepalived does; undefined ones stay as written.
func (p *parser) substitute(text string) string {
	if len(p.defs) == 0 {
		return text
	}
	for range maxExpansion {
		out, changed := p.substituteOnce(text)
		if !changed {
			return out
		}
		text = out
	}
	return text
}

func (p *parser) substituteOnce(text string) (string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(text); i++ {
		if text[i] != '$' || i+1 >= len(text) {
			b.WriteByte(text[i])
			continue
		}
		if text[i+1] == '{' {
			if end := strings.IndexByte(text[i+2:], '}'); end >= 0 {
				if v, ok := p.defs[text[i+2:i+2+end]]; ok {
					b.WriteString(v)
					i += 2 + end
					changed = true
					continue
				}
			}
			b.WriteByte(text[i])
			continue
		}
		j := i + 1
		for j < len(text) && (text[j] == '_' || text[j] >= 'a' && text[j] <= 'z' || text[j] >= 'A' && text[j] <= 'Z' || text[j] >= '0' && text[j] <= '9') {
			j++
		}
		// keepalived replaces $NAME only where the name ends at a blank,
		// ',' or ')' or the end of the line.
		if v, ok := p.defs[text[i+1:j]]; ok && (j == len(text) || strings.IndexByte(" \t,)", text[j]) >= 0) {
			b.WriteString(v)
			i = j - 1
			changed = true
			continue
		}
		b.WriteByte(text[i])
	}
	return b.String(), changed
}

// braceIndex returns the index of the first '{' or '}' outside double
// quotes, or -1.
func braceIndex(s string) int {
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quote = !quote
		case '{', '}':
			if !quote {
				return i
			}
		}
	}
	return -1
}

// splitWords splits a line as keepalived's alloc_strvec does: at blanks,
// a double-quoted string being one word without its quotes (and without
// escapes).
func splitWords(s string) ([]string, error) {
	var words []string
	for {
		s = strings.TrimLeft(s, " \t\f\v\r")
		if s == "" {
			return words, nil
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quote")
			}
			words = append(words, s[1:end+1])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t\f\v\r\"")
		if end < 0 {
			end = len(s)
		}
		words = append(words, s[:end])
		s = s[end:]
	}
}

// expandBraces expands csh-style brace expressions ("{a,b}c" is "ac bc"),
// which keepalived's include accepts through glob(GLOB_BRACE). The result
// is capped at maxBraceWords.
func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	depth, close := 0, -1
	var commas []int
	for i := open; i < len(s) && close < 0; i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				close = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if close < 0 || len(commas) == 0 {
		// Not a brace expression: glob takes the braces literally.
		return []string{s}
	}
	prefix, tails := s[:open], expandBraces(s[close+1:])
	var out []string
	start := open + 1
	for _, end := range append(commas, close) {
		for _, alt := range expandBraces(s[start:end]) {
			for _, tail := range tails {
				if len(out) >= maxBraceWords {
					return out
				}
				out = append(out, prefix+alt+tail)
			}
		}
		start = end + 1
	}
	return out
}
