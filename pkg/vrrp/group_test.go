package vrrp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMachineGrouped covers a sync group member: it becomes master only
// when its group promotes it, and steps down silently when demoted.
func TestMachineGrouped(t *testing.T) {
	const s = time.Second
	const mdi = 3609375 * time.Microsecond
	grouped := func(prio uint8) Config {
		c := cfg(3, prio, s, true)
		c.Grouped = true
		return c
	}
	type want struct {
		From, To State
		Actions  Action
		Priority uint8
		Wants    bool // Output.WantsMaster
		Wanting  bool // Machine.WantsMaster after the step
		Deadline time.Duration
	}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		want  want
	}{
		{"timer runs out: stays backup, wants master, timer restarted", grouped(100),
			[]step{{event: "start"}, {at: mdi, event: "timeout"}},
			want{Backup, Backup, 0, 0, true, true, 2 * mdi}},
		{"master resigned: after skew, wants master", grouped(100),
			[]step{{event: "start"}, {at: s, event: "recv", from: higher, prio: 0, ivl: s},
				{at: s + 609375*time.Microsecond, event: "timeout"}},
			want{Backup, Backup, 0, 0, true, true, s + 609375*time.Microsecond + mdi}},
		{"hearing a master it follows: no longer wants", grouped(100),
			[]step{{event: "start"}, {at: mdi, event: "timeout"},
				{at: 4 * s, event: "recv", from: higher, prio: 200, ivl: s}},
			want{Backup, Backup, 0, 0, false, false, 4*s + mdi}},
		{"a lower master it would preempt: still wants", grouped(100),
			[]step{{event: "start"}, {at: mdi, event: "timeout"},
				{at: 4 * s, event: "recv", from: higher, prio: 50, ivl: s}},
			want{Backup, Backup, 0, 0, false, true, 4*s + 609375*time.Microsecond}},
		{"promoted: becomes master", grouped(100),
			[]step{{event: "start"}, {at: s, event: "promote"}},
			want{Backup, Master, AddVIPs | SendAdvert | Announce, 100, false, false, 2 * s}},
		{"demoted: backup, VIPs removed, nothing sent", grouped(100),
			[]step{{event: "start"}, {at: s, event: "promote"}, {at: 2 * s, event: "demote"}},
			want{Master, Backup, RemoveVIPs, 0, false, false, 2*s + mdi}},
		{"demoted while resigning on a failed check: fault", grouped(100),
			[]step{{event: "start"}, {at: s, event: "promote"}, {at: 2 * s, event: "fault", prio: uint8(SoftFault)},
				{at: 2 * s, event: "demote"}},
			want{Master, Fault, RemoveVIPs, 0, false, false, 2*s + 3996093750*time.Nanosecond}},
		{"promote leaves a faulted router alone", grouped(100),
			[]step{{event: "fault", prio: uint8(HardFault)}, {event: "start"}, {at: s, event: "promote"}},
			want{Fault, Fault, 0, 0, false, false, -1}},
		{"address owner: starts backup wanting master", grouped(255),
			[]step{{event: "start"}},
			want{Initialize, Backup, 0, 0, true, true, 3003906250 * time.Nanosecond}},
		{"ungrouped by a reload: the timer makes it master", grouped(100),
			[]step{{event: "start"}, {at: mdi, event: "timeout"}, {at: mdi, event: "ungroup"},
				{at: 2 * mdi, event: "timeout"}},
			want{Backup, Master, AddVIPs | SendAdvert | Announce, 100, false, false, 2*mdi + s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(tt.cfg)
			var out Output
			for _, st := range tt.steps {
				now := t0.Add(st.at)
				switch st.event {
				case "promote":
					out = m.Promote(now, "sync group master")
				case "demote":
					out = m.Demote(now, "sync group backup")
				case "ungroup":
					m.SetGrouped(false)
				default:
					out = run(m, st)
				}
			}
			dl := time.Duration(-1)
			if !m.Deadline().IsZero() {
				dl = m.Deadline().Sub(t0)
			}
			got := want{out.From, out.To, out.Actions, out.Priority, out.WantsMaster, m.WantsMaster(), dl}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
