package health

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// procFS is a fake /proc whose processes a test starts and stops while
// a checker reads it.
type procFS struct {
	mu sync.Mutex
	m  fstest.MapFS
}

// newProcFS returns a fake /proc of the host: pid 2 is kthreadd.
func newProcFS() *procFS {
	p := &procFS{m: fstest.MapFS{}}
	p.start(2, "kthreadd", "")
	return p
}

// start adds process pid named comm, with command line args (separated by
// spaces, "" for none).
func (p *procFS) start(pid int, comm, args string) {
	p.startState(pid, comm, 'S', args)
}

func (p *procFS) startState(pid int, comm string, state byte, args string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := strconv.Itoa(pid)
	p.m[d+"/stat"] = &fstest.MapFile{Data: []byte(d + " (" + comm + ") " + string(state) + " 1 1 1 0 -1\n")}
	var cmdline []byte
	if args != "" {
		for _, a := range strings.Split(args, " ") {
			cmdline = append(append(cmdline, a...), 0)
		}
	}
	p.m[d+"/cmdline"] = &fstest.MapFile{Data: cmdline}
}

func (p *procFS) stop(pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := strconv.Itoa(pid)
	delete(p.m, d+"/stat")
	delete(p.m, d+"/cmdline")
	delete(p.m, d)
}

func (p *procFS) Open(name string) (fs.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A copy: the file reads its map after Open returns.
	m := make(fstest.MapFS, len(p.m))
	for k, v := range p.m {
		c := *v
		m[k] = &c
	}
	return m.Open(name)
}

