package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	local  = netip.MustParseAddr("192.0.2.12")
	lower  = netip.MustParseAddr("192.0.2.11")
	higher = netip.MustParseAddr("192.0.2.13")
)

func TestTiming(t *testing.T) {
	tests := []struct {
		name              string
		version, priority uint8
		interval          time.Duration
		skew, masterDown  time.Duration
	}{
		{"v3 1s prio 100", 3, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v3 100ms prio 250", 3, 250, 100 * time.Millisecond, 2343750 * time.Nanosecond, 302343750 * time.Nanosecond},
		{"v3 10ms prio 1", 3, 1, 10 * time.Millisecond, 9960937 * time.Nanosecond, 39960937 * time.Nanosecond},
		{"v3 prio 255", 3, 255, time.Second, 3906250 * time.Nanosecond, 3003906250 * time.Nanosecond},
		// Version 2 skew ignores the interval: (256-p)/256 seconds.
		{"v2 1s prio 100", 2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v2 3s prio 200", 2, 200, 3 * time.Second, 218750 * time.Microsecond, 9218750 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SkewTime(tt.version, tt.priority, tt.interval); got != tt.skew {
				t.Errorf("SkewTime = %v, want %v", got, tt.skew)
			}
			if got := MasterDownInterval(tt.version, tt.priority, tt.interval); got != tt.masterDown {
				t.Errorf("MasterDownInterval = %v, want %v", got, tt.masterDown)
			}
		})
	}
}

func TestWins(t *testing.T) {
	tests := []struct {
		name   string
		theirs uint8
		from   netip.Addr
		ours   uint8
		want   bool
	}{
		{"higher priority", 200, lower, 100, true},
		{"lower priority", 100, higher, 200, false},
		{"tie, higher address", 100, higher, 100, true},
		{"tie, lower address", 100, lower, 100, false},
		{"tie, same address", 100, local, 100, false},
		{"tie ipv6", 100, netip.MustParseAddr("fe80::2"), 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := local
			if tt.from.Is6() {
				l = netip.MustParseAddr("fe80::1")
			}
			if got := Wins(tt.theirs, tt.from, tt.ours, l); got != tt.want {
				t.Errorf("Wins = %v, want %v", got, tt.want)
			}
		})
	}
}

// step is one event fed to a machine in a transition table.
type step struct {
	at    time.Duration // since t0
	event string        // start, stop, timeout, recv, prio
	from  netip.Addr
	prio  uint8
	ivl   time.Duration
}

func run(m *Machine, s step) Output {
	now := t0.Add(s.at)
	switch s.event {
	case "start":
		return m.Start(now)
	case "stop":
		return m.Stop(now)
	case "timeout":
		return m.Timeout(now)
	case "recv":
		return m.Receive(now, s.from, s.prio, s.ivl)
	case "prio":
		return m.SetPriority(now, s.prio)
	case "fault":
		return m.SetFault(now, FaultKind(s.prio))
	}
	panic("unknown event " + s.event)
}

// result is what a transition table checks after its last step.
type result struct {
	From, To State
	Actions  Action
	Priority uint8
	Deadline time.Duration // since t0; -1 for none
}

func cfg(version, prio uint8, ivl time.Duration, preempt bool) Config {
	return Config{Version: version, Priority: prio, Interval: ivl, Preempt: preempt, Primary: local}
}

