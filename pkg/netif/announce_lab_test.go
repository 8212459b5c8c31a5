package netif_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
)

// keepalivedMAC is the MAC of the host keepalived ran on in testdata.
var keepalivedMAC = net.HardwareAddr{0x72, 0x25, 0x9d, 0x47, 0x68, 0xec}

// goldenFrame returns the first frame of a testdata capture whose summary
// line contains summary.
func goldenFrame(t *testing.T, file, summary string) []byte {
	t.Helper()
	f, err := os.Open("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	found := false
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "#") {
			found = strings.Contains(line, summary)
			continue
		}
		if found {
			b, err := hex.DecodeString(line)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("%s: no frame %q", file, summary)
	return nil
}

// Offsets in the frames.
const (
	arpSenderIP = 14 + 14 // Ethernet header, then ARP up to the sender IP
	arpTargetIP = 14 + 24
	ip6Src      = 14 + 8
	ip6Next     = 14 + 6
	icmp6       = 14 + 40
	naTarget    = icmp6 + 8
)

// icmp6Checksum computes the ICMPv6 checksum of msg (checksum field
// zeroed) from src to dst (RFC 4443 section 2.3), independently of the
// kernel that fills it in for the announcer.
func icmp6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[:4], uint32(len(msg)))
	l[7] = 58 // ICMPv6
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func naChecksum(frame []byte) uint16 {
	src := netip.AddrFrom16([16]byte(frame[ip6Src : ip6Src+16]))
	dst := netip.AddrFrom16([16]byte(frame[ip6Src+16 : ip6Src+32]))
	msg := bytes.Clone(frame[icmp6:])
	msg[2], msg[3] = 0, 0
	return icmp6Checksum(src, dst, msg)
}

// TestGoldenChecksum checks the test's own checksum code against
// keepalived's frame, before it is trusted to build the expected frames.
func TestGoldenChecksum(t *testing.T) {
	na := goldenFrame(t, "v3-ipv6.txt", "Neighbor Advertisement fd77::100")
	if got, want := naChecksum(na), binary.BigEndian.Uint16(na[icmp6+2:]); got != want {
		t.Fatalf("checksum of keepalived's NA computed as %#04x, frame has %#04x", got, want)
	}
}

// expectedFrames turns keepalived's announcements for 192.168.77.100 and
// fd77::100 into the ones for vip4 and vip6.
func expectedFrames(t *testing.T, vip4, vip6 netip.Addr) (garp, na []byte) {
	t.Helper()
	garp = goldenFrame(t, "v3-ipv4-two-vips.txt", "Gratuitous ARP for 192.168.77.100")
	old4 := netip.MustParseAddr("192.168.77.100").AsSlice()
	for _, off := range []int{arpSenderIP, arpTargetIP} {
		if !bytes.Equal(garp[off:off+4], old4) {
			t.Fatalf("golden GARP %x has no 192.168.77.100 at %d", garp, off)
		}
		copy(garp[off:], vip4.AsSlice())
	}

	na = goldenFrame(t, "v3-ipv6.txt", "Neighbor Advertisement fd77::100")
	old6 := netip.MustParseAddr("fd77::100").AsSlice()
	for _, off := range []int{ip6Src, naTarget} {
		if !bytes.Equal(na[off:off+16], old6) {
			t.Fatalf("golden NA %x has no fd77::100 at %d", na, off)
		}
		copy(na[off:], vip6.AsSlice())
	}
	binary.BigEndian.PutUint16(na[icmp6+2:], naChecksum(na))
	return garp, na
}

func isGARP(mac net.HardwareAddr, ip netip.Addr) func([]byte) bool {
	return func(f []byte) bool {
		return len(f) >= 42 && bytes.Equal(f[6:12], mac) && f[12] == 0x08 && f[13] == 0x06 &&
			bytes.Equal(f[arpSenderIP:arpSenderIP+4], ip.AsSlice())
	}
}

func isNA(mac net.HardwareAddr, ip netip.Addr) func([]byte) bool {
	return func(f []byte) bool {
		return len(f) > naTarget+16 && bytes.Equal(f[6:12], mac) && f[12] == 0x86 && f[13] == 0xdd &&
			f[ip6Next] == 58 && f[icmp6] == 136 && bytes.Equal(f[naTarget:naTarget+16], ip.AsSlice())
	}
}

// announcer opens an announcer inside h and makes a first announcement
// there: the ICMPv6 socket opens with the first IPv6 address.
func announcer(t testing.TB, h *lab.Host, addrs ...netip.Addr) (*netif.Announcer, error) {
	t.Helper()
	var ann *netif.Announcer
	var aerr error
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if ann, err = netif.DialAnnouncer(ifi); err != nil {
			return err
		}
		aerr = ann.Announce(addrs)
		return nil
	}); err != nil {
		t.Fatalf("host %s: %v", h.Name(), err)
	}
	t.Cleanup(func() { ann.Close() })
	return ann, aerr
}

