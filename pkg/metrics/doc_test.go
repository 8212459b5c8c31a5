package metrics

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/pkg/vrrp"
)

// docTable renders defs as the table of the package documentation.
func docTable() []string {
	lines := []string{"| Metric | Type | Labels | Help |", "|---|---|---|---|"}
	for _, d := range defs {
		typ := "gauge"
		if d.typ == prometheus.CounterValue {
			typ = "counter"
		}
		lines = append(lines, "| "+d.name+" | "+typ+" | "+strings.Join(d.labels, ", ")+" | "+d.help+" |")
	}
	return lines
}

// docBlock returns the lines of doc.go's comment that start with prefix
// after "//\t", the marker of a preformatted block.
func docBlock(t *testing.T, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		if s, ok := strings.CutPrefix(strings.TrimRight(l, "\n"), "//\t"); ok && strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func TestDocTable(t *testing.T) {
	want := docTable()
	if diff := cmp.Diff(want, docBlock(t, "|")); diff != "" {
		t.Fatalf("doc.go's metric table differs from the metrics defined (-want +got)\n%s\nwant:\n//\t%s",
			diff, strings.Join(want, "\n//\t"))
	}
}

// TestDocDefsGathered checks that the defined metrics are exactly the vipd_
// metrics a full snapshot exports and that every name has its constant.
func TestDocDefsGathered(t *testing.T) {
	reg := newRegistry(t, fullSource(), BuildInfo{Version: "v0.3.0"})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "vipd_") {
			got = append(got, mf.GetName())
		}
	}
	want := names()
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("gathered vipd_ metrics differ from the defined ones (-want +got)\n%s", diff)
	}

	consts := []string{
		MetricBuildInfo, MetricInstanceState, MetricInstanceStateSince, MetricInstancePriority,
		MetricInstanceBasePriority, MetricInstanceTransitions, MetricAdvertsSent, MetricAdvertsReceived,
		MetricAdvertSendErrors, MetricAnnouncements, MetricVIPBindErrors, MetricMasterConflicts,
		MetricVRIDCollisions, MetricVIPGuardRestored, MetricVIPGuardRemoved, MetricLateTimers,
		MetricSyncGroupForced, MetricPacketsDropped,
		MetricCheckState, MetricCheckStateSince, MetricCheckDuration, MetricCheckProbes,
		MetricCheckConsecutiveFailures,
		MetricHookRuns, MetricHookFailures, MetricHookTimeouts, MetricHookEventsDropped,
		MetricRoutedAnnounced, MetricRoutedWithdrawals,
		MetricBGPSessionEstablished, MetricBGPRoutesAdvertised, MetricBGPSessionUps,
	}
	if diff := cmp.Diff(names(), consts); diff != "" {
		t.Fatalf("defined metrics differ from the Metric constants (-want +got)\n%s", diff)
	}
}

// TestDocDropReasons checks the list of reason label values in doc.go.
func TestDocDropReasons(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("//", "", "\n", " ").Replace(string(b))
	var rs []string
	for _, r := range vrrp.DropReasons() {
		rs = append(rs, r.String())
	}
	want := strings.Join(rs, ", ")
	if !strings.Contains(strings.Join(strings.Fields(doc), " "), "first scrape: "+want+".") {
		t.Fatalf("doc.go does not list the drop reasons %q", want)
	}
}
