package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
)

// impl is one of the two daemons compared.
type impl string

const (
	implVipd       impl = "vipd"
	implKeepalived impl = "keepalived"
)

// impls is the order in which each run measures the daemons.
var impls = []impl{implVipd, implKeepalived}

// spec is what a node runs, written as a configuration file of either
// daemon: the same settings for both.
type spec struct {
	interval  time.Duration // advert interval
	instances int           // virtual routers; see vipsOf
	priority  int
	check     *checkSpec // the API server check every instance tracks, nil for none
}

// checkSpec is an HTTPS check of the local API server: vipd's native https
// check, keepalived's track_script running curl.
type checkSpec struct {
	interval, timeout  time.Duration // vipd
	kaInterval         int           // keepalived, in seconds: its minimum is 1
	rise, fall, weight int
	caFile             string // vipd verifies the fake API server with it; curl -k does not
}

// The VIP of a single instance, and the nodes' addresses.
var (
	vipAPI = netip.MustParsePrefix("192.0.2.100/24")
	cp1IP  = netip.MustParseAddr("192.0.2.11")
	cp2IP  = netip.MustParseAddr("192.0.2.12")
)

// vipsOf returns the VIPs of n instances: one instance is "api", VRID 51,
// holding 192.0.2.100/24; n > 1 are "viN", VRID N, holding a /32 each from
// 198.51.100.1 on, then 203.0.113.1 for the 255th.
func vipsOf(n int) []netip.Prefix {
	if n == 1 {
		return []netip.Prefix{vipAPI}
	}
	out := make([]netip.Prefix, n)
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		if i >= 254 {
			a = netip.AddrFrom4([4]byte{203, 0, 113, byte(i - 253)})
		}
		out[i] = netip.PrefixFrom(a, 32)
	}
	return out
}

func instanceName(n, i int) (string, int) {
	if n == 1 {
		return "api", 51
	}
	return fmt.Sprintf("vi%d", i+1), i + 1
}

// daemonTable is vipd's [daemon] table: no metrics listener (keepalived
// has none either), and a control socket and state directory per process,
// filled in by start.
const daemonTable = "[daemon]\nmetrics_listen = \"\"\ncontrol_socket = \"@SOCKET@\"\nstate_dir = \"@STATE@\"\n"

// vipdConfig writes s as a vipd file without [cluster], keepalived style.
func vipdConfig(s spec) string {
	var b strings.Builder
	b.WriteString(daemonTable)
	if c := s.check; c != nil {
		fmt.Fprintf(&b, "[[check]]\nname = \"apiserver\"\ntype = \"https\"\nurl = \"https://127.0.0.1:6443/readyz\"\nca_file = %q\nserver_name = \"kubernetes\"\n", c.caFile)
		fmt.Fprintf(&b, "interval = %q\ntimeout = %q\nrise = %d\nfall = %d\n", c.interval, c.timeout, c.rise, c.fall)
	}
	for i, p := range vipsOf(s.instances) {
		name, vrid := instanceName(s.instances, i)
		fmt.Fprintf(&b, "[[instance]]\nname = %q\nvrid = %d\ninterface = \"eth0\"\nversion = 3\n", name, vrid)
		fmt.Fprintf(&b, "advert_interval = %q\npriority = %d\nvips = [%q]\ngarp_repeat = 5\n", s.interval, s.priority, p)
		if c := s.check; c != nil {
			fmt.Fprintf(&b, "track = [{ check = \"apiserver\", weight = %d }]\n", c.weight)
		}
	}
	return b.String()
}