// TestMachineTransitions covers every rule of RFC 9568 section 6.4
// (Initialize 6.4.1, Backup 6.4.2, Master 6.4.3), plus the vipd extensions
// (preempt_delay, priority changes). The last step's output is checked.
func TestMachineTransitions(t *testing.T) {
	const s = time.Second
	const ms = time.Millisecond
	v3 := cfg(3, 100, s, true)
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		want  result
	}{
		// 6.4.1 Initialize.
		{"init: startup as owner becomes master at once", cfg(3, 255, s, true),
			[]step{{event: "start"}},
			result{Initialize, Master, AddVIPs | SendAdvert | Announce, 255, s}},
		{"init: startup becomes backup with master down timer", v3,
			[]step{{event: "start"}},
			result{Initialize, Backup, 0, 0, 3609375 * time.Microsecond}},
		{"init: stop before start does nothing", v3,
			[]step{{event: "stop"}},
			result{Initialize, Initialize, 0, 0, -1}},

		// 6.4.2 Backup.
		{"backup: shutdown goes to initialize, nothing sent", v3,
			[]step{{event: "start"}, {event: "stop"}},
			result{Backup, Initialize, 0, 0, -1}},
		{"backup: master down timer fires, becomes master", v3,
			[]step{{event: "start"}, {at: 3609375 * time.Microsecond, event: "timeout"}},
			result{Backup, Master, AddVIPs | SendAdvert | Announce, 100, 3609375*time.Microsecond + s}},
		{"backup: early timeout call is ignored", v3,
			[]step{{event: "start"}, {at: 3 * s, event: "timeout"}},
			result{Backup, Backup, 0, 0, 3609375 * time.Microsecond}},
		{"backup: priority 0 sets timer to skew time", v3,
			[]step{{event: "start"}, {at: s, event: "recv", from: higher, prio: 0, ivl: s}},
			result{Backup, Backup, 0, 0, s + 609375*time.Microsecond}},
		{"backup: priority 0 then skew time elapses, becomes master", v3,
			[]step{{event: "start"}, {at: s, event: "recv", from: higher, prio: 0, ivl: s},
				{at: s + 609375*time.Microsecond, event: "timeout"}},
			result{Backup, Master, AddVIPs | SendAdvert | Announce, 100, s + 609375*time.Microsecond + s}},
		{"backup: higher priority resets master down timer", v3,
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: lower, prio: 200, ivl: s}},
			result{Backup, Backup, 0, 0, 2*s + 3609375*time.Microsecond}},
		{"backup: equal priority resets master down timer", v3,
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: lower, prio: 100, ivl: s}},
			result{Backup, Backup, 0, 0, 2*s + 3609375*time.Microsecond}},
		{"backup v3: learns the master's interval", v3,
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: lower, prio: 200, ivl: 100 * ms}},
			result{Backup, Backup, 0, 0, 2*s + 300*ms + 60937500*time.Nanosecond}},
		{"backup v2: keeps its own interval", cfg(2, 100, s, true),
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: lower, prio: 200, ivl: s}},
			result{Backup, Backup, 0, 0, 2*s + 3609375*time.Microsecond}},
		{"backup, preempt: lower priority sets timer to skew time", v3,
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: higher, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, 2*s + 609375*time.Microsecond}},
		{"backup, preempt: lower priority after the skew keeps the earlier deadline", v3,
			[]step{{event: "start"}, {at: 3200 * ms, event: "recv", from: higher, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, 3609375 * time.Microsecond}},
		{"backup, preempt: lower-priority master is preempted when the timer fires", v3,
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: higher, prio: 50, ivl: s},
				{at: 3609375 * time.Microsecond, event: "timeout"}},
			result{Backup, Master, AddVIPs | SendAdvert | Announce, 100, 3609375*time.Microsecond + s}},
		{"backup, preempt: its master lowers its priority: timer set to skew time", v3,
			[]step{{event: "start"}, {at: s, event: "recv", from: lower, prio: 200, ivl: s},
				{at: 2 * s, event: "recv", from: lower, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, 2*s + 609375*time.Microsecond}},
		{"backup, preempt: a second master below the one it follows is discarded", v3,
			[]step{{event: "start"}, {at: s, event: "recv", from: lower, prio: 200, ivl: s},
				{at: 1500 * ms, event: "recv", from: higher, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, s + 3609375*time.Microsecond}},
		{"backup, preempt: a last-resort master beside the one it follows is discarded", v3,
			[]step{{event: "start"}, {at: s, event: "recv", from: lower, prio: 200, ivl: s},
				{at: 1500 * ms, event: "recv", from: higher, prio: LastResortPriority, ivl: s}},
			result{Backup, Backup, 0, 0, s + 3609375*time.Microsecond}},
		{"backup, preempt: the master it followed resigned: a lower master is preempted after skew", v3,
			[]step{{event: "start"}, {at: s, event: "recv", from: lower, prio: 200, ivl: s},
				{at: 1200 * ms, event: "recv", from: lower, prio: 0, ivl: s},
				{at: 1500 * ms, event: "recv", from: higher, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, 1200*ms + 609375*time.Microsecond}},
		{"backup, no preempt: lower priority resets master down timer", cfg(3, 100, s, false),
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: higher, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, 2*s + 3609375*time.Microsecond}},
		{"backup, preempt delay: lower priority followed during the delay",
			Config{Version: 3, Priority: 100, Interval: s, Preempt: true, PreemptDelay: 10 * s, Primary: local},
			[]step{{event: "start"}, {at: 2 * s, event: "recv", from: higher, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, 2*s + 3609375*time.Microsecond}},
		{"backup, preempt delay: lower priority discarded after the delay",
			Config{Version: 3, Priority: 100, Interval: s, Preempt: true, PreemptDelay: 10 * s, Primary: local},
			[]step{{event: "start"}, {at: 9 * s, event: "recv", from: higher, prio: 50, ivl: s},
				{at: 11 * s, event: "recv", from: higher, prio: 50, ivl: s}},
			result{Backup, Backup, 0, 0, 11*s + 609375*time.Microsecond}},

		// 6.4.3 Master.
		{"master: shutdown sends priority 0 and keeps the addresses", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "stop"}},
			result{Master, Master, SendAdvert, 0, s/2 + 3*s + s/256}},
		{"stopping master hears the new master: removes the addresses", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "stop"}, {at: s/2 + 10*time.Millisecond, event: "recv", from: lower, prio: 100, ivl: s}},
			result{Master, Initialize, RemoveVIPs, 0, -1}},
		{"stopping master ignores priority 0", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "stop"}, {at: s/2 + 10*time.Millisecond, event: "recv", from: lower, prio: 0, ivl: s}},
			result{Master, Master, 0, 0, s/2 + 3*s + s/256}},
		{"stopping master: nobody takes over within the master down interval", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "stop"}, {at: s/2 + 3*s + s/256, event: "timeout"}},
			result{Master, Initialize, RemoveVIPs, 0, -1}},
		{"stopping master stopped again: removes the addresses at once", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "stop"}, {at: s, event: "stop"}},
			result{Master, Initialize, RemoveVIPs, 0, -1}},
		{"stopping master ignores check failures", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "stop"}, {at: s, event: "fault", prio: uint8(SoftFault)}},
			result{Master, Master, 0, 0, s/2 + 3*s + s/256}},

		// Drain (maintenance).
		{"drained master resigns and keeps the VIPs until a backup takes over", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(Drained)}},
			result{Master, Master, SendAdvert, 0, 4*s + s/2 + 3*s/2}},
		{"drained backup hears priority 0: last resort after two intervals and its skew", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(Drained)}, {at: 2 * s, event: "recv", from: lower, prio: 0, ivl: s}},
			result{Fault, Fault, 0, 0, 2*s + 2*s + 255*s/256}},
		{"drained backup stays out but takes the VIPs if nobody is alive", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(Drained)}, {at: s + 3*s + 255*s/256, event: "timeout"}},
			result{Fault, Master, AddVIPs | SendAdvert | Announce, 1, 2*s + 3*s + 255*s/256}},
		{"resumed: back to backup", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(Drained)}, {at: 2 * s, event: "fault", prio: uint8(NoFault)}},
			result{Fault, Backup, 0, 0, 2*s + 3609375*time.Microsecond}},
		{"drained, then a check fails: still soft, nothing changes", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(Drained)}, {at: 2 * s, event: "fault", prio: uint8(SoftFault)}},
			result{Fault, Fault, 0, 0, s + 3*s + 255*s/256}},
		{"master: adver timer fires, sends and rearms", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s, event: "timeout"}},
			result{Master, Master, SendAdvert, 255, 2 * s}},
		{"master: priority 0 received, sends at once and rearms", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "recv", from: lower, prio: 0, ivl: s}},
			result{Master, Master, SendAdvert | Announce, 255, s/2 + s}},
		{"master: higher priority, steps down", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "recv", from: lower, prio: 250, ivl: s}},
			result{Master, Backup, SendAdvert | RemoveVIPs, 200, 4*s + s/2 + 3*s + 218750*time.Microsecond}},
		{"master: equal priority, higher address, steps down", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "recv", from: higher, prio: 200, ivl: s}},
			result{Master, Backup, SendAdvert | RemoveVIPs, 200, 4*s + s/2 + 3*s + 218750*time.Microsecond}},
		{"master: equal priority, lower address: answers at once and announces", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "recv", from: lower, prio: 200, ivl: s}},
			result{Master, Master, SendAdvert | Announce, 200, 5*s + s/2}},
		{"master: lower-priority master: answers at once and announces", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "recv", from: higher, prio: 100, ivl: s}},
			result{Master, Master, SendAdvert | Announce, 200, 5*s + s/2}},
		{"resigning master ignores a lower last-resort master", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(SoftFault)},
				{at: 4*s + 600*time.Millisecond, event: "recv", from: lower, prio: 1, ivl: s}},
			result{Master, Master, 0, 0, 4*s + s/2 + 3*s/2}},

		// Priority changes (tracked checks).
		{"master: lowered priority advertised at once", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "prio", prio: 90}},
			result{Master, Master, SendAdvert, 90, s/2 + s}},
		{"master: unchanged priority sends nothing", cfg(3, 255, s, true),
			[]step{{event: "start"}, {at: s / 2, event: "prio", prio: 255}},
			result{Master, Master, 0, 0, s}},
		// Faults (tracked checks and interfaces).
		{"fault before start: starts in fault, last-resort timer at priority 1", v3,
			[]step{{event: "fault", prio: uint8(SoftFault)}, {event: "start"}},
			result{Initialize, Fault, 0, 0, 3*s + 255*s/256}},
		{"pending before start: no timer", v3,
			[]step{{event: "fault", prio: uint8(Pending)}, {event: "start"}},
			result{Initialize, Fault, 0, 0, -1}},
		{"pending, then checks fail: last-resort timer starts", v3,
			[]step{{event: "fault", prio: uint8(Pending)}, {event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}},
			result{Fault, Fault, 0, 0, s + 3*s + 255*s/256}},
		{"pending, then checks pass: backup", v3,
			[]step{{event: "fault", prio: uint8(Pending)}, {event: "start"}, {at: s, event: "fault", prio: uint8(NoFault)}},
			result{Fault, Backup, 0, 0, s + 3609375*time.Microsecond}},
		{"hard fault before start: no timer", v3,
			[]step{{event: "fault", prio: uint8(HardFault)}, {event: "start"}},
			result{Initialize, Fault, 0, 0, -1}},
		{"master's check fails: resigns with priority 0, keeps the VIPs", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(SoftFault)}},
			result{Master, Master, SendAdvert, 0, 4*s + s/2 + 3*s/2}},
		{"resigning master hears the new master: removes the VIPs", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(SoftFault)},
				{at: 4*s + s/2 + 218750*time.Microsecond, event: "recv", from: lower, prio: 100, ivl: s}},
			result{Master, Fault, RemoveVIPs, 0, 4*s + s/2 + 218750*time.Microsecond + 3*s + 255*s/256}},
		{"resigning master hears no one: keeps the VIPs as last resort at priority 1", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(SoftFault)},
				{at: 6 * s, event: "timeout"}},
			result{Master, Master, SendAdvert, 1, 7 * s}},
		{"resigning master recovers: advertises its priority", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(SoftFault)},
				{at: 5 * s, event: "fault", prio: uint8(NoFault)}},
			result{Master, Master, SendAdvert, 200, 6 * s}},
		{"master's interface fails: resigns and removes the VIPs at once", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(HardFault)}},
			result{Master, Fault, SendAdvert | RemoveVIPs, 0, -1}},
		{"backup faults", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}},
			result{Backup, Fault, 0, 0, s + 3*s + 255*s/256}},
		{"fault: adverts from a master hold the last-resort timer back", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}, {at: 2 * s, event: "recv", from: lower, prio: 50, ivl: s}},
			result{Fault, Fault, 0, 0, 2*s + 3*s + 255*s/256}},
		{"soft fault, no master heard: takes the VIPs at priority 1", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}, {at: s + 3*s + 255*s/256, event: "timeout"}},
			result{Fault, Master, AddVIPs | SendAdvert | Announce, 1, 2*s + 3*s + 255*s/256}},
		{"hard fault, no master heard: never takes the VIPs", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(HardFault)}, {at: 10 * s, event: "timeout"}},
			result{Fault, Fault, 0, 0, -1}},
		{"last-resort master steps down to fault for a healthy master", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}, {at: 5 * s, event: "timeout"},
				{at: 6 * s, event: "recv", from: lower, prio: 50, ivl: s}},
			result{Master, Fault, SendAdvert | RemoveVIPs, 1, 6*s + 3*s + 255*s/256}},
		{"master's own interface goes down: removes the VIPs, sends nothing", cfg(3, 200, s, true),
			[]step{{event: "start"}, {at: 4 * s, event: "timeout"}, {at: 4*s + s/2, event: "fault", prio: uint8(LinkDown)}},
			result{Master, Fault, RemoveVIPs, 0, -1}},
		{"last-resort master whose checks recover advertises its priority at once", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}, {at: 5 * s, event: "timeout"},
				{at: 5*s + s/2, event: "fault", prio: uint8(NoFault)}},
			result{Master, Master, SendAdvert, 100, 5*s + s/2 + s}},
		{"last-resort master loses its link: removes VIPs", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}, {at: 5 * s, event: "timeout"},
				{at: 5*s + s/2, event: "fault", prio: uint8(HardFault)}},
			result{Master, Fault, SendAdvert | RemoveVIPs, 0, -1}},
		{"fault recovers: back to backup", v3,
			[]step{{event: "start"}, {at: s, event: "fault", prio: uint8(SoftFault)}, {at: 2 * s, event: "fault", prio: uint8(NoFault)}},
			result{Fault, Backup, 0, 0, 2*s + 3609375*time.Microsecond}},
		{"backup hears a last-resort master: takes over after Skew_Time", v3,
			[]step{{event: "start"}, {at: s, event: "recv", from: higher, prio: LastResortPriority, ivl: s}},
			result{Backup, Backup, 0, 0, s + 609375*time.Microsecond}},
		{"backup hears a last-resort master after its skew: keeps the earlier deadline", v3,
			[]step{{event: "start"}, {at: 3200 * ms, event: "recv", from: higher, prio: LastResortPriority, ivl: s}},
			result{Backup, Backup, 0, 0, 3609375 * time.Microsecond}},
		{"backup preempts a last-resort master even without preempt", cfg(3, 100, s, false),
			[]step{{event: "start"}, {at: s, event: "recv", from: higher, prio: LastResortPriority, ivl: s},
				{at: 3609375 * time.Microsecond, event: "timeout"}},
			result{Backup, Master, AddVIPs | SendAdvert | Announce, 100, 3609375*time.Microsecond + s}},

		{"backup: priority change recomputes skew on next advert", v3,
			[]step{{event: "start"}, {at: s / 2, event: "prio", prio: 200},
				{at: s, event: "recv", from: lower, prio: 250, ivl: s}},
			result{Backup, Backup, 0, 0, s + 3*s + 218750*time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(tt.cfg)
			var out Output
			for _, s := range tt.steps {
				out = run(m, s)
			}
			got := result{out.From, out.To, out.Actions, out.Priority, -1}
			if !m.Deadline().IsZero() {
				got.Deadline = m.Deadline().Sub(t0)
			}
			if !out.Has(SendAdvert) {
				got.Priority = 0
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
			if out.Changed() && out.Reason == "" {
				t.Error("transition without a reason")
			}
		})
	}
}

