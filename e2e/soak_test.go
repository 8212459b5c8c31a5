package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
)

// soakInstances are the soak's three instances; variant 0 and 1 differ
// in what a reload changes in place (priorities, VIPs, notify hooks, a
// tracked check) and in what it replaces (an advert interval).
func soakInstances(variant int) string {
	order, vips, notify, interval, track, check := `["cp-1", "cp-2"]`, `["192.0.2.101/24"]`, `["/bin/true"]`, "100ms",
		`track = [{ check = "dead", weight = -10 }]`, `[[check]]
name = "dead"
type = "tcp"
address = "127.0.0.1:9"
interval = "200ms"
timeout = "100ms"
rise = 1
fall = 1`
	if variant == 1 {
		order, vips, notify, interval, track, check = `["cp-2", "cp-1"]`, `["192.0.2.101/24", "192.0.2.102/24"]`, `["/bin/sh", "-c", "exit 0"]`, "200ms", "", ""
	}
	return fmt.Sprintf(`name = "api"
vrid = 81
vips = ["192.0.2.100/24"]
order = %s
[[instance]]
name = "ingress"
vrid = 82
vips = %s
notify = %s
[[instance]]
name = "web"
vrid = 83
vips = ["192.0.2.103/24"]
advert_interval = %q
%s
%s
`, order, vips, notify, interval, track, check)
}

// soakDuration is how long the soak's clients run: VIPD_SOAK_DURATION,
// 10s by default (make soak runs 60s).
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("VIPD_SOAK_DURATION")
	if s == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("VIPD_SOAK_DURATION: %v", err)
	}
	return d
}

// TestConcurrencySoak runs a vipd built with the race detector, three
// instances, against a peer, while clients at once ask for its status,
// drain and resume each instance, and reload it with alternating files:
// no data race is reported, vipd does not crash, and at the end its
// drains and configuration are the last ones asked for.
func TestConcurrencySoak(t *testing.T) {
	// Not parallel: a race-built vipd under load takes the machine's
	// processors from the tests that measure timing.
	_, hosts, addrs := threeNodes(t, 2)
	duration := soakDuration(t)
	bin := filepath.Join(t.TempDir(), "vipd-race")
	if out, err := exec.Command("go", "build", "-race", "-tags", "nethttpomithttp2", "-o", bin, "../cmd/vipd").CombinedOutput(); err != nil {
		t.Fatalf("build vipd with -race: %v\n%s", err, out)
	}
	files := []string{
		cluster(t, "100ms", hosts, addrs, soakInstances(0)),
		cluster(t, "100ms", hosts, addrs, soakInstances(1)),
	}
	startVipd(t, hosts[1], files[0])
	p := startRaceVipd(t, bin, hosts[0], files[0])
	client := control.NewClient(p.socket)
	waitFor(t, 10*time.Second, "cp-1 running its instances", func() bool {
		st, err := client.Status(t.Context())
		return err == nil && len(st.Instances) == 3
	})

	own := filepath.Join(filepath.Dir(files[0]), hosts[0].Name(), "vipd.toml")
	names := []string{"api", "ingress", "web"}
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	drained := map[string]bool{} // the last request per instance
	counts := map[string]int{}
	count := func(what string) {
		mu.Lock()
		counts[what]++
		mu.Unlock()
	}
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := client.Status(t.Context()); err != nil {
					t.Errorf("status: %v", err)
					return
				}
				count("status")
			}
		})
	}
	for _, name := range names {
		wg.Go(func() {
			for ctx.Err() == nil {
				drain := rand.N(2) == 0
				// Each request is seen through, past the end of
				// the soak: its answer says what was asked last.
				var err error
				if drain {
					_, err = client.Drain(t.Context(), name)
				} else {
					_, err = client.Resume(t.Context(), name)
				}
				if err != nil {
					t.Errorf("drain %s %v: %v", name, drain, err)
					return
				}
				mu.Lock()
				drained[name] = drain
				mu.Unlock()
				count("drain")
				time.Sleep(time.Duration(rand.N(50)) * time.Millisecond)
			}
		})
	}
	last := 0
	wg.Go(func() {
		for i := 1; ctx.Err() == nil; i++ {
			writeOwn(t, files[i%2], own)
			if err := p.cmd.Process.Signal(syscallHUP); err != nil {
				t.Errorf("SIGHUP: %v", err)
				return
			}
			last = i % 2
			count("reload")
			time.Sleep(time.Duration(50+rand.N(200)) * time.Millisecond)
		}
	})
	wg.Wait()
	t.Logf("in %v: %d status, %d drain or resume requests, %d reloads", duration, counts["status"], counts["drain"], counts["reload"])

	// The last file once more: reloads asked for in a burst are served
	// once.
	writeOwn(t, files[last], own)
	reloads := strings.Count(p.log.String(), "reload done")
	p.cmd.Process.Signal(syscallHUP)
	waitFor(t, 10*time.Second, "the last reload", func() bool { return strings.Count(p.log.String(), "reload done") > reloads })
	st, err := client.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantPrio := map[int]uint8{0: 250, 1: 240}[last]
	for _, in := range st.Instances {
		if in.Drained != drained[in.Name] {
			t.Errorf("%s drained %v, want %v as last asked", in.Name, in.Drained, drained[in.Name])
		}
		if in.Name == "api" && in.Priority != wantPrio {
			t.Errorf("api at priority %d after the last reload (file %d), want %d", in.Priority, last, wantPrio)
		}
		if in.Name == "ingress" && len(in.VIPs) != last+1 {
			t.Errorf("ingress has VIPs %v after the last reload (file %d)", in.VIPs, last)
		}
	}
	if err := p.stop(); err != nil {
		t.Errorf("vipd exited with %v", err)
	}
	if log := p.log.String(); strings.Contains(log, "DATA RACE") || strings.Contains(log, "panic:") {
		t.Errorf("vipd reported a data race or panicked:\n%s", log)
	}
}

// startRaceVipd runs bin, a vipd built with the race detector, as
// startVipd runs vipd.
func startRaceVipd(t *testing.T, bin string, h *lab.Host, cfg string) *proc {
	t.Helper()
	own, socket := ownConfig(t, h, cfg)
	cmd := h.Exec(context.Background(), bin, "-config", own)
	return startProc(t, h, cfg, socket, cmd)
}

// writeOwn writes cfg to own, a node's copy of another file, keeping the
// node's control socket and state directory.
func writeOwn(t *testing.T, cfg, own string) {
	t.Helper()
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Error(err)
		return
	}
	dir := filepath.Dir(own)
	text = bytes.ReplaceAll(text, []byte("@SOCKET@"), []byte(filepath.Join(dir, "vipd.sock")))
	text = bytes.ReplaceAll(text, []byte("@STATE@"), []byte(filepath.Join(dir, "state")))
	// Written whole, then renamed: vipd must not read half a file.
	tmp := own + ".tmp"
	if err := os.WriteFile(tmp, text, 0o644); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, own); err != nil {
		t.Error(err)
	}
}
