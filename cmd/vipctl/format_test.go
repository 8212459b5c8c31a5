package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/control/controltest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("output differs from %s (-want +got); run with -update if the change is meant\n%s", path, diff)
	}
}

func testFormatter() formatter {
	return formatter{now: controltest.Epoch(), loc: time.UTC}
}

func TestFormatTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := testFormatter().table(&b, controltest.Sample().Instances); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.txt", b.Bytes())
}

func TestFormatDetail(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"api", "ingress"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := only(controltest.Sample(), name)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := testFormatter().detail(&b, st); err != nil {
				t.Fatal(err)
			}
			golden(t, "status-"+name+".txt", b.Bytes())
		})
	}
}

func TestFormatUntracked(t *testing.T) {
	t.Parallel()
	// A tracked check the daemon does not report, and a time ahead of
	// our clock.
	in := control.Instance{
		Name: "x", Family: "ipv4", VRID: 1, Interface: "eth0", VRRPVersion: 3, State: control.StateInit,
		Since:  controltest.Epoch().Add(time.Minute),
		Tracks: []control.Track{{Check: "gone", Weight: -10}},
	}
	var b bytes.Buffer
	if err := testFormatter().detail(&b, control.Status{Instances: []control.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-untracked.txt", b.Bytes())
}

func TestHuman(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{42 * time.Second, "42s"},
		{time.Minute, "1m0s"},
		{3*time.Minute + 12*time.Second + 900*time.Millisecond, "3m12s"},
		{59*time.Minute + 59*time.Second, "59m59s"},
		{time.Hour, "1h0m"},
		{5*time.Hour + 3*time.Minute + 59*time.Second, "5h3m"},
		{24 * time.Hour, "1d0h"},
		{52*time.Hour + 30*time.Minute, "2d4h"},
		{400 * 24 * time.Hour, "400d0h"},
	}
	for _, tt := range tests {
		if got := human(tt.d); got != tt.want {
			t.Errorf("human(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestProbeDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "-"},
		{-time.Second, "-"},
		{1, "0s"},
		{850*time.Microsecond + 400, "850µs"},
		{3254 * time.Microsecond, "3.25ms"},
		{999 * time.Millisecond, "999ms"},
		{1500*time.Millisecond + 400*time.Microsecond, "1.5s"},
		{5 * time.Second, "5s"},
	}
	for _, tt := range tests {
		if got := probeDuration(tt.d); got != tt.want {
			t.Errorf("probeDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestLast(t *testing.T) {
	t.Parallel()
	long := "connection refused connection refused connection refused connection refused"
	tests := []struct {
		ch   control.Check
		want string
	}{
		{control.Check{}, ""},
		{control.Check{LastOutput: "  ok\n"}, "ok"},
		{control.Check{LastError: "exit status 1"}, "exit status 1"},
		{control.Check{LastError: "exit status 2", LastOutput: "line one\n\tline two\n"}, "exit status 2: line one line two"},
		{control.Check{LastError: long}, long[:maxLast-1] + "…"},
		{control.Check{LastOutput: "é" + string(bytes.Repeat([]byte("é"), maxLast))}, string(bytes.Repeat([]byte("é"), maxLast-1)) + "…"},
	}
	for _, tt := range tests {
		if got := last(tt.ch); got != tt.want {
			t.Errorf("last(%+v) = %q, want %q", tt.ch, got, tt.want)
		}
	}
}

func TestDropped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    map[string]uint64
		want string
	}{
		{nil, "none"},
		{map[string]uint64{"ttl": 0}, "none"},
		{map[string]uint64{"ttl": 3, "address_mismatch": 1, "checksum": 0}, "address_mismatch 1, ttl 3"},
	}
	for _, tt := range tests {
		if got := dropped(tt.m); got != tt.want {
			t.Errorf("dropped(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   control.Instance
		want string
	}{
		{control.Instance{State: control.StateMaster}, "MASTER"},
		{control.Instance{State: control.StateBackup, Drained: true}, "DRAINED"},
		{control.Instance{State: control.StateFault}, "FAULT"},
		{control.Instance{}, "-"},
	}
	for _, tt := range tests {
		if got := state(tt.in); got != tt.want {
			t.Errorf("state(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	const (
		collision = "VRID collision: %s with another address list since vipd started; another virtual router uses VRID 51"
		conflict  = "master conflict: %s from another master of lower priority since vipd started, each answered at once"
	)
	tests := []struct {
		name string
		c    control.Counters
		want []string
	}{
		{
			// Guard and late timer counts are shown among the
			// counters only: they need no action on the network.
			name: "quiet",
			c:    control.Counters{AdvertsIn: 9, GuardRestored: 3, GuardRemoved: 2, LateTimers: 4},
		},
		{name: "collision", c: control.Counters{Collisions: 1}, want: []string{fmt.Sprintf(collision, "1 advert")}},
		{name: "conflicts", c: control.Counters{Conflicts: 2}, want: []string{fmt.Sprintf(conflict, "2 adverts")}},
		{
			name: "both",
			c:    control.Counters{Collisions: 14, Conflicts: 1},
			want: []string{fmt.Sprintf(collision, "14 adverts"), fmt.Sprintf(conflict, "1 advert")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := warnings(control.Instance{VRID: 51, Counters: tt.c})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
