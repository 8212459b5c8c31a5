package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/health"
)

// examples is where the example configuration files are, relative to this
// package.
const examples = "../../configs"

// TestExamples parses every example, resolves it for every node and
// reports its timing, which must raise no warning: the examples are meant
// to be copied.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examples, "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"vipd.toml", "control-plane.toml", "load-balancers.toml", "spread.toml", "ingress.toml", "unicast.toml", "keepalived-v2.toml", "dual-stack.toml", "bgp.toml", "haproxy-process.toml"} {
		if !slices.Contains(files, filepath.Join(examples, want)) {
			t.Errorf("configs/%s is missing", want)
		}
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c, err := Load(file)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			for _, node := range nodeNames(c) {
				insts, err := c.ForNode(node)
				if err != nil {
					t.Fatalf("ForNode(%q): %v", node, err)
				}
				for _, inst := range insts {
					if inst.Priority == 0 {
						t.Errorf("node %q: instance %q has no priority", node, inst.Name)
					}
					for _, f := range inst.Families() {
						if inst.Unicast && len(f.UnicastPeers) == 0 {
							t.Errorf("node %q: unicast instance %q has no %s peer", node, inst.Name, family(f.IPv6))
						}
					}
				}
			}

			var b strings.Builder
			if err := c.Report(&b); err != nil {
				t.Fatalf("Report: %v", err)
			}
			report := b.String()
			for _, inst := range c.Instances {
				head := fmt.Sprintf("\ninstance %q vrid %d ", inst.Name, inst.VRID)
				if inst.Routed() {
					head = fmt.Sprintf("\ninstance %q announced ", inst.Name)
				}
				if !strings.Contains(report, head) {
					t.Errorf("the report has no instance %q:\n%s", inst.Name, report)
				}
			}
			if strings.Contains(report, "warning: ") {
				t.Errorf("the report warns:\n%s", report)
			}
		})
	}
}

// masters returns, for each node, the instances it has the top priority of.
func masters(t *testing.T, c *Config) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, node := range nodeNames(c) {
		insts, err := c.ForNode(node)
		if err != nil {
			t.Fatalf("ForNode(%q): %v", node, err)
		}
		for _, inst := range insts {
			if inst.Priority == FirstPriority {
				out[node] = append(out[node], inst.Name)
			}
		}
	}
	return out
}

