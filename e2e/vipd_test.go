// Package e2e runs real vipd processes in a network-namespace lab and checks
// what they do to addresses and on the wire.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/vrrp"
)

// vipdBin and vipctlBin are the binaries under test, built once by
// TestMain.
var vipdBin, vipctlBin string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "vipd-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		vipdBin = filepath.Join(dir, "vipd")
		vipctlBin = filepath.Join(dir, "vipctl")
		// Built without -race: the lab measures timing, and the unit
		// tests already run the same code under the race detector. The
		// tags are make build's.
		for bin, pkg := range map[string]string{vipdBin: "../cmd/vipd", vipctlBin: "../cmd/vipctl"} {
			out, err := exec.Command("go", "build", "-tags", "nethttpomithttp2", "-o", bin, pkg).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// proc is one vipd process running in a lab host.
type proc struct {
	t      testing.TB
	cfg    string
	socket string // its control socket
	host   *lab.Host
	cmd    *exec.Cmd
	log    *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonTable is the [daemon] table of the lab's configuration files; the
// nodes share a file system, so startVipd gives each its own control
// socket and state directory.
const daemonTable = "[daemon]\nmetrics_listen = \"\"\ncontrol_socket = \"@SOCKET@\"\nstate_dir = \"@STATE@\"\n"

// startVipd runs vipd with cfg in host; the process is killed at cleanup if
// the test did not stop it, and its log is shown when the test fails.
func startVipd(t testing.TB, h *lab.Host, cfg string, args ...string) *proc {
	t.Helper()
	return startVipdEnv(t, h, cfg, nil, args...)
}

// startVipdEnv is startVipd with extra environment variables.
func startVipdEnv(t testing.TB, h *lab.Host, cfg string, env []string, args ...string) *proc {
	t.Helper()
	own, socket := ownConfig(t, h, cfg)
	cmd := h.Exec(context.Background(), vipdBin, append([]string{"-config", own}, args...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return startProc(t, h, cfg, socket, cmd)
}

// startProc starts cmd, a vipd running host h's copy of cfg with its
// control socket at socket. The process is killed at cleanup if the test
// did not stop it, and its log is shown when the test fails.
func startProc(t testing.TB, h *lab.Host, cfg, socket string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, cfg: cfg, socket: socket, host: h, cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start vipd on %s: %v", h.Name(), err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of vipd on %s:\n%s", h.Name(), p.log.String())
		}
	})
	return p
}

// ownConfig writes host h's copy of cfg, with its own control socket and
// state directory, and returns its path and the socket's.
func ownConfig(t testing.TB, h *lab.Host, cfg string) (path, socket string) {
	t.Helper()
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(cfg), h.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	socket = filepath.Join(dir, "vipd.sock")
	text = bytes.ReplaceAll(text, []byte("@SOCKET@"), []byte(socket))
	text = bytes.ReplaceAll(text, []byte("@STATE@"), []byte(filepath.Join(dir, "state")))
	path = filepath.Join(dir, "vipd.toml")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, socket
}

// stop sends SIGTERM and returns the exit error.
func (p *proc) stop() error {
	p.t.Helper()
	// ip netns exec execs vipd in place, so the pid is vipd's.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(10 * time.Second):
		p.t.Fatalf("vipd on %s did not stop within 10s", p.host.Name())
		return nil
	}
}

// kill sends SIGKILL, like a crash, and waits for the process to go.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
}

// cluster writes a vipd.toml for the given nodes (host name -> address)
// with extra instance keys, and returns its path.
func cluster(t testing.TB, interval string, nodes []*lab.Host, addrs []string, instance string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = %q\ninterface = \"eth0\"\nadvert_interval = %q\n", t.Name(), interval)
	for i, h := range nodes {
		fmt.Fprintf(&b, "[[cluster.node]]\nname = %q\naddress = %q\n", h.Name(), addrs[i])
		if strings.Contains(instance, "2001:db8") {
			fmt.Fprintf(&b, "address6 = \"2001:db8::1%d\"\n", i+1)
		}
	}
	b.WriteString(daemonTable)
	b.WriteString("[[instance]]\n" + instance + "\n")
	return writeConfig(t, b.String())
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vipd.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// holders returns the hosts that have vip bound on eth0.
func holders(t testing.TB, vip netip.Addr, hosts ...*lab.Host) []string {
	t.Helper()
	var out []string
	for _, h := range hosts {
		if h.HasAddr(t, "eth0", vip) {
			out = append(out, h.Name())
		}
	}
	return out
}

