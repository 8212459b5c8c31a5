package health

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/procgroup"
)

// sh builds an exec checker running a shell command. /bin/sh is root's in
// root's directories on any sane system, so it passes CheckOwnership.
func sh(t *testing.T, script string) Checker {
	t.Helper()
	return mustNew(t, Spec{Name: "custom", Type: TypeExec, Command: []string{"/bin/sh", "-c", script}})
}

func TestExec(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		out     string
		wantErr string // exact; empty means success
	}{
		{name: "exit 0", script: "echo ready; echo warning >&2", out: "ready\nwarning\n"},
		{name: "exit 1", script: "echo etcd is down; exit 1", out: "etcd is down\n", wantErr: "/bin/sh: exit status 1: etcd is down"},
		{name: "exit 3, no output", script: "exit 3", wantErr: "/bin/sh: exit status 3"},
		{name: "killed", script: "kill -9 $$", wantErr: "/bin/sh: killed by signal 9 (killed)"},
		{name: "environment is fixed", script: `echo "$PATH|$HOME|$(pwd)"`, out: strings.TrimPrefix(execEnv[0], "PATH=") + "||/\n"},
		{name: "stdin is empty", script: "cat", out: ""},
		{
			name:   "output is capped",
			script: "yes 0123456789 | head -c 100000",
			out:    strings.Repeat("0123456789\n", MaxOutput/11+1)[:MaxOutput] + procgroup.TruncatedMarker,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := probeOnce(t, sh(t, tt.script), 5*time.Second)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Fatalf("Check: error %q, want %q", got, tt.wantErr)
			}
			if out != tt.out {
				t.Errorf("output %q, want %q", out, tt.out)
			}
		})
	}
}

func TestExecTimeoutKillsGroup(t *testing.T) {
	// The script starts a child, prints its pid and hangs; at the timeout
	// both must die.
	const timeout = 200 * time.Millisecond
	out, took, err := probeOnce(t, sh(t, "sleep 30 & echo $!; sleep 30"), timeout)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "/bin/sh: killed process group") {
		t.Fatalf("Check: %v, want a deadline error", err)
	}
	if took > timeout+2*time.Second {
		t.Fatalf("Check returned after %v with a timeout of %v", took, timeout)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(out))
	if perr != nil {
		t.Fatalf("output %q is not the child's pid", out)
	}
	waitGone(t, pid)
}

func TestExecKillsLeftovers(t *testing.T) {
	// The script succeeds at once but leaves a child behind, holding the
	// output open: the probe still ends promptly, succeeds, and the
	// child dies.
	out, took, err := probeOnce(t, sh(t, "sleep 30 & echo $!"), 5*time.Second)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if took > 2*time.Second {
		t.Fatalf("Check took %v", took)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(out))
	if perr != nil {
		t.Fatalf("output %q is not the child's pid", out)
	}
	waitGone(t, pid)
}

// waitGone waits until process pid has exited. A zombie counts as gone:
// whether it is reaped depends on the init process of the container.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		// The state follows the parenthesised command name.
		if err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
				return
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecStartError(t *testing.T) {
	// A safe path that is not an ELF or script: exec fails.
	dir := safeDir(t)
	bin := writeFile(t, dir, "garbage", 0o755, "\x00\x01\x02")
	c, err := newChecker(Spec{Name: "x", Type: TypeExec, Command: []string{bin}}, dir)
	if err != nil {
		t.Fatalf("newChecker: %v", err)
	}
	_, _, err = probeOnce(t, c, 5*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "start "+bin+": ") {
		t.Fatalf("Check: %v, want a start error", err)
	}
}

func TestNewExecRefusesUnsafeProgram(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	prog := writeFile(t, dir, "check", 0o755, "#!/bin/sh\nexit 0\n")
	_, err := New(Spec{Name: "custom", Type: TypeExec, Command: []string{prog}})
	if !errors.Is(err, ErrUnsafePath) || !strings.HasPrefix(err.Error(), `health: check "custom": refusing to run `+prog+": ") {
		t.Fatalf("New: %v, want a refusal naming the program", err)
	}
}

// requireRoot skips a test that needs root, or fails it when the lab's
// EnvRequire asks for every privileged test to run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(lab.EnvRequire) == "1" {
		t.Fatalf("test needs root (fatal because %s=1)", lab.EnvRequire)
	}
	t.Skip("test needs root")
}

// safeDir returns a directory owned by root with mode 0755, for programs
// that checkOwnership, trusting it, accepts.
func safeDir(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeFile writes a file with exactly the given mode (no umask).
func writeFile(t *testing.T, dir, name string, mode os.FileMode, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}