// keepalivedConfig writes s as a keepalived.conf: VRRPv3, every node
// starting as BACKUP (the priorities decide), one burst of 5 gratuitous
// ARPs like vipd (no second burst 5 s later).
func keepalivedConfig(s spec, routerID, curl string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n\trouter_id %s\n\tvrrp_version 3\n\tvrrp_garp_master_delay 0\n\tvrrp_garp_master_repeat 5\n}\n", routerID)
	if c := s.check; c != nil {
		fmt.Fprintf(&b, "vrrp_script apiserver {\n\tscript \"%s -sfk https://127.0.0.1:6443/readyz\"\n", curl)
		fmt.Fprintf(&b, "\tinterval %d\n\trise %d\n\tfall %d\n\tweight %d\n}\n", c.kaInterval, c.rise, c.fall, c.weight)
	}
	for i, p := range vipsOf(s.instances) {
		name, vrid := instanceName(s.instances, i)
		fmt.Fprintf(&b, "vrrp_instance %s {\n\tstate BACKUP\n\tinterface eth0\n\tvirtual_router_id %d\n\tpriority %d\n", name, vrid, s.priority)
		fmt.Fprintf(&b, "\tadvert_int %s\n\tvirtual_ipaddress {\n\t\t%v\n\t}\n", strconv.FormatFloat(s.interval.Seconds(), 'f', -1, 64), p)
		if s.check != nil {
			b.WriteString("\ttrack_script {\n\t\tapiserver\n\t}\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// A daemon is one vipd or keepalived process tree in a lab host.
type daemon struct {
	t      testing.TB
	impl   impl
	host   *lab.Host
	conf   string // its configuration file as written
	dir    string // its files: configuration, pid files, socket, state
	socket string // vipd's control socket
	cmd    *exec.Cmd
	exec   time.Time // just before the exec
	log    *lineLog
	done   chan error
}

// start runs im in h with the configuration text (for vipd, with
// daemonTable's placeholders). The process is killed at cleanup at the
// latest, and its log shown if the test failed.
func start(t testing.TB, im impl, h *lab.Host, text string) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{t: t, impl: im, host: h, dir: dir, log: &lineLog{}, done: make(chan error, 1)}
	var args []string
	switch im {
	case implVipd:
		d.socket = filepath.Join(dir, "vipd.sock")
		text = strings.NewReplacer("@SOCKET@", d.socket, "@STATE@", filepath.Join(dir, "state")).Replace(text)
		path := filepath.Join(dir, "vipd.toml")
		args = []string{program(im, h.Name()), "-config", path}
		d.conf = path
	case implKeepalived:
		path := filepath.Join(dir, "keepalived.conf")
		// Own pid files, or keepalived refuses to run next to another.
		args = []string{program(im, h.Name()), "--dont-fork", "--log-console", "--no-syslog", "--vrrp", "-f", path,
			"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid")}
		d.conf = path
	}
	if err := os.WriteFile(d.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd = h.Exec(context.Background(), args[0], args[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	// A process group: keepalived forks its VRRP process, and a kill
	// must take both at once.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	d.exec = time.Now()
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s on %s: %v", im, h.Name(), err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("%s on %s, configuration:\n%s\nlog:\n%s", im, h.Name(), text, d.log)
		}
	})
	return d
}

// readyLine is what each daemon logs once it runs every instance: vipd
// when all its routers started, keepalived's VRRP process when its
// start-up is complete (before the instances enter BACKUP).
var readyLine = map[impl]*regexp.Regexp{
	implVipd:       regexp.MustCompile(`all instances started`),
	implKeepalived: regexp.MustCompile(`Startup complete`),
}

// ready waits for the daemon's ready line and returns when it was read.
func (d *daemon) ready() time.Time {
	d.t.Helper()
	return d.waitLog(readyLine[d.impl], 15*time.Second)
}

// waitLog waits for a log line matching re and returns when it was read.
func (d *daemon) waitLog(re *regexp.Regexp, timeout time.Duration) time.Time {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if at, ok := d.log.find(re); ok {
			return at
		}
		select {
		case err := <-d.done:
			d.done <- err
			d.t.Fatalf("%s on %s exited (%v) before logging %q", d.impl, d.host.Name(), err, re)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s on %s did not log %q within %v", d.impl, d.host.Name(), re, timeout)
		}
	}
}

