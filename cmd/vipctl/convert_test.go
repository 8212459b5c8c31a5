package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/config"
)

// vipdCheck checks a converted file as vipd -t does: it parses, and every
// node resolves.
func vipdCheck(t *testing.T, name string, data []byte) {
	t.Helper()
	cfg, err := config.Parse(name, data)
	if err != nil {
		t.Fatalf("vipd rejects %s:\n%v", name, err)
	}
	nodes := []string{""}
	if cfg.Cluster != nil {
		nodes = nodes[:0]
		for _, n := range cfg.Cluster.Nodes {
			nodes = append(nodes, n.Name)
		}
	}
	for _, n := range nodes {
		if _, err := cfg.ForNode(n); err != nil {
			t.Fatalf("%s: ForNode(%q): %v", name, n, err)
		}
	}
}

func TestConvertKeepalivedStdout(t *testing.T) {
	t.Parallel()
	r := runCLI("convert-keepalived", "testdata/keepalived/lb1.conf")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	golden(t, "keepalived/lb1.toml", []byte(r.stdout))
	golden(t, "keepalived/lb1.notes.txt", []byte(r.stderr))
	vipdCheck(t, "lb1.toml", []byte(r.stdout))
}

func TestConvertKeepalivedDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	// -o after the files works too, as for every command's flags.
	r := runCLI("convert-keepalived", "testdata/keepalived/lb1.conf", "testdata/keepalived/lb2.conf", "-o", dir)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	want := "testdata/keepalived/lb1.conf: " + filepath.Join(dir, "lb1.toml") + "\n" +
		"testdata/keepalived/lb2.conf: " + filepath.Join(dir, "lb2.toml") + "\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("stdout (-want +got)\n%s", diff)
	}
	one := runCLI("convert-keepalived", "testdata/keepalived/lb1.conf")
	for _, node := range []string{"lb1", "lb2"} {
		path := filepath.Join(dir, node+".toml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", path, perm)
		}
		vipdCheck(t, path, data)
		if node == "lb1" && string(data) != one.stdout {
			t.Errorf("%s differs from the conversion of lb1.conf alone", path)
		}
		if node == "lb2" && !strings.Contains(string(data), "priority = 100\n") {
			t.Errorf("%s lost lb2's priority 100:\n%s", path, data)
		}
	}
	// Both files' notes, lb1's first.
	if i, j := strings.Index(r.stderr, "lb1.conf:"), strings.Index(r.stderr, "lb2.conf:"); i < 0 || j < i {
		t.Errorf("stderr lacks the notes of both files in order:\n%s", r.stderr)
	}
}

func TestConvertKeepalivedFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a line stderr must have
	}{
		{"no file", nil, 2, "vipctl: convert-keepalived: no keepalived.conf given"},
		{"several files without -o", []string{"testdata/keepalived/lb1.conf", "testdata/keepalived/lb2.conf"}, 2,
			"vipctl: convert-keepalived: 2 files make 2 vipd configurations, one per node: write them with -o DIR"},
		{"unknown flag", []string{"-x", "testdata/keepalived/lb1.conf"}, 2,
			"vipctl: convert-keepalived: flag provided but not defined: -x"},
		{"syntax error", []string{"testdata/keepalived/broken.conf"}, 1,
			"vipctl: testdata/keepalived/broken.conf:1: the block opened here is not closed (missing '}')"},
		{"nothing to convert", []string{"testdata/keepalived/lvs-only.conf"}, 1,
			"vipctl: testdata/keepalived/lvs-only.conf: no vrrp_instance that vipd can run: kaconf: nothing to convert"},
		{"missing file", []string{"testdata/keepalived/none.conf"}, 1,
			"vipctl: kaconf: open testdata/keepalived/none.conf: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(append([]string{"convert-keepalived"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d", r.code, tt.code)
			}
			if !strings.Contains("\n"+r.stderr, "\n"+tt.stderr+"\n") {
				t.Errorf("stderr lacks the line %q:\n%s", tt.stderr, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout is not empty:\n%s", r.stdout)
			}
		})
	}
}

func TestConvertKeepalivedNotesOnFailure(t *testing.T) {
	t.Parallel()
	r := runCLI("convert-keepalived", "testdata/keepalived/lvs-only.conf")
	want := "testdata/keepalived/lvs-only.conf:5: virtual_server: not converted: vipd does not do load balancing (LVS); keep keepalived's checker process or use a load balancer such as HAProxy\n"
	if !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr does not start with the note %q:\n%s", want, r.stderr)
	}
}
