package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// TestSystemdNotify: vipd speaks systemd's notify protocol. It says when it
// is ready, sums up its routers in STATUS= as they change state (a lone
// node: every instance MASTER), and says it is stopping; its last STATUS=
// shows the routers resigned.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	h := l.AddHost("cp-1", "192.0.2.11/24")

	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 1024)
	go func() {
		defer close(msgs)
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			// One datagram may set several variables, a line each.
			for line := range strings.SplitSeq(string(buf[:n]), "\n") {
				if line != "" {
					msgs <- line
				}
			}
		}
	}()
	// next returns the next message that satisfies ok, failing the test
	// if none comes within timeout.
	var seen []string
	next := func(what string, timeout time.Duration, ok func(string) bool) string {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case m, open := <-msgs:
				if !open {
					t.Fatalf("notify socket closed waiting for %s; got %q", what, seen)
				}
				seen = append(seen, m)
				if ok(m) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s within %v; got %q", what, timeout, seen)
			}
		}
	}

	const n = 3
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = %q\ninterface = \"eth0\"\nadvert_interval = \"100ms\"\n", t.Name())
	b.WriteString("[[cluster.node]]\nname = \"cp-1\"\naddress = \"192.0.2.11\"\n")
	b.WriteString(daemonTable)
	for i := range n {
		fmt.Fprintf(&b, "[[instance]]\nname = \"vip%d\"\nvrid = %d\nvips = [\"192.0.2.%d/24\"]\n", i, 70+i, 101+i)
	}
	p := startVipdEnv(t, h, writeConfig(t, b.String()), []string{"NOTIFY_SOCKET=" + path})

	states := func(m string) (masters, inits int) {
		return strings.Count(m, " MASTER"), strings.Count(m, " INIT")
	}
	next("READY=1", 5*time.Second, func(m string) bool { return m == "READY=1" })
	all := next("STATUS= with every instance MASTER", 5*time.Second, func(m string) bool {
		masters, _ := states(m)
		return strings.HasPrefix(m, "STATUS=") && masters == n
	})
	for i := range n {
		if !strings.Contains(all, fmt.Sprintf("vip%d/ipv4 MASTER", i)) {
			t.Errorf("%q does not say that vip%d/ipv4 is MASTER", all, i)
		}
	}
	if err := p.stop(); err != nil {
		t.Fatalf("vipd exited with %v, want 0", err)
	}
	// vipd has exited: what it sent is in the socket.
	var last string
	stopping := false
	for drained := false; !drained; {
		select {
		case m := <-msgs:
			seen = append(seen, m)
			stopping = stopping || m == "STOPPING=1"
			if strings.HasPrefix(m, "STATUS=") {
				last = m
			}
		case <-time.After(200 * time.Millisecond):
			drained = true
		}
	}
	if !stopping {
		t.Errorf("no STOPPING=1; got %q", seen)
	}
	if _, inits := states(last); inits != n {
		t.Errorf("last status %q, want every instance INIT", last)
	}
}