// pids returns the processes of the daemon: vipd's, or keepalived's parent
// and its VRRP child.
func (d *daemon) pids() []int {
	d.t.Helper()
	pids := []int{d.cmd.Process.Pid} // ip netns exec execs the daemon in place
	if d.impl == implKeepalived {
		b, err := os.ReadFile(filepath.Join(d.dir, "vrrp.pid"))
		if err != nil {
			d.t.Fatalf("keepalived's VRRP process: %v", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			d.t.Fatalf("keepalived's vrrp.pid: %v", err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// stop sends SIGTERM, on which both daemons resign with a priority-0
// advert, and waits for the exit.
func (d *daemon) stop() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			d.t.Errorf("%s on %s exited with %v on SIGTERM", d.impl, d.host.Name(), err)
		}
	case <-time.After(10 * time.Second):
		d.t.Fatalf("%s on %s did not stop within 10s of SIGTERM", d.impl, d.host.Name())
	}
}

// kill kills the process group, like a crash, and waits for the daemon
// to go. It leaves the VIPs bound; see pair.reset.
func (d *daemon) kill() {
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	err := <-d.done
	d.done <- err
}

// vipctl runs vipctl against the daemon's control socket.
func (d *daemon) vipctl(args ...string) (string, error) {
	out, err := exec.Command(bins.vipctl, append([]string{"-socket", d.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// checksHealthy reports whether every check of a vipd daemon is healthy.
func (d *daemon) checksHealthy() bool {
	d.t.Helper()
	out, err := d.vipctl("status", "-o", "json")
	if err != nil {
		return false // not listening yet
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		d.t.Fatalf("vipctl status -o json on %s: %v\n%s", d.host.Name(), err, out)
	}
	for _, c := range st.Checks {
		if c.State != control.CheckHealthy {
			return false
		}
	}
	return true
}

// lineLog collects a process's output by lines, with the time each line
// was read.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []logLine
}

type logLine struct {
	at   time.Time
	text string
}

func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, logLine{at: now, text: string(l.partial[:i])})
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// find returns when the first line matching re was read.
func (l *lineLog) find(re *regexp.Regexp) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		if re.MatchString(ln.text) {
			return ln.at, true
		}
	}
	return time.Time{}, false
}

// since returns the lines read after t.
func (l *lineLog) since(t time.Time) []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
	for _, ln := range l.lines {
		if ln.at.After(t) {
			out = append(out, ln)
		}
	}
	return out
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ln := range l.lines {
		fmt.Fprintf(&b, "%s %s\n", ln.at.Format("15:04:05.000000"), ln.text)
	}
	b.Write(l.partial)
	return b.String()
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime returns the CPU time (user and system) the processes used so
// far, from /proc/PID/stat.
func cpuTime(t testing.TB, pids []int) time.Duration {
	t.Helper()
	var ticks uint64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("cpu time of %d: %v", pid, err)
		}
		// The command name may hold spaces and parentheses: the fields
		// count from after the last ')'. utime and stime are fields 14
		// and 15, so 12 and 13 after the name.
		rest := string(b[bytes.LastIndexByte(b, ')')+2:])
		f := strings.Fields(rest)
		for _, s := range f[11:13] {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/stat: %v", pid, err)
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// memory returns the peak resident set (VmHWM) and the proportional set
// size (Pss of smaps_rollup) of the processes, summed, in KiB.
func memory(t testing.TB, pids []int) (hwm, pss uint64) {
	t.Helper()
	for _, pid := range pids {
		hwm += procField(t, fmt.Sprintf("/proc/%d/status", pid), "VmHWM:")
		pss += procField(t, fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
	}
	return hwm, pss
}

// procField returns the number in KiB on the line of a /proc file
// starting with key.
func procField(t testing.TB, path, key string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			n, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil || len(f) != 2 || f[1] != "kB" {
				t.Fatalf("%s: bad line %q", path, line)
			}
			return n
		}
	}
	t.Fatalf("%s: no %s line", path, key)
	return 0
}
