package kaconf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestConvertGolden converts each directory of testdata: the files listed
// in its args (after the options -id and -root), converted from inside
// it. The vipd configurations are compared with want/NODE.toml, the notes
// with notes.txt, the verdicts with verdicts.txt, and a failed
// conversion's error with error.txt.
func TestConvertGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/args")
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := filepath.Glob("testdata/corpus/*/args")
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, corpus...)
	if len(dirs) == 0 {
		t.Fatal("no test cases in testdata")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range dirs {
		dir, err := filepath.Abs(filepath.Dir(args))
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(filepath.Join(wd, "testdata"), dir)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			fs := flag.NewFlagSet("args", flag.ContinueOnError)
			var opts Options
			fs.StringVar(&opts.ConfigID, "id", "", "")
			fs.StringVar(&opts.Root, "root", "", "")
			if err := fs.Parse(strings.Fields(string(b))); err != nil {
				t.Fatal(err)
			}
			res, err := ConvertOptions(fs.Args(), opts)

			var notes strings.Builder
			for _, n := range res.Notes {
				notes.WriteString(n.String() + "\n")
			}
			golden(t, "notes.txt", notes.String())
			var verdicts strings.Builder
			for _, v := range res.Verdicts {
				verdicts.WriteString(v.String() + "\n")
			}
			golden(t, "verdicts.txt", verdicts.String())
			if err != nil {
				golden(t, "error.txt", err.Error()+"\n")
				if len(res.Nodes) != 0 {
					t.Errorf("Convert failed with %d nodes", len(res.Nodes))
				}
				return
			}
			if _, err := os.Stat("error.txt"); err == nil {
				t.Fatal("Convert succeeded; error.txt expects it to fail")
			}
			want, _ := filepath.Glob("want/*.toml")
			var got []string
			for _, nd := range res.Nodes {
				path := filepath.Join("want", nd.Name+".toml")
				got = append(got, path)
				golden(t, path, string(nd.TOML))
				checkVipd(t, path, nd.TOML)
			}
			if !*update {
				slices.Sort(got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("nodes differ from want/*.toml (-want +got)\n%s", diff)
				}
			}
		})
	}
}

// checkVipd checks a converted file as vipd -t does: it parses, and every
// node resolves.
func checkVipd(t *testing.T, name string, data []byte) {
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

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if got == "" {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			return
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if the change is meant\n%s", path, diff)
	}
}