// TestElection runs two or three machines against each other through an
// ideal, instantaneous link and checks who ends up master.
func TestElection(t *testing.T) {
	type node struct {
		prio uint8
		addr netip.Addr
	}
	tests := []struct {
		name   string
		nodes  []node
		master int
	}{
		{"highest priority wins", []node{{100, lower}, {200, local}, {150, higher}}, 1},
		{"tie broken by highest address", []node{{100, lower}, {100, higher}, {100, local}}, 1},
		{"owner wins", []node{{255, lower}, {254, higher}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := make([]*Machine, len(tt.nodes))
			for i, n := range tt.nodes {
				ms[i] = NewMachine(Config{Version: 3, Priority: n.prio, Interval: 100 * time.Millisecond, Preempt: true, Primary: n.addr})
			}
			var deliver func(i int, out Output, now time.Time)
			deliver = func(i int, out Output, now time.Time) {
				if !out.Has(SendAdvert) {
					return
				}
				for j, m := range ms {
					if j != i {
						deliver(j, m.Receive(now, tt.nodes[i].addr, out.Priority, 100*time.Millisecond), now)
					}
				}
			}
			now := t0
			for i, m := range ms {
				deliver(i, m.Start(now), now)
			}
			for range 1000 {
				// Advance to the earliest deadline and fire every timer due
				// then before delivering anything: equal priorities expire
				// together and meet as two masters.
				next := time.Time{}
				for _, m := range ms {
					if d := m.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
						next = d
					}
				}
				now = next
				outs := make([]Output, len(ms))
				for i, m := range ms {
					outs[i] = m.Timeout(now)
				}
				for i, out := range outs {
					deliver(i, out, now)
				}
			}
			for i, m := range ms {
				want := Backup
				if i == tt.master {
					want = Master
				}
				if m.State() != want {
					t.Errorf("node %d (prio %d, %v): state %v, want %v", i, tt.nodes[i].prio, tt.nodes[i].addr, m.State(), want)
				}
			}
		})
	}
}

