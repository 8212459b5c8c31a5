package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// lintianExplained are the lintian tags, other than errors, that the
// package is known to raise, and why they stay.
var lintianExplained = map[string]string{
	// vipd needs systemd: Type=notify, its watchdog, the capabilities
	// and sandboxing of the unit. A SysV script would run it without
	// any of them.
	"package-supports-alternative-init-but-no-init.d-script": "systemd only",
	// "Prefered" is a field name, spelled as the kernel's ifa_prefered:
	// netlink's Addr.PreferedLft, x/sys's IfaCacheinfo.Prefered.
	"spelling-error-in-binary": "the kernel's spelling",
}

// TestDebianPackage builds the package as make deb does, checks it with
// lintian, installs it on this machine and removes it again: the unit
// verifies where it is installed, the packaged configuration keeps the
// service from starting, an installed example passes vipd -t, dpkg -r
// keeps the edited configuration and dpkg -P removes it. It needs root
// and changes the machine (it is meant for disposable ones, like CI's),
// so the package is purged at the end, also when the test fails.
func TestDebianPackage(t *testing.T) {
	lab.Require(t)
	for _, c := range []string{"make", "dpkg", "dpkg-deb", "lintian", "systemd-analyze", "man"} {
		lab.RequireCommand(t, c)
	}
	unlock := lockFile(t, "/run/lock/vipd-test-dpkg.lock")
	defer unlock()
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status}", "vipd").Output(); err == nil && string(out) != "not-installed" {
		t.Fatalf("a vipd package is on this machine (%s): the test would replace it; dpkg -P vipd removes it", out)
	}

	// A version and date of the test's, so that the reproducible step
	// can build the package again from the same files.
	const version, epoch = "1.0.0~test", "1700000000"
	dir := t.TempDir()
	start := time.Now()
	cmd := exec.Command("make", "-C", "..", "--no-print-directory", "deb", "VERSION="+version, "DEB_OUT="+dir, "DOCDIR="+filepath.Join(dir, "doc"))
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "vipd_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb wrote %q, want one vipd_*.deb\n%s", debs, out)
	}
	deb := debs[0]
	info, _ := os.Stat(deb)
	t.Logf("make deb: %s, %d bytes, in %v", filepath.Base(deb), info.Size(), time.Since(start).Round(time.Millisecond))

	t.Run("reproducible", func(t *testing.T) {
		arch := debArch(t, deb)
		again := t.TempDir()
		cmd := exec.Command("../packaging/deb/mkdeb.sh", "-v", version, "-a", arch, "-b", "../bin/linux-"+arch, "-d", filepath.Join(dir, "doc"), "-o", again)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mkdeb.sh: %v\n%s", err, b)
		}
		a, _ := os.ReadFile(deb)
		b, err := os.ReadFile(filepath.Join(again, filepath.Base(deb)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Error("two builds of the same files differ")
		}
	})

	t.Run("lintian", func(t *testing.T) {
		out, _ := exec.Command("lintian", "--pedantic", "--display-info", "--show-overrides", deb).CombinedOutput()
		t.Logf("lintian:\n%s", out)
		tag := regexp.MustCompile(`^([EWIPXO]): vipd[^:]*: (\S+)`)
		for line := range strings.SplitSeq(string(out), "\n") {
			m := tag.FindStringSubmatch(line)
			switch {
			case m == nil, m[1] == "O":
			case m[1] == "E":
				t.Errorf("lintian error: %s", line)
			case lintianExplained[m[2]] == "":
				t.Errorf("lintian says %q, which is neither fixed nor explained in lintianExplained", line)
			}
		}
	})

	// Purge at the end, also when a step fails.
	t.Cleanup(func() {
		if out, err := dpkg("-P", "vipd"); err != nil {
			t.Errorf("cleanup: dpkg -P vipd: %v\n%s", err, out)
		}
	})
	if out, err := dpkg("-i", deb); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}

	for _, f := range []string{"/usr/sbin/vipd", "/usr/bin/vipctl", "/lib/systemd/system/vipd.service", "/etc/vipd/vipd.toml",
		"/usr/share/man/man8/vipd.8.gz", "/usr/share/man/man8/vipctl.8.gz", "/usr/share/man/man5/vipd.toml.5.gz",
		"/usr/share/doc/vipd/examples/control-plane.toml", "/usr/share/vipd/grafana-dashboard.json"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("installed package: %v", err)
		}
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f", "${Conffiles}", "vipd").Output(); !strings.Contains(string(out), "/etc/vipd/vipd.toml ") {
		t.Errorf("conffiles %q, want /etc/vipd/vipd.toml", out)
	}
	if out, err := exec.Command("man", "-w", "5", "vipd.toml").CombinedOutput(); err != nil {
		t.Errorf("man -w 5 vipd.toml: %v\n%s", err, out)
	}

	// verify also checks the unit's man: documentation, installed now.
	if out, err := exec.Command("systemd-analyze", "verify", "/lib/systemd/system/vipd.service").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	unit, err := os.ReadFile("/lib/systemd/system/vipd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/sbin/vipd -config /etc/vipd/vipd.toml\n", "ExecStartPre=/usr/sbin/vipd -t "} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the installed unit lacks %q", want)
		}
	}

	// The packaged file configures nothing: the service is skipped.
	condition := execCondition(t, string(unit))
	if code := exitCode(condition().Run()); code < 1 || code > 254 {
		t.Errorf("ExecCondition on the packaged vipd.toml exits %d, want 1..254 (skip the start)", code)
	}
	out, err = exec.Command("/usr/sbin/vipd", "-t").CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "no [[instance]]") {
		t.Errorf("vipd -t on the packaged file: %v, want exit 1 saying it has no instance\n%s", err, out)
	}
	out, err = exec.Command("/usr/sbin/vipd", "-t", "-config", "/usr/share/doc/vipd/examples/control-plane.toml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `instance "kube-apiserver"`) {
		t.Errorf("vipd -t on an installed example: %v\n%s", err, out)
	}

	// Edit the file as an operator would: now the service starts.
	example, err := os.ReadFile("/usr/share/doc/vipd/examples/control-plane.toml")
	if err != nil {
		t.Fatal(err)
	}
	edited := append([]byte("# edited by TestDebianPackage\n"), example...)
	if err := os.WriteFile("/etc/vipd/vipd.toml", edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := condition().Run(); err != nil {
		t.Errorf("ExecCondition on an edited vipd.toml: %v, want exit 0 (start)", err)
	}

	if out, err := dpkg("-r", "vipd"); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	if _, err := os.Stat("/usr/sbin/vipd"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after dpkg -r, /usr/sbin/vipd: %v, want it gone", err)
	}
	if got, err := os.ReadFile("/etc/vipd/vipd.toml"); err != nil || !bytes.Equal(got, edited) {
		t.Errorf("after dpkg -r, /etc/vipd/vipd.toml (err %v) is not the edited file", err)
	}
	if out, err := dpkg("-P", "vipd"); err != nil {
		t.Fatalf("dpkg -P: %v\n%s", err, out)
	}
	for _, f := range []string{"/etc/vipd", "/etc/systemd/system/multi-user.target.wants/vipd.service"} {
		if _, err := os.Lstat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after dpkg -P, %s: %v, want it gone", f, err)
		}
	}
}

// dpkg runs dpkg with args, waiting for a lock another install holds.
func dpkg(args ...string) ([]byte, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cmd := exec.Command("dpkg", append([]string{"--force-confold"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("lock")) || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(time.Second)
	}
}

// lockFile takes an exclusive lock on path, so that two runs of the
// tests on one machine do not install the package at the same time.
func lockFile(t *testing.T, path string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// execCondition returns a function that makes the unit's ExecCondition
// command.
func execCondition(t *testing.T, unit string) func() *exec.Cmd {
	t.Helper()
	m := regexp.MustCompile(`(?m)^ExecCondition=(\S+) (-\S+) "([^"]+)" (\S+)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("the unit has no ExecCondition of the known form")
	}
	return func() *exec.Cmd { return exec.Command(m[1], m[2], m[3], m[4]) }
}

// debArch returns the architecture of a package.
func debArch(t *testing.T, deb string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-f", deb, "Architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
