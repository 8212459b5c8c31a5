package health

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEffective(t *testing.T) {
	type result struct {
		Priority       uint8
		Fault, Pending bool
	}
	h, u, k := Healthy, Unhealthy, Unknown
	tests := []struct {
		name   string
		base   uint8
		tracks []Track
		states map[string]State
		want   result
	}{
		{name: "nothing tracked", base: 100, want: result{Priority: 100}},
		{
			name:   "all healthy",
			base:   100,
			tracks: []Track{{"api", 0}, {"lb", -30}},
			states: map[string]State{"api": h, "lb": h},
			want:   result{Priority: 100},
		},
		{
			name:   "weight 0 failing is a fault",
			base:   100,
			tracks: []Track{{"api", 0}, {"lb", -30}},
			states: map[string]State{"api": u, "lb": h},
			want:   result{Priority: 100, Fault: true},
		},
		{
			name:   "negative weight lowers while failing",
			base:   100,
			tracks: []Track{{"api", 0}, {"lb", -30}},
			states: map[string]State{"api": h, "lb": u},
			want:   result{Priority: 70},
		},
		{
			name:   "negative weights add up",
			base:   250,
			tracks: []Track{{"a", -30}, {"b", -20}, {"c", -100}},
			states: map[string]State{"a": u, "b": u, "c": h},
			want:   result{Priority: 200},
		},
		{
			name:   "positive weight raises while healthy",
			base:   100,
			tracks: []Track{{"a", 20}, {"b", 5}},
			states: map[string]State{"a": h, "b": u},
			want:   result{Priority: 120},
		},
		{
			name:   "clamped to 1",
			base:   10,
			tracks: []Track{{"a", -254}},
			states: map[string]State{"a": u},
			want:   result{Priority: 1},
		},
		{
			name:   "clamped to 254",
			base:   250,
			tracks: []Track{{"a", 50}},
			states: map[string]State{"a": h},
			want:   result{Priority: 254},
		},
		{
			name:   "owner stays 255 while all is healthy",
			base:   255,
			tracks: []Track{{"a", -30}, {"b", 20}},
			states: map[string]State{"a": h, "b": h},
			want:   result{Priority: 255},
		},
		{
			name:   "owner without tracks",
			base:   255,
			want:   result{Priority: 255},
			states: map[string]State{"unrelated": u},
		},
		{
			name:   "owner loses 255 when a check fails",
			base:   255,
			tracks: []Track{{"a", -30}},
			states: map[string]State{"a": u},
			want:   result{Priority: 225},
		},
		{
			name:   "owner with a failing weight 0 check is in fault",
			base:   255,
			tracks: []Track{{"a", 0}, {"b", -30}},
			states: map[string]State{"a": u, "b": h},
			want:   result{Priority: 254, Fault: true},
		},
		{
			name:   "unknown counts as failing and is pending",
			base:   100,
			tracks: []Track{{"a", 0}, {"b", -30}, {"c", 20}},
			states: map[string]State{"a": k, "b": k, "c": k},
			want:   result{Priority: 70, Fault: true, Pending: true},
		},
		{
			name:   "absent is unknown",
			base:   100,
			tracks: []Track{{"link:eth0", -10}},
			states: map[string]State{},
			want:   result{Priority: 90, Pending: true},
		},
		{
			name:   "pending with one check known",
			base:   100,
			tracks: []Track{{"a", -10}, {"b", -10}},
			states: map[string]State{"a": h, "b": k},
			want:   result{Priority: 90, Pending: true},
		},
		{
			name:   "base 0 comes out as 1",
			base:   0,
			want:   result{Priority: 1},
			states: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			got.Priority, got.Fault, got.Pending = Effective(tt.base, tt.tracks, tt.states)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