// waitHolder waits until exactly want holds vip, and fails after timeout
// and the time the lab's daemons waited for a CPU meanwhile.
func waitHolder(t testing.TB, timeout time.Duration, vip netip.Addr, want string, hosts ...*lab.Host) {
	t.Helper()
	stalls := hosts[0].Lab().Stalls()
	start := time.Now()
	for {
		got := holders(t, vip, hosts...)
		if len(got) == 1 && got[0] == want {
			return
		}
		// Asked only past the timeout: each question scans /proc.
		if elapsed := time.Since(start); elapsed > timeout {
			if waited := stalls.Between(start, time.Now()); elapsed > timeout+waited {
				t.Fatalf("VIP %v held by %v after %v, want only %s (the daemons waited %v of it for a CPU)",
					vip, got, elapsed.Round(time.Millisecond), want, waited.Round(time.Millisecond))
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A daemon that waited stallTolerance or more for a CPU over stallWindow
// may have let a VIP move: at the lab's usual 100 ms adverts, a master
// silent that long beyond its interval lets its backups'
// Master_Down_Interval pass, and VRRP moves the VIP as it must for a
// master that stopped. The window spans the longest Master_Down_Interval
// a stall of that size would end in, so the takeover that follows a stall
// still sees it.
var (
	stallTolerance = vrrp.MasterDownInterval(3, 240, 100*time.Millisecond) - 100*time.Millisecond
	stallWindow    = time.Second
)

// stable checks that exactly want holds vip during d. A change that
// follows a stall (see stallTolerance) is logged instead, and then want
// must hold vip alone again, as waitHolder waits for it.
func stable(t testing.TB, d time.Duration, vip netip.Addr, want string, hosts ...*lab.Host) {
	t.Helper()
	stalls := hosts[0].Lab().Stalls()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		got := holders(t, vip, hosts...)
		if len(got) == 1 && got[0] == want {
			continue
		}
		at := time.Now()
		if !stalls.Stalled(at, stallWindow, stallTolerance) {
			t.Fatalf("VIP %v held by %v, want only %s", vip, got, want)
		}
		t.Logf("at %s the VIP %v was held by %v, after a daemon waited %v or more for a CPU; waiting for %s alone again",
			clock(at), vip, got, stallTolerance.Round(time.Millisecond), want)
		waitHolder(t, 3*time.Second, vip, want, hosts...)
	}
}

// tshark returns the selected fields of the frames of pcap matching
// filter, one line per frame: an independent decoder of what went on the
// wire.
func tshark(t testing.TB, pcap, filter string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-r", pcap, "-Y", filter, "-T", "fields", "-E", "separator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("tshark", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, ","))
		}
	}
	return rows
}

func epoch(t testing.TB, s string) time.Time {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad epoch %q: %v", s, err)
	}
	return time.Unix(0, int64(f*1e9))
}

// takeover measures on the capture the time from the old master's last
// advertisement to the new master's first gratuitous ARP for vip.
func takeover(t testing.TB, pcap string, oldMaster string, vip netip.Addr) time.Duration {
	t.Helper()
	adverts := tshark(t, pcap, "vrrp && ip.src=="+oldMaster, "frame.time_epoch")
	if len(adverts) == 0 {
		t.Fatalf("no advertisement from %s in the capture", oldMaster)
	}
	last := adverts[len(adverts)-1][0]
	garps := tshark(t, pcap, fmt.Sprintf("arp.isgratuitous && arp.src.proto_ipv4==%v && frame.time_epoch > %s", vip, last), "frame.time_epoch")
	if len(garps) == 0 {
		t.Fatalf("no gratuitous ARP for %v after %s's last advertisement", vip, oldMaster)
	}
	return epoch(t, garps[0][0]).Sub(epoch(t, last))
}

// exitCode returns the exit status of a finished command, 0 for nil.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// vipctl runs vipctl against p's control socket and returns its output.
func (p *proc) vipctl(args ...string) (string, error) {
	p.t.Helper()
	out, err := exec.Command(vipctlBin, append([]string{"-socket", p.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// pinger pings an address every 10 ms from a client host, like a client of
// the VIP, and counts the replies lost.
type pinger struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startPing pings addr for about d. ping is given a deadline past d: with
// only a count it waits for late replies no longer than twice the slowest
// round trip so far, so a reply that a loaded machine delays at the end
// would count as lost.
func startPing(t testing.TB, client *lab.Host, addr netip.Addr, d time.Duration) *pinger {
	t.Helper()
	lab.RequireCommand(t, "ping")
	n := int(d / (10 * time.Millisecond))
	deadline := int((d+2*time.Second)/time.Second) + 1
	cmd := client.Exec(context.Background(), "ping", "-n", "-i", "0.01", "-c", strconv.Itoa(n), "-w", strconv.Itoa(deadline), addr.String())
	p := &pinger{cmd: cmd, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

// lost waits for ping to finish and returns how many replies were lost,
// logging which.
func (p *pinger) lost(t testing.TB) int {
	t.Helper()
	p.cmd.Wait()
	sent, got, missing := pingSummary(p.out.String())
	if sent == 0 {
		t.Fatalf("ping printed no summary:\n%s", p.out.String())
	}
	if sent != got {
		t.Logf("ping: %d sent, %d replies; no reply to icmp_seq %v", sent, got, missing)
	}
	return sent - got
}

// pingSummary reads ping's output: requests sent, replies received, and
// the sequence numbers that got no reply.
func pingSummary(out string) (sent, got int, missing []int) {
	replied := map[int]bool{}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "packets transmitted") {
			fmt.Sscanf(line, "%d packets transmitted, %d received", &sent, &got)
		}
		if _, after, ok := strings.Cut(line, " icmp_seq="); ok {
			var seq int
			if _, err := fmt.Sscanf(after, "%d", &seq); err == nil {
				replied[seq] = true
			}
		}
	}
	for seq := 1; seq <= sent; seq++ {
		if !replied[seq] {
			missing = append(missing, seq)
		}
	}
	return sent, got, missing
}

// syscallHUP is SIGHUP, the reload signal.
var syscallHUP = syscall.SIGHUP
