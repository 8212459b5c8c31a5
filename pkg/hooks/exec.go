package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxOutput caps the output of a run that is kept for the log.
const MaxOutput = 4096

// truncatedMarker ends output that was cut at MaxOutput.
const truncatedMarker = "\n[output truncated]"

// hookPath is the whole PATH of a hook.
const hookPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// waitDelay bounds how long a run waits, once the program has exited or
// been killed, for the output pipe to close: a process the program left
// behind (or one that left its process group) could hold it open for ever.
const waitDelay = 100 * time.Millisecond

// args returns the arguments describing ev, appended to the configured
// ones. The reason is passed even when empty so that positions are fixed.
func args(ev Event) []string {
	return []string{ev.Instance, ev.Family, ev.From, ev.To, ev.Reason}
}

// environ returns the whole environment of a hook run for ev.
func environ(ev Event) []string {
	vips := make([]string, len(ev.VIPs))
	for i, p := range ev.VIPs {
		vips[i] = p.String()
	}
	return []string{
		hookPath,
		"VIPD_INSTANCE=" + ev.Instance,
		"VIPD_FAMILY=" + ev.Family,
		"VIPD_VRID=" + strconv.Itoa(int(ev.VRID)),
		"VIPD_FROM=" + ev.From,
		"VIPD_TO=" + ev.To,
		"VIPD_REASON=" + ev.Reason,
		"VIPD_VIPS=" + strings.Join(vips, " "),
		"VIPD_PRIORITY=" + strconv.Itoa(int(ev.Priority)),
	}
}

// execHook runs argv with env, without a shell, in a process group of its
// own, stdin from /dev/null, stdout and stderr captured together. At the
// timeout the whole group is killed. It returns the output and an error
// saying how the program failed; success is exit status 0.
func execHook(argv, env []string, timeout time.Duration) (string, error) {
	// The timeout does not derive from Run's context: on shutdown the
	// queued hooks still get their full time.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out capWriter
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.Cancel = func() error {
		// With Setpgid the group's id is the program's pid, which is
		// not reused before Wait has reaped the program.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay

	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start: %w", err)
	}
	werr := cmd.Wait()
	output := out.String()
	st := cmd.ProcessState
	switch {
	case st != nil && st.Success():
		// ErrWaitDelay alone means a leftover process held the output
		// open after the program succeeded: the exit status decides.
		return output, nil
	case ctx.Err() != nil:
		return output, fmt.Errorf("timed out after %v, killed process group %d: %w", timeout, cmd.Process.Pid, ctx.Err())
	case st != nil:
		return output, errors.New(exitText(st))
	}
	return output, werr
}

// exitText says how a program ended: "exit status 3" or "killed by signal
// 9 (killed)".
func exitText(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}

// capWriter keeps the first MaxOutput bytes written to it and notes the
// rest, so that a chatty hook neither grows memory nor blocks on a full
// pipe.
type capWriter struct {
	buf       []byte
	truncated bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	room := min(MaxOutput-len(w.buf), len(p))
	w.buf = append(w.buf, p[:room]...)
	if room < len(p) {
		w.truncated = true
	}
	return len(p), nil
}

func (w *capWriter) String() string {
	if !w.truncated {
		return string(w.buf)
	}
	return string(w.buf) + truncatedMarker
}
