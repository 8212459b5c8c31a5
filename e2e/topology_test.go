package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/metrics"
	"github.com/vipd/vipd/pkg/vrrp"
)

// metricsPort is where the lab's vipd serve metrics when a test turns them
// on: the default of metrics_listen. Each host is a namespace of its own,
// so every node can use it.
const metricsPort = "127.0.0.1:9654"

// metricsDaemonTable is daemonTable with metrics served.
const metricsDaemonTable = "[daemon]\nmetrics_listen = \"" + metricsPort + "\"\ncontrol_socket = \"@SOCKET@\"\nstate_dir = \"@STATE@\"\n"

// TestSpreadTopology runs configs/spread.toml as shipped, on nodes with
// its addresses: three nodes, three VIPs, each node master of one by the
// instances' order, each checking a haproxy stand-in. A client pings every
// VIP and the test tells who answers by the MAC the client resolved the VIP
// to. cp-1 is then powered off (vipd killed, its cable cut: killed alone
// it would leave its VIP bound and answering) and each VIP must be served
// by the next node in its order; the metrics of the nodes must say the
// same.
func TestSpreadTopology(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	lab.RequireCommand(t, "ping")
	var hosts []*lab.Host
	for i := 1; i <= 3; i++ {
		hosts = append(hosts, l.AddHost(fmt.Sprintf("cp-%d", i), fmt.Sprintf("198.51.100.1%d/24", i)))
	}
	client := l.AddHost("client", "198.51.100.50/24")
	for _, h := range hosts {
		acceptTCP(t, h, "127.0.0.1:8443") // haproxy
	}
	cfg := shippedConfig(t, "spread.toml", metricsDaemonTable)
	procs := make(map[string]*proc)
	for _, h := range hosts {
		procs[h.Name()] = startVipd(t, h, cfg)
	}

	vips := []struct {
		name string
		vrid int
		addr netip.Addr
	}{
		{"web-a", 61, netip.MustParseAddr("198.51.100.101")},
		{"web-b", 62, netip.MustParseAddr("198.51.100.102")},
		{"web-c", 63, netip.MustParseAddr("198.51.100.103")},
	}
	// check waits until each VIP is held by want[its name] alone among
	// alive, and returns when that was; then it checks that the client
	// reaches each VIP there, and that the metrics of every alive node
	// agree.
	check := func(when string, want map[string]string, alive []*lab.Host) time.Time {
		t.Helper()
		for _, v := range vips {
			// Start-up: checks rise in 2 × 200ms, then 3 adverts of
			// 1s are missed before the first master is chosen.
			waitHolder(t, 8*time.Second, v.addr, want[v.name], alive...)
		}
		placed := time.Now()
		for _, v := range vips {
			by := answeredBy(t, client, v.addr, hosts, want[v.name])
			t.Logf("%s: %s %v bound on %v, answered by %s", when, v.name, v.addr, holders(t, v.addr, hosts...), by)
			if by != want[v.name] {
				t.Errorf("%s: %s answered by %s, want %s", when, v.name, by, want[v.name])
			}
		}
		for _, h := range alive {
			m := scrape(t, h)
			for _, v := range vips {
				router := map[string]string{"vrrp_instance": v.name, "family": "ipv4", "vrid": strconv.Itoa(v.vrid), "interface": "eth0"}
				state := "backup"
				if want[v.name] == h.Name() {
					state = "master"
				}
				for _, s := range []string{"master", "backup"} {
					wantValue := 0.0
					if s == state {
						wantValue = 1
					}
					if got, ok := m.value(metrics.MetricInstanceState, withLabel(router, "state", s)); !ok || got != wantValue {
						t.Errorf("%s: %s on %s: %s{state=%q} = %v (present %v), want %v", when, v.name, h.Name(), metrics.MetricInstanceState, s, got, ok, wantValue)
					}
				}
				// A master sends adverts, a backup hears them.
				counter := metrics.MetricAdvertsReceived
				if state == "master" {
					counter = metrics.MetricAdvertsSent
				}
				if got, _ := m.value(counter, router); got < 1 {
					t.Errorf("%s: %s on %s (%s): %s = %v, want at least 1", when, v.name, h.Name(), state, counter, got)
				}
			}
			for _, r := range vrrp.DropReasons() {
				if _, ok := m.value(metrics.MetricPacketsDropped, map[string]string{"interface": "eth0", "family": "ipv4", "reason": r.String()}); !ok {
					t.Errorf("%s: %s has no %s{reason=%q}", when, h.Name(), metrics.MetricPacketsDropped, r)
				}
			}
			if got, _ := m.value(metrics.MetricCheckState, map[string]string{"check": "haproxy", "state": "healthy"}); got != 1 {
				t.Errorf("%s: %s: %s{check=\"haproxy\",state=\"healthy\"} = %v, want 1", when, h.Name(), metrics.MetricCheckState, got)
			}
		}
		return placed
	}

	check("at start", map[string]string{"web-a": "cp-1", "web-b": "cp-2", "web-c": "cp-3"}, hosts)

	// Power cp-1 off. web-a's order is cp-1, cp-3, cp-2: cp-3 takes it,
	// not cp-2, which [cluster] order would have chosen.
	off := time.Now()
	procs["cp-1"].kill()
	hosts[0].LinkDown(t)
	placed := check("cp-1 off", map[string]string{"web-a": "cp-3", "web-b": "cp-2", "web-c": "cp-3"}, hosts[1:])
	t.Logf("cp-1 off: every VIP in place again after %v", placed.Sub(off).Round(time.Millisecond))
	if hosts[0].HasAddr(t, "eth0", vips[0].addr) {
		t.Logf("cp-1 (killed, cable cut) still has %v bound: only the cut cable keeps it from answering", vips[0].addr)
	}
}

