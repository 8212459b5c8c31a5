package bench

import (
	"math"
	"slices"
)

// A Summary describes repeated measurements of one figure by their median,
// minimum and maximum. N is 0 for a figure that was not measured.
type Summary struct {
	N                int
	Median, Min, Max float64
}

// Summarize returns the summary of xs. The median of an even count is the
// mean of the two middle values.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// Measured reports whether the summary holds at least one measurement.
func (s Summary) Measured() bool { return s.N > 0 }