// TestOneWayPartition runs three machines through a link that drops
// whatever cp-1 sends to cp-3 for a while. cp-3 cannot tell cp-1 from a
// dead master and takes over, once; cp-2, which hears both masters, keeps
// following cp-1 rather than preempting cp-3 (a third master); healed,
// cp-3 steps down at cp-1's next advert.
func TestOneWayPartition(t *testing.T) {
	const ivl = 100 * time.Millisecond
	addrs := []netip.Addr{higher, local, lower}
	ms := make([]*Machine, 3)
	for i, p := range []uint8{250, 240, 230} {
		ms[i] = NewMachine(Config{Version: 3, Priority: p, Interval: ivl, Preempt: true, Primary: addrs[i]})
	}
	partitioned := false
	masters := make([]int, len(ms))
	var deliver func(i int, out Output, now time.Time)
	deliver = func(i int, out Output, now time.Time) {
		if out.Changed() && out.To == Master {
			masters[i]++
		}
		if !out.Has(SendAdvert) {
			return
		}
		for j, m := range ms {
			if j != i && !(partitioned && i == 0 && j == 2) {
				deliver(j, m.Receive(now, addrs[i], out.Priority, ivl), now)
			}
		}
	}
	now := t0
	for i, m := range ms {
		deliver(i, m.Start(now), now)
	}
	// step fires every timer due at the earliest deadline, until end.
	step := func(end time.Time) {
		for {
			next := time.Time{}
			for _, m := range ms {
				if d := m.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
					next = d
				}
			}
			if next.After(end) {
				return
			}
			now = next
			for i, m := range ms {
				deliver(i, m.Timeout(now), now)
			}
		}
	}
	step(t0.Add(5 * time.Second))
	if diff := cmp.Diff([]int{1, 0, 0}, masters); diff != "" {
		t.Fatalf("transitions to master before the partition (-want +got)\n%s", diff)
	}
	partitioned = true
	step(t0.Add(10 * time.Second))
	partitioned = false
	step(t0.Add(11 * time.Second))
	if diff := cmp.Diff([]int{1, 0, 1}, masters); diff != "" {
		t.Errorf("transitions to master by the end (-want +got)\n%s", diff)
	}
	for i, want := range []State{Master, Backup, Backup} {
		if got := ms[i].State(); got != want {
			t.Errorf("node %d: %v, want %v", i+1, got, want)
		}
	}
}