func TestCompareNodes(t *testing.T) {
	inst := func(name, ifname string, vrid int, prio int, vip string) string {
		return fmt.Sprintf("vrrp_instance %s {\n interface %s\n virtual_router_id %d\n priority %d\n virtual_ipaddress {\n  %s\n }\n}\n",
			name, ifname, vrid, prio, vip)
	}
	tests := []struct {
		name  string
		a, b  string
		notes []string
	}{
		{
			name: "the same routers",
			a:    inst("VI_1", "eth0", 51, 101, "192.0.2.10/24"),
			b:    inst("VI_1", "eth0", 51, 100, "192.0.2.10/24"),
		},
		{
			name: "interfaces named differently on each node",
			a:    inst("VI_1", "eth0", 51, 101, "192.0.2.10/24"),
			b:    inst("VI_1", "ens3", 51, 100, "192.0.2.11/24"),
			notes: []string{
				"b.conf:1: vrrp_instance VI_1: its VIPs differ from those of a (a.conf:1): keepalived drops adverts whose address list differs from its own (\"expected N VIPs\", \"not present in MASTER advert\"), and so does vipd: both become master",
			},
		},
		{
			name: "one VRID on two interfaces of each node",
			a:    inst("VI_1", "eth0", 51, 101, "192.0.2.10/24") + inst("VI_2", "eth1", 51, 101, "198.51.100.10/24"),
			b:    inst("VI_1", "eth0", 51, 100, "192.0.2.10/24") + inst("VI_2", "eth1", 51, 100, "198.51.100.11/24"),
			notes: []string{
				"b.conf:9: vrrp_instance VI_2: its VIPs differ from those of a (a.conf:9): keepalived drops adverts whose address list differs from its own (\"expected N VIPs\", \"not present in MASTER advert\"), and so does vipd: both become master",
			},
		},
		{
			name: "one instance with two VRIDs",
			a:    inst("VI_1", "eth0", 51, 101, "192.0.2.10/24"),
			b:    inst("VI_1", "eth0", 52, 100, "192.0.2.10/24"),
			notes: []string{
				"a.conf:1: vrrp_instance VI_1 (vrid 51, IPv4) is in this file only: its node has no peer among the files given",
				"a.conf:1: vrrp_instance VI_1 has vrid 51 (IPv4) here and vrid 52 (IPv4) on b: two virtual routers, each with a master of its own, keepalived and vipd alike",
				"b.conf:1: vrrp_instance VI_1 (vrid 52, IPv4) is in this file only: its node has no peer among the files given",
				"b.conf:1: vrrp_instance VI_1 has vrid 52 (IPv4) here and vrid 51 (IPv4) on a: two virtual routers, each with a master of its own, keepalived and vipd alike",
			},
		},
		{
			name: "a router on one node only",
			a:    inst("VI_1", "eth0", 51, 101, "192.0.2.10/24") + inst("VI_6", "eth0", 51, 101, "2001:db8::10/64"),
			b:    inst("VI_1", "eth0", 51, 100, "192.0.2.10/24"),
			notes: []string{
				"a.conf:9: vrrp_instance VI_6 (vrid 51, IPv6) is in this file only: its node has no peer among the files given",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := convert(mapLoader{"a.conf": tt.a, "b.conf": tt.b}, []string{"a.conf", "b.conf"}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range res.Notes {
				got = append(got, n.String())
			}
			if diff := cmp.Diff(tt.notes, got); diff != "" {
				t.Errorf("notes (-want +got)\n%s", diff)
			}
			if len(res.Nodes) != 2 || res.Nodes[0].Name != "a" || res.Nodes[1].Name != "b" {
				t.Errorf("nodes %+v, want a and b", res.Nodes)
			}
		})
	}
}

func TestNoteString(t *testing.T) {
	for _, tt := range []struct {
		n    Note
		want string
	}{
		{Note{File: "k.conf", Line: 3, Msg: "m"}, "k.conf:3: m"},
		{Note{File: "k.conf", Msg: "m"}, "k.conf: m"},
	} {
		if got := tt.n.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestConvertNamesClash converts names that vipd would reject or that
// clash once made valid: the output must still load.
func TestConvertNamesClash(t *testing.T) {
	long := strings.Repeat("x", 70)
	conf := fmt.Sprintf(`vrrp_script "chk a" { script /bin/true }
vrrp_script chk-a { script /bin/false }
vrrp_script %[1]sa { script /bin/true }
vrrp_script %[1]sb { script /bin/true }
vrrp_instance "v 1" {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress { 192.0.2.1 }
  track_script { "chk a" }
  track_script { %[1]sa }
}
vrrp_instance v-1 {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress { 192.0.2.2 }
}
vrrp_instance v2 {
  interface eth0
  virtual_router_id 3
  virtual_ipaddress { 192.0.2.3 }
  track_script { chk-a }
  track_script { %[1]sb }
}
`, long)
	res, err := convert(mapLoader{"k.conf": conf}, []string{"k.conf"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkVipd(t, "k.toml", res.Nodes[0].TOML)
	cfg, err := config.Parse("k.toml", res.Nodes[0].TOML)
	if err != nil {
		t.Fatal(err)
	}
	var checks, insts []string
	for _, c := range cfg.Checks {
		checks = append(checks, c.Name)
	}
	for _, in := range cfg.Instances {
		insts = append(insts, in.Name)
	}
	want := []string{"chk-a", "chk-a-2", long[:63], long[:61] + "-2"}
	if diff := cmp.Diff(want, checks); diff != "" {
		t.Errorf("checks (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"v-1", "v-1-2", "v2"}, insts); diff != "" {
		t.Errorf("instances (-want +got)\n%s", diff)
	}
}
