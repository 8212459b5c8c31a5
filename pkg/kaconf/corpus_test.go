package kaconf

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestKeepalivedCheck runs keepalived -t -l -f on each file of the corpus
// (testdata/corpus/*/args) and compares what keepalived says of it with
// FILE.keepalived.txt, recorded from Debian's keepalived 2.2.7 (less what
// depends on the machine, see machineDependent): the notes
// of the converter quote keepalived, and this keeps them honest. Each run
// is in a network namespace of its own (unshare -n) holding a veth
// interface for each interface the file names, so that keepalived judges
// the file rather than the machine. It needs root and keepalived; -update
// rewrites the files.
func TestKeepalivedCheck(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		bin = "/usr/sbin/keepalived"
	}
	args, err := filepath.Glob("testdata/corpus/*/args")
	if err != nil {
		t.Fatal(err)
	}
	if len(args) < 30 {
		t.Errorf("the corpus has %d files, want at least 30", len(args))
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("VIPD_REQUIRE_KEEPALIVED") == "1" {
			t.Fatalf("keepalived is not installed: %v (fatal because VIPD_REQUIRE_KEEPALIVED=1)", err)
		}
		t.Skipf("keepalived is not installed: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("keepalived -t runs in a network namespace of its own, which needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("no unshare: %v", err)
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("Keepalived v2.2.7 ")) {
		t.Skipf("the recorded output is keepalived 2.2.7's; this is %q (%v)", bytes.SplitN(out, []byte("\n"), 2)[0], err)
	}
	for _, a := range args {
		dir := filepath.Dir(a)
		b, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("args", flag.ContinueOnError)
		id := fs.String("id", "", "")
		root := fs.String("root", "", "")
		if err := fs.Parse(strings.Fields(string(b))); err != nil {
			t.Fatal(err)
		}
		if *root != "" {
			continue // keepalived reads absolute includes where they are
		}
		for _, file := range fs.Args() {
			t.Run(filepath.Join(filepath.Base(dir), file), func(t *testing.T) {
				t.Parallel()
				got := keepalivedCheck(t, bin, dir, file, *id)
				golden(t, filepath.Join(dir, file+".keepalived.txt"), got)
			})
		}
	}
}

// keepalivedCheck runs keepalived -t on file in dir and returns what it
// printed and its exit status.
func keepalivedCheck(t *testing.T, bin, dir, file, id string) string {
	t.Helper()
	stmts, err := parseFile(osLoader{}, filepath.Join(dir, file), parseSettings{configID: id, configIDSet: id != ""}, &notes{})
	if err != nil {
		t.Fatal(err)
	}
	script := "ip link set lo up || exit 100\n"
	for i, ifname := range interfacesOf(stmts) {
		peer := fmt.Sprintf("peer%d", i)
		script += fmt.Sprintf("ip link add '%s' type veth peer name %s && ip link set %s up && ip link set '%s' up || exit 100\n", ifname, peer, peer, ifname)
	}
	script += `exec "$@"`
	cmdArgs := []string{"-n", "sh", "-c", script, "sh", bin, "-t", "-l", "-f", file}
	if id != "" {
		cmdArgs = append(cmdArgs, "-i", id)
	}
	cmd := exec.Command("unshare", cmdArgs...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 100:
		t.Fatalf("setting up the interfaces: %s", out)
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if line != "" && !machineDependent.MatchString(line) {
			kept = append(kept, line)
		}
	}
	if code == 1 || code == 2 {
		kept = append(kept, fmt.Sprintf("keepalived stops: exit status %d\n", code))
	}
	if len(kept) == 0 {
		return "(keepalived -t says nothing of it)\n"
	}
	return strings.Join(kept, "")
}

// machineDependent matches what keepalived -t says of the scripts it
// finds, or does not, on the machine it runs on; the exit status of a
// file keepalived runs (0, 5 or 6) follows those lines, so only a stop (1
// or 2) is recorded.
var machineDependent = regexp.MustCompile(`Disabling track script|Cannot find script|Unsafe permissions found|check_script_secure|SECURITY VIOLATION|Permissions failure for script|Unable to set default user|Failed to set default user`)

// interfacesOf returns the interfaces a keepalived configuration names:
// those of instances, addresses and routes (dev), and tracked ones.
func interfacesOf(stmts []*stmt) []string {
	var out []string
	add := func(name string) {
		if name != "" && name != "lo" && len(name) <= maxIfName && !strings.ContainsAny(name, "'/ ") && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	var walk func(stmts []*stmt, parent string)
	walk = func(stmts []*stmt, parent string) {
		for _, s := range stmts {
			if s.keyword() == "interface" && len(s.words) > 1 {
				add(s.arg(1))
			}
			for i, w := range s.words[:len(s.words)-1] {
				if w == "dev" {
					add(s.words[i+1])
				}
			}
			if parent == "track_interface" {
				add(s.keyword())
			}
			walk(s.block, s.keyword())
		}
	}
	walk(stmts, "")
	slices.Sort(out)
	return out
}