func (o Output) Has(a Action) bool { return o.Actions.Has(a) }

// BenchmarkMachineReceive is the timer reset of a backup hearing its
// master: the work done for each advert received.
func BenchmarkMachineReceive(b *testing.B) {
	m := NewMachine(Config{Version: 3, Priority: 100, Interval: 10 * time.Millisecond, Preempt: true, Primary: local})
	m.Start(t0)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Millisecond)
		m.Receive(now, higher, 200, 10*time.Millisecond)
	}
}

// BenchmarkMachineAdvertTimer is a master's advert timer firing.
func BenchmarkMachineAdvertTimer(b *testing.B) {
	m := NewMachine(Config{Version: 3, Priority: 255, Interval: 10 * time.Millisecond, Primary: local})
	m.Start(t0)
	b.ReportAllocs()
	for b.Loop() {
		m.Timeout(m.Deadline())
	}
}

// TestPhase: with a Phase, a master sends its first advert at once and the
// next ones on the grid Phase + k × Interval, never more than an interval
// apart, also after a timer served late or an advert sent out of turn.
func TestPhase(t *testing.T) {
	const ivl = 100 * time.Millisecond
	phase := t0.Add(-5 * ivl).Add(30 * time.Millisecond) // the grid: t0 + 30ms + k × ivl
	m := NewMachine(Config{Version: 3, Priority: 255, Interval: ivl, Primary: local, Phase: phase})
	now := t0.Add(50 * time.Millisecond)
	var sent []time.Duration // since t0
	send := func(out Output) {
		if out.Has(SendAdvert) {
			sent = append(sent, now.Sub(t0))
		}
	}
	send(m.Start(now)) // owner: master at once
	for range 3 {
		now = m.Deadline()
		send(m.Timeout(now))
	}
	now = m.Deadline().Add(250 * time.Millisecond) // served late, past two grid points
	send(m.Timeout(now))
	now = now.Add(10 * time.Millisecond)
	send(m.Receive(now, lower, 0, ivl)) // a peer resigned: advert at once
	now = m.Deadline()
	send(m.Timeout(now))
	want := []time.Duration{50, 130, 230, 330, 680, 690, 730}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("adverts sent at (-want +got, ms after t0):\n%s", diff)
	}

	// On the grid exactly: the next advert is a whole interval later.
	m = NewMachine(Config{Version: 3, Priority: 255, Interval: ivl, Primary: local, Phase: t0})
	m.Start(t0.Add(2 * ivl))
	if got := m.Deadline().Sub(t0); got != 3*ivl {
		t.Errorf("started on the grid: next advert at %v, want %v", got, 3*ivl)
	}
}

