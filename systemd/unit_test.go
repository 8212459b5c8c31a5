// Package systemd holds vipd's systemd unit; its test checks the unit with
// systemd-analyze.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitVerifies runs systemd-analyze verify on the unit, with its
// ExecStart pointing at a vipd built for the test (verify wants the
// programs to exist).
func TestUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("VIPD_REQUIRE_NETNS") == "1" {
			t.Fatal("systemd-analyze is not installed (apt-get install systemd)")
		}
		t.Skip("systemd-analyze is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vipd")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/vipd").CombinedOutput(); err != nil {
		t.Fatalf("build vipd: %v\n%s", err, out)
	}
	unit, err := os.ReadFile("vipd.service")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(unit), "/usr/local/sbin/vipd", bin)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecReload=", "Restart=on-failure", "StartLimitIntervalSec=0",
		"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=vipd", "RuntimeDirectory=vipd"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	path := filepath.Join(dir, "vipd.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