func TestExampleControlPlane(t *testing.T) {
	c := load(t, "control-plane.toml")
	if got := c.Instances[0].AdvertInterval; got != time.Second {
		t.Errorf("advert interval %s, want 1s", got)
	}
	wantChecks := []health.Spec{{
		Name:         "apiserver",
		Type:         health.TypeHTTPS,
		URL:          "https://127.0.0.1:6443/readyz",
		CAFile:       "/etc/kubernetes/pki/ca.crt",
		ServerName:   "kubernetes",
		ExpectStatus: []int{200},
		Interval:     200 * time.Millisecond,
		Timeout:      150 * time.Millisecond,
		Rise:         2,
		Fall:         2,
	}}
	if diff := cmp.Diff(wantChecks, c.Checks); diff != "" {
		t.Errorf("checks (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]health.Track{{Check: "apiserver"}}, c.Instances[0].Track); diff != "" {
		t.Errorf("track (-want +got)\n%s", diff)
	}
	var b strings.Builder
	if err := c.Report(&b); err != nil {
		t.Fatalf("Report: %v", err)
	}
	// 2 × 200ms + 150ms + (256-240)/256 × 1s
	line := "  check apiserver fails on cp-1: VIP moves to cp-2 within 613ms (fall 2 × 200ms + timeout 150ms + skew 63ms of cp-2)\n"
	if !strings.Contains(b.String(), line) {
		t.Errorf("the report lacks %q:\n%s", line, b.String())
	}
	want := map[string][]string{"cp-1": {"kube-apiserver"}}
	if diff := cmp.Diff(want, masters(t, c)); diff != "" {
		t.Errorf("masters (-want +got)\n%s", diff)
	}
}

// ranking returns, for each instance, its nodes from the highest priority
// to the lowest: the order in which they take the VIP over.
func ranking(t *testing.T, c *Config) map[string][]string {
	t.Helper()
	type ranked struct {
		node string
		prio uint8
	}
	byInst := make(map[string][]ranked)
	for _, node := range nodeNames(c) {
		insts, err := c.ForNode(node)
		if err != nil {
			t.Fatalf("ForNode(%q): %v", node, err)
		}
		for _, inst := range insts {
			byInst[inst.Name] = append(byInst[inst.Name], ranked{node, inst.Priority})
		}
	}
	out := make(map[string][]string)
	for name, rs := range byInst {
		slices.SortStableFunc(rs, func(a, b ranked) int { return int(b.prio) - int(a.prio) })
		for _, r := range rs {
			out[name] = append(out[name], r.node)
		}
	}
	return out
}

// reportHas fails t unless the report of c has line.
func reportHas(t *testing.T, c *Config, line string) {
	t.Helper()
	var b strings.Builder
	if err := c.Report(&b); err != nil {
		t.Fatalf("Report: %v", err)
	}
	if !strings.Contains(b.String(), line) {
		t.Errorf("the report lacks %q:\n%s", line, b.String())
	}
}

func TestExampleSpread(t *testing.T) {
	c := load(t, "spread.toml")
	want := map[string][]string{"cp-1": {"web-a"}, "cp-2": {"web-b"}, "cp-3": {"web-c"}}
	if diff := cmp.Diff(want, masters(t, c)); diff != "" {
		t.Errorf("masters (-want +got)\n%s", diff)
	}
	// Each VIP fails over to a different node: one failure leaves no
	// survivor with all three.
	wantRanks := map[string][]string{
		"web-a": {"cp-1", "cp-3", "cp-2"},
		"web-b": {"cp-2", "cp-1", "cp-3"},
		"web-c": {"cp-3", "cp-2", "cp-1"},
	}
	if diff := cmp.Diff(wantRanks, ranking(t, c)); diff != "" {
		t.Errorf("ranking (-want +got)\n%s", diff)
	}
	for _, inst := range c.Instances {
		if diff := cmp.Diff([]health.Track{{Check: "haproxy"}}, inst.Track); diff != "" {
			t.Errorf("instance %q: track (-want +got)\n%s", inst.Name, diff)
		}
	}
	reportHas(t, c, "  check haproxy fails on cp-1: VIP moves to cp-3 within 613ms (fall 2 × 200ms + timeout 150ms + skew 63ms of cp-3)\n")
}

func TestExampleLoadBalancers(t *testing.T) {
	c := load(t, "load-balancers.toml")
	wantChecks := []health.Spec{{
		Name:     "haproxy",
		Type:     health.TypeTCP,
		Address:  "127.0.0.1:8443",
		Interval: 200 * time.Millisecond,
		Timeout:  150 * time.Millisecond,
		Rise:     2,
		Fall:     2,
	}}
	if diff := cmp.Diff(wantChecks, c.Checks); diff != "" {
		t.Errorf("checks (-want +got)\n%s", diff)
	}
	inst := c.Instances[0]
	if inst.Preempt {
		t.Error("preempt = true: a recovered lb-1 would move the VIP a second time")
	}
	if diff := cmp.Diff([]health.Track{{Check: "haproxy"}}, inst.Track); diff != "" {
		t.Errorf("track (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"kube-apiserver": {"lb-1", "lb-2"}}, ranking(t, c)); diff != "" {
		t.Errorf("ranking (-want +got)\n%s", diff)
	}
	reportHas(t, c, "  check haproxy fails on lb-1: VIP moves to lb-2 within 613ms (fall 2 × 200ms + timeout 150ms + skew 63ms of lb-2)\n")
}

func TestExampleHaproxyProcess(t *testing.T) {
	c := load(t, "haproxy-process.toml")
	wantChecks := []health.Spec{{
		Name:        "haproxy",
		Type:        health.TypeProcess,
		Process:     "/usr/sbin/haproxy",
		FullCommand: true,
		Params:      []string{"-Ws", "-f", "/etc/haproxy/haproxy.cfg"},
		ParamMatch:  health.ParamPartial,
		Quorum:      1,
		Interval:    time.Second,
		Timeout:     750 * time.Millisecond,
		Rise:        1,
		Fall:        1,
	}}
	if diff := cmp.Diff(wantChecks, c.Checks); diff != "" {
		t.Errorf("checks (-want +got)\n%s", diff)
	}
	reportHas(t, c, "  check haproxy fails on lb-1: VIP moves to lb-2 within 63ms (an exit seen at once, then fall 1 back-to-back scans + skew 63ms of lb-2)\n")
}

func TestExampleIngress(t *testing.T) {
	c := load(t, "ingress.toml")
	// w-4 is every VIP's second choice: one failure leaves each VIP on a
	// node of its own.
	want := map[string][]string{
		"ingress-a": {"w-1", "w-4", "w-2", "w-3"},
		"ingress-b": {"w-2", "w-4", "w-1", "w-3"},
		"ingress-c": {"w-3", "w-4", "w-1", "w-2"},
	}
	if diff := cmp.Diff(want, ranking(t, c)); diff != "" {
		t.Errorf("ranking (-want +got)\n%s", diff)
	}
	wantChecks := []health.Spec{{
		Name:         "ingress",
		Type:         health.TypeHTTP,
		URL:          "http://127.0.0.1:10254/healthz",
		ExpectStatus: []int{200},
		Interval:     200 * time.Millisecond,
		Timeout:      150 * time.Millisecond,
		Rise:         2,
		Fall:         2,
	}}
	if diff := cmp.Diff(wantChecks, c.Checks); diff != "" {
		t.Errorf("checks (-want +got)\n%s", diff)
	}
	for _, inst := range c.Instances {
		if diff := cmp.Diff([]health.Track{{Check: "ingress"}}, inst.Track); diff != "" {
			t.Errorf("instance %q: track (-want +got)\n%s", inst.Name, diff)
		}
	}
}

func TestExampleUnicast(t *testing.T) {
	c := load(t, "unicast.toml")
	insts, err := c.ForNode("edge-2")
	if err != nil {
		t.Fatal(err)
	}
	want := []Family{{
		VIPs:          insts[0].VIPs,
		UnicastPeers:  addrs("203.0.113.11", "203.0.113.13"),
		UnicastSource: addr("203.0.113.12"),
	}}
	if diff := cmp.Diff(want, insts[0].Families(), cmpAddrs); diff != "" {
		t.Errorf("Families (-want +got)\n%s", diff)
	}
}

func TestExampleKeepalived(t *testing.T) {
	c := load(t, "keepalived-v2.toml")
	for _, inst := range c.Instances {
		if inst.Version != 2 || inst.AuthPassword == "" {
			t.Errorf("instance %q: version %d, password %q; want VRRPv2 with a password", inst.Name, inst.Version, inst.AuthPassword)
		}
	}
}

func TestExampleDualStack(t *testing.T) {
	c := load(t, "dual-stack.toml")
	insts, err := c.ForNode("cp-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range insts {
		if n := len(inst.Families()); n != 2 {
			t.Errorf("instance %q has %d families, want IPv4 and IPv6", inst.Name, n)
		}
	}
}

func TestExampleBGP(t *testing.T) {
	c := load(t, "bgp.toml")
	if c.BGP == nil || c.BGP.HoldTime != 3*time.Second || len(c.BGP.Peers) != 2 {
		t.Fatalf("[bgp]: %+v", c.BGP)
	}
	if got := c.Instances[0]; got.Announce != AnnounceBGP || got.Interface != "lo" || got.WithdrawDelay != DefaultWithdrawDelay {
		t.Errorf("instance: announce %q on %q, withdraw delay %v", got.Announce, got.Interface, got.WithdrawDelay)
	}
	for node, want := range map[string]uint8{"cp-1": 250, "cp-2": 240, "cp-3": 230} {
		insts, err := c.ForNode(node)
		if err != nil {
			t.Fatal(err)
		}
		if insts[0].Priority != want {
			t.Errorf("%s: priority %d, want %d", node, insts[0].Priority, want)
		}
		if id, err := c.RouterID(node); err != nil || !id.IsValid() {
			t.Errorf("%s: router ID %v, %v", node, id, err)
		}
	}
	var b strings.Builder
	if err := c.Report(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cp-1 dies: routers move the VIP to cp-2 within 3s (hold time; GoBGP has no BFD)",
		"check apiserver fails on cp-1: its route is withdrawn within 550ms",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestReferenceDocumentsEveryKey checks that configs/vipd.toml shows every
// key the parser knows, set or commented out.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(examples, "vipd.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"cluster", "cluster.node", "daemon", "check", "instance", "bgp", "bgp.peer"} {
		keys, _ := tableKeys(table)
		for _, key := range keys {
			if key == "node" || key == "peer" {
				continue // the [[cluster.node]] and [[bgp.peer]] tables
			}
			if !regexp.MustCompile(`(?m)^#? *` + key + ` = `).Match(data) {
				t.Errorf("configs/vipd.toml does not show %s key %q", tableName(table), key)
			}
		}
	}
	// The elements of track are inline tables.
	keys, _ := tableKeys("instance.track")
	for _, key := range keys {
		if !regexp.MustCompile(`(?m)^track = \[.*[{,] *` + key + ` = `).Match(data) {
			t.Errorf("configs/vipd.toml does not show track key %q", key)
		}
	}
}

func load(t *testing.T, name string) *Config {
	t.Helper()
	c, err := Load(filepath.Join(examples, name))
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	return c
}
