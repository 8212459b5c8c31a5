// Package controltest provides a fake control.Backend, a fixed sample
// Status, and a helper that serves a backend on a socket for the length of
// a test.
package controltest

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/pkg/control"
)

var _ control.Backend = (*Backend)(nil)

// Backend is a control.Backend over a Status held in memory: Drain and
// Resume set Drained on the instances they name and record the call.
type Backend struct {
	mu      sync.Mutex
	status  control.Status
	calls   []Call
	liveErr error
}

// Call is one Drain or Resume a Backend received.
type Call struct {
	Op    string // "drain" or "resume"
	Names []string
}

// NewBackend returns a Backend that reports st.
func NewBackend(st control.Status) *Backend {
	return &Backend{status: st}
}

// Status implements control.Backend.
func (b *Backend) Status() control.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A copy of the instances, so a caller never sees a later Drain.
	st := b.status
	st.Instances = slices.Clone(st.Instances)
	return st
}

// Drain implements control.Backend.
func (b *Backend) Drain(names []string) ([]string, error) { return b.set("drain", names, true) }

// Resume implements control.Backend.
func (b *Backend) Resume(names []string) ([]string, error) { return b.set("resume", names, false) }

// Live implements control.Backend: the error of the last SetLive.
func (b *Backend) Live(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.liveErr
}

// SetLive sets what Live returns: nil for a live daemon, or why it is not.
func (b *Backend) SetLive(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.liveErr = err
}

// Calls returns the Drain and Resume calls received, in order.
func (b *Backend) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

func (b *Backend) set(op string, names []string, drained bool) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, Call{Op: op, Names: slices.Clone(names)})
	var unknown []string
	for _, n := range names {
		if !slices.ContainsFunc(b.status.Instances, func(in control.Instance) bool { return in.Name == n }) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, control.UnknownInstances(unknown...)
	}
	insts := slices.Clone(b.status.Instances)
	var affected []string
	for i, in := range insts {
		if len(names) > 0 && !slices.Contains(names, in.Name) {
			continue
		}
		insts[i].Drained = drained
		// One name per instance, though it may run in two families.
		if !slices.Contains(affected, in.Name) {
			affected = append(affected, in.Name)
		}
	}
	b.status.Instances = insts
	return affected, nil
}

// Serve serves b on a socket in a temporary directory until the test ends,
// and returns the socket's path.
func Serve(t testing.TB, b control.Backend) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vipd.sock")
	srv, err := control.Listen(path, b, nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

// Epoch returns the fixed time Sample is built around: the "now" of tests
// that format it.
func Epoch() time.Time { return time.Date(2026, time.March, 14, 9, 26, 53, 0, time.UTC) }

// Sample returns a fixed Status: instance "api" in both families (IPv4
// master with a failing check, drops, a conflict healed and a VIP
// restored; IPv6 backup that sees a VRID collision), a drained
// instance "ingress", and three checks. Times are before Epoch.
func Sample() control.Status {
	epoch := Epoch()
	at := func(d time.Duration) time.Time { return epoch.Add(-d) }
	return control.Status{
		Version: "v1.2.3",
		Node:    "cp-1",
		Config:  "/etc/vipd/vipd.toml",
		Started: at(2*time.Hour + 5*time.Minute),
		Instances: []control.Instance{
			{
				Name: "api", Family: control.FamilyIPv4, VRID: 51, Interface: "eth0", VRRPVersion: 3,
				State: control.StateMaster, Priority: 150, EffectivePriority: 130,
				Master: "192.0.2.11", Since: at(3*time.Minute + 12*time.Second),
				Reason:        "master down timer expired",
				VIPs:          []string{"192.0.2.100/32"},
				FailingChecks: []string{"etcd"},
				Tracks:        []control.Track{{Check: "apiserver", Weight: -50}, {Check: "etcd", Weight: -20}, {Check: "link:eth0"}},
				Transitions: []control.Transition{
					{At: at(2*time.Hour + 4*time.Minute), From: control.StateInit, To: control.StateBackup, Reason: "startup"},
					{At: at(3*time.Minute + 12*time.Second), From: control.StateBackup, To: control.StateMaster, Reason: "master down timer expired"},
				},
				Counters: control.Counters{
					AdvertsOut: 192, AdvertsIn: 7300, Transitions: 2, Announcements: 10,
					Conflicts: 1, GuardRestored: 1, LateTimers: 2,
					Dropped: map[string]uint64{"ttl": 3, "address_mismatch": 1},
				},
				Hooks: &control.HookCounters{Runs: 3, Failures: 1, Timeouts: 1},
			},
			{
				Name: "api", Family: control.FamilyIPv6, VRID: 51, Interface: "eth0", VRRPVersion: 3,
				State: control.StateBackup, Priority: 150, EffectivePriority: 150,
				Master: "fe80::2", Since: at(2*time.Hour + 4*time.Minute), Reason: "startup",
				VIPs:   []string{"2001:db8::100/128"},
				Tracks: []control.Track{{Check: "apiserver", Weight: -50}},
				Transitions: []control.Transition{
					{At: at(2*time.Hour + 4*time.Minute), From: control.StateInit, To: control.StateBackup, Reason: "startup"},
				},
				Counters: control.Counters{AdvertsIn: 7492, Collisions: 14, GuardRemoved: 1},
				Hooks:    &control.HookCounters{Runs: 3, Failures: 1, Timeouts: 1},
			},
			{
				Name: "ingress", Family: control.FamilyIPv4, VRID: 52, Interface: "eth1", VRRPVersion: 2,
				State: control.StateBackup, Drained: true, Priority: 100, EffectivePriority: 100,
				Since: at(26*time.Hour + 40*time.Minute), Reason: "drained",
				VIPs: []string{"198.51.100.7/32", "198.51.100.8/32"}, VIPDevs: map[string]string{"198.51.100.8/32": "eth2"},
			},
		},
		Checks: []control.Check{
			{
				Name: "apiserver", State: control.CheckHealthy, LastOutput: "ok",
				LastProbe: at(1500 * time.Millisecond), Duration: 3250 * time.Microsecond,
				Since: at(2*time.Hour + 3*time.Minute), Probes: 2480,
			},
			{
				Name: "etcd", State: control.CheckUnhealthy,
				LastError:  "exit status 1",
				LastOutput: "etcdserver: request timed out\nretrying",
				LastProbe:  at(2 * time.Second), Duration: 5 * time.Second,
				Since: at(3*time.Minute + 15*time.Second), Probes: 2470,
			},
			{Name: "link:eth0", State: control.CheckHealthy, Since: at(2*time.Hour + 5*time.Minute), Probes: 1},
		},
	}
}
