package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/control/controltest"
)

// envArgs, set to a JSON list of arguments, makes the test binary run
// vipctl with them instead of the tests (see TestMain).
const envArgs = "VIPCTL_TEST_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(envArgs); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			os.Exit(3)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("VIPD_REQUIRE_NETNS") == "1" {
		t.Fatal("needs root (VIPD_REQUIRE_NETNS=1)")
	}
	t.Skip("needs root: drain and resume are refused to other users")
}

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs vipctl with a fixed clock in UTC, as the golden files are.
func runCLI(args ...string) result {
	var out, errb bytes.Buffer
	c := cli{stdout: &out, stderr: &errb, now: controltest.Epoch, loc: time.UTC, version: "v9.9.9"}
	code := c.run(args)
	return result{code, out.String(), errb.String()}
}

// runMain runs vipctl as main does, with the real clock.
func runMain(args ...string) result {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func serveSample(t *testing.T) (string, *controltest.Backend) {
	b := controltest.NewBackend(controltest.Sample())
	return controltest.Serve(t, b), b
}

func readGolden(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkResult(t *testing.T, want, got result) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

func TestStatusTable(t *testing.T) {
	t.Parallel()
	path, _ := serveSample(t)
	want := result{stdout: readGolden(t, "testdata/status.txt")}
	for _, args := range [][]string{
		{"-socket", path, "status"},
		{"status", "-socket", path},
		{"status", "-socket=" + path, "-o", "table"},
		{"--socket", path, "status", "-o=table"},
		// The socket given last wins.
		{"-socket", "/nonexistent/vipd.sock", "status", "-socket", path},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			checkResult(t, want, runCLI(args...))
		})
	}
}

func TestStatusDetail(t *testing.T) {
	t.Parallel()
	path, _ := serveSample(t)
	want := result{stdout: readGolden(t, "testdata/status-api.txt")}
	for _, args := range [][]string{
		{"-socket", path, "status", "api"},
		{"status", "api", "-socket", path},
		{"status", "-socket", path, "--", "api"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			checkResult(t, want, runCLI(args...))
		})
	}
	checkResult(t, result{code: 1, stderr: `vipctl: no instance named "nope" (there are: api, ingress)` + "\n"},
		runCLI("-socket", path, "status", "nope"))
}

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	path, _ := serveSample(t)
	// vipctl prints the API's JSON as the daemon sends it.
	want := result{stdout: readGolden(t, "../../pkg/control/testdata/status.json")}
	checkResult(t, want, runCLI("status", "-o", "json", "-socket", path))

	got := runCLI("status", "api", "-o", "json", "-socket", path)
	if got.code != 0 || got.stderr != "" {
		t.Fatalf("status api -o json: %+v", got)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(got.stdout), &st); err != nil {
		t.Fatal(err)
	}
	wantSt := controltest.Sample()
	wantSt.Instances = wantSt.Instances[:2]
	if diff := cmp.Diff(wantSt, st, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("status api -o json: (-want +got)\n%s", diff)
	}
}

func TestNotRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	dead := filepath.Join(dir, "dead.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: dead, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	for _, tt := range []struct{ path, why string }{
		{missing, "no socket at " + missing},
		{dead, "connection refused on " + dead},
	} {
		want := result{code: 1, stderr: "vipctl: vipd is not running: " + tt.why + "\n"}
		for _, cmd := range [][]string{{"status"}, {"status", "api"}, {"drain"}, {"resume", "api"}} {
			checkResult(t, want, runMain(append([]string{"-socket", tt.path}, cmd...)...))
		}
		// version needs no daemon.
		checkResult(t, result{stdout: "vipctl dev\n"}, runMain("version", "-socket", tt.path))
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	path, _ := serveSample(t)
	checkResult(t, result{stdout: "vipctl v9.9.9\nvipd v1.2.3\n"}, runCLI("-socket", path, "version"))
}

func TestLive(t *testing.T) {
	t.Parallel()
	path, b := serveSample(t)
	checkResult(t, result{stdout: "live\n"}, runCLI("-socket", path, "live"))
	b.SetLive(errors.New("router api/ipv4 does not answer: context deadline exceeded"))
	checkResult(t, result{code: 1, stderr: "vipctl: live: router api/ipv4 does not answer: context deadline exceeded\n"},
		runCLI("live", "-socket", path))
	missing := filepath.Join(t.TempDir(), "missing.sock")
	checkResult(t, result{code: 1, stderr: "vipctl: vipd is not running: no socket at " + missing + "\n"},
		runCLI("-socket", missing, "live"))
}

