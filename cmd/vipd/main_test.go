package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckFlag(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", `
[cluster]
interface = "eth0"
[[cluster.node]]
name = "cp-1"
address = "192.0.2.11"
[[cluster.node]]
name = "cp-2"
address = "192.0.2.12"
[[instance]]
name = "api"
vrid = 51
vips = ["192.0.2.100/24"]
`)
	script := write("check.sh", "#!/bin/sh\nexit 0\n")
	if err := os.Chmod(script, 0o777); err != nil {
		t.Fatal(err)
	}
	unsafe := write("unsafe.toml", `
[[check]]
name = "custom"
type = "exec"
command = ["`+script+`"]
[[instance]]
name = "api"
vrid = 51
priority = 100
interface = "eth0"
vips = ["192.0.2.100/24"]
track = [{ check = "custom" }]
`)
	// kubeadm init has not run yet: the check's CA is missing, which -t
	// warns of but accepts.
	missingCA := filepath.Join(dir, "pki", "ca.crt")
	notPEM := write("not.pem", "hello")
	httpsCheck := func(name, caFile string) string {
		return write(name, `
[[check]]
name = "apiserver"
type = "https"
url = "https://127.0.0.1:6443/readyz"
ca_file = "`+caFile+`"
server_name = "kubernetes"
[[instance]]
name = "api"
vrid = 51
priority = 100
interface = "eth0"
vips = ["192.0.2.100/24"]
track = [{ check = "apiserver" }]
`)
	}
	noCA, badCA := httpsCheck("no-ca.toml", missingCA), httpsCheck("bad-ca.toml", notPEM)
	bad := write("bad.toml", `
[[instance]]
name = "api"
vrid = 300
vips = ["192.0.2.100/24"]
priority = 100
interface = "eth0"
`)
	missingPID := filepath.Join(dir, "haproxy.pid")
	process := write("process.toml", `
[[check]]
name = "haproxy"
type = "process"
process = "haproxy"
pid_file = "`+missingPID+`"
fall = 1
[[instance]]
name = "lb"
vrid = 61
priority = 100
interface = "eth0"
vips = ["192.0.2.100/24"]
track = [{ check = "haproxy" }]
`)
	worldWritable := write("ww.toml", "")
	if err := os.Chmod(worldWritable, 0o666); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"valid", []string{"-t", "-config", good}, 0, "  cp-2  240\n", ""},
		{"one node", []string{"-t", "-config", good, "-node", "cp-1"}, 0, "configuration OK", ""},
		{"unsafe exec check", []string{"-t", "-config", unsafe}, 1, "", `check "custom": `},
		{"CA not present yet", []string{"-t", "-config", noCA}, 0, `warning: check "apiserver": ca_file ` + missingCA + ": not present yet", ""},
		{"CA not PEM", []string{"-t", "-config", badCA}, 0, `warning: check "apiserver": ca_file ` + notPEM + ": no PEM certificate found", ""},
		{"warned but OK", []string{"-t", "-config", noCA}, 0, "no restart is needed)\n" + noCA + ": configuration OK\n", ""},
		{"process check", []string{"-t", "-config", process}, 0, "check haproxy fails on this node while master: a backup takes over within", ""},
		{"pid file not there yet", []string{"-t", "-config", process}, 0, `warning: check "haproxy": pid_file ` + missingPID + ": stat " + missingPID + ": no such file or directory (the check fails until the process writes it)\n" + process + ": configuration OK\n", ""},
		{"unknown node", []string{"-t", "-config", good, "-node", "cp-9"}, 1, "", "cp-9"},
		{"invalid", []string{"-t", "-config", bad}, 1, "", "bad.toml:4"},
		{"missing", []string{"-t", "-config", filepath.Join(dir, "none.toml")}, 1, "", "none.toml"},
		{"writable by others", []string{"-t", "-config", worldWritable}, 1, "", "writable by group or others"},
		{"stray argument", []string{"-t", "x"}, 2, "", "unexpected argument"},
		{"version", []string{"-version"}, 0, "vipd dev", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.out)
			}
			if !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.err)
			}
		})
	}
}
