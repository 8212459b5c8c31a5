package e2e

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/control"
)

// TestStartsBeforeNetwork starts vipd on a node whose address, and the
// interface of its second instance, do not exist yet (DHCP, a VLAN made
// later): it waits, says what for, and runs each instance once what it
// needs appears, without a restart.
func TestStartsBeforeNetwork(t *testing.T) {
	lab.Require(t)
	l := lab.New(t)
	cp1 := l.AddHost("cp-1") // no address yet
	cfg := writeConfig(t, `[cluster]
name = "boot"
interface = "eth0"
advert_interval = "100ms"
[[cluster.node]]
name = "cp-1"
address = "192.0.2.11"
[[cluster.node]]
name = "cp-2"
address = "192.0.2.12"
`+daemonTable+`
[[instance]]
name = "api"
vrid = 51
vips = ["192.0.2.100/24"]
[[instance]]
name = "ext"
vrid = 52
interface = "ext0"
vips = ["203.0.113.10/24"]
`)
	p := startVipd(t, cp1, cfg)

	st := waitStatus(t, p, "vipd waits for the node's address", func(st control.Status) bool {
		return strings.Contains(st.Waiting, "192.0.2.11")
	})
	if len(st.Instances) != 0 {
		t.Errorf("while waiting, status has instances: %+v", st.Instances)
	}
	out, err := p.vipctl("status")
	if err != nil || !strings.Contains(out, "vipd is waiting for one of this node's addresses: cp-1 (192.0.2.11), cp-2 (192.0.2.12)") {
		t.Errorf("vipctl status while waiting: %v\n%s", err, out)
	}
	if out, err := p.vipctl("drain"); err == nil || !strings.Contains(out, "waiting for") {
		t.Errorf("vipctl drain while waiting: %v\n%s", err, out)
	}

	cp1.Run(t, "ip", "addr", "add", "192.0.2.11/24", "dev", "eth0")
	vip := netip.MustParseAddr("192.0.2.100")
	waitHolder(t, 10*time.Second, vip, "cp-1", cp1)
	st = waitStatus(t, p, "ext waits for its interface", func(st control.Status) bool {
		in, ok := instance(st, "ext", control.FamilyIPv4)
		return st.Waiting == "" && ok && in.State == control.StateFault && strings.Contains(in.Reason, "waiting for interface ext0")
	})

	// The interface appears without an IPv4 address, then gets one.
	cp1.Run(t, "ip", "link", "add", "ext0", "type", "veth", "peer", "name", "ext1")
	cp1.Run(t, "ip", "link", "set", "ext1", "up")
	cp1.Run(t, "ip", "link", "set", "ext0", "up")
	waitStatus(t, p, "ext waits for an address on ext0", func(st control.Status) bool {
		in, ok := instance(st, "ext", control.FamilyIPv4)
		return ok && in.State == control.StateFault && strings.Contains(in.Reason, "waiting for an IPv4 address on ext0")
	})
	cp1.Run(t, "ip", "addr", "add", "203.0.113.1/24", "dev", "ext0")
	waitStatus(t, p, "ext is master", func(st control.Status) bool {
		in, ok := instance(st, "ext", control.FamilyIPv4)
		return ok && in.State == control.StateMaster
	})
	if !cp1.HasAddr(t, "ext0", netip.MustParseAddr("203.0.113.10")) {
		t.Errorf("ext is master but 203.0.113.10 is not on ext0: %v", cp1.Addrs(t, "ext0"))
	}
	select {
	case err := <-p.done:
		t.Fatalf("vipd exited: %v", err)
	default:
	}
	if err := p.stop(); err != nil {
		t.Errorf("vipd stop: %v", err)
	}
}

// waitStatus polls vipd's status until ok accepts it, and fails after 10 s.
func waitStatus(t testing.TB, p *proc, what string, ok func(control.Status) bool) control.Status {
	t.Helper()
	var st control.Status
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err := p.vipctl("status", "-o", "json")
		last = out
		if err != nil {
			continue
		}
		st = control.Status{}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("vipctl status -o json: %v\n%s", err, out)
		}
		if ok(st) {
			return st
		}
	}
	t.Fatalf("%s: not seen within 10s; last status:\n%s", what, last)
	return st
}

// instance returns the instance of that name and family in st.
func instance(st control.Status, name, family string) (control.Instance, bool) {
	for _, in := range st.Instances {
		if in.Name == name && in.Family == family {
			return in, true
		}
	}
	return control.Instance{}, false
}
