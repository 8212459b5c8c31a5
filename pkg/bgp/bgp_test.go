package bgp

import "testing"

func TestPrefFromPriority(t *testing.T) {
	for _, tc := range []struct {
		prio    uint8
		prepend bool
		want    Pref
	}{
		{250, false, Pref{MED: 5}},
		{240, false, Pref{MED: 15}},
		{10, false, Pref{MED: 245}},
		{254, false, Pref{MED: 1}},
		{250, true, Pref{MED: 5}},
		{254, true, Pref{MED: 1}},
		{240, true, Pref{MED: 15, Prepend: 1}},
		{235, true, Pref{MED: 20, Prepend: 2}},
		{10, true, Pref{MED: 245, Prepend: 24}},
	} {
		if got := PrefFromPriority(tc.prio, tc.prepend); got != tc.want {
			t.Errorf("PrefFromPriority(%d, %v) = %+v, want %+v", tc.prio, tc.prepend, got, tc.want)
		}
	}
}
