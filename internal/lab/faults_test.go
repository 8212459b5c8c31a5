package lab_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// pingOK reports whether one ping from h to addr is answered within a
// second.
func pingOK(t *testing.T, h *lab.Host, args ...string) bool {
	t.Helper()
	err := h.Exec(t.Context(), "ping", append([]string{"-n", "-c", "1", "-W", "1"}, args...)...).Run()
	return err == nil
}

var rtt = regexp.MustCompile(`time=([0-9.]+) ms`)

// pingRTT returns the round trip of one ping from h to addr.
func pingRTT(t *testing.T, h *lab.Host, addr string) time.Duration {
	t.Helper()
	out := h.Run(t, "ping", "-n", "-c", "1", "-W", "5", addr)
	m := rtt.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no round trip in %q", out)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(f * float64(time.Millisecond))
}

func TestFaults(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	lab.RequireCommand(t, "nft")
	a := l.AddHost("a", "192.0.2.11/24", "2001:db8::11/64")
	b := l.AddHost("b", "192.0.2.12/24", "2001:db8::12/64")
	if !pingOK(t, a, "192.0.2.12") {
		t.Fatal("no ping before any fault")
	}

	f := l.Loss(t, a, 100)
	if pingOK(t, a, "192.0.2.12") {
		t.Error("ping answered with 100 % loss on a's link")
	}
	f.Heal(t)
	f.Heal(t) // again: nothing left to do
	if !pingOK(t, a, "192.0.2.12") {
		t.Error("no ping after the loss healed")
	}

	// With static neighbours (ARP is a round trip too), a's datagrams
	// stop reaching b while b's reach a: a ping gets lost either way, but
	// b's counters of received echo requests say which way.
	a.Run(t, "ip", "neigh", "replace", "192.0.2.12", "lladdr", b.HardwareAddr().String(), "dev", "eth0", "nud", "permanent")
	b.Run(t, "ip", "neigh", "replace", "192.0.2.11", "lladdr", a.HardwareAddr().String(), "dev", "eth0", "nud", "permanent")
	f = l.OneWay(t, a, b)
	inEchos := func(h *lab.Host) int {
		var names []string
		for line := range strings.Lines(h.Run(t, "cat", "/proc/net/snmp")) {
			v, ok := strings.CutPrefix(line, "Icmp: ")
			switch {
			case !ok:
			case names == nil:
				names = strings.Fields(v)
			default:
				for i, f := range strings.Fields(v) {
					if names[i] == "InEchos" {
						n, _ := strconv.Atoi(f)
						return n
					}
				}
			}
		}
		t.Fatal("no InEchos in /proc/net/snmp")
		return 0
	}
	beforeA, beforeB := inEchos(a), inEchos(b)
	if pingOK(t, a, "192.0.2.12") || pingOK(t, b, "192.0.2.11") {
		t.Error("ping answered across a one-way partition")
	}
	if got := inEchos(b) - beforeB; got != 0 {
		t.Errorf("b received %d echo requests from a, want none", got)
	}
	if got := inEchos(a) - beforeA; got != 1 {
		t.Errorf("a received %d echo requests from b, want 1", got)
	}
	f.Heal(t)
	if !pingOK(t, a, "192.0.2.12") {
		t.Error("no ping after the partition healed")
	}

	// All-nodes echo requests are multicast (a answers its own; b is
	// fe80::76:6cff:fe00:2); neighbour discovery passes.
	fromB := func() (bool, string) {
		out, _ := a.Exec(t.Context(), "ping", "-n", "-6", "-c", "2", "-i", "0.2", "-W", "1", "ff02::1%eth0").CombinedOutput()
		return strings.Contains(string(out), "fe00:2%eth0"), string(out)
	}
	if ok, out := fromB(); !ok {
		t.Fatalf("b does not answer ff02::1 before dropping multicast:\n%s", out)
	}
	f = l.DropMulticast(t)
	if ok, out := fromB(); ok {
		t.Errorf("b answered ff02::1 with multicast dropped:\n%s", out)
	}
	b.Run(t, "ip", "-6", "neigh", "flush", "dev", "eth0")
	a.Run(t, "ip", "-6", "neigh", "flush", "dev", "eth0")
	if !pingOK(t, a, "-6", "2001:db8::12") || !pingOK(t, a, "192.0.2.12") {
		t.Error("unicast does not pass with multicast dropped")
	}
	f.Heal(t)
}

func TestWire(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24")
	w := a.Wire(t, 1)
	b := l.AddHost("b", "192.0.2.12/24")
	if !pingOK(t, a, "192.0.2.12") {
		t.Fatal("no ping through the wire")
	}

	w.Set(lab.FromHost, lab.Impairment{Delay: 50 * time.Millisecond})
	if got := pingRTT(t, a, "192.0.2.12"); got < 50*time.Millisecond || got > time.Second {
		t.Errorf("round trip %v with 50ms delay one way, want 50ms and a little", got)
	}
	w.Set(lab.BothWays, lab.Impairment{Delay: 30 * time.Millisecond})
	if got := pingRTT(t, b, "192.0.2.11"); got < 60*time.Millisecond || got > time.Second {
		t.Errorf("round trip %v with 30ms delay each way, want 60ms and a little", got)
	}

	w.Set(lab.BothWays, lab.Impairment{Duplicate: 1})
	if out := a.Run(t, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.12"); !strings.Contains(out, "DUP!") {
		t.Errorf("no duplicate reply with every frame duplicated:\n%s", out)
	}

	w.Set(lab.BothWays, lab.Impairment{Loss: 1})
	if pingOK(t, a, "192.0.2.12") {
		t.Error("ping answered with every frame lost")
	}
	if s := w.Stats(lab.FromHost); s.Lost == 0 {
		t.Errorf("no frame counted lost: %+v", s)
	}
	w.Set(lab.BothWays, lab.Impairment{})

	// Held frames come all at once on release: five requests sent 100 ms
	// apart are answered together.
	w.Hold(lab.ToHost)
	ping := a.Exec(t.Context(), "ping", "-n", "-c", "5", "-i", "0.1", "-W", "5", "192.0.2.12")
	var out strings.Builder
	ping.Stdout = &out
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	w.Release(lab.ToHost)
	if err := ping.Wait(); err != nil {
		t.Fatalf("ping after release: %v\n%s", err, out.String())
	}
	var rtts []time.Duration
	for _, m := range rtt.FindAllStringSubmatch(out.String(), -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		rtts = append(rtts, time.Duration(f*float64(time.Millisecond)))
	}
	if len(rtts) != 5 || rtts[0] < 500*time.Millisecond || rtts[4] > rtts[0] {
		t.Errorf("round trips %v of requests held together, want 5 decreasing from about 700ms", rtts)
	}

	// The host still sees its link go and come back.
	a.LinkDown(t)
	waitOperState(t, a, "DOWN")
	a.LinkUp(t)
	waitOperState(t, a, "UP")
	if !pingOK(t, a, "192.0.2.12") {
		t.Error("no ping after the link came back")
	}
}

// waitOperState waits until h's eth0 is in the operational state.
func waitOperState(t *testing.T, h *lab.Host, state string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(h.Run(t, "ip", "-br", "link", "show", "eth0"), " "+state+" ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("eth0 of %s not %s after 5s: %s", h.Name(), state, h.Run(t, "ip", "-br", "link", "show", "eth0"))
		}
	}
}
