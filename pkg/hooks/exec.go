package hooks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/procgroup"
)

// MaxOutput caps the output of a run that is kept for the log.
const MaxOutput = procgroup.MaxOutput

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

	cmd, out := procgroup.Command(ctx, argv, env, waitDelay)
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
		return output, errors.New(procgroup.ExitText(st))
	}
	return output, werr
}
