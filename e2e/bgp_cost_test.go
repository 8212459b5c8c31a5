package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// TestBGPCost measures what GoBGP costs a node: the proportional set size
// and CPU time of plain vipd and of vipd-bgp with the same route-mode
// instance (GoBGP linked in, idle), and of vipd-bgp announcing over two
// sessions (3s hold time: a keepalive a second each way). It runs only
// with VIPD_BGP_COST=1 (it takes two minutes) and reports, asserting
// nothing: bench/results.md and the README keep the figures.
func TestBGPCost(t *testing.T) {
	if os.Getenv("VIPD_BGP_COST") != "1" {
		t.Skip("VIPD_BGP_COST=1 measures GoBGP's cost")
	}
	lab.Require(t)
	bin, err := vipdBGP()
	if err != nil {
		t.Fatal(err)
	}
	fb := newFabric(t, 1)
	lab.StartFRR(t, fb.f.Router(), lab.FRRRouter(64500, netip.MustParseAddr("192.0.2.1"), fb.neighbors(), nil))
	route := fb.config(t, "announce = \"route\"", "")
	bgp := fb.config(t, `announce = "bgp"`, `[bgp]
asn = 64512
hold_time = "3s"
[[bgp.peer]]
address = "192.0.2.1"
asn = 64500
[[bgp.peer]]
address = "2001:db8:c::1"
asn = 64500
`)
	const window = 30 * time.Second
	for _, run := range []struct {
		name, bin, cfg string
	}{
		{"vipd, announce = route", vipdBin, route},
		{"vipd-bgp, announce = route (GoBGP idle)", bin, route},
		{"vipd-bgp, announce = bgp, 2 sessions", bin, bgp},
	} {
		p := startRoutedVipd(t, run.bin, fb.nodes[0], run.cfg)
		if strings.Contains(run.cfg, `"bgp"`) {
			fb.waitRoutes(t, 30*time.Second, "n1")
		}
		time.Sleep(5 * time.Second) // past the start-up
		pid := p.cmd.Process.Pid
		cpu0 := cpuTime(t, pid)
		time.Sleep(window)
		cpu := cpuTime(t, pid) - cpu0
		st, _ := os.Stat(run.bin)
		t.Logf("%s: binary %.1f MiB, PSS %s, CPU %v in %v (%.3f%%)", run.name, float64(st.Size())/(1<<20), pss(t, pid), cpu, window,
			100*cpu.Seconds()/window.Seconds())
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// pss returns the process's proportional set size, as smaps_rollup says.
func pss(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
		}
	}
	return "?"
}

// cpuTime returns the process's user and system time.
func cpuTime(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
