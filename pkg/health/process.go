package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Ways a process check compares the arguments of a command line with
// Spec.Params, as keepalived's param_match.
const (
	// ParamExact: the arguments are Params, no more, no fewer.
	ParamExact = "exact"
	// ParamPartial: the arguments start with Params.
	ParamPartial = "partial"
	// ParamInitial: as ParamPartial, but the last of Params need only
	// start the argument it is compared with.
	ParamInitial = "initial"
)

// MaxCommLen is the longest process name the kernel keeps (TASK_COMM_LEN
// less its NUL): a longer Process can only match a command line.
const MaxCommLen = 15

// MaxQuorum bounds Quorum and QuorumMax, as keepalived does.
const MaxQuorum = 65535

// errQuorum marks the failure of a process check: too few or too many
// processes, a certain answer that need not wait for the next interval
// (see Monitor).
var errQuorum = errors.New("quorum not met")

// procInfo is what a scan learns of one process.
type procInfo struct {
	pid  int
	comm string
}

// processMatcher tells the processes a process check counts, as
// keepalived's read_procs and check_params (core/track_process.c) do.
type processMatcher struct {
	name        string
	fullCommand bool
	params      []byte // each parameter followed by a NUL, as in cmdline
	paramMatch  string
	pidFile     string
}

func newProcessMatcher(s Spec) processMatcher {
	m := processMatcher{name: s.Process, fullCommand: s.FullCommand, paramMatch: s.ParamMatch, pidFile: s.PIDFile}
	for _, p := range s.Params {
		m.params = append(m.params, p...)
		m.params = append(m.params, 0)
	}
	return m
}

// matchCmdline reports whether a command line (cmdline: NUL-terminated
// arguments) matches: argv[0] is the name and the rest passes the
// parameter match.
func (m processMatcher) matchCmdline(cmdline []byte) bool {
	argv0, rest, _ := bytes.Cut(cmdline, []byte{0})
	if string(argv0) != m.name {
		return false
	}
	switch {
	case m.paramMatch == "":
		return true
	case m.paramMatch == ParamExact:
		return bytes.Equal(rest, m.params)
	case len(rest) < len(m.params):
		return false
	case len(m.params) == 0:
		return true
	case m.paramMatch == ParamPartial:
		return bytes.HasPrefix(rest, m.params)
	default: // ParamInitial: the last parameter without its NUL
		return bytes.HasPrefix(rest, m.params[:len(m.params)-1])
	}
}

// stat reads the name and state of process pid from its stat file. ok is
// false for a process that is gone or has exited (a zombie, or dead).
func stat(proc fs.FS, pid string) (comm string, ok bool) {
	b, err := fs.ReadFile(proc, pid+"/stat")
	if err != nil {
		return "", false
	}
	// "PID (COMM) S ...": COMM may hold spaces and parentheses.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || len(b) < end+3 {
		return "", false
	}
	if state := b[end+2]; state == 'Z' || state == 'X' {
		return "", false
	}
	return string(b[open+1 : end]), true
}

// matches reports whether process pid, seen in proc, is one to count.
func (m processMatcher) matches(proc fs.FS, pid string) (procInfo, bool) {
	comm, ok := stat(proc, pid)
	if !ok {
		return procInfo{}, false
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return procInfo{}, false
	}
	switch {
	case m.name == "":
		// A pid file alone names the process.
	case m.fullCommand:
		// A process started since the stat was read, or a kernel thread,
		// has an empty command line, which matches nothing.
		b, err := fs.ReadFile(proc, pid+"/cmdline")
		if err != nil || !m.matchCmdline(b) {
			return procInfo{}, false
		}
	case comm != m.name:
		return procInfo{}, false
	}
	return procInfo{pid: n, comm: comm}, true
}

// scan returns the processes of proc that match, by pid. With a pid file
// it is the one process the file names, if it runs and matches.
func (m processMatcher) scan(proc fs.FS) ([]procInfo, error) {
	if m.pidFile != "" {
		b, err := os.ReadFile(m.pidFile)
		if err != nil {
			return nil, fmt.Errorf("pid_file %s: %w", m.pidFile, err)
		}
		pid := strings.TrimSpace(string(b))
		if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
			return nil, fmt.Errorf("pid_file %s holds %q, not a process ID", m.pidFile, brief(pid))
		}
		if p, ok := m.matches(proc, pid); ok {
			return []procInfo{p}, nil
		}
		return nil, nil
	}
	ents, err := fs.ReadDir(proc, ".")
	if err != nil {
		return nil, fmt.Errorf("read the process list: %w", err)
	}
	var found []procInfo
	for _, e := range ents {
		if name := e.Name(); e.IsDir() && name[0] >= '1' && name[0] <= '9' {
			if p, ok := m.matches(proc, name); ok {
				found = append(found, p)
			}
		}
	}
	return found, nil
}

