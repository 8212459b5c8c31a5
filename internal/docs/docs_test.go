package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/lab"
)

var meta = Meta{Version: "1.2.3", Date: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}

func reference(t *testing.T) []byte {
	t.Helper()
	ref, err := os.ReadFile("../../configs/vipd.toml")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// referenceKeys returns every key the reference sets or shows commented out.
func referenceKeys(t *testing.T, ref []byte) []string {
	t.Helper()
	var keys []string
	for line := range strings.SplitSeq(string(ref), "\n") {
		if isKey(line) {
			keys = append(keys, keyLine.FindStringSubmatch(line)[2])
		}
	}
	if len(keys) < 40 {
		t.Fatalf("found %d keys in the reference: %q", len(keys), keys)
	}
	return keys
}

func TestParseReference(t *testing.T) {
	ref := []byte(`# Top.
#
# More top.

# Intro of a.
[a]
k = "v#1"   # what k is
            # and more
# x = 1     # shown, commented out
# prose = with words, not a value
n = 2

[[b]]
m = [1, 2]
`)
	top, secs, err := parseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	wantTop := []item{{kind: prose, lines: []string{"Top.", "", "More top."}}, {kind: blank}}
	if diff := cmp.Diff(wantTop, top, cmp.AllowUnexported(item{})); diff != "" {
		t.Errorf("top (-want +got)\n%s", diff)
	}
	want := []section{{
		name:  "[a]",
		intro: []item{{kind: prose, lines: []string{"Intro of a."}}},
		items: []item{
			{kind: key, key: "k", value: `"v#1"`, comment: []string{"what k is", "and more"}},
			{kind: key, key: "x", value: "1", comment: []string{"shown, commented out"}},
			{kind: prose, lines: []string{"prose = with words, not a value"}},
			{kind: key, key: "n", value: "2"},
			{kind: blank},
		},
		raw: []string{"[a]", `k = "v#1"   # what k is`, "            # and more", "# x = 1     # shown, commented out",
			"# prose = with words, not a value", "n = 2", ""},
	}, {
		name:  "[[b]]",
		items: []item{{kind: key, key: "m", value: "[1, 2]"}},
		raw:   []string{"[[b]]", "m = [1, 2]"},
	}}
	if diff := cmp.Diff(want, secs, cmp.AllowUnexported(item{}, section{})); diff != "" {
		t.Errorf("sections (-want +got)\n%s", diff)
	}

	if _, _, err := parseReference([]byte("[a]\nnot toml at all\n")); err == nil {
		t.Error("a line of no known form was accepted")
	}
}

// TestConfigPageHasEveryKey: vipd.toml(5) documents every key of the
// reference, which pkg/config's TestReferenceDocumentsEveryKey keeps
// complete.
func TestConfigPageHasEveryKey(t *testing.T) {
	ref := reference(t)
	page, err := ConfigPage(ref, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range referenceKeys(t, ref) {
		esc := regexp.QuoteMeta(code(k))
		if !regexp.MustCompile(`(?m)(^\\fB` + esc + `\\fR = |^` + esc + ` = )`).Match(page) {
			t.Errorf("vipd.toml(5) does not document %q", k)
		}
	}
	for _, table := range []string{"[cluster]", "[[cluster.node]]", "[daemon]", "[[check]]", "[[instance]]"} {
		if !bytes.Contains(page, []byte(".SS \""+code(table)+"\"\n")) && !bytes.Contains(page, []byte(".SS \""+table+"\"\n")) {
			t.Errorf("vipd.toml(5) has no subsection %s", table)
		}
	}
	if again, _ := ConfigPage(ref, meta); !bytes.Equal(page, again) {
		t.Error("two renderings of the same reference differ")
	}
}

// TestDisabled: the packaged configuration holds the whole reference, and
// sets nothing.
func TestDisabled(t *testing.T) {
	ref := reference(t)
	got := Disabled(ref)
	var v map[string]any
	if _, err := toml.Decode(string(got), &v); err != nil {
		t.Fatalf("the disabled file is not TOML: %v", err)
	}
	if len(v) != 0 {
		t.Errorf("the disabled file sets %v", v)
	}
	strip := regexp.MustCompile(`\s+`)
	for line := range strings.SplitSeq(string(ref), "\n") {
		if !bytes.Contains(strip.ReplaceAll(got, nil), strip.ReplaceAll([]byte(line), nil)) {
			t.Errorf("the disabled file lacks %q", line)
		}
	}
	if regexp.MustCompile(`(?m)^\s*\[`).Match(got) {
		t.Error("the disabled file has a table that is not commented out")
	}
}

func TestKeepAligned(t *testing.T) {
	for in, want := range map[string]string{
		`a = 1    # c`:  `a = 1   # c`,
		`a = 1 # c`:     `a = 1 # c`,
		`a = "#"  # c`:  `a = "#" # c`,
		`a = 1`:         `a = 1`,
		`[b]  # tables`: `[b] # tables`,
	} {
		if got := keepAligned(in); got != want {
			t.Errorf("keepAligned(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	help := "Usage of vipd:\n  -config string\n    \tconfiguration file (default \"/etc/vipd/vipd.toml\")\n" +
		"  -t\tcheck the file\n  -version\n    \tprint the version and exit\n"
	got, err := parseFlags(help)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{term: "-config string", desc: []string{`configuration file (default "/etc/vipd/vipd.toml")`}},
		{term: "-t", desc: []string{"check the file"}},
		{term: "-version", desc: []string{"print the version and exit"}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if _, err := parseFlags("something else\n"); err == nil {
		t.Error("help that is not the flag package's was accepted")
	}
}

// TestProgramPages renders vipd(8) and vipctl(8) from the programs' own
// help: a change to either that the parser does not understand fails here,
// not in make deb.
func TestProgramPages(t *testing.T) {
	dir := t.TempDir()
	vipd, vipctl := filepath.Join(dir, "vipd"), filepath.Join(dir, "vipctl")
	for bin, pkg := range map[string]string{vipd: "../../cmd/vipd", vipctl: "../../cmd/vipctl"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	vipdHelp, _ := exec.Command(vipd, "-h").CombinedOutput()
	page, err := VipdPage(string(vipdHelp), meta)
	if err != nil {
		t.Fatalf("vipd(8): %v", err)
	}
	for _, f := range []string{"config", "node", "t", "version"} {
		if !bytes.Contains(page, []byte(".TP\n\\fB\\-"+f+"\\fR")) {
			t.Errorf("vipd(8) does not describe -%s", f)
		}
	}

	vipctlHelp, err := exec.Command(vipctl, "help").Output()
	if err != nil {
		t.Fatal(err)
	}
	page, err = VipctlPage(string(vipctlHelp), meta)
	if err != nil {
		t.Fatalf("vipctl(8): %v", err)
	}
	for _, c := range []string{"status", "drain", "resume", "version", "convert\\-keepalived", "manifest", "\\-socket"} {
		if !bytes.Contains(page, []byte(".TP\n\\fB"+c+"\\fR")) {
			t.Errorf("vipctl(8) does not describe %s", c)
		}
	}
}

// TestPagesFormat runs groff over every page with its warnings on: what
// lintian and man would complain about.
func TestPagesFormat(t *testing.T) {
	lab.RequireCommand(t, "groff")
	ref := reference(t)
	config, err := ConfigPage(ref, meta)
	if err != nil {
		t.Fatal(err)
	}
	vipd, err := VipdPage("  -config string\n    \tconfiguration file\n  -t\tcheck\n", meta)
	if err != nil {
		t.Fatal(err)
	}
	vipctl, err := VipctlPage("usage: vipctl [-socket PATH] COMMAND\n\nCommands:\n  status [NAME]  show\n"+
		"                 more\n  convert-keepalived FILE...\n                 convert\n\nFlags, anywhere:\n  -socket PATH  the socket\n", meta)
	if err != nil {
		t.Fatal(err)
	}
	for name, page := range map[string][]byte{"vipd.toml.5": config, "vipd.8": vipd, "vipctl.8": vipctl} {
		cmd := exec.Command("groff", "-man", "-ww", "-z", "-Tutf8")
		cmd.Stdin = bytes.NewReader(page)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", name, err, out)
		}
	}
}
