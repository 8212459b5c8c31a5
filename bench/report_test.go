package bench

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNumber(t *testing.T) {
	tests := map[float64]string{
		3062.5: "3062", 306.44: "306.4", 30.644: "30.64", 3.061: "3.06", 0.314: "0.31", -1.5: "-1.50",
	}
	for in, want := range tests {
		if got := Number(in); got != want {
			t.Errorf("Number(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		name   string
		row    Row
		want   float64
		wantOK bool
	}{
		{"both", Row{Vipd: Summary{N: 5, Median: 1}, Keepalived: Summary{N: 5, Median: 4}}, 0.25, true},
		{"keepalived not measured", Row{Vipd: Summary{N: 5, Median: 1}}, 0, false},
		{"keepalived zero", Row{Vipd: Summary{N: 5, Median: 1}, Keepalived: Summary{N: 5}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.row.Ratio()
			if diff := cmp.Diff([]any{tt.want, tt.wantOK}, []any{got, ok}); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	r := Report{
		Title: "vipd and keepalived",
		Intro: []string{"Measured today."},
		Rows: []Row{
			{Section: "Takeover", Name: "advert 100ms", Unit: "ms", Bound: 306.25,
				Vipd:       Summary{N: 5, Median: 307.0, Min: 306.5, Max: 308.0},
				Keepalived: Summary{N: 5, Median: 310.0, Min: 309.0, Max: 315.0},
				Target:     "≤ keepalived + 1 ms", Met: true},
			{Section: "Client", Name: "drain", Unit: "ms", Vipd: Summary{N: 5, Median: 10, Min: 9, Max: 11}, NA: "no drain"},
			{Section: "Takeover", Name: "advert 10ms", Unit: "ms", Bound: 30.63,
				Vipd:       Summary{N: 5, Median: 40, Min: 31, Max: 50},
				Keepalived: Summary{N: 5, Median: 32, Min: 31, Max: 33},
				Target:     "≤ keepalived + 1 ms"},
		},
		About: map[string]string{"Client": "Pings every 10 ms."},
		Notes: []string{"A note."},
	}
	md := r.Markdown()
	for _, want := range []string{
		"# vipd and keepalived\n\nMeasured today.\n",
		"| advert 100ms (ms) | 306.2 | **307.0** (306.5–308.0) | **310.0** (309.0–315.0) | +0.8 / +3.8 | 0.99 | met: ≤ keepalived + 1 ms |",
		"| advert 10ms (ms) | 30.63 | **40.00** (31.00–50.00) | **32.00** (31.00–33.00) | +9.4 / +1.4 | 1.25 | **missed**: ≤ keepalived + 1 ms |",
		"| drain (ms) | — | **10.00** (9.00–11.00) | n/a: no drain | — | — |  |",
		"## Targets: 1 met, 1 missed\n",
		"- **missed**: Takeover — advert 10ms: ≤ keepalived + 1 ms (vipd 40.00 ms, keepalived 32.00 ms)\n",
		"- A note.\n",
		"## Client\n\nPings every 10 ms.\n\n| Figure",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Sections keep the order of their first row: both takeover rows in
	// one table before the client table.
	if i, j := strings.Index(md, "## Takeover"), strings.Index(md, "## Client"); i < 0 || j < 0 || i > j || strings.Count(md, "## Takeover") != 1 {
		t.Errorf("sections out of order or repeated:\n%s", md)
	}
}