// procRoot is a procfs mount as an fs.FS whose ReadFile costs three system
// calls (open, read, close), where os.DirFS's takes six: a scan reads a
// file or two of every process each interval.
type procRoot string

var (
	_ fs.ReadFileFS = procRoot("")
	_ fs.ReadDirFS  = procRoot("")
)

func (r procRoot) Open(name string) (fs.File, error) { return os.DirFS(string(r)).Open(name) }

func (r procRoot) ReadDir(name string) ([]fs.DirEntry, error) {
	return os.DirFS(string(r)).(fs.ReadDirFS).ReadDir(name)
}

// ReadFile reads a file of procfs, which produces it as it is read: a
// read that does not fill the buffer has reached the end.
func (r procRoot) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	path := string(r) + "/" + name
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 512)
	n := 0
	for {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		n += m
		if m == 0 || n < len(buf) {
			return buf[:n], nil
		}
		buf = append(buf, make([]byte, len(buf))...)
	}
}

// hostPIDs reports whether proc shows the processes of the host: only
// there does pid 2 exist as the kernel's thread creator. A container
// without the host's PID namespace sees its own processes only.
func hostPIDs(proc fs.FS) bool {
	comm, ok := stat(proc, "2")
	return ok && comm == "kthreadd"
}

// processChecker passes while the number of matching processes is within
// the quorum. Once its Monitor calls watchExits it holds a pidfd for each
// process it counted, so that an exit is known at once rather than at the
// next scan.
type processChecker struct {
	spec  Spec
	match processMatcher
	proc  fs.FS
	// pidfdOpen opens a pollable pidfd of pid.
	pidfdOpen func(pid int) (*os.File, error)

	mu       sync.Mutex
	watching context.Context // nil until watchExits
	held     map[int]*os.File
	exited   chan struct{}
	noPidfd  error // why exits are not watched, if they are not
}

var (
	_ Checker     = (*processChecker)(nil)
	_ exitWatcher = (*processChecker)(nil)
)

func newProcessChecker(s Spec, proc fs.FS) *processChecker {
	return &processChecker{
		spec:      s,
		match:     newProcessMatcher(s),
		proc:      proc,
		pidfdOpen: openPidfd,
		held:      make(map[int]*os.File),
	}
}

// openPidfd opens a non-blocking pidfd, which Go's poller can wait on: it
// becomes readable when the process exits.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(pid)), nil
}

// Check counts the matching processes and compares the count with the
// quorum.
func (c *processChecker) Check(ctx context.Context) (string, error) {
	found, err := c.match.scan(c.proc)
	if err != nil {
		return "", err
	}
	found = c.hold(found)
	n := len(found)
	pids := make([]string, n)
	for i, p := range found {
		pids[i] = strconv.Itoa(p.pid)
	}
	out := fmt.Sprintf("%d matching (quorum %s)", n, c.quorum())
	if n > 0 {
		out += ": pids " + strings.Join(pids, " ")
	}
	c.mu.Lock()
	if c.noPidfd != nil {
		out += fmt.Sprintf("; exits are seen at the next scan only (%v)", c.noPidfd)
	}
	c.mu.Unlock()
	switch {
	case n < c.spec.Quorum:
		msg := fmt.Sprintf("%s: %d running, below quorum %d", c.what(), n, c.spec.Quorum)
		if n == 0 && !hostPIDs(c.proc) {
			msg += " (vipd sees only the processes of its own PID namespace: run it in the host's, hostPID: true in a pod)"
		}
		return out, fmt.Errorf("%s: %w", msg, errQuorum)
	case c.spec.QuorumMax > 0 && n > c.spec.QuorumMax:
		return out, fmt.Errorf("%s: %d running, above quorum_max %d: %w", c.what(), n, c.spec.QuorumMax, errQuorum)
	}
	return out, nil
}

