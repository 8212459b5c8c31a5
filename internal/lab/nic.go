package lab

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
)

// A NIC is a further interface of a Host, on the segment of another Lab
// than the host's: a node's second network card.
type NIC struct {
	lab  *Lab // whose segment the NIC is on
	host *Host
	name string
	port string // bridge-side end of the veth pair, in l's switch namespace
	mac  net.HardwareAddr
}

// Attach gives h, a host of another lab, an interface named ifname on l's
// segment, with the given MAC (nil: a default unique in l) and addresses,
// up and with DAD off as eth0. The interface goes with h's namespace.
func (l *Lab) Attach(h *Host, ifname string, mac net.HardwareAddr, addrs ...string) *NIC {
	t := l.t
	t.Helper()
	if h.lab == l {
		t.Fatalf("lab: host %s is already on this segment", h.name)
	}
	prefixes := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			t.Fatalf("lab: host %s: %v", h.name, err)
		}
		prefixes = append(prefixes, p)
	}
	l.mu.Lock()
	idx := l.next
	l.next++
	l.mu.Unlock()
	if mac == nil {
		mac = net.HardwareAddr{0x02, 'v', 'n', 0, byte(idx >> 8), byte(idx)}
	}
	n := &NIC{lab: l, host: h, name: ifname, port: fmt.Sprintf("p%d-%s", idx, h.name), mac: mac}
	l.ip(t, "-n", l.sw.name, "link", "add", n.port, "type", "veth",
		"peer", "name", ifname, "address", mac.String(), "netns", h.ns.name)
	l.ip(t, "-n", l.sw.name, "link", "set", n.port, "master", l.bridge, "up")
	if err := h.ns.do(func() error {
		return writeSysctls(map[string]string{"net/ipv6/conf/" + ifname + "/accept_dad": "0"})
	}); err != nil {
		t.Fatalf("lab: host %s: %v", h.name, err)
	}
	for _, p := range prefixes {
		args := []string{"-n", h.ns.name, "addr", "add", p.String(), "dev", ifname}
		if p.Addr().Is6() {
			args = append(args, "nodad")
		}
		l.ip(t, args...)
	}
	l.ip(t, "-n", h.ns.name, "link", "set", ifname, "up")
	return n
}

// Name returns the interface's name in the host.
func (n *NIC) Name() string { return n.name }

// HardwareAddr returns the interface's MAC.
func (n *NIC) HardwareAddr() net.HardwareAddr { return n.mac }

// LinkDown cuts the NIC's cable, as Host.LinkDown does eth0's.
func (n *NIC) LinkDown(t testing.TB) {
	t.Helper()
	n.lab.ip(t, "-n", n.lab.sw.name, "link", "set", n.port, "down")
}

// LinkUp reconnects the cable cut by LinkDown.
func (n *NIC) LinkUp(t testing.TB) {
	t.Helper()
	n.lab.ip(t, "-n", n.lab.sw.name, "link", "set", n.port, "up")
}
