// Package deb holds the files of vipd's Debian package and mkdeb.sh, which
// builds it; e2e's TestDebianPackage builds, checks and installs it.
package deb

import (
	"os"
	"os/exec"
	"testing"
)

// TestDebVersion runs mkdeb.sh's debversion on what git describe gives.
func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.0":                  "1.2.0",
		"v1.2.0-3-gabc1234":       "1.2.0+3.gabc1234",
		"v1.2.0-3-gabc1234-dirty": "1.2.0+3.gabc1234+dirty",
		"1.0.0~test":              "1.0.0~test",
		"abc1234":                 "0~git20231114.abc1234",
		"abc1234-dirty":           "0~git20231114.abc1234+dirty",
		"38d1381":                 "0~git20231114.38d1381", // only looks like a number
	} {
		cmd := exec.Command("bash", "-c", `source <(sed -n '/^debversion()/,/^}/p' mkdeb.sh) && debversion "$1"`, "bash", in)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SOURCE_DATE_EPOCH=1700000000"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("debversion %s: %v", in, err)
		}
		if got := string(out); got != want+"\n" {
			t.Errorf("debversion %s = %q, want %q", in, got, want)
		}
	}
}
