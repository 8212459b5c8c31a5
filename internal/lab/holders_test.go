package lab

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSummarizeHolders(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// samples holds each mask for ms milliseconds, a sample every 5 ms,
	// and ends with one more sample of the last mask.
	samples := func(steps ...[2]int) []HolderSample {
		var out []HolderSample
		at := 0
		for _, s := range steps {
			for end := at + s[0]; at < end; at += 5 {
				out = append(out, HolderSample{At: t0.Add(time.Duration(at) * time.Millisecond), Mask: uint64(s[1])})
			}
		}
		last := out[len(out)-1]
		return append(out, HolderSample{At: t0.Add(time.Duration(at) * time.Millisecond), Mask: last.Mask})
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name    string
		samples []HolderSample
		want    Holders
	}{
		{
			name:    "one holder throughout",
			samples: samples([2]int{100, 0b01}),
			want:    Holders{Time: [3]time.Duration{0, ms(100), 0}, Samples: 21, Slowest: ms(5)},
		},
		{
			name: "takeover with a gap, then a handover with an overlap",
			// cp-1, nobody for 300 ms, cp-2, both for 10 ms, cp-1.
			samples: samples([2]int{50, 0b01}, [2]int{300, 0}, [2]int{100, 0b10}, [2]int{10, 0b11}, [2]int{40, 0b01}),
			want: Holders{Time: [3]time.Duration{ms(300), ms(190), ms(10)}, LongestNone: ms(300), LongestTwo: ms(10),
				Acquired: 2, Samples: 101, Slowest: ms(5)},
		},
		{
			name:    "two stretches of two holders: the longest counts",
			samples: samples([2]int{20, 0b01}, [2]int{15, 0b11}, [2]int{20, 0b01}, [2]int{40, 0b11}, [2]int{20, 0b01}),
			want: Holders{Time: [3]time.Duration{0, ms(60), ms(55)}, LongestTwo: ms(40),
				Acquired: 2, Samples: 24, Slowest: ms(5)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SummarizeHolders(tt.samples)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestNeighbourMoves(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	samples := []NeighbourSample{
		{at(0), ""}, {at(5), "a"}, {at(10), "a"}, {at(15), "b"}, {at(20), ""}, {at(25), "b"}, {at(30), "a"}, {at(35), "a"},
	}
	moves, on := NeighbourMoves(samples)
	if moves != 2 {
		t.Errorf("moves = %d, want 2 (a to b, b to a; b unresolved for a while is no move)", moves)
	}
	want := map[string]time.Duration{"a": 15 * time.Millisecond, "b": 10 * time.Millisecond}
	if diff := cmp.Diff(want, on); diff != "" {
		t.Errorf("time on each MAC (-want +got)\n%s", diff)
	}
}

func TestMisdirected(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// a holds until 20, b from 10 to 30, a again from 30.
	holders := []HolderSample{{at(0), 0b01}, {at(10), 0b11}, {at(20), 0b10}, {at(30), 0b01}, {at(40), 0b01}}
	// The client follows b at 15 and stays there until 35.
	neigh := []NeighbourSample{{at(0), "a"}, {at(15), "b"}, {at(25), "b"}, {at(30), "b"}, {at(35), "a"}, {at(40), "a"}}
	if got, want := Misdirected(neigh, holders, []string{"a", "b"}), 5*time.Millisecond; got != want {
		t.Errorf("Misdirected = %v, want %v (on b from 30 to 35, after b let go)", got, want)
	}
}