func TestDrainResume(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	path, b := serveSample(t)
	checkResult(t, result{stdout: "drained api\n"}, runCLI("drain", "api", "-socket", path))
	checkResult(t, result{stdout: "resumed api\nresumed ingress\n"}, runCLI("-socket", path, "resume"))
	checkResult(t, result{code: 1, stderr: `vipctl: drain: unknown instances "nope", "gone"` + "\n"},
		runCLI("-socket", path, "drain", "api", "nope", "gone"))
	want := []controltest.Call{{Op: "drain", Names: []string{"api"}}, {Op: "resume", Names: []string{}}}
	if diff := cmp.Diff(want, b.Calls()); diff != "" {
		t.Fatalf("backend calls (-want +got)\n%s", diff)
	}

	empty := controltest.Serve(t, controltest.NewBackend(control.Status{}))
	checkResult(t, result{stdout: "no instance drained: vipd runs none\n"}, runCLI("-socket", empty, "drain"))
}

func TestUsage(t *testing.T) {
	t.Parallel()
	// None of these reaches the point of connecting.
	tests := []struct {
		args    []string
		code    int
		message string // first line on stderr; "" when the usage goes to stdout
	}{
		{nil, 2, "vipctl: no command given"},
		{[]string{"frob"}, 2, `vipctl: unknown command "frob"`},
		{[]string{"-bogus", "status"}, 2, "vipctl: flag provided but not defined: -bogus"},
		{[]string{"-socket"}, 2, "vipctl: flag needs an argument: -socket"},
		{[]string{"status", "-x"}, 2, "vipctl: status: flag provided but not defined: -x"},
		{[]string{"status", "-o", "yaml"}, 2, `vipctl: status: -o "yaml": want table or json`},
		{[]string{"status", "a", "b"}, 2, `vipctl: status: one instance name at most, got ["a" "b"]`},
		{[]string{"drain", "-all"}, 2, "vipctl: drain: flag provided but not defined: -all"},
		{[]string{"version", "now"}, 2, `vipctl: version: unexpected argument "now"`},
		{[]string{"live", "api"}, 2, `vipctl: live: unexpected argument "api"`},
		{[]string{"-h"}, 0, ""},
		{[]string{"help"}, 0, ""},
		{[]string{"status", "-h"}, 0, ""},
	}
	for _, tt := range tests {
		got := runMain(tt.args...)
		if got.code != tt.code {
			t.Errorf("%q: exit %d, want %d", tt.args, got.code, tt.code)
		}
		if tt.message == "" {
			if got.stdout != usage || got.stderr != "" {
				t.Errorf("%q: want the usage on stdout alone, got %+v", tt.args, got)
			}
			continue
		}
		if got.stdout != "" || got.stderr != tt.message+"\n"+usage {
			t.Errorf("%q: got stdout %q, stderr %q; want %q and the usage on stderr", tt.args, got.stdout, got.stderr, tt.message)
		}
	}
}

// TestDrainRefused runs vipctl as uid 65534 against a root daemon: with
// the socket's own mode it cannot connect; with the socket opened to all,
// the daemon refuses the drain by the peer's credentials.
func TestDrainRefused(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	b := controltest.NewBackend(controltest.Sample())
	dir := publicDir(t)
	path := filepath.Join(dir, "vipd.sock")
	srv, err := control.Listen(path, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(t.Context()) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	exe := filepath.Join(dir, "vipctl.test")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, self, exe)

	checkResult(t, result{code: 1, stderr: "vipctl: cannot connect to vipd: permission denied on " + path +
		" (the socket is root's: run vipctl as root)\n"}, runAsNobody(t, exe, "-socket", path, "drain", "api"))

	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	checkResult(t, result{code: 1, stderr: "vipctl: drain refused: only root may drain or resume (you are uid 65534)\n"},
		runAsNobody(t, exe, "-socket", path, "drain", "api"))
	checkResult(t, result{code: 1, stderr: "vipctl: resume refused: only root may drain or resume (you are uid 65534)\n"},
		runAsNobody(t, exe, "resume", "-socket", path))
	// Reading is open to whoever can connect.
	if got := runAsNobody(t, exe, "status", "-socket", path); got.code != 0 || !strings.HasPrefix(got.stdout, "NAME ") {
		t.Fatalf("status as uid 65534: %+v", got)
	}
	if calls := b.Calls(); len(calls) != 0 {
		t.Fatalf("backend called for a refused peer: %v", calls)
	}
}

// publicDir returns a new directory every user may enter, removed when
// the test ends. t.TempDir's are private to root.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vipctl-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyFile copies the test binary where uid 65534 may run it: go test
// builds it in a directory only root may enter.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// runAsNobody runs vipctl (the test binary exe, see TestMain) with args as
// uid and gid 65534.
func runAsNobody(t *testing.T, exe string, args ...string) result {
	t.Helper()
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(t.Context(), exe)
	cmd.Env = append(os.Environ(), envArgs+"="+string(a),
		// A race build otherwise sleeps a second before exiting.
		"GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run as uid 65534: %v", err)
		}
		code = ee.ExitCode()
	}
	return result{code, out.String(), errb.String()}
}
