package main

import (
	"fmt"
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

func TestConvertKeepalivedRefusesUnsafe(t *testing.T) {
	t.Parallel()
	r := runCLI("convert-keepalived", "testdata/keepalived/haproxy-process.conf")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.stdout)
	}
	for _, want := range []string{
		"testdata/keepalived/haproxy-process.conf:9: vrrp_instance VI_1 of node haproxy-process: NOT SAFE for a mixed fleet (not converted):\n" +
			"\ttestdata/keepalived/haproxy-process.conf:17: track_process track_haproxy: vipd cannot run the vrrp_track_process as keepalived does: terminate_delay 3: keepalived waits that long before it acts on a process that starts or exits, and vipd's process checks act at once, which would move the VIP where keepalived keeps it; the instance is not converted\n",
		"testdata/keepalived/haproxy-process.conf:21: vrrp_instance VI_2 of node haproxy-process: safe for a mixed fleet\n",
		"vipctl: refused: 1 of 2 vrrp_instances would not behave as keepalived's in a mixed fleet (see above); nothing written (-unsafe writes what converts)\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	// -unsafe writes what converts: VI_2 alone, never VI_1 without its check.
	r = runCLI("convert-keepalived", "-unsafe", "testdata/keepalived/haproxy-process.conf")
	if r.code != 0 {
		t.Fatalf("-unsafe: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	vipdCheck(t, "haproxy-process.toml", []byte(r.stdout))
	if strings.Contains(r.stdout, `name = "VI_1"`) || !strings.Contains(r.stdout, `name = "VI_2"`) {
		t.Errorf("-unsafe output is not VI_2 alone:\n%s", r.stdout)
	}
}

func TestConvertKeepalivedConfigIDAndRoot(t *testing.T) {
	t.Parallel()
	r := runCLI("convert-keepalived", "testdata/keepalived/conditional.conf")
	want := "vipctl: testdata/keepalived/conditional.conf:3: a conditional line (@ID): which lines keepalived reads depends on its config id (keepalived -i, by default the host name up to the first dot); give it (vipctl convert-keepalived -id ID)\n"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("without -id: exit %d, want 1 and %q in stderr:\n%s", r.code, want, r.stderr)
	}

	for _, tt := range []struct {
		id, node, priority string
	}{
		{"lb1", "lb1", "priority = 101\n"},
		{"lb2", "lb2", "priority = 100\n"},
		{"testdata/keepalived/conditional.conf=lb2", "lb2", "priority = 100\n"},
	} {
		r := runCLI("convert-keepalived", "-id", tt.id, "-root", "testdata/keepalived/root", "testdata/keepalived/conditional.conf")
		if r.code != 0 {
			t.Fatalf("-id %s: exit %d, stderr:\n%s", tt.id, r.code, r.stderr)
		}
		vipdCheck(t, "conditional.toml", []byte(r.stdout))
		for _, s := range []string{fmt.Sprintf("# vipd configuration of node %q", tt.node), tt.priority, `vips = ["192.0.2.10/24"]`} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("-id %s: output lacks %q:\n%s", tt.id, s, r.stdout)
			}
		}
	}

	r = runCLI("convert-keepalived", "-id", "other.conf=lb1", "testdata/keepalived/conditional.conf")
	if want := "vipctl: convert-keepalived: -id other.conf=lb1: other.conf is not one of the files given"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("-id of another file: exit %d, want 2 and %q:\n%s", r.code, want, r.stderr)
	}
}
