// Package systemd holds vipd's systemd unit, a template whose @sbindir@
// make install and make deb fill in; its test checks the unit with
// systemd-analyze and its start condition against the packaged
// configuration file.
package systemd

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vipd/vipd/internal/docs"
)

// unit returns the unit with @sbindir@ replaced by sbindir.
func unit(t *testing.T, sbindir string) string {
	t.Helper()
	tmpl, err := os.ReadFile("vipd.service.in")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(tmpl), "/usr/local") {
		t.Error("the unit names /usr/local: write @sbindir@")
	}
	text := strings.ReplaceAll(string(tmpl), "@sbindir@", sbindir)
	if m := regexp.MustCompile(`@[a-z]+@`).FindString(text); m != "" {
		t.Errorf("the unit has a placeholder %s that make install does not fill", m)
	}
	return text
}

// TestUnitVerifies runs systemd-analyze verify on the unit, with its
// ExecStart pointing at a vipd built for the test (verify wants the
// programs to exist). The manual pages are checked where the package
// installs them (e2e's TestDebianPackage).
func TestUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("VIPD_REQUIRE_NETNS") == "1" {
			t.Fatal("systemd-analyze is not installed (apt-get install systemd)")
		}
		t.Skip("systemd-analyze is not installed")
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "vipd"), "../cmd/vipd").CombinedOutput(); err != nil {
		t.Fatalf("build vipd: %v\n%s", err, out)
	}
	text := unit(t, dir)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecReload=", "Restart=on-failure", "StartLimitIntervalSec=0",
		"ExecCondition=", "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=vipd", "RuntimeDirectory=vipd"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	path := filepath.Join(dir, "vipd.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestStartCondition runs the unit's ExecCondition on the packaged
// configuration file, which must skip the start (exit 1..254), and on
// every example, which must let it start (exit 0).
func TestStartCondition(t *testing.T) {
	m := regexp.MustCompile(`(?m)^ExecCondition=(\S+) (-\S+) "([^"]+)" /etc/vipd/vipd.toml$`).FindStringSubmatch(unit(t, "/usr/sbin"))
	if m == nil {
		t.Fatal(`the unit has no ExecCondition=PROGRAM -FLAGS "PATTERN" /etc/vipd/vipd.toml`)
	}
	if _, err := os.Stat(m[1]); err != nil {
		t.Skipf("ExecCondition's program: %v", err)
	}
	condition := func(path string) int {
		err := exec.Command(m[1], m[2], m[3], path).Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		}
		t.Fatalf("%s: %v", m[1], err)
		return -1
	}
	dir := t.TempDir()
	ref, err := os.ReadFile("../configs/vipd.toml")
	if err != nil {
		t.Fatal(err)
	}
	packaged := filepath.Join(dir, "vipd.toml")
	if err := os.WriteFile(packaged, docs.Disabled(ref), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := condition(packaged); code < 1 || code > 254 {
		t.Errorf("on the packaged file, the condition exits %d: want 1..254, which skips the start", code)
	}
	if code := condition(filepath.Join(dir, "missing.toml")); code < 1 || code > 254 {
		t.Errorf("without a file, the condition exits %d: want 1..254, which skips the start", code)
	}
	edited := filepath.Join(dir, "edited.toml")
	text := strings.Replace(string(docs.Disabled(ref)), "\n#[[instance]]\n", "\n  [[instance]]\n", 1)
	if err := os.WriteFile(edited, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := condition(edited); code != 0 {
		t.Errorf("on a file with one table uncommented, the condition exits %d, want 0", code)
	}
	examples, _ := filepath.Glob("../configs/*.toml")
	for _, f := range examples {
		if code := condition(f); code != 0 {
			t.Errorf("on %s, the condition exits %d, want 0", f, code)
		}
	}
}
