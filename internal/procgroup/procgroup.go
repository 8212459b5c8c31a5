// Package procgroup runs the programs vipd is configured with (exec checks,
// notify hooks): without a shell, in a process group of their own that is
// killed whole when the context ends, with their output capped.
package procgroup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// MaxOutput caps the output kept of a run.
const MaxOutput = 4096

// TruncatedMarker ends output that was cut at MaxOutput.
const TruncatedMarker = "\n[output truncated]"

// Command returns argv ready to start with env as its whole environment,
// in / and a process group of its own, stdin from /dev/null, stdout and
// stderr captured together into the returned Output. When ctx ends the
// whole group is killed. waitDelay bounds how long Wait waits, once the
// program has exited or been killed, for the output pipe to close: a
// process left behind could hold it open for ever.
func Command(ctx context.Context, argv, env []string, waitDelay time.Duration) (*exec.Cmd, *Output) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &Output{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Cancel = func() error {
		// With Setpgid the group's id is the program's pid, which is
		// not reused before Wait has reaped the program.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	return cmd, out
}

// ExitText says how a program ended: "exit status 3" or "killed by signal
// 9 (killed)".
func ExitText(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}

// Output keeps the first MaxOutput bytes written to it and notes the rest,
// so that a chatty program neither grows memory nor blocks on a full pipe.
type Output struct {
	buf       []byte
	truncated bool
}

func (w *Output) Write(p []byte) (int, error) {
	room := min(MaxOutput-len(w.buf), len(p))
	w.buf = append(w.buf, p[:room]...)
	if room < len(p) {
		w.truncated = true
	}
	return len(p), nil
}

// String returns what was kept, with a marker when some was cut.
func (w *Output) String() string {
	if !w.truncated {
		return string(w.buf)
	}
	return string(w.buf) + TruncatedMarker
}