// TestProcessMatch: processes are matched as keepalived's read_procs and
// check_params match them: by comm, or by argv[0] and the arguments.
func TestProcessMatch(t *testing.T) {
	p := newProcFS()
	p.start(100, "haproxy", "/usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid")
	p.start(101, "haproxy", "/usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid")
	p.startState(102, "haproxy", 'Z', "")
	p.start(103, "envoy", "envoy -c /etc/envoy.yaml")
	p.start(104, "envoy", "envoy")
	p.start(105, "a (b) c", "x")
	p.start(106, "haproxy-wrapper", "haproxy-wrapper")
	p.start(107, "nginx: master", "nginx: master process /usr/sbin/nginx")

	tests := []struct {
		name string
		spec Spec
		want []int
	}{
		{"by name, no zombie", Spec{Process: "haproxy"}, []int{100, 101}},
		{"the name is whole", Spec{Process: "haproxy-wrap"}, nil},
		{"a name with parentheses", Spec{Process: "a (b) c"}, []int{105}},
		{"a name with a space", Spec{Process: "nginx: master"}, []int{107}},
		{"argv[0]", Spec{Process: "/usr/sbin/haproxy", FullCommand: true}, []int{100, 101}},
		{"argv[0] is not the name", Spec{Process: "haproxy", FullCommand: true}, nil},
		{"argv[0] with spaces", Spec{Process: "nginx: master process /usr/sbin/nginx", FullCommand: true}, nil},
		{"exact", Spec{Process: "envoy", FullCommand: true, Params: []string{"-c", "/etc/envoy.yaml"}}, []int{103}},
		{"exact, fewer", Spec{Process: "envoy", FullCommand: true, Params: []string{"-c"}}, nil},
		{"exact, none", Spec{Process: "envoy", FullCommand: true, ParamMatch: ParamExact}, []int{104}},
		{"partial", Spec{Process: "envoy", FullCommand: true, Params: []string{"-c"}, ParamMatch: ParamPartial}, []int{103}},
		{"partial, whole words", Spec{Process: "envoy", FullCommand: true, Params: []string{"-c", "/etc/env"}, ParamMatch: ParamPartial}, nil},
		{"partial, none", Spec{Process: "envoy", FullCommand: true, ParamMatch: ParamPartial}, []int{103, 104}},
		{"initial", Spec{Process: "envoy", FullCommand: true, Params: []string{"-c", "/etc/env"}, ParamMatch: ParamInitial}, []int{103}},
		{"initial, only the last", Spec{Process: "envoy", FullCommand: true, Params: []string{"-", "/etc/envoy.yaml"}, ParamMatch: ParamInitial}, nil},
		{"initial, longer", Spec{Process: "envoy", FullCommand: true, Params: []string{"-c", "/etc/envoy.yaml", "-x"}, ParamMatch: ParamInitial}, nil},
		{"no params given: argv[0] only", Spec{Process: "envoy", FullCommand: true}, []int{103, 104}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec
			s.Name, s.Type = "p", TypeProcess
			s = s.WithDefaults()
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			found, err := newProcessMatcher(s).scan(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, f := range found {
				got = append(got, f.pid)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestProcessPIDFile: with a pid file, the process it names counts if it
// runs and, with process, has that name.
func TestProcessPIDFile(t *testing.T) {
	p := newProcFS()
	p.start(100, "haproxy", "haproxy")
	p.startState(101, "haproxy", 'Z', "")
	p.start(102, "bash", "bash")
	dir := t.TempDir()
	file := filepath.Join(dir, "haproxy.pid")

	tests := []struct {
		name     string
		content  string // "" for no file
		process  string
		want     int
		errWords string
	}{
		{"runs", "100\n", "", 1, ""},
		{"runs, named", "100\n", "haproxy", 1, ""},
		{"reused pid", "102\n", "haproxy", 0, "process haproxy of pid_file " + file + ": 0 running, below quorum 1"},
		{"zombie", "101", "", 0, "below quorum 1"},
		{"gone", "999", "", 0, "below quorum 1"},
		{"no file", "", "", 0, "no such file"},
		{"garbage", "haproxy", "", 0, `holds "haproxy", not a process ID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(file)
			if tt.content != "" {
				if err := os.WriteFile(file, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := Spec{Name: "p", Type: TypeProcess, PIDFile: file, Process: tt.process}.WithDefaults()
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			out, err := newProcessChecker(s, p).Check(context.Background())
			if tt.errWords == "" {
				if err != nil {
					t.Fatalf("Check: %v (%s)", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errWords) {
				t.Fatalf("Check: %v, want an error with %q", err, tt.errWords)
			}
		})
	}
}

// TestProcessQuorum: the check passes with quorum to quorum_max processes,
// and its failures are certain ones (errQuorum), which the Monitor probes
// back to back after an exit.
func TestProcessQuorum(t *testing.T) {
	tests := []struct {
		name              string
		running           int
		quorum, quorumMax int
		err               string
	}{
		{"default quorum, none", 0, 0, 0, "process nginx: 0 running, below quorum 1"},
		{"default quorum, one", 1, 0, 0, ""},
		{"default quorum, many", 5, 0, 0, ""},
		{"below", 2, 3, 0, "process nginx: 2 running, below quorum 3"},
		{"at quorum", 3, 3, 4, ""},
		{"at quorum_max", 4, 3, 4, ""},
		{"above", 5, 3, 4, "process nginx: 5 running, above quorum_max 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProcFS()
			for i := range tt.running {
				p.start(1000+i, "nginx", "nginx")
			}
			s := Spec{Name: "p", Type: TypeProcess, Process: "nginx", Quorum: tt.quorum, QuorumMax: tt.quorumMax}.WithDefaults()
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			out, err := newProcessChecker(s, p).Check(context.Background())
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, errQuorum) {
				t.Fatalf("Check: %v, want %q wrapping errQuorum", err, tt.err)
			}
			if want := strconv.Itoa(tt.running) + " matching"; !strings.HasPrefix(out, want) {
				t.Errorf("output %q, want it to start with %q", out, want)
			}
		})
	}
}

// TestProcessNotHostPIDs: a check that finds nothing where the host's
// processes are not visible says why.
func TestProcessNotHostPIDs(t *testing.T) {
	p := &procFS{m: fstest.MapFS{}}
	p.start(1, "vipd", "/usr/bin/vipd")
	s := Spec{Name: "p", Type: TypeProcess, Process: "haproxy"}.WithDefaults()
	_, err := newProcessChecker(s, p).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "hostPID: true") {
		t.Fatalf("Check: %v, want the advice to use the host's PID namespace", err)
	}
	p.start(2, "kthreadd", "")
	if _, err := newProcessChecker(s, p).Check(context.Background()); err == nil || strings.Contains(err.Error(), "hostPID") {
		t.Fatalf("Check on the host: %v, want a failure without the advice", err)
	}
}

// TestProcessWarnings: what vipd -t says of a process check that cannot
// pass whatever runs.
func TestProcessWarnings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "haproxy.pid")
	s := Spec{Name: "p", Type: TypeProcess, Process: "haproxy", PIDFile: file}
	container := &procFS{m: fstest.MapFS{}}
	container.start(1, "vipd", "/usr/sbin/vipd")
	got := s.processWarnings(container)
	want := []string{
		"vipd sees only the processes of its own PID namespace, not the host's: run it in the host's (hostPID: true in a pod), or the check finds nothing",
		"pid_file " + file + ": stat " + file + ": no such file or directory (the check fails until the process writes it)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("in a container, without the pid file (-want +got)\n%s", diff)
	}
	if err := os.WriteFile(file, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := s.processWarnings(newProcFS()); len(got) != 0 {
		t.Errorf("on the host, with the pid file: %q, want none", got)
	}
	if got := (Spec{Type: TypeTCP}).processWarnings(container); len(got) != 0 {
		t.Errorf("a tcp check: %q, want none", got)
	}
}

// TestProcRoot: the real /proc read through procRoot, a long command line
// (longer than its first read) included.
func TestProcRoot(t *testing.T) {
	// A valid duration, zero, that sleep adds to the first: an
	// argument it refused would make it exit, and an exited process
	// has an empty command line.
	long := strings.Repeat("0", 3000)
	cmd := exec.Command("sleep", "3600", long)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := strconv.Itoa(cmd.Process.Pid)
	// Start returns once the child's close-on-exec descriptors are
	// closed, which the kernel does before it lays out the new
	// program's arguments: until then its command line is empty.
	var b []byte
	for len(b) == 0 {
		var err error
		if b, err = fs.ReadFile(procRoot("/proc"), pid+"/cmdline"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if want := "sleep\x003600\x00" + long + "\x00"; string(b) != want {
		t.Errorf("cmdline of %d bytes, want %d", len(b), len(want))
	}
	if comm, ok := stat(procRoot("/proc"), pid); !ok || comm != "sleep" {
		t.Errorf("stat: %q, %v; want sleep, true", comm, ok)
	}
	if _, err := fs.ReadFile(procRoot("/proc"), "0/stat"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of no process: %v, want ErrNotExist", err)
	}
	if !hostPIDs(procRoot("/proc")) {
		t.Log("this test runs outside the host's PID namespace")
	}
}

// TestProcessSpecValidate: the process keys and their mistakes.
func TestProcessSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		key  string
		msg  string
	}{
		{"nothing to match", Spec{}, "process", "process is missing"},
		{"long name", Spec{Process: "kube-controller-manager"}, "process", "longer than the 15 characters"},
		{"path as a name", Spec{Process: "/usr/sbin/haproxy"}, "process", "set full_command = true"},
		{"params without full_command", Spec{Process: "haproxy", Params: []string{"-f"}}, "params", "set full_command = true"},
		{"bad param_match", Spec{Process: "haproxy", FullCommand: true, ParamMatch: "prefix"}, "param_match", `param_match "prefix": one of exact, partial, initial`},
		{"relative pid_file", Spec{PIDFile: "run/x.pid"}, "pid_file", "absolute path"},
		{"quorum_max below quorum", Spec{Process: "nginx", Quorum: 3, QuorumMax: 2}, "quorum_max", "quorum_max 2 is below quorum 3"},
		{"quorum too big", Spec{Process: "nginx", Quorum: 70000}, "quorum", "out of range 1 to 65535"},
		{"pid_file quorum", Spec{PIDFile: "/run/x.pid", Quorum: 2}, "quorum", "a pid_file names one process"},
		{"watch_connection", Spec{Process: "nginx", NoWatch: true}, "watch_connection", "applies only to tcp"},
		{"process on a tcp check", Spec{Type: TypeTCP, Address: "127.0.0.1:80", Process: "x", Quorum: 1}, "process", "process applies only to process checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec
			s.Name = "p"
			if s.Type == "" {
				s.Type = TypeProcess
			}
			err := s.WithDefaults().Validate()
			var se *SpecError
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				if errors.As(e, &se) && se.Key == tt.key && strings.Contains(se.Msg, tt.msg) {
					return
				}
			}
			t.Fatalf("Validate: %v, want key %s: %q", err, tt.key, tt.msg)
		})
	}
}

// TestProcessRiseFall: in a Monitor, a process check becomes healthy after
// rise scans that count enough processes and unhealthy after fall that do
// not, an interval apart when nothing tells it sooner (no pidfds here).
func TestProcessRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProcFS()
		s := Spec{Name: "lb", Type: TypeProcess, Process: "haproxy", Interval: time.Second, Rise: 3, Fall: 2}
		m, err := NewMonitor([]Spec{s}, MonitorConfig{
			Rand: rand.New(zeroSource{}),
			NewChecker: func(s Spec) (Checker, error) {
				c := newProcessChecker(s, p)
				c.pidfdOpen = func(int) (*os.File, error) { return nil, unix.ENOSYS }
				return c, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// Running before the monitor: its first scan, at once, finds it.
		p.start(100, "haproxy", "haproxy")
		start := time.Now()
		go m.Run(ctx)
		waitFor(t, m, "lb", Healthy)
		if got, want := time.Since(start), 2*time.Second; got != want {
			t.Errorf("healthy after %v, want %v (rise 3 from the first scan at once)", got, want)
		}
		st, _ := m.Status("lb")
		if !strings.Contains(st.LastOutput, "exits are seen at the next scan only") {
			t.Errorf("output %q does not say that exits are not watched", st.LastOutput)
		}

		time.Sleep(time.Second / 2)
		p.stop(100)
		start = time.Now()
		waitFor(t, m, "lb", Unhealthy)
		if got, want := time.Since(start), 3*time.Second/2; got != want {
			t.Errorf("unhealthy %v after the exit, want %v (fall 2 scans)", got, want)
		}
		p.start(101, "haproxy", "haproxy")
		p.start(102, "haproxy", "haproxy")
		waitFor(t, m, "lb", Healthy)
	})
}

// waitFor waits, on the Monitor's notifications, for check name to be in
// state want.
func waitFor(t *testing.T, m *Monitor, name string, want State) Status {
	t.Helper()
	for {
		if st, _ := m.Status(name); st.State == want {
			return st
		}
		<-m.Changes()
	}
}

// TestProcessExitSeenAtOnce: real processes. The check holds a pidfd of
// each one it counts; killing one below the quorum makes it unhealthy
// through the pidfd, as its interval of an hour could not.
func TestProcessExitSeenAtOnce(t *testing.T) {
	if _, err := unix.PidfdOpen(os.Getpid(), unix.PIDFD_NONBLOCK); err != nil {
		t.Skipf("no pidfds here: %v", err)
	}
	// A unique argument tells the test's processes from any other sleep.
	arg := strconv.FormatInt(86400+time.Now().UnixNano()%1000000, 10) + ".5"
	var cmds []*exec.Cmd
	startSleep := func() *exec.Cmd {
		cmd := exec.Command("sleep", arg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		cmds = append(cmds, cmd)
		return cmd
	}
	startSleep()
	startSleep()

	s := Spec{Name: "sleepers", Type: TypeProcess, Process: "sleep", FullCommand: true, Params: []string{arg},
		Quorum: 2, Interval: time.Hour, Rise: 1, Fall: 2}
	var checker *processChecker
	m, err := NewMonitor([]Spec{s}, MonitorConfig{
		Rand: rand.New(zeroSource{}),
		NewChecker: func(s Spec) (Checker, error) {
			c, err := New(s)
			checker, _ = c.(*processChecker)
			return c, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, m.Run)
	st := waitFor(t, m, "sleepers", Healthy)
	wantHeld := []int{cmds[0].Process.Pid, cmds[1].Process.Pid}
	slices.Sort(wantHeld)
	if diff := cmp.Diff(wantHeld, checker.heldPIDs()); diff != "" {
		t.Errorf("pidfds held (-want +got)\n%s", diff)
	}
	if st.Probes != 1 {
		t.Errorf("%d probes before healthy, want 1", st.Probes)
	}

	// Not reaped: the process stays a zombie, which must not count.
	if err := cmds[0].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = waitFor(t, m, "sleepers", Unhealthy)
	if st.Probes != 3 || !strings.Contains(st.LastError, "1 running, below quorum 2") {
		t.Errorf("after the kill: %d probes, error %q; want 3 probes (1 + fall 2 back to back) and 1 running", st.Probes, st.LastError)
	}
	if diff := cmp.Diff([]int{cmds[1].Process.Pid}, checker.heldPIDs()); diff != "" {
		t.Errorf("pidfds held after the kill (-want +got)\n%s", diff)
	}
}

// BenchmarkProcessScan measures one scan of this machine's /proc by name
// and by command line, what a process check costs each interval.
func BenchmarkProcessScan(b *testing.B) {
	proc := procRoot("/proc")
	ents, _ := fs.ReadDir(proc, ".")
	b.Logf("%d entries in /proc", len(ents))
	for _, s := range []Spec{
		{Process: "haproxy"},
		{Process: "/usr/sbin/haproxy", FullCommand: true, Params: []string{"-f"}, ParamMatch: ParamPartial},
	} {
		m := newProcessMatcher(s)
		b.Run(strconv.FormatBool(s.FullCommand), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.scan(proc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
