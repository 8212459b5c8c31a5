package netif

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/lab"
)

func TestLabel(t *testing.T) {
	for _, tc := range []struct{ ifname, want string }{
		{"eth0", "eth0:vipd"},
		{"bond0.100", "bond0.100:vipd"},
		{"enp0s31f6", "enp0s31f6:vipd"},
		{"enp0s31f6ab", "enp0s31f6ab:vip"},     // 15 bytes: the suffix shrinks
		{"enx0123456789a", "enx0123456789a"},   // 14: no room for ":" and a letter
		{"enx0123456789ab", "enx0123456789ab"}, // 15, the longest interface name
		{"abcdefghijklm", "abcdefghijklm:v"},
	} {
		got := Label(tc.ifname)
		if got != tc.want {
			t.Errorf("Label(%q) = %q, want %q", tc.ifname, got, tc.want)
		}
		if len(got) > unix.IFNAMSIZ-1 {
			t.Errorf("Label(%q) = %q is longer than 15 bytes", tc.ifname, got)
		}
	}
}

func TestFamilyString(t *testing.T) {
	for f, want := range map[Family]string{IPv4: "IPv4", IPv6: "IPv6", 0: "Family(0)"} {
		if got := f.String(); got != want {
			t.Errorf("Family(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}

func addrCmp() cmp.Option {
	return cmp.Comparer(func(x, y netip.Addr) bool { return x == y })
}

func TestParseIPv4(t *testing.T) {
	// keepalived's first advert of testdata/v3-ipv4-two-vips.txt, without
	// the Ethernet header.
	pkt, _ := hex.DecodeString("45c0002400010000ff70cce2c0a84d0be00000123133960200642e04c0a84d64c0a84d65")
	var m Meta
	payload, ok := parseIPv4(pkt, &m)
	if !ok {
		t.Fatal("parseIPv4 rejected keepalived's advert")
	}
	want := Meta{Src: netip.MustParseAddr("192.168.77.11"), Dst: netip.MustParseAddr("224.0.0.18"), TTL: 255}
	if diff := cmp.Diff(want, m, addrCmp()); diff != "" {
		t.Fatalf("meta (-want +got)\n%s", diff)
	}
	if got := hex.EncodeToString(payload); got != "3133960200642e04c0a84d64c0a84d65" {
		t.Fatalf("payload %s, want the VRRP part", got)
	}

	// With options the header is longer; the payload starts after them.
	opt := append([]byte{0x46}, pkt[1:20]...)
	opt = append(opt, 0x94, 0x04, 0, 0) // router alert
	opt = append(opt, pkt[20:]...)
	if payload, ok := parseIPv4(opt, &m); !ok || len(payload) != 16 || payload[0] != 0x31 {
		t.Fatalf("with options: %x, %v", payload, ok)
	}

	for name, b := range map[string][]byte{
		"empty":        nil,
		"short header": pkt[:19],
		"IPv6":         append([]byte{0x60}, pkt[1:]...),
		"IHL past end": append([]byte{0x4f}, pkt[1:]...),
		"IHL below 5":  append([]byte{0x44}, pkt[1:]...),
	} {
		if _, ok := parseIPv4(b, &m); ok {
			t.Errorf("%s: parseIPv4 accepted %x", name, b)
		}
	}
}

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	binary.NativeEndian.PutUint64(b[0:8], uint64(unix.CmsgLen(len(data))))
	binary.NativeEndian.PutUint32(b[8:12], uint32(level))
	binary.NativeEndian.PutUint32(b[12:16], uint32(typ))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestParseCmsgs(t *testing.T) {
	if unix.SizeofCmsghdr != 16 {
		t.Skip("cmsg builder assumes a 64-bit cmsghdr")
	}
	ll := netip.MustParseAddr("ff02::12").As16()
	pktinfo6 := binary.NativeEndian.AppendUint32(ll[:], 3)
	hop := make([]byte, 4)
	binary.NativeEndian.PutUint32(hop, 255)
	pktinfo4 := make([]byte, 12)
	binary.NativeEndian.PutUint32(pktinfo4, 7)

	for _, tc := range []struct {
		name string
		oob  []byte
		want Meta
	}{
		{"IPv6 hop limit and packet info",
			append(cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, hop), cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo6)...),
			Meta{Dst: netip.MustParseAddr("ff02::12"), TTL: 255, IfIndex: 3}},
		{"IPv4 packet info", cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, pktinfo4), Meta{IfIndex: 7}},
		{"unknown and short messages ignored",
			append(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16)), cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo6[:8])...),
			Meta{}},
		{"truncated buffer", cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, hop)[:10], Meta{}},
	} {
		var m Meta
		parseCmsgs(tc.oob, &m)
		if diff := cmp.Diff(tc.want, m, addrCmp()); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
	}
}

