package kaconf

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestConvertGolden converts each directory of testdata: the files listed
// in its args, converted from inside it. The vipd configurations are
// compared with want/NODE.toml, the notes with notes.txt, and a failed
// conversion's error with error.txt.
func TestConvertGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/args")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no test cases in testdata")
	}
	for _, args := range dirs {
		dir, err := filepath.Abs(filepath.Dir(args))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			res, err := Convert(strings.Fields(string(b)))

			var notes strings.Builder
			for _, n := range res.Notes {
				notes.WriteString(n.String() + "\n")
			}
			golden(t, "notes.txt", notes.String())
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