// TestAnnounceFrames compares the announcements on the wire with
// keepalived's, byte for byte.
func TestAnnounceFrames(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHostMAC("a", keepalivedMAC, "192.0.2.11/24", "2001:db8::11/64")
	l.AddHost("b", "192.0.2.12/24", "2001:db8::12/64")
	capture := l.Capture(t, "arp or icmp6")

	vip4, vip6 := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")
	addrs := netif.NewAddrs(a.Handle())
	defer addrs.Close()
	idx := a.Interface(t).Index
	for _, p := range []netip.Prefix{netip.PrefixFrom(vip4, 32), netip.PrefixFrom(vip6, 128)} {
		if err := addrs.Add(idx, p, netif.Label("eth0")); err != nil {
			t.Fatal(err)
		}
	}
	ann, err := announcer(t, a, vip4, vip6)
	if err != nil {
		t.Fatal(err)
	}
	// Once the sockets are open, announcing works from any thread.
	if err := ann.Announce([]netip.Addr{vip4, vip6}); err != nil {
		t.Fatal(err)
	}

	wantGARP, wantNA := expectedFrames(t, vip4, vip6)
	for _, tc := range []struct {
		name  string
		match func([]byte) bool
		want  []byte
	}{
		{"gratuitous ARP", isGARP(keepalivedMAC, vip4), wantGARP},
		{"neighbour advertisement", isNA(keepalivedMAC, vip6), wantNA},
	} {
		for i, got := range capture.Wait(2, tc.match) {
			if !bytes.Equal(got, tc.want) {
				t.Errorf("%s #%d:\n got  %x\n want %x", tc.name, i+1, got, tc.want)
			}
		}
	}

	// tshark, a decoder of its own, agrees: the checksum is right and the
	// frame is what it claims.
	pcap := capture.Stop()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Logf("tshark not installed: skipping its check")
		return
	}
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "icmpv6.type == 136",
		"-T", "fields", "-e", "icmpv6.checksum.status", "-e", "icmpv6.nd.na.flag.o", "-e", "icmpv6.nd.na.flag.s",
		"-e", "icmpv6.nd.na.flag.r", "-e", "ipv6.flow", "-e", "ipv6.hlim").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	// Checksum status 1 is "Good"; then Override, not Solicited, not
	// Router, no flow label, hop limit 255.
	const want = "1\t1\t0\t0\t0x000000\t255"
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("tshark finds %d advertisements, want 2:\n%s", len(lines), out)
	}
	for _, line := range lines {
		if line != want {
			t.Errorf("tshark decodes an advertisement as %q, want %q", line, want)
		}
	}
}

// An interface without IPv6 still announces IPv4; a failing address does
// not stop the others.
func TestAnnounceWithoutIPv6(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	a := l.AddHost("a", "192.0.2.11/24")
	a.SetSysctl(t, "net.ipv6.conf.eth0.disable_ipv6", "1")
	capture := l.Capture(t, "arp")

	vip4, vip6 := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")
	addrs := netif.NewAddrs(a.Handle())
	defer addrs.Close()
	if err := addrs.Add(a.Interface(t).Index, netip.PrefixFrom(vip4, 32), ""); err != nil {
		t.Fatal(err)
	}
	ann, err := announcer(t, a, vip4)
	if err != nil {
		t.Fatal(err)
	}
	capture.Wait(1, isGARP(a.HardwareAddr(), vip4))

	// 2001:db8::100 is not on the interface (no IPv6 there): its
	// advertisement fails, the ARP for the second address goes out.
	vip4b := netip.MustParseAddr("192.0.2.101")
	err = ann.Announce([]netip.Addr{vip6, vip4b})
	if err == nil || !strings.Contains(err.Error(), vip6.String()) {
		t.Fatalf("Announce of an address the interface cannot send from = %v, want an error naming it", err)
	}
	capture.Wait(1, isGARP(a.HardwareAddr(), vip4b))

	if err := ann.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ann.Announce([]netip.Addr{vip4}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Announce after Close = %v, want net.ErrClosed", err)
	}
}

func TestDialAnnouncerNotEthernet(t *testing.T) {
	_, err := netif.DialAnnouncer(&net.Interface{Name: "tun0", Index: 1})
	if !errors.Is(err, netif.ErrNotEthernet) {
		t.Fatalf("DialAnnouncer without MAC = %v, want ErrNotEthernet", err)
	}
}