// TestFaultReason: a router that stays in Fault for another reason says
// the new one, which status shows (the transition said the first).
func TestFaultReason(t *testing.T) {
	m := NewMachine(cfg(3, 100, time.Second, true))
	run(m, step{event: "start"})
	steps := []struct {
		fault FaultKind
		want  string
	}{
		{Pending, "waiting for the first check results"}, // the transition's reason
		{SoftFault, "tracked check failed"},
		{SoftFault, ""}, // no change
		{Drained, "drained"},
		{LinkDown, "interface down"},
	}
	for i, s := range steps {
		out := run(m, step{at: time.Duration(i) * time.Second, event: "fault", prio: uint8(s.fault)})
		if out.Reason != s.want || m.State() != Fault {
			t.Errorf("fault %v: %v with reason %q, want FAULT with %q", s.fault, m.State(), out.Reason, s.want)
		}
	}
}

// TestTakeoverReason: a backup's takeover says why it took over: silence,
// a resignation, or a lower-priority master it preempted.
func TestTakeoverReason(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"silence", []step{{event: "start"}, {at: 4 * s, event: "timeout"}},
			"no advertisement for 3.609375s"},
		{"resignation", []step{{event: "start"}, {at: s, event: "recv", from: higher, prio: 0, ivl: s},
			{at: 2 * s, event: "timeout"}},
			"master 192.0.2.13 resigned (priority 0)"},
		{"preemption", []step{{event: "start"}, {at: s, event: "recv", from: lower, prio: 50, ivl: s},
			{at: 2 * s, event: "timeout"}},
			"preempting lower-priority master 192.0.2.11 (priority 50)"},
		{"preemption, then a better master heard", []step{{event: "start"},
			{at: s, event: "recv", from: lower, prio: 50, ivl: s},
			{at: s + 500*time.Millisecond, event: "recv", from: higher, prio: 200, ivl: s},
			{at: 6 * s, event: "timeout"}},
			"no advertisement for 3.609375s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(cfg(3, 100, s, true))
			var out Output
			for _, st := range tt.steps {
				out = run(m, st)
			}
			if out.To != Master || out.Reason != tt.want {
				t.Errorf("%v → %v, reason %q; want MASTER, reason %q", out.From, out.To, out.Reason, tt.want)
			}
		})
	}
}