// shippedConfig writes configs/name with the [daemon] table daemon
// appended, and returns its path. replace are pairs of old and new text,
// each old text required in the file: the lab's changes to it, which fail
// loudly when the file changes.
func shippedConfig(t testing.TB, name, daemon string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if regexp.MustCompile(`(?m)^\[daemon\]`).MatchString(text) {
		t.Fatalf("configs/%s has a [daemon] table: the lab needs its own", name)
	}
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("configs/%s lacks %q", name, replace[i])
		}
		text = strings.ReplaceAll(text, replace[i], replace[i+1])
	}
	return writeConfig(t, text+"\n"+daemon)
}

// acceptTCP listens on addr inside h's namespace and accepts connections
// until the test ends, as a service that is up does.
func acceptTCP(t testing.TB, h *lab.Host, addr string) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, h.Name(), err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// answeredBy pings vip three times from client and returns the host that
// answered: the one whose MAC the client resolved vip to. It fails t unless
// every ping is answered. Before pinging, it waits briefly for the client's
// ARP entry to name want, which a move's gratuitous ARP does: a client
// that talked to the old master must follow.
func answeredBy(t *testing.T, client *lab.Host, vip netip.Addr, hosts []*lab.Host, want string) string {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if by := resolvedTo(t, client, vip, hosts); by == "" || by == want {
			break // no entry yet, or the right one
		}
	}
	out, err := client.Exec(t.Context(), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", vip.String()).CombinedOutput()
	if !strings.Contains(string(out), "3 packets transmitted, 3 received") {
		t.Errorf("ping %v from %s: %v\n%s", vip, client.Name(), err, out)
	}
	return resolvedTo(t, client, vip, hosts)
}

// resolvedTo returns the host whose MAC client's ARP cache holds for addr,
// the MAC itself if it is no host's, or "" without an entry.
func resolvedTo(t *testing.T, client *lab.Host, addr netip.Addr, hosts []*lab.Host) string {
	t.Helper()
	n, ok := client.Neighbour(t, addr)
	if !ok || len(n.HardwareAddr) == 0 {
		return ""
	}
	for _, h := range hosts {
		if h.HardwareAddr().String() == n.HardwareAddr.String() {
			return h.Name()
		}
	}
	return n.HardwareAddr.String()
}

// A metricSample is one series of the Prometheus text format.
type metricSample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrapedMetrics are the metrics of one scrape.
type scrapedMetrics []metricSample

// value returns the value of the series name whose labels include labels,
// and whether there is one. More than one is a mistake of the caller.
func (m scrapedMetrics) value(name string, labels map[string]string) (float64, bool) {
	var v float64
	n := 0
outer:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for k, want := range labels {
			if s.labels[k] != want {
				continue outer
			}
		}
		v, n = s.value, n+1
	}
	if n > 1 {
		panic(fmt.Sprintf("%d series %s%v: the labels select more than one", n, name, labels))
	}
	return v, n == 1
}

// withLabel returns a copy of labels with k set to v.
func withLabel(labels map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for k, v := range labels {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// scrape fetches the metrics of the vipd in h, over a connection opened in
// h's namespace, retrying for a few seconds while the endpoint comes up.
func scrape(t testing.TB, h *lab.Host) scrapedMetrics {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := h.Do(func() (err error) {
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var lastErr error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get("http://" + metricsPort + "/metrics")
		if err != nil {
			lastErr = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("metrics of %s: %s %v\n%s", h.Name(), resp.Status, err, body)
		}
		m, err := parseMetrics(string(body))
		if err != nil {
			t.Fatalf("metrics of %s: %v", h.Name(), err)
		}
		return m
	}
	t.Fatalf("metrics of %s: %v", h.Name(), lastErr)
	return nil
}

// seriesLine is a sample line of the text format: a name, labels perhaps,
// a value (and no timestamp: vipd exports none).
var (
	seriesLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?`)
)

// parseMetrics reads the Prometheus text exposition format.
func parseMetrics(text string) (scrapedMetrics, error) {
	var m scrapedMetrics
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		g := seriesLine.FindStringSubmatch(line)
		if g == nil {
			return nil, fmt.Errorf("bad line %q", line)
		}
		v, err := strconv.ParseFloat(g[3], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %w", line, err)
		}
		s := metricSample{name: g[1], labels: make(map[string]string), value: v}
		rest := g[2]
		for _, p := range labelPair.FindAllStringSubmatchIndex(rest, -1) {
			s.labels[rest[p[2]:p[3]]] = rest[p[4]:p[5]]
		}
		m = append(m, s)
	}
	return m, sc.Err()
}
