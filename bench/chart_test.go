package bench

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTakeoverSVG(t *testing.T) {
	var pts []ChartPoint
	for _, ivl := range []time.Duration{time.Second, 10 * time.Millisecond, 100 * time.Millisecond} {
		ms := float64(ivl.Milliseconds())
		bound := 3*ms + ms*16/256
		pts = append(pts, ChartPoint{
			Interval:   ivl,
			Bound:      bound,
			Vipd:       Summary{N: 5, Median: bound + 0.5, Min: bound + 0.2, Max: bound + 1},
			Keepalived: Summary{N: 5, Median: bound + 1.5, Min: bound + 0.4, Max: bound + 3},
		})
	}
	svg := TakeoverSVG(pts)

	// Well-formed XML, and count what is drawn.
	count := make(map[string]int)
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			count[se.Name.Local]++
		}
	}
	// Two panels × two daemons × three intervals: a point each; two
	// lines per daemon and panel, plus the bound in the left panel.
	want := map[string]int{"circle": 12, "polyline": 5}
	got := map[string]int{"circle": count["circle"], "polyline": count["polyline"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("elements (-want +got)\n%s", diff)
	}
	// Ticks in interval order, whatever the order of the points.
	i10, i100, i1 := strings.Index(svg, ">10ms<"), strings.Index(svg, ">100ms<"), strings.Index(svg, ">1s<")
	if i10 < 0 || !(i10 < i100 && i100 < i1) {
		t.Errorf("interval ticks missing or out of order")
	}
	if !strings.Contains(svg, "<title>100ms: median 0.50 ms (0.20–1.00)</title>") {
		t.Errorf("no tooltip with vipd's time over the bound at 100ms:\n%s", svg)
	}
}

func TestTakeoverSVGEmpty(t *testing.T) {
	if err := xml.Unmarshal([]byte(TakeoverSVG(nil)), new(struct{})); err != nil {
		t.Fatalf("empty chart is not well-formed: %v", err)
	}
}

func TestNiceStep(t *testing.T) {
	for raw, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.2: 2, 4: 5, 7: 10, 23: 50, 0: 1} {
		if got := niceStep(raw); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
}
