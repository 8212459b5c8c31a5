package bench

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// envBench must be "1" for TestBench to run: it takes a quarter of an hour
// and wants the machine to itself.
const envBench = "VIPD_BENCH"

// The environment variables that tune a run, for trying the harness out
// on a busy machine; `make bench` leaves them unset. A part of the run is
// picked with -run, e.g. -run 'TestBench/takeover/10ms'.
const (
	envRuns      = "BENCH_RUNS"       // runs per figure (default 5)
	envIntervals = "BENCH_INTERVALS"  // advert intervals of the takeover and handover rows
	envWindow    = "BENCH_CPU_WINDOW" // length of each CPU measurement (default 2s)
	envOut       = "BENCH_OUT"        // directory of results.md and takeover.svg (default: this one)
	envQuiet     = "BENCH_QUIET_WAIT" // how long to wait for a load average below 1 (default 10m)
	envWorktree  = "BENCH_WORKTREE"   // 1: measure the working tree, not the commit checked out
)

// command is how `make bench` runs the benchmark, for the report.
const command = "VIPD_BENCH=1 VIPD_REQUIRE_NETNS=1 go test -count=1 -run '^TestBench$' -v -timeout 60m ./bench/"

// bins are the programs compared and their helpers, found or built by
// TestMain.
var bins struct {
	dir                string // of the daemons' copies, see program
	vipctl, keepalived string
	curl               string
	version            string // of vipd: git describe
}

// nodes are the names of the lab hosts that run daemons.
var nodes = []string{"cp-1", "cp-2", "cp-3"}

// program returns the daemon's program for node: each node runs a copy of
// its own, as if on a machine of its own, so that the PSS of a daemon does
// not share its program's pages with the other node's daemon, nor with
// keepalived processes of other tests on the machine.
func program(im impl, node string) string {
	return filepath.Join(bins.dir, string(im)+"-"+node)
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if os.Getenv(envBench) != "1" {
			return m.Run() // TestBench skips; nothing to build
		}
		dir, err := os.MkdirTemp("", "vipd-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bins.dir = dir
		bins.vipctl = filepath.Join(dir, "vipctl")
		if bins.version, err = buildDaemons(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		vipd := filepath.Join(dir, "vipd")
		bins.keepalived, _ = exec.LookPath("keepalived") // TestBench fails without
		for _, node := range nodes {
			for im, src := range map[impl]string{implVipd: vipd, implKeepalived: bins.keepalived} {
				if src == "" {
					continue
				}
				if err := copyFile(program(im, node), src); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
		}
		return m.Run()
	}())
}

// buildDaemons builds vipd and vipctl into dir as `make build` does
// (without the race detector), and returns vipd's version. It builds the
// commit checked out, not the working tree, which may hold work in
// progress that the figures would then wrongly name; with envWorktree=1 it
// builds the working tree, and the version says "dirty" if it differs.
func buildDaemons(dir string) (string, error) {
	root := ".."
	describe := []string{"describe", "--tags", "--always"}
	if os.Getenv(envWorktree) == "1" {
		describe = append(describe, "--dirty")
	} else {
		root = filepath.Join(dir, "src")
		tar := filepath.Join(dir, "src.tar")
		for _, c := range [][]string{
			{"git", "archive", "--format=tar", "-o", tar, "HEAD"},
			{"mkdir", root},
			{"tar", "-x", "-f", tar, "-C", root},
		} {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Dir = ".." // the module's root: git archive takes the tree of its directory
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("export the commit checked out: %s: %v\n%s", strings.Join(c, " "), err, out)
			}
		}
	}
	out, err := exec.Command("git", describe...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(describe, " "), err)
	}
	version := strings.TrimSpace(string(out))
	for _, name := range []string{"vipd", "vipctl"} {
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "nethttpomithttp2", "-ldflags", "-s -w -X main.version="+version, "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %v\n%s", name, err, out)
		}
	}
	return version, nil
}

