package kaconf

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mapLoader serves files from a map, for tests that need no disk.
type mapLoader map[string]string

func (m mapLoader) ReadFile(name string) ([]byte, error) {
	s, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

func (m mapLoader) Glob(pattern string) ([]string, error) {
	var out []string
	for name := range m {
		ok, err := path.Match(pattern, name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// flatten lists statements one per line as "file:line depth words", with
// " {" after those that open a block, for comparing trees.
func flatten(stmts []*stmt, depth int) []string {
	var out []string
	for _, s := range stmts {
		line := fmt.Sprintf("%s:%d %d %s", s.file, s.line, depth, strings.Join(s.words, "|"))
		if s.hasBlock {
			line += " {"
		}
		out = append(out, line)
		out = append(out, flatten(s.block, depth+1)...)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		files mapLoader
		set   parseSettings
		want  []string
		notes []string
	}{
		{
			name: "blocks on the keyword's line, the next, and one line",
			files: mapLoader{"k.conf": `global_defs
{
  router_id a
}
vrrp_instance VI_1 {
  track_script { chk }
  virtual_ipaddress {
    192.0.2.1/24 dev eth0
  }
}
`},
			want: []string{
				"k.conf:1 0 global_defs {",
				"k.conf:3 1 router_id|a",
				"k.conf:5 0 vrrp_instance|VI_1 {",
				"k.conf:6 1 track_script {",
				"k.conf:6 2 chk",
				"k.conf:7 1 virtual_ipaddress {",
				"k.conf:8 2 192.0.2.1/24|dev|eth0",
			},
		},
		{
			name: "comments and quotes",
			files: mapLoader{"k.conf": `! a comment
# another
auth_pass abc#def
auth_pass ab\#cd ! comment
script "killall -0 # haproxy"   # trailing
weird "a b"c "d"
`},
			want: []string{
				"k.conf:3 0 auth_pass|abc",
				"k.conf:4 0 auth_pass|ab#cd",
				"k.conf:5 0 script|killall -0 # haproxy",
				"k.conf:6 0 weird|a b|c|d",
			},
		},
		{
			name: "a brace inside quotes does not split",
			files: mapLoader{"k.conf": `script "/bin/sh -c 'test -f /x { }'"
`},
			want: []string{`k.conf:1 0 script|/bin/sh -c 'test -f /x { }'`},
		},
		{
			name: "parameters",
			files: mapLoader{"k.conf": `$NET=192.0.2
$VIP=${NET}.10
$IF = eth0
addr $VIP/24 ${VIP} $IF,x $NETX
`},
			want: []string{"k.conf:4 0 addr|$VIP/24|192.0.2.10|eth0,x|$NETX"},
		},
		{
			name: "includes relative to the including file, globbed, braced",
			files: mapLoader{
				"/etc/k/keepalived.conf": "a 1\ninclude conf.d/*.conf\nb 2\ninclude {x,y}.inc\n",
				"/etc/k/conf.d/2.conf":   "two\ninclude ../x.inc\n",
				"/etc/k/conf.d/1.conf":   "vrrp_instance I {\n",
				"/etc/k/conf.d/3.conf":   "}\n",
				"/etc/k/x.inc":           "x\n",
				"/etc/k/y.inc":           "y\n",
			},
			want: []string{
				"/etc/k/keepalived.conf:1 0 a|1",
				"/etc/k/conf.d/1.conf:1 0 vrrp_instance|I {",
				"/etc/k/conf.d/2.conf:1 1 two",
				"/etc/k/x.inc:1 1 x",
				"/etc/k/keepalived.conf:3 0 b|2",
				"/etc/k/x.inc:1 0 x",
				"/etc/k/y.inc:1 0 y",
			},
		},
		{
			name: "includes that are missing or loop are skipped",
			files: mapLoader{
				"k.conf": "include none/*.conf\ninclude k.conf\ninclude a.conf\nz\n",
				"a.conf": "include k.conf\na\n",
			},
			want: []string{"a.conf:2 0 a", "k.conf:4 0 z"},
			notes: []string{
				"k.conf:1: include none/*.conf: no file matches; skipped (as keepalived does)",
				"k.conf:2: include k.conf: k.conf includes itself; skipped",
				"a.conf:1: include k.conf: k.conf includes itself; skipped",
			},
		},
		{
			name:  "placeholders and sequences are noted",
			files: mapLoader{"k.conf": "@main priority 150\nvip ${APISERVER_VIP}\n~SEQ(i, 1, 3) x $i\n$M=a \\\n  b\nok\n"},
			set:   parseSettings{configID: "backup", configIDSet: true},
			want:  []string{"k.conf:6 0 ok"},
			notes: []string{
				"k.conf:2: ${APISERVER_VIP} is not defined (a placeholder of a template?): the line is not converted",
				"k.conf:3: ~SEQ not converted: expand the sequence into the file first",
				"k.conf:4: multi-line definition $M not converted: expand it into the file first",
			},
		},
		{
			name:  "conditional lines",
			files: mapLoader{"k.conf": "@main a 1\n@^main b 2\n@backup c 3\n@^backup d 4\n@main\n@mainly e 5\n"},
			set:   parseSettings{configID: "main", configIDSet: true},
			want:  []string{"k.conf:1 0 a|1", "k.conf:4 0 d|4"},
		},
		{
			name: "an absolute include under the root",
			files: mapLoader{
				"k.conf":                             "include /etc/keepalived/conf.d/*.conf\n",
				"/copy/etc/keepalived/conf.d/a.conf": "a 1\n",
				"/etc/keepalived/conf.d/b.conf":      "b 2\n",
			},
			set:  parseSettings{root: "/copy"},
			want: []string{"/copy/etc/keepalived/conf.d/a.conf:1 0 a|1"},
		},
		{
			name:  "a block without keyword",
			files: mapLoader{"k.conf": "{\n  a\n}\nb\n"},
			want:  []string{"k.conf:4 0 b"},
			notes: []string{"k.conf:1: block without a keyword before it; not converted"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := "k.conf"
			if _, ok := tt.files[start]; !ok {
				start = "/etc/k/keepalived.conf"
			}
			n := &notes{}
			n.file(start)
			stmts, err := parseFile(tt.files, start, tt.set, n)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, flatten(stmts, 0)); diff != "" {
				t.Errorf("statements (-want +got)\n%s", diff)
			}
			var got []string
			for _, note := range n.sorted() {
				got = append(got, note.String())
			}
			if diff := cmp.Diff(tt.notes, got); diff != "" {
				t.Errorf("notes (-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want string
	}{
		{"unclosed block", "a {\n  b {\n  }\n", "k.conf:1: the block opened here is not closed (missing '}')"},
		{"stray brace", "a\n}\n", "k.conf:2: '}' closes no block"},
		{"unterminated quote", "a \"b\n", "k.conf:1: unterminated quote"},
		{"too deep", strings.Repeat("a {\n", maxBlockDepth+2), fmt.Sprintf("k.conf:%d: blocks nested more than %d deep", maxBlockDepth+1, maxBlockDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFile(mapLoader{"k.conf": tt.conf}, "k.conf", parseSettings{}, &notes{})
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestExpandBraces(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a.conf", []string{"a.conf"}},
		{"{a,b}.conf", []string{"a.conf", "b.conf"}},
		{"x/{a,b{1,2}}/{c,d}", []string{"x/a/c", "x/a/d", "x/b1/c", "x/b1/d", "x/b2/c", "x/b2/d"}},
		{"{a}.conf", []string{"{a}.conf"}},
		{"{a,b", []string{"{a,b"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, expandBraces(tt.in)); diff != "" {
			t.Errorf("expandBraces(%q) (-want +got)\n%s", tt.in, diff)
		}
	}
	if n := len(expandBraces(strings.Repeat("{a,b}", 40))); n != maxBraceWords {
		t.Errorf("40 brace pairs expand to %d words, want the cap of %d", n, maxBraceWords)
	}
}