// TestDialSocketOptions reads back the options Dial sets that the lab
// tests do not observe on the wire.
func TestDialSocketOptions(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	h := l.AddHost("a", "192.0.2.11/24")
	for _, f := range []Family{IPv4, IPv6} {
		var c *Conn
		if err := h.Do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			c, err = Dial(ifi, f)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var (
			rcvbuf int
			dev    string
			gerr   error
		)
		if err := c.rc.Control(func(fd uintptr) {
			if rcvbuf, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF); gerr != nil {
				return
			}
			dev, gerr = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		}); err != nil {
			t.Fatal(err)
		}
		if gerr != nil {
			t.Fatal(gerr)
		}
		// The kernel reports twice the size asked for (bookkeeping).
		if rcvbuf < 2*rcvbufSize || dev != "eth0" {
			t.Errorf("%v: SO_RCVBUF %d, SO_BINDTODEVICE %q; want >= %d and eth0", f, rcvbuf, dev, 2*rcvbufSize)
		}
	}
}

// TestParseEventsBad: messages that are not what they should be are
// errors, not panics.
func TestParseEventsBad(t *testing.T) {
	msg := func(typ uint16, data []byte) syscall.NetlinkMessage {
		return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ}, Data: data}
	}
	ifaddr := make([]byte, unix.SizeofIfAddrmsg)
	for name, m := range map[string]syscall.NetlinkMessage{
		"link as address":         msg(unix.RTM_NEWLINK, ifaddr),
		"empty address":           msg(unix.RTM_NEWADDR, nil),
		"short address header":    msg(unix.RTM_DELADDR, ifaddr[:4]),
		"address without address": msg(unix.RTM_NEWADDR, ifaddr),
		"truncated attribute":     msg(unix.RTM_NEWADDR, append(ifaddr, 8, 0, unix.IFA_LOCAL, 0, 192)),
		"address of 3 bytes":      msg(unix.RTM_NEWADDR, append(ifaddr, 7, 0, unix.IFA_LOCAL, 0, 192, 0, 2, 0)),
	} {
		if a, err := ParseAddrEvent(m); err == nil {
			t.Errorf("ParseAddrEvent(%s) = %+v, want an error", name, a)
		}
	}
	for name, m := range map[string]syscall.NetlinkMessage{
		"address as link": msg(unix.RTM_NEWADDR, make([]byte, unix.SizeofIfInfomsg)),
		"empty link":      msg(unix.RTM_NEWLINK, nil),
		"short link":      msg(unix.RTM_DELLINK, make([]byte, unix.SizeofIfInfomsg-1)),
	} {
		if u, err := ParseLinkEvent(m); err == nil {
			t.Errorf("ParseLinkEvent(%s) = %+v, want an error", name, u)
		}
	}
	ok := msg(unix.RTM_NEWADDR, append(ifaddr, 8, 0, unix.IFA_LOCAL, 0, 192, 0, 2, 1))
	if a, err := ParseAddrEvent(ok); err != nil || a.Addr != netip.MustParseAddr("192.0.2.1") || !a.Added {
		t.Errorf("ParseAddrEvent(192.0.2.1 added) = %+v, %v", a, err)
	}
}