// what names the processes the check counts.
func (c *processChecker) what() string {
	s := c.spec
	var b strings.Builder
	switch {
	case s.Process == "":
		fmt.Fprintf(&b, "process of pid_file %s", s.PIDFile)
	case s.FullCommand:
		fmt.Fprintf(&b, "command %q", strings.Join(append([]string{s.Process}, s.Params...), " "))
		if s.ParamMatch != "" {
			fmt.Fprintf(&b, " (param_match %s)", s.ParamMatch)
		}
	default:
		fmt.Fprintf(&b, "process %s", s.Process)
	}
	if s.Process != "" && s.PIDFile != "" {
		fmt.Fprintf(&b, " of pid_file %s", s.PIDFile)
	}
	return b.String()
}

func (c *processChecker) quorum() string {
	if c.spec.QuorumMax == 0 {
		return fmt.Sprintf("%d or more", c.spec.Quorum)
	}
	return fmt.Sprintf("%d to %d", c.spec.Quorum, c.spec.QuorumMax)
}

// watchExits makes the checker hold a pidfd for each process its probes
// count until ctx ends, and returns the channel (with room for one) on
// which it tells that one of them exited.
func (c *processChecker) watchExits(ctx context.Context) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watching = ctx
	c.exited = make(chan struct{}, 1)
	context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for pid, f := range c.held {
			f.Close()
			delete(c.held, pid)
		}
	})
	return c.exited
}

// hold opens a pidfd for each process of found that has none, and closes
// those of processes no longer found (gone, or no longer matching). It
// returns found less the processes that exited before their pidfd was
// opened. A pid reused between the scan and pidfd_open is counted until
// the next scan, which finds what it runs.
func (c *processChecker) hold(found []procInfo) []procInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watching == nil || c.watching.Err() != nil {
		return found
	}
	for pid, f := range c.held {
		if !slices.ContainsFunc(found, func(p procInfo) bool { return p.pid == pid }) {
			f.Close()
			delete(c.held, pid)
		}
	}
	return slices.DeleteFunc(found, func(p procInfo) bool {
		if c.held[p.pid] != nil || c.noPidfd != nil {
			return false
		}
		f, err := c.pidfdOpen(p.pid)
		switch {
		case errors.Is(err, unix.ESRCH):
			return true // exited since the scan
		case err != nil:
			// Without pidfds (Linux before 5.10, a seccomp filter)
			// the scans still count the processes.
			c.noPidfd = fmt.Errorf("pidfd_open: %w", err)
			return false
		}
		c.held[p.pid] = f
		go c.wait(p.pid, f)
		return false
	})
}

// wait waits for the process of pidfd f to exit, then lets go of f and
// tells the Monitor. It returns without telling when f is closed.
func (c *processChecker) wait(pid int, f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// The poller is edge-triggered and forgets an edge that came before
	// the wait began: ask the pidfd itself before each wait.
	err = rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		return err == nil && n > 0
	})
	if err != nil {
		return // closed: no longer held
	}
	c.mu.Lock()
	if c.held[pid] == f {
		delete(c.held, pid)
		f.Close()
	}
	c.mu.Unlock()
	select {
	case c.exited <- struct{}{}:
	default:
	}
}

// heldPIDs returns the pids the checker holds a pidfd for, sorted.
func (c *processChecker) heldPIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	pids := make([]int, 0, len(c.held))
	for pid := range c.held {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// ProcessWarnings returns what makes process check s fail whatever runs,
// for vipd -t: vipd does not see the host's processes (it runs in a PID
// namespace of its own, as in a container without hostPID), or its pid
// file is not there yet. Other checks have none.
func (s Spec) ProcessWarnings() []string {
	return s.processWarnings(procRoot("/proc"))
}

func (s Spec) processWarnings(proc fs.FS) []string {
	if s.Type != TypeProcess {
		return nil
	}
	var w []string
	if !hostPIDs(proc) {
		w = append(w, "vipd sees only the processes of its own PID namespace, not the host's: run it in the host's (hostPID: true in a pod), or the check finds nothing")
	}
	if s.PIDFile != "" {
		if _, err := os.Stat(s.PIDFile); err != nil {
			w = append(w, fmt.Sprintf("pid_file %s: %v (the check fails until the process writes it)", s.PIDFile, err))
		}
	}
	return w
}
