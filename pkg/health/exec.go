package health

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vipd/vipd/internal/procgroup"
)

// execEnv is the whole environment of a check program: a fixed PATH and
// nothing of vipd's own environment, so that a check behaves the same
// whether vipd runs under systemd or from a shell.
var execEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// execWaitDelay bounds how long a probe waits, once its program has exited
// or been killed, for the output pipe to close: a descendant that left the
// process group could hold it open for ever.
const execWaitDelay = 100 * time.Millisecond

// execChecker runs a program; exit status 0 is success.
type execChecker struct {
	argv []string
}

var _ Checker = (*execChecker)(nil)

func newExecChecker(s Spec, trusted string) (*execChecker, error) {
	if err := checkOwnership(s.Command[0], trusted); err != nil {
		return nil, fmt.Errorf("refusing to run %s: %w", s.Command[0], err)
	}
	return &execChecker{argv: slices.Clone(s.Command)}, nil
}

// Check runs the program in a process group of its own, without a shell,
// with stdin from /dev/null and stdout and stderr captured together. When
// the context ends first, the whole group is killed, so that children of a
// hung script do not outlive the probe. Descendants still running when the
// program exits are killed too: a check leaves nothing behind.
func (c *execChecker) Check(ctx context.Context) (string, error) {
	prog := c.argv[0]
	cmd, out := procgroup.Command(ctx, c.argv, execEnv, execWaitDelay)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", prog, err)
	}
	pgid := cmd.Process.Pid
	// Wait returns once the program has exited and the pipe is closed,
	// which a lingering descendant delays until execWaitDelay. Killing the
	// group as soon as the program has exited would be better, but only
	// Wait learns that, and reaps the program at the same time.
	werr := cmd.Wait()
	// The group outlives its leader while members remain, and its id is
	// not reused while it exists; ESRCH means nothing was left. (Once it
	// is gone, another group could take the id only after the kernel's
	// pid counter has wrapped around, not in these few microseconds.)
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return out.String(), fmt.Errorf("%s: kill process group %d: %w", prog, pgid, err)
	}
	output := out.String()

	if ctxErr := ctx.Err(); ctxErr != nil {
		return output, fmt.Errorf("%s: killed process group %d: %w", prog, pgid, ctxErr)
	}
	if st := cmd.ProcessState; st != nil && st.Success() {
		// ErrWaitDelay alone means a descendant held the output open
		// after the program succeeded: the exit status decides.
		return output, nil
	}
	msg := fmt.Sprintf("%s: %v", prog, werr)
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		msg = fmt.Sprintf("%s: %s", prog, procgroup.ExitText(ee.ProcessState))
	}
	if b := strings.TrimSpace(brief(output)); b != "" {
		msg += ": " + b
	}
	return output, errors.New(msg)
}
