package bench

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{"one", []float64{3}, Summary{N: 1, Median: 3, Min: 3, Max: 3}},
		{"odd, unsorted", []float64{5, 1, 4, 2, 3}, Summary{N: 5, Median: 3, Min: 1, Max: 5}},
		{"even: mean of the middle two", []float64{10, 1, 4, 2}, Summary{N: 4, Median: 3, Min: 1, Max: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if diff := cmp.Diff(tt.want, Summarize(tt.in)); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(in, tt.in); diff != "" {
				t.Fatalf("Summarize reordered its input (-before +after)\n%s", diff)
			}
		})
	}
}

func TestSummarizeNothing(t *testing.T) {
	s := Summarize(nil)
	if s.Measured() || !math.IsNaN(s.Median) {
		t.Fatalf("Summarize(nil) = %+v, want N 0 and NaN figures", s)
	}
}