func copyFile(dst, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// settings of a run, from the environment.
type settings struct {
	runs      int
	intervals []time.Duration
	window    time.Duration
	out       string
	quietWait time.Duration
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	s := settings{
		runs:      5,
		intervals: []time.Duration{time.Second, 100 * time.Millisecond, 50 * time.Millisecond, 10 * time.Millisecond},
		window:    2 * time.Second,
		out:       ".",
		quietWait: 10 * time.Minute,
	}
	if v := os.Getenv(envRuns); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a count of runs", envRuns, v)
		}
		s.runs = n
	}
	if v := os.Getenv(envIntervals); v != "" {
		s.intervals = nil
		for _, f := range strings.Split(v, ",") {
			d, err := time.ParseDuration(f)
			if err != nil {
				t.Fatalf("%s: %v", envIntervals, err)
			}
			s.intervals = append(s.intervals, d)
		}
	}
	for env, d := range map[string]*time.Duration{envWindow: &s.window, envQuiet: &s.quietWait} {
		if v := os.Getenv(env); v != "" {
			var err error
			if *d, err = time.ParseDuration(v); err != nil {
				t.Fatalf("%s: %v", env, err)
			}
		}
	}
	if v := os.Getenv(envOut); v != "" {
		s.out = v
	}
	return s
}

// bench collects the figures of a run.
type bench struct {
	settings
	rows  []Row
	chart []ChartPoint
	about map[string]string // what a section measures, by section
	notes []string
	// machine says how busy the rest of the machine was while the CPU
	// of the daemons was measured.
	machine []string
}

// TestBench measures vipd and keepalived side by side, prints the table
// and writes results.md and takeover.svg.
func TestBench(t *testing.T) {
	if os.Getenv(envBench) != "1" {
		t.Skipf("the comparison with keepalived runs with %s=1 (sudo make bench)", envBench)
	}
	lab.Require(t)
	for _, c := range []string{"tcpdump", "ping", "curl", "keepalived"} {
		lab.RequireCommand(t, c)
	}
	bins.curl, _ = exec.LookPath("curl")

	b := &bench{settings: loadSettings(t), about: maps.Clone(about)}
	quiet := waitQuiet(t, b.quietWait)
	started := time.Now()
	sections := []struct {
		name string
		run  func(*testing.T)
	}{
		{"limits", b.limits},
		{"takeover", b.takeover},
		{"handover", b.handover},
		{"client", b.client},
		{"api", b.apiServer},
		{"resources", b.resources},
		{"startup", b.startup},
		{"faults", b.faults},
	}
	for _, s := range sections {
		t.Run(s.name, s.run) // go test -run 'TestBench/api' picks sections
	}
	report := b.report(started, quiet)
	md := report.Markdown()
	fmt.Print("\n" + md)
	if t.Failed() {
		t.Fatal("a measurement failed: results not written")
	}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.out, "results.md"), []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(b.chart) > 0 {
		if err := os.WriteFile(filepath.Join(b.out, "takeover.svg"), []byte(TakeoverSVG(b.chart)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %s in %v", filepath.Join(b.out, "results.md"), time.Since(started).Round(time.Second))
}

// quietness is how the machine's load looked before the run.
type quietness struct {
	waited time.Duration
	load   float64 // 1-minute load average when the run started
	quiet  bool
}

// quietLoad is the 1-minute load average under which the machine counts
// as quiet: less than one runnable task besides the benchmark's.
const quietLoad = 1.0

// waitQuiet waits up to max for the 1-minute load average to fall below
// quietLoad, so that other work on the machine disturbs the figures less.
func waitQuiet(t *testing.T, limit time.Duration) quietness {
	t.Helper()
	start := time.Now()
	for {
		l := loadAverage()
		if l < quietLoad {
			return quietness{waited: time.Since(start), load: l, quiet: true}
		}
		if time.Since(start) >= limit {
			if limit > 0 {
				t.Logf("load average still %.2f after %v: measuring anyway", l, limit)
			}
			return quietness{waited: time.Since(start), load: l}
		}
		t.Logf("load average %.2f, waiting for it to fall below %.1f", l, quietLoad)
		time.Sleep(min(15*time.Second, limit-time.Since(start)))
	}
}

// loadAverage returns the 1-minute load average, -1 if unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	l, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		return -1
	}
	return l
}

