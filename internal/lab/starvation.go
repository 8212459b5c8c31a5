package lab

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// daemonNames are the commands whose waits for a CPU a Starvation counts:
// the VRRP daemons under test, and the routing daemons of a fabric.
var daemonNames = map[string]bool{"vipd": true, "vipd-bgp": true, "vipd-race": true, "keepalived": true,
	"bird": true, "bgpd": true, "zebra": true}

// A Starvation measures, from its start, how long the VRRP daemons running
// in a lab's hosts waited for a CPU while they were runnable. A timing
// bound of the lab adds it: the protocol times a daemon keeps are its own
// only while it runs, so a bound missed by more than the daemons were
// starved means a slow daemon, not a busy machine.
type Starvation struct {
	lab   *Lab
	self  bool
	start map[int]time.Duration
}

// Starvation starts measuring the daemons of l's hosts and switch, hosts
// added later included (and, with self, the test process, which samples
// the lab and stamps its events).
func (l *Lab) Starvation(self bool) *Starvation {
	s := &Starvation{lab: l, self: self}
	s.start = s.read()
	return s
}

// netns returns the inodes of l's network namespaces: the switch (a
// fabric's router runs there) and the hosts.
func (l *Lab) netns() map[uint64]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.spaces)
}

// Since returns how long the daemons waited for a CPU since the start: the
// sum over them, as a timing chain may pass through each in turn. A daemon
// started since counts from its start; one that exited counts no more.
func (s *Starvation) Since() time.Duration {
	var d time.Duration
	for _, w := range s.each() {
		d += w
	}
	return d
}

// each returns how long each daemon waited for a CPU since the start.
func (s *Starvation) each() map[int]time.Duration {
	out := s.read()
	for pid, now := range out {
		out[pid] = max(now-s.start[pid], 0)
	}
	return out
}

// read returns the run delay of each process counted.
func (s *Starvation) read() map[int]time.Duration {
	out := map[int]time.Duration{}
	if s.self {
		if d, err := RunDelay(os.Getpid()); err == nil {
			out[os.Getpid()] = d
		}
	}
	netns := s.lab.netns()
	dirs, _ := os.ReadDir("/proc")
	for _, e := range dirs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !counts(pid, netns) {
			continue
		}
		if d, err := RunDelay(pid); err == nil {
			out[pid] = d
		}
	}
	return out
}

// counts says whether pid is a daemon in one of the namespaces netns.
func counts(pid int, netns map[uint64]bool) bool {
	var buf [32]byte
	comm, err := readSmall("/proc/"+strconv.Itoa(pid)+"/comm", buf[:])
	if err != nil || !daemonNames[strings.TrimSpace(string(comm))] {
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		return false
	}
	return netns[st.Ino]
}

// readSmall reads a small file into buf with a bare open, read and
// close: a sample reads one of each process's, and os.ReadFile costs several
// times that.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// RunDelay returns how long the threads of process pid have waited for a
// CPU while runnable: the sum of the second fields of their
// /proc/PID/task/TID/schedstat, in nanoseconds.
func RunDelay(pid int) (time.Duration, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("lab: no threads of process %d", pid)
	}
	var d time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		fields := strings.Fields(string(b))
		if len(fields) < 2 {
			return 0, fmt.Errorf("lab: %s: %q, want three numbers", f, b)
		}
		ns, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("lab: %s: %w", f, err)
		}
		d += time.Duration(ns)
	}
	return d, nil
}

// A StarvationWatch samples a Starvation every period, so that a test can
// ask afterwards how long the daemons waited for a CPU over any window.
type StarvationWatch struct {
	s    *Starvation
	mu   sync.Mutex
	at   []time.Time
	cum  []time.Duration         // the sum over the daemons
	each []map[int]time.Duration // per daemon, by pid
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// WatchStarvation starts sampling the starvation of l's daemons (and of
// the test process, with self) every period; it stops with Stop or at
// cleanup.
func (l *Lab) WatchStarvation(t testing.TB, period time.Duration, self bool) *StarvationWatch {
	t.Helper()
	w := &StarvationWatch{s: l.Starvation(self), stop: make(chan struct{}), done: make(chan struct{})}
	w.take() // the start of any window asked about from now on
	go func() {
		defer close(w.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				w.take()
			}
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

// stallPeriod is how often a lab's own StarvationWatch samples.
const stallPeriod = 50 * time.Millisecond

// Stalls returns the lab's StarvationWatch, which samples its daemons
// every 50 ms from the first call or the first command a host Execs
// (daemons are started so): checks that must tell a busy machine from a
// slow daemon ask it afterwards about any window. A lab does not start it
// itself, as its samples allocate and some lab tests count allocations.
func (l *Lab) Stalls() *StarvationWatch {
	l.stallsOnce.Do(func() { l.stalls = l.WatchStarvation(l.t, stallPeriod, false) })
	return l.stalls
}

// take appends a sample taken now.
func (w *StarvationWatch) take() {
	now, each := time.Now(), w.s.each()
	var sum time.Duration
	for _, d := range each {
		sum += d
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// take runs from the sampler and from fresh; keep the series ordered.
	if n := len(w.at); n > 0 && now.Before(w.at[n-1]) {
		return
	}
	w.at, w.cum, w.each = append(w.at, now), append(w.cum, sum), append(w.each, each)
}

// fresh takes a sample now when the last one is older than b: the sampler
// may have waited for a CPU itself, and what the daemons waited for until
// b must count.
func (w *StarvationWatch) fresh(b time.Time) {
	if w.s == nil {
		return // samples given by a test, nothing to take
	}
	w.mu.Lock()
	stale := len(w.at) == 0 || w.at[len(w.at)-1].Before(b)
	w.mu.Unlock()
	if stale {
		w.take()
	}
}

// Stop stops sampling; it may be called more than once.
func (w *StarvationWatch) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// Between returns how long the daemons waited for a CPU from a to b,
// widened to the samples around them: from the last sample at or before a
// to the first at or after b (taken now if there is none yet).
func (w *StarvationWatch) Between(a, b time.Time) time.Duration {
	w.fresh(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	i, j, ok := w.around(a, b)
	if !ok {
		return 0
	}
	return max(w.cum[j]-w.cum[i], 0)
}

// Stalled says whether one daemon waited for a CPU for tolerance or more
// over the window before at. When tolerance is what VRRP tolerates of a
// silent master, such a wait lets the protocol move a VIP, as it should
// for a master that stopped.
func (w *StarvationWatch) Stalled(at time.Time, window, tolerance time.Duration) bool {
	w.fresh(at)
	w.mu.Lock()
	defer w.mu.Unlock()
	i, j, ok := w.around(at.Add(-window), at)
	if !ok {
		return false
	}
	for pid, d := range w.each[j] {
		if d-w.each[i][pid] >= tolerance {
			return true
		}
	}
	return false
}

// around returns the indexes of the last sample at or before a and of the
// first at or after b (or the last taken); false without samples.
func (w *StarvationWatch) around(a, b time.Time) (int, int, bool) {
	if len(w.at) == 0 {
		return 0, 0, false
	}
	i, _ := slices.BinarySearchFunc(w.at, a, time.Time.Compare)
	if i > 0 && (i == len(w.at) || w.at[i].After(a)) {
		i--
	}
	j, _ := slices.BinarySearchFunc(w.at, b, time.Time.Compare)
	j = min(j, len(w.at)-1)
	return min(i, j), j, true
}
