package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// reportChecks are two checks: apiserver sees a failure within
// 2 × 200ms + 150ms = 550ms, haproxy (with the defaults) within
// 2 × 1s + 750ms = 2.75s.
const reportChecks = `
[[check]]
name = "apiserver"
type = "https"
url = "https://127.0.0.1:6443/readyz"
ca_file = "/etc/kubernetes/pki/ca.crt"
interval = "200ms"
timeout = "150ms"

[[check]]
name = "haproxy"
type = "tcp"
address = "127.0.0.1:8443"
`

// report parses src and returns its report without the header.
func report(t *testing.T, src string) string {
	t.Helper()
	c, err := Parse("vipd.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	var b strings.Builder
	if err := c.Report(&b); err != nil {
		t.Fatalf("Report: %v", err)
	}
	got, ok := strings.CutPrefix(b.String(), reportHeader)
	if !ok {
		t.Fatalf("the report does not start with its header:\n%s", b.String())
	}
	return got
}

func TestReport(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{
			// Times with advert 1s: skew of 240 is 16/256 s = 62.5ms,
			// its master down interval 3.0625s.
			name: "cluster",
			src: head + reportChecks + `
[[instance]]
name = "kube-apiserver"
vrid = 51
vips = ["192.0.2.100/24"]
track = [{ check = "apiserver" }, { check = "haproxy", weight = -30 }]
track_interfaces = ["eth1"]

[[instance]]
name = "ingress"
vrid = 52
version = 2
advert_interval = "2s"
vips = ["192.0.2.101/24"]
order = ["cp-3", "cp-1"]
track = [{ check = "apiserver" }]
`,
			want: `
instance "kube-apiserver" vrid 51 on eth0 (v3, advert 1s, preempt):
  node  priority  apiserver(fault)  haproxy(-30)
  cp-1  250       fault             220
  cp-2  240       fault             210
  cp-3  230       fault             200
  cp-1 (master) dies or loses eth0: VIP moves to cp-2 within 3.063s (master down interval of cp-2: 3 × advert 1s + skew 63ms)
  check apiserver fails on cp-1: VIP moves to cp-2 within 613ms (fall 2 × 200ms + timeout 150ms + skew 63ms of cp-2)
  check haproxy fails on cp-1: priority 250 → 220, VIP moves to cp-2 within 5.813s (fall 2 × 1s + timeout 750ms + master down interval of cp-2: 3 × advert 1s + skew 63ms)
  interface eth1 goes down on cp-1: VIP moves to cp-2 within 63ms (skew of cp-2)

instance "ingress" vrid 52 on eth0 (v2, advert 2s, preempt):
  node  priority  apiserver(fault)
  cp-3  250       fault
  cp-1  240       fault
  cp-2  230       fault
  cp-3 (master) dies or loses eth0: VIP moves to cp-1 within 6.063s (master down interval of cp-1: 3 × advert 2s + skew 63ms)
  check apiserver fails on cp-3: VIP moves to cp-1 within 613ms (fall 2 × 200ms + timeout 150ms + skew 63ms of cp-1)
`,
		},
		{
			// The backups are not in the file: the times are those of
			// the worst backup that takes over. Priority 1 has a skew
			// of 255/256 s; priority 101, the lowest above 100, 155/256 s.
			name: "without cluster",
			src: reportChecks + `
[[instance]]
name = "legacy"
vrid = 20
interface = "eth0"
version = 2
priority = 100
vips = ["192.0.2.50/24"]
track = [{ check = "apiserver" }, { check = "haproxy", weight = 20 }]
track_interfaces = ["bond1"]
`,
			want: `
instance "legacy" vrid 20 on eth0 (v2, advert 1s, preempt):
  node       priority  healthy  apiserver(fault)  haproxy(+20)
  this node  100       120      fault             100
  this node dies or loses eth0 while master: a backup takes over within 3.997s (master down interval: 3 × advert 1s + skew of the backup, at most 997ms)
  check apiserver fails on this node while master: a backup takes over within 1.547s (fall 2 × 200ms + timeout 150ms + skew of the backup, at most 997ms)
  check haproxy fails on this node while master: priority 120 → 100; a backup above 100 takes over within 6.356s (fall 2 × 1s + timeout 750ms + master down interval: 3 × advert 1s + skew of the backup, at most 606ms)
  interface bond1 goes down on this node while master: a backup takes over within 997ms (skew of the backup, at most 997ms)
`,
		},
		{
			name: "VIP on another interface and weighted interfaces",
			src: head + `
[[instance]]
name = "edge"
vrid = 53
vips = ["192.0.2.100/24", "203.0.113.10/24 dev eth1"]
track_interfaces = ["eth2 weight -20", "eth3 weight -5"]
`,
			want: `
instance "edge" vrid 53 on eth0 (v3, advert 1s, preempt):
  node  priority
  cp-1  250
  cp-2  240
  cp-3  230
  cp-1 (master) dies or loses eth0: VIP moves to cp-2 within 3.063s (master down interval of cp-2: 3 × advert 1s + skew 63ms)
  interface eth1 goes down on cp-1: VIP moves to cp-2 within 63ms (skew of cp-2)
  interface eth2 goes down on cp-1: priority 250 → 230, VIP moves to cp-2 within 3.063s (seen at once + master down interval of cp-2: 3 × advert 1s + skew 63ms)
  interface eth3 goes down on cp-1: priority 250 → 245, VIP stays (cp-2 has 240)
`,
		},
		{
			name: "single node",
			src: "[cluster]\ninterface = \"eth0\"\n" + nodes(1) + reportChecks + `
[[instance]]
name = "api"
vrid = 51
vips = ["198.51.100.100/24"]
track = [{ check = "apiserver" }, { check = "haproxy", weight = -30 }]
track_interfaces = ["eth1"]
`,
			want: `
instance "api" vrid 51 on eth0 (v3, advert 1s, preempt):
  node  priority  apiserver(fault)  haproxy(-30)
  n1    250       fault             220
  n1 (master) dies or loses eth0: the VIP goes down with it (no other node)
  check apiserver fails on n1: the VIP goes down within 550ms (fall 2 × 200ms + timeout 150ms; no other node)
  check haproxy fails on n1: priority 250 → 220, VIP stays (no other node)
  interface eth1 goes down on n1: the VIP goes down at once (no other node)
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, report(t, tt.src)); diff != "" {
				t.Fatalf("report (-want +got)\n%s", diff)
			}
		})
	}
}

func TestReportWarnings(t *testing.T) {
	// Each config defines only the checks it tracks, so that the warning
	// about a check tracked by no instance shows only where it is meant
	// to. Instances in head's cluster have cp-1 250, cp-2 240, cp-3 230.
	apiserver := chk("apiserver", httpsCheck, `interval = "200ms"`, `timeout = "150ms"`) // 550ms to see a failure
	haproxy := chk("haproxy", tcpCheck)                                                  // 2.75s
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "check slower than the adverts",
			src:  head + apiserver + api(`advert_interval = "100ms"`, `track = [{ check = "apiserver" }]`),
			want: []string{
				`warning: instance "api": check apiserver takes up to 550ms to see a failure (fall 2 × 200ms + timeout 150ms), longer than backups take to miss a dead master's adverts (3 × advert 100ms = 300ms): a failed service moves the VIP more slowly than a dead node`,
			},
		},
		{
			// 3 × 500ms + 300ms = 1.8s = 3 × 600ms
			name: "check as fast as the adverts",
			src: head + chk("slow", tcpCheck, `interval = "500ms"`, `timeout = "300ms"`, "fall = 3") +
				api(`advert_interval = "600ms"`, `track = [{ check = "slow" }]`),
		},
		{
			name: "check just slower than the adverts",
			src: head + chk("slow", tcpCheck, `interval = "500ms"`, `timeout = "300ms"`, "fall = 3") +
				api(`advert_interval = "590ms"`, `track = [{ check = "slow" }]`),
			want: []string{
				`warning: instance "api": check slow takes up to 1.8s to see a failure (fall 3 × 500ms + timeout 300ms), longer than backups take to miss a dead master's adverts (3 × advert 590ms = 1.77s): a failed service moves the VIP more slowly than a dead node`,
			},
		},
		{
			name: "slow check without cluster",
			src:  apiserver + haproxy + api(`interface = "eth0"`, "priority = 100", `advert_interval = "500ms"`, `track = [{ check = "haproxy", weight = -30 }, { check = "apiserver" }]`),
			want: []string{
				`warning: instance "api": check haproxy takes up to 2.75s to see a failure (fall 2 × 1s + timeout 750ms), longer than backups take to miss a dead master's adverts (3 × advert 500ms = 1.5s): a failed service moves the VIP more slowly than a dead node`,
			},
		},
		{
			name: "weight that does not cross the gap",
			src:  head + haproxy + api(`track = [{ check = "haproxy", weight = -10 }]`),
			want: []string{
				`warning: instance "api": check haproxy (weight -10) never moves the VIP from cp-1: failing lowers its priority from 250 to 240, not below the 240 of cp-2 (a gap of 10)`,
				`warning: instance "api": check haproxy (weight -10) never moves the VIP from cp-2: failing lowers its priority from 240 to 230, not below the 230 of cp-3 (a gap of 10)`,
			},
		},
		{
			name: "weight that crosses the gap",
			src:  head + haproxy + api(`track = [{ check = "haproxy", weight = -11 }]`),
		},
		{
			name: "weight with equal priorities",
			src:  head + haproxy + api("priority = 100", `track = [{ check = "haproxy", weight = -1 }]`),
		},
		{
			name: "weight without preempt",
			src:  head + apiserver + haproxy + api("preempt = false", `track = [{ check = "apiserver" }, { check = "haproxy", weight = -30 }]`),
			want: []string{
				`warning: instance "api": check haproxy (weight -30) never moves the VIP: with preempt = false no backup takes over from a master that only lowers its priority; use weight 0 to put the master in fault, or preempt = true`,
			},
		},
		{
			name: "positive weights above 254",
			src:  head + haproxy + api("priority = 250", `track = [{ check = "haproxy", weight = 10 }]`),
			want: []string{
				`warning: instance "api": positive weights would raise the priority of cp-3 to 260, cp-2 to 260, cp-1 to 260, but priorities stop at 254: cp-3, cp-2, cp-1 tie there, and the highest address wins whatever their order`,
			},
		},
		{
			name: "positive weight above 254 on one node",
			src:  apiserver + haproxy + api(`interface = "eth0"`, "priority = 250", `track = [{ check = "haproxy", weight = 5 }, { check = "apiserver" }]`),
			want: []string{
				`warning: instance "api": positive weights would raise the priority of this node to 255, but priorities stop at 254`,
			},
		},
		{
			name: "check tracked by no instance",
			src:  head + apiserver + haproxy + api(`track = [{ check = "apiserver" }]`),
			want: []string{
				`warning: check "haproxy" is tracked by no instance: it runs, but moves no VIP`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := report(t, tt.src)
			var warnings []string
			for line := range strings.Lines(got) {
				if strings.HasPrefix(line, "warning: ") {
					warnings = append(warnings, strings.TrimSuffix(line, "\n"))
				}
			}
			if diff := cmp.Diff(tt.want, warnings); diff != "" {
				t.Fatalf("warnings (-want +got)\n%s\nreport:\n%s", diff, got)
			}
		})
	}
}

// TestReportElectionOrder checks that the rows follow the election: by
// priority, then by address, the higher first.
func TestReportElectionOrder(t *testing.T) {
	got := report(t, head+api("priority = 100"))
	want := `
instance "api" vrid 51 on eth0 (v3, advert 1s, preempt):
  node  priority
  cp-3  100
  cp-2  100
  cp-1  100
  cp-3 (master) dies or loses eth0: VIP moves to cp-2 within 3.61s (master down interval of cp-2: 3 × advert 1s + skew 610ms)
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("report (-want +got)\n%s", diff)
	}
}

type failingWriter struct{ n int }

var errWrite = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errWrite
	}
	w.n--
	return len(p), nil
}

func TestReportWriteError(t *testing.T) {
	c, err := Parse("vipd.toml", []byte(head+reportChecks+api(`track = [{ check = "apiserver" }]`)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for n := range 4 {
		if err := c.Report(&failingWriter{n: n}); !errors.Is(err, errWrite) {
			t.Errorf("Report to a writer failing after %d writes: got %v, want %v", n, err, errWrite)
		}
	}
}