// ms is a duration in milliseconds, the unit of the time rows.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// turns runs once for each daemon in turn, runs times, and returns each
// daemon's figures. A run that reports itself invalid (a spurious
// election before the event, on a busy machine) is reset and repeated, at
// most twice.
func (b *bench) turns(t *testing.T, p *pair, label string, ims []impl, once func(impl) (float64, string)) map[impl][]float64 {
	t.Helper()
	out := make(map[impl][]float64)
	for run := range b.runs {
		for _, im := range ims {
			for try := 0; ; try++ {
				v, invalid := once(im)
				p.reset()
				if invalid == "" {
					out[im] = append(out[im], v)
					t.Logf("%s, run %d, %s: %s", label, run+1, im, Number(v))
					break
				}
				if try == 2 {
					t.Fatalf("%s, %s: three invalid runs in a row, the last: %s", label, im, invalid)
				}
				t.Logf("%s, run %d, %s: invalid, again: %s", label, run+1, im, invalid)
			}
		}
	}
	return out
}

// report assembles the figures with what is needed to read them.
func (b *bench) report(started time.Time, q quietness) Report {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	kaVersion, _ := exec.Command(bins.keepalived, "--version").CombinedOutput()
	kaLine, _, _ := strings.Cut(string(kaVersion), "\n")
	pingVersion, _ := exec.Command("ping", "-V").CombinedOutput()
	pingLine, _, _ := strings.Cut(string(pingVersion), "\n")
	tree := "the commit checked out"
	if os.Getenv(envWorktree) == "1" {
		tree = "the working tree"
	}
	load := fmt.Sprintf("the 1-minute load average was %.2f at the start", q.load)
	switch {
	case q.quiet && q.waited > time.Second:
		load += fmt.Sprintf(" (after waiting %v for it to fall below %.1f)", q.waited.Round(time.Second), quietLoad)
	case !q.quiet:
		load += fmt.Sprintf(": the machine never became quiet (below %.1f) in %v, so the figures carry the noise of other work", quietLoad, q.waited.Round(time.Second))
	}
	load += fmt.Sprintf(" and %.2f at the end", loadAverage())
	runs := fmt.Sprintf("Each figure is the median of %d runs, with the minimum and maximum; the two daemons run the same settings in turn (vipd, keepalived, vipd, ...) on the same lab segment, each run with freshly started daemons.", b.runs)
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "^TestBench$" {
		runs += fmt.Sprintf(" Only the parts matching -run %q ran.", f.Value.String())
	}
	return Report{
		Title: "vipd and keepalived side by side",
		Intro: []string{
			fmt.Sprintf("Measured %s by `sudo make bench`, which runs `%s`; the run took %v.",
				started.UTC().Format("2006-01-02 15:04 MST"), command, time.Since(started).Round(time.Second)),
			fmt.Sprintf("Machine: %d CPUs (%s), Linux %s; %s.", runtime.NumCPU(), cpuModel(), strings.TrimSpace(string(kernel)), load),
			fmt.Sprintf("Versions: vipd %s (%s, built as `make build` does, with %s); %s (the Debian package, /usr/sbin/keepalived); ping from %s.",
				bins.version, tree, runtime.Version(), strings.TrimSpace(kaLine), strings.TrimPrefix(strings.TrimSpace(pingLine), "ping from ")),
			runs,
			"The lab: network namespaces on one Linux bridge; cp-1 (priority 250) is master, cp-2 (240) backup, both VRRPv3 over IPv4 multicast, VIP 192.0.2.100/24, 5 gratuitous ARPs on becoming master. Times on the wire come from tcpdump on the bridge (microsecond timestamps). The chart of takeover time against advert interval is [takeover.svg](takeover.svg).",
		},
		Rows:  b.rows,
		About: b.about,
		Notes: b.notes,
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
