package vrrp_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vipd/vipd/pkg/vrrp"
)

// goldenFrame is one VRRP frame of a keepalived capture in testdata.
type goldenFrame struct {
	file     string // capture name without extension
	frame    int    // frame number of the tshark summary line
	src, dst netip.Addr
	payload  []byte // the IP payload: the VRRP message
}

// frameNumber matches the tshark summary line before each frame.
var frameNumber = regexp.MustCompile(`^#\s+(\d+)\s`)

// readGolden returns every VRRP frame of the captures in
// testdata/keepalived, stripped of its Ethernet and IP headers.
func readGolden(tb testing.TB) []goldenFrame {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "keepalived", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no captures in testdata/keepalived")
	}
	var frames []goldenFrame
	for _, file := range files {
		frames = append(frames, readCapture(tb, file)...)
	}
	return frames
}

func readCapture(tb testing.TB, file string) []goldenFrame {
	tb.Helper()
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()

	name := strings.TrimSuffix(filepath.Base(file), ".txt")
	var (
		frames []goldenFrame
		number int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if m := frameNumber.FindStringSubmatch(line); m != nil {
				number, _ = strconv.Atoi(m[1])
			}
			continue
		}
		eth, err := hex.DecodeString(line)
		if err != nil {
			tb.Fatalf("%s frame %d: %v", name, number, err)
		}
		src, dst, payload, ok := vrrpPayload(tb, eth)
		if !ok {
			continue
		}
		frames = append(frames, goldenFrame{file: name, frame: number, src: src, dst: dst, payload: payload})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return frames
}

// vrrpPayload strips the Ethernet and IP headers off a frame and reports
// whether it carries VRRP. It parses the headers itself so that the test
// depends on nothing but the bytes.
func vrrpPayload(tb testing.TB, eth []byte) (src, dst netip.Addr, payload []byte, ok bool) {
	tb.Helper()
	if len(eth) < 14 {
		tb.Fatalf("short Ethernet frame: % x", eth)
	}
	ip := eth[14:]
	switch binary.BigEndian.Uint16(eth[12:14]) {
	case 0x0800:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			tb.Fatalf("bad IPv4 header: % x", ip)
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || total < ihl || total > len(ip) {
			tb.Fatalf("bad IPv4 lengths: % x", ip)
		}
		if ip[9] != vrrp.IPProto {
			return src, dst, nil, false
		}
		if ip[8] != vrrp.TTL {
			tb.Fatalf("VRRP over IPv4 with TTL %d", ip[8])
		}
		src = netip.AddrFrom4([4]byte(ip[12:16]))
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
		// Slicing by the total length drops any Ethernet padding.
		return src, dst, ip[ihl:total], true
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			tb.Fatalf("bad IPv6 header: % x", ip)
		}
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+plen > len(ip) {
			tb.Fatalf("bad IPv6 payload length: % x", ip)
		}
		if ip[6] != vrrp.IPProto {
			return src, dst, nil, false
		}
		if ip[7] != vrrp.TTL {
			tb.Fatalf("VRRP over IPv6 with hop limit %d", ip[7])
		}
		src = netip.AddrFrom16([16]byte(ip[8:24]))
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		return src, dst, ip[40 : 40+plen], true
	default:
		return src, dst, nil, false
	}
}

// goldenFile finds the frame of a capture, failing the test when it is not there.
func goldenFile(tb testing.TB, file string, frame int) goldenFrame {
	tb.Helper()
	for _, g := range readCapture(tb, filepath.Join("testdata", "keepalived", file+".txt")) {
		if g.frame == frame {
			return g
		}
	}
	tb.Fatalf("%s has no VRRP frame %d", file, frame)
	return goldenFrame{}
}

func mustAddrs(ss ...string) []netip.Addr {
	addrs := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	return addrs
}

func password(s string) [8]byte {
	var p [8]byte
	copy(p[:], s)
	return p
}

// TestGolden decodes every VRRP frame keepalived sent, compares it with the
// fields read off the tshark summaries and the bytes, and encodes it back to
// the same bytes, checksum included.
func TestGolden(t *testing.T) {
	t.Parallel()

	// Each capture holds adverts of a running master, then the priority 0
	// advert keepalived sends when it stops (the last VRRP frame).
	tests := []struct {
		file     string
		src, dst string
		running  []int // frames with the configured priority
		stopping int   // frame with priority 0
		want     vrrp.Advert
	}{
		{
			file:    "v2-ipv4-auth-pass",
			src:     "192.168.77.11",
			dst:     "224.0.0.18",
			running: []int{1, 7, 8}, stopping: 9,
			want: vrrp.Advert{
				Version:  2,
				VRID:     53,
				Priority: 150,
				Interval: time.Second,
				AuthType: vrrp.AuthPassword,
				Password: password("s3cret"),
				Addrs:    mustAddrs("192.168.77.103"),
			},
		},
		{
			file:    "v2-ipv4-noauth",
			src:     "192.168.77.11",
			dst:     "224.0.0.18",
			running: []int{1, 7, 8}, stopping: 9,
			want: vrrp.Advert{
				Version:  2,
				VRID:     54,
				Priority: 200,
				Interval: time.Second,
				AuthType: vrrp.AuthNone,
				Addrs:    mustAddrs("192.168.77.104"),
			},
		},
		{
			file:    "v3-ipv4-two-vips",
			src:     "192.168.77.11",
			dst:     "224.0.0.18",
			running: []int{1, 12, 13}, stopping: 14,
			want: vrrp.Advert{
				Version:  3,
				VRID:     51,
				Priority: 150,
				Interval: time.Second,
				Addrs:    mustAddrs("192.168.77.100", "192.168.77.101"),
			},
		},
		{
			file:    "v3-ipv4-unicast",
			src:     "192.168.77.11",
			dst:     "192.168.77.12",
			running: []int{1, 9, 10}, stopping: 11,
			want: vrrp.Advert{
				Version:  3,
				VRID:     55,
				Priority: 150,
				Interval: time.Second,
				Addrs:    mustAddrs("192.168.77.105"),
			},
		},
		{
			file:    "v3-ipv6",
			src:     "fe80::7025:9dff:fe47:68ec",
			dst:     "ff02::12",
			running: []int{1, 7, 8}, stopping: 9,
			want: vrrp.Advert{
				Version:  3,
				VRID:     52,
				Priority: 150,
				Interval: time.Second,
				Addrs:    mustAddrs("fd77::100"),
			},
		},
	}

	seen := 0
	for _, tt := range tests {
		frames := readCapture(t, filepath.Join("testdata", "keepalived", tt.file+".txt"))
		var numbers []int
		for _, g := range frames {
			numbers = append(numbers, g.frame)
		}
		if diff := cmp.Diff(append(tt.running, tt.stopping), numbers); diff != "" {
			t.Fatalf("%s: VRRP frames (-want +got)\n%s", tt.file, diff)
		}
		seen += len(frames)

		for _, g := range frames {
			t.Run(tt.file+"/"+strconv.Itoa(g.frame), func(t *testing.T) {
				t.Parallel()
				if diff := cmp.Diff(netip.MustParseAddr(tt.src), g.src, addrs); diff != "" {
					t.Fatalf("IP source (-want +got)\n%s", diff)
				}
				if diff := cmp.Diff(netip.MustParseAddr(tt.dst), g.dst, addrs); diff != "" {
					t.Fatalf("IP destination (-want +got)\n%s", diff)
				}

				want := tt.want
				if g.frame == tt.stopping {
					want.Priority = 0
				}
				var got vrrp.Advert
				if err := got.Unmarshal(g.payload, g.src, g.dst); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				if diff := cmp.Diff(want, got, addrs); diff != "" {
					t.Fatalf("Unmarshal (-want +got)\n%s", diff)
				}

				b, err := want.Append(nil, g.src, g.dst)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if diff := cmp.Diff(g.payload, b); diff != "" {
					t.Fatalf("Append bytes (-capture +got)\n%s", diff)
				}
			})
		}
	}
	if all := len(readGolden(t)); all != seen {
		t.Fatalf("testdata holds %d VRRP frames, the table covers %d", all, seen)
	}
}

// addrs lets cmp compare netip.Addr, whose fields are unexported, with ==.
var addrs = cmpopts.EquateComparable(netip.Addr{})

// refChecksum is an independent Internet checksum over an explicit
// pseudo-header, used to craft packets whose checksum is right.
func refChecksum(m []byte, src, dst netip.Addr) uint16 {
	var buf []byte
	if m[0]>>4 == 3 {
		buf = append(buf, src.AsSlice()...)
		buf = append(buf, dst.AsSlice()...)
		if src.Is4() {
			buf = append(buf, 0, vrrp.IPProto)
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(m)))
		} else {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(m)))
			buf = append(buf, 0, 0, 0, vrrp.IPProto)
		}
	}
	buf = append(buf, m...)
	buf[len(buf)-len(m)+6], buf[len(buf)-len(m)+7] = 0, 0
	if len(buf)%2 == 1 {
		buf = append(buf, 0)
	}
	var s uint64
	for i := 0; i < len(buf); i += 2 {
		s += uint64(binary.BigEndian.Uint16(buf[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// fixChecksum stores the right checksum in the message m[:n].
func fixChecksum(m []byte, n int, src, dst netip.Addr) []byte {
	binary.BigEndian.PutUint16(m[6:8], refChecksum(m[:n], src, dst))
	return m
}

// Documentation addresses for crafted packets.
var (
	src4  = netip.MustParseAddr("192.0.2.1")
	peer4 = netip.MustParseAddr("192.0.2.2")
	src6  = netip.MustParseAddr("fe80::1")
	peer6 = netip.MustParseAddr("fe80::2")
)

// Crafted messages, built byte by byte with refChecksum.
var (
	// v3IPv4 is a version 3 advert from src4 to GroupIPv4: VRID 7,
	// priority 100, 1s, 192.0.2.100 and 192.0.2.101.
	v3IPv4 = func() []byte {
		m := []byte{0x31, 7, 100, 2, 0x00, 100, 0, 0, 192, 0, 2, 100, 192, 0, 2, 101}
		return fixChecksum(m, len(m), src4, vrrp.GroupIPv4)
	}()
	// v3IPv6 is a version 3 advert from src6 to GroupIPv6: VRID 8,
	// priority 255, 40.95s, 2001:db8::1.
	v3IPv6 = func() []byte {
		m := append([]byte{0x31, 8, 255, 1, 0x0f, 0xff, 0, 0}, netip.MustParseAddr("2001:db8::1").AsSlice()...)
		return fixChecksum(m, len(m), src6, vrrp.GroupIPv6)
	}()
	// v2Pass is a version 2 advert from src4 to GroupIPv4: VRID 9,
	// priority 50, 3s, 198.51.100.1, password "hunter2".
	v2Pass = func() []byte {
		m := []byte{0x21, 9, 50, 1, vrrp.AuthPassword, 3, 0, 0, 198, 51, 100, 1, 'h', 'u', 'n', 't', 'e', 'r', '2', 0}
		return fixChecksum(m, len(m), src4, vrrp.GroupIPv4)
	}()
)

// edit returns a copy of b changed by f.
func edit(b []byte, f func(b []byte) []byte) []byte {
	return f(bytes.Clone(b))
}

func TestUnmarshal(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     vrrp.Advert
	}{
		{
			name: "v3 IPv4",
			b:    v3IPv4, src: src4, dst: vrrp.GroupIPv4,
			want: vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100", "192.0.2.101")},
		},
		{
			name: "v3 IPv6 largest interval",
			b:    v3IPv6, src: src6, dst: vrrp.GroupIPv6,
			want: vrrp.Advert{Version: 3, VRID: 8, Priority: 255, Interval: vrrp.MaxIntervalV3, Addrs: mustAddrs("2001:db8::1")},
		},
		{
			name: "v2 password",
			b:    v2Pass, src: src4, dst: vrrp.GroupIPv4,
			want: vrrp.Advert{Version: 2, VRID: 9, Priority: 50, Interval: 3 * time.Second, AuthType: vrrp.AuthPassword, Password: password("hunter2"), Addrs: mustAddrs("198.51.100.1")},
		},
		{
			// The reserved bits above the 12-bit interval are ignored.
			name: "v3 reserved bits set",
			b: edit(v3IPv4, func(b []byte) []byte {
				b[4] |= 0xf0
				return fixChecksum(b, len(b), src4, vrrp.GroupIPv4)
			}),
			src: src4, dst: vrrp.GroupIPv4,
			want: vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100", "192.0.2.101")},
		},
		{
			// Octets after the message are neither decoded nor checksummed.
			name: "v3 trailing octets",
			b:    append(bytes.Clone(v3IPv4), 0xde, 0xad, 0xbe, 0xef),
			src:  src4, dst: vrrp.GroupIPv4,
			want: vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100", "192.0.2.101")},
		},
		{
			name: "v2 trailing octets",
			b:    append(bytes.Clone(v2Pass), 1, 2, 3),
			src:  src4, dst: vrrp.GroupIPv4,
			want: vrrp.Advert{Version: 2, VRID: 9, Priority: 50, Interval: 3 * time.Second, AuthType: vrrp.AuthPassword, Password: password("hunter2"), Addrs: mustAddrs("198.51.100.1")},
		},
		{
			// Without authentication the data is ignored, not reported.
			name: "v2 no auth with data",
			b: edit(v2Pass, func(b []byte) []byte {
				b[4] = vrrp.AuthNone
				return fixChecksum(b, len(b), src4, vrrp.GroupIPv4)
			}),
			src: src4, dst: vrrp.GroupIPv4,
			want: vrrp.Advert{Version: 2, VRID: 9, Priority: 50, Interval: 3 * time.Second, AuthType: vrrp.AuthNone, Addrs: mustAddrs("198.51.100.1")},
		},
		{
			name: "v3 no addresses",
			b:    fixChecksum([]byte{0x31, 1, 0, 0, 0, 0, 0, 0}, 8, peer4, src4),
			src:  peer4, dst: src4,
			want: vrrp.Advert{Version: 3, VRID: 1, Priority: 0, Interval: 0},
		},
		{
			// Sockets may hand out IPv4 sources as IPv4-mapped IPv6.
			name: "v3 IPv4-mapped source",
			b:    v3IPv4,
			src:  netip.AddrFrom16(src4.As16()), dst: netip.AddrFrom16(vrrp.GroupIPv4.As16()),
			want: vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100", "192.0.2.101")},
		},
		{
			// Link-local sources carry the interface as zone.
			name: "v3 IPv6 zoned source",
			b:    v3IPv6, src: src6.WithZone("eth0"), dst: vrrp.GroupIPv6,
			want: vrrp.Advert{Version: 3, VRID: 8, Priority: 255, Interval: vrrp.MaxIntervalV3, Addrs: mustAddrs("2001:db8::1")},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Reuse a dirty Advert, as a receive loop does.
			got := vrrp.Advert{Version: 9, AuthType: 9, Password: password("dirty"), Addrs: mustAddrs("203.0.113.9", "203.0.113.10", "203.0.113.11")}
			if err := got.Unmarshal(tt.b, tt.src, tt.dst); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, addrs, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	t.Parallel()

	v2 := func(f func(b []byte)) []byte {
		return edit(v2Pass, func(b []byte) []byte {
			f(b)
			return fixChecksum(b, len(b), src4, vrrp.GroupIPv4)
		})
	}
	flip := func(b []byte, i int, bit byte) []byte {
		return edit(b, func(b []byte) []byte { b[i] ^= bit; return b })
	}

	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     error
	}{
		{name: "empty", b: nil, src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrTooShort},
		{name: "7 octets", b: v3IPv4[:7], src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrTooShort},
		{name: "version 0", b: edit(v3IPv4, func(b []byte) []byte { b[0] = 0x01; return b }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrVersion},
		{name: "version 1", b: edit(v3IPv4, func(b []byte) []byte { b[0] = 0x11; return b }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrVersion},
		{name: "version 4", b: edit(v3IPv4, func(b []byte) []byte { b[0] = 0x41; return b }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrVersion},
		{name: "type 0", b: edit(v3IPv4, func(b []byte) []byte { b[0] = 0x30; return b }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrType},
		{name: "type 2", b: edit(v3IPv4, func(b []byte) []byte { b[0] = 0x32; return b }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrType},
		{name: "v2 type 15", b: edit(v2Pass, func(b []byte) []byte { b[0] = 0x2f; return b }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrType},
		{name: "v3 count beyond packet", b: edit(v3IPv4, func(b []byte) []byte { b[3] = 3; return b }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrLength},
		{name: "v3 truncated address", b: v3IPv4[:len(v3IPv4)-1], src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrLength},
		{name: "v3 header only", b: v3IPv4[:8], src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrLength},
		{name: "v3 IPv4 message read as IPv6", b: v3IPv4, src: src6, dst: vrrp.GroupIPv6, want: vrrp.ErrLength},
		{name: "v2 no auth data", b: v2Pass[:len(v2Pass)-8], src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrLength},
		{name: "v2 short auth data", b: v2Pass[:len(v2Pass)-1], src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrLength},
		{name: "v3 flipped checksum bit", b: flip(v3IPv4, 7, 0x01), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrChecksum},
		{name: "v3 flipped address bit", b: flip(v3IPv4, 15, 0x80), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrChecksum},
		{name: "v3 flipped priority bit", b: flip(v3IPv4, 2, 0x10), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrChecksum},
		{name: "v3 IPv6 flipped address bit", b: flip(v3IPv6, 23, 0x01), src: src6, dst: vrrp.GroupIPv6, want: vrrp.ErrChecksum},
		// The pseudo-header makes the checksum cover the IP addresses.
		{name: "v3 other source", b: v3IPv4, src: peer4, dst: vrrp.GroupIPv4, want: vrrp.ErrChecksum},
		{name: "v3 other destination", b: v3IPv4, src: src4, dst: peer4, want: vrrp.ErrChecksum},
		{name: "v3 IPv6 other source", b: v3IPv6, src: peer6, dst: vrrp.GroupIPv6, want: vrrp.ErrChecksum},
		{name: "v2 flipped password bit", b: flip(v2Pass, 19, 0x01), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrChecksum},
		{name: "v2 over IPv6", b: v2Pass, src: src6, dst: vrrp.GroupIPv6, want: vrrp.ErrFamily},
		{name: "IPv4 source, IPv6 destination", b: v3IPv4, src: src4, dst: vrrp.GroupIPv6, want: vrrp.ErrFamily},
		{name: "IPv6 source, IPv4 destination", b: v3IPv6, src: src6, dst: vrrp.GroupIPv4, want: vrrp.ErrFamily},
		{name: "no source", b: v3IPv4, dst: vrrp.GroupIPv4, want: vrrp.ErrFamily},
		{name: "no destination", b: v3IPv4, src: src4, want: vrrp.ErrFamily},
		{name: "v2 auth type 2", b: v2(func(b []byte) { b[4] = 2 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrAuthType},
		{name: "v2 auth type 255", b: v2(func(b []byte) { b[4] = 255 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrAuthType},
		{name: "v2 interval 0", b: v2(func(b []byte) { b[5] = 0 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrInterval},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := vrrp.Advert{Version: 3, VRID: 42, Priority: 1, Interval: time.Second, Addrs: mustAddrs("203.0.113.1")}
			got := before
			got.Addrs = append([]netip.Addr(nil), before.Addrs...)
			err := got.Unmarshal(tt.b, tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal error %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(before, got, addrs); diff != "" {
				t.Fatalf("Unmarshal changed the Advert on error (-before +after)\n%s", diff)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	t.Parallel()

	many := make([]netip.Addr, vrrp.MaxAddrs)
	for i := range many {
		many[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
	}
	manyMsg := []byte{0x31, 10, 100, 255, 0x00, 0x64, 0, 0}
	for _, ip := range many {
		manyMsg = append(manyMsg, ip.AsSlice()...)
	}
	fixChecksum(manyMsg, len(manyMsg), src6, vrrp.GroupIPv6)

	tests := []struct {
		name     string
		a        vrrp.Advert
		prefix   []byte
		src, dst netip.Addr
		want     []byte // the message after prefix
	}{
		{
			name: "v3 IPv4",
			a:    vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100", "192.0.2.101")},
			src:  src4, dst: vrrp.GroupIPv4,
			want: v3IPv4,
		},
		{
			name:   "v3 IPv4 after a prefix",
			a:      vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100", "192.0.2.101")},
			prefix: []byte{0xaa, 0xbb, 0xcc},
			src:    src4, dst: vrrp.GroupIPv4,
			want: v3IPv4,
		},
		{
			name: "v3 IPv6 largest interval",
			a:    vrrp.Advert{Version: 3, VRID: 8, Priority: 255, Interval: vrrp.MaxIntervalV3, Addrs: mustAddrs("2001:db8::1")},
			src:  src6, dst: vrrp.GroupIPv6,
			want: v3IPv6,
		},
		{
			name: "v3 IPv6 zoned source",
			a:    vrrp.Advert{Version: 3, VRID: 8, Priority: 255, Interval: vrrp.MaxIntervalV3, Addrs: mustAddrs("2001:db8::1")},
			src:  src6.WithZone("eth0"), dst: vrrp.GroupIPv6,
			want: v3IPv6,
		},
		{
			name: "v3 IPv6 255 addresses",
			a:    vrrp.Advert{Version: 3, VRID: 10, Priority: 100, Interval: time.Second, Addrs: many},
			src:  src6, dst: vrrp.GroupIPv6,
			want: manyMsg,
		},
		{
			name: "v3 zero interval, no addresses",
			a:    vrrp.Advert{Version: 3, VRID: 1},
			src:  peer4, dst: src4,
			want: fixChecksum([]byte{0x31, 1, 0, 0, 0, 0, 0, 0}, 8, peer4, src4),
		},
		{
			name: "v3 password ignored",
			a:    vrrp.Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Password: password("x"), Addrs: mustAddrs("192.0.2.100", "192.0.2.101")},
			src:  src4, dst: vrrp.GroupIPv4,
			want: v3IPv4,
		},
		{
			name: "v2 password",
			a:    vrrp.Advert{Version: 2, VRID: 9, Priority: 50, Interval: 3 * time.Second, AuthType: vrrp.AuthPassword, Password: password("hunter2"), Addrs: mustAddrs("198.51.100.1")},
			src:  src4, dst: vrrp.GroupIPv4,
			want: v2Pass,
		},
		{
			name: "v2 no auth sends no password",
			a:    vrrp.Advert{Version: 2, VRID: 9, Priority: 50, Interval: 3 * time.Second, AuthType: vrrp.AuthNone, Password: password("hunter2"), Addrs: mustAddrs("198.51.100.1")},
			src:  src4, dst: vrrp.GroupIPv4,
			want: edit(v2Pass, func(b []byte) []byte {
				b[4] = vrrp.AuthNone
				clear(b[12:])
				return fixChecksum(b, len(b), src4, vrrp.GroupIPv4)
			}),
		},
		{
			name: "v2 longest interval",
			a:    vrrp.Advert{Version: 2, VRID: 9, Priority: 50, Interval: vrrp.MaxIntervalV2, AuthType: vrrp.AuthPassword, Password: password("hunter2"), Addrs: mustAddrs("198.51.100.1")},
			src:  src4, dst: vrrp.GroupIPv4,
			want: edit(v2Pass, func(b []byte) []byte {
				b[5] = 255
				return fixChecksum(b, len(b), src4, vrrp.GroupIPv4)
			}),
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.a.Append(bytes.Clone(tt.prefix), tt.src, tt.dst)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			want := append(bytes.Clone(tt.prefix), tt.want...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	t.Parallel()

	tooMany := make([]netip.Addr, vrrp.MaxAddrs+1)
	for i := range tooMany {
		tooMany[i] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
	}
	v3 := func(f func(a *vrrp.Advert)) vrrp.Advert {
		a := vrrp.Advert{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100")}
		f(&a)
		return a
	}
	v2 := func(f func(a *vrrp.Advert)) vrrp.Advert {
		a := vrrp.Advert{Version: 2, VRID: 1, Priority: 100, Interval: time.Second, Addrs: mustAddrs("192.0.2.100")}
		f(&a)
		return a
	}

	tests := []struct {
		name     string
		a        vrrp.Advert
		src, dst netip.Addr
		want     error
	}{
		{name: "version 0", a: v3(func(a *vrrp.Advert) { a.Version = 0 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrVersion},
		{name: "version 4", a: v3(func(a *vrrp.Advert) { a.Version = 4 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrVersion},
		{name: "256 addresses", a: v3(func(a *vrrp.Advert) { a.Addrs = tooMany }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrTooManyAddrs},
		{name: "v3 IPv6 address from IPv4", a: v3(func(a *vrrp.Advert) { a.Addrs = mustAddrs("192.0.2.100", "2001:db8::1") }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrFamily},
		{name: "v3 IPv4 address from IPv6", a: v3(func(a *vrrp.Advert) {}), src: src6, dst: vrrp.GroupIPv6, want: vrrp.ErrFamily},
		{name: "v3 zero address", a: v3(func(a *vrrp.Advert) { a.Addrs = []netip.Addr{{}} }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrFamily},
		{name: "v3 mixed source and destination", a: v3(func(a *vrrp.Advert) {}), src: src4, dst: vrrp.GroupIPv6, want: vrrp.ErrFamily},
		{name: "v3 no source", a: v3(func(a *vrrp.Advert) {}), dst: vrrp.GroupIPv4, want: vrrp.ErrFamily},
		{name: "v2 over IPv6", a: v2(func(a *vrrp.Advert) { a.Addrs = mustAddrs("2001:db8::1") }), src: src6, dst: vrrp.GroupIPv6, want: vrrp.ErrFamily},
		{name: "v3 negative interval", a: v3(func(a *vrrp.Advert) { a.Interval = -10 * time.Millisecond }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrInterval},
		{name: "v3 interval not centiseconds", a: v3(func(a *vrrp.Advert) { a.Interval = 15 * time.Millisecond }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrInterval},
		{name: "v3 interval too long", a: v3(func(a *vrrp.Advert) { a.Interval = vrrp.MaxIntervalV3 + vrrp.MinIntervalV3 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrInterval},
		{name: "v3 auth type", a: v3(func(a *vrrp.Advert) { a.AuthType = vrrp.AuthPassword }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrAuthType},
		{name: "v2 zero interval", a: v2(func(a *vrrp.Advert) { a.Interval = 0 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrInterval},
		{name: "v2 interval not whole seconds", a: v2(func(a *vrrp.Advert) { a.Interval = 1500 * time.Millisecond }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrInterval},
		{name: "v2 interval too long", a: v2(func(a *vrrp.Advert) { a.Interval = vrrp.MaxIntervalV2 + time.Second }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrInterval},
		{name: "v2 auth type 2", a: v2(func(a *vrrp.Advert) { a.AuthType = 2 }), src: src4, dst: vrrp.GroupIPv4, want: vrrp.ErrAuthType},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte{1, 2, 3}
			b, err := tt.a.Append(prefix, tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Append error %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff([]byte{1, 2, 3}, b); diff != "" {
				t.Fatalf("Append changed the buffer on error (-want +got)\n%s", diff)
			}
		})
	}
}

// TestNoAllocs keeps the receive and send paths free of allocations: a
// daemon parses every advert of every virtual router on the link.
func TestNoAllocs(t *testing.T) {
	for _, g := range []goldenFrame{
		goldenFile(t, "v3-ipv4-two-vips", 1),
		goldenFile(t, "v3-ipv6", 1),
		goldenFile(t, "v2-ipv4-auth-pass", 1),
	} {
		t.Run(g.file, func(t *testing.T) {
			var a vrrp.Advert
			if err := a.Unmarshal(g.payload, g.src, g.dst); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if n := testing.AllocsPerRun(100, func() {
				if err := a.Unmarshal(g.payload, g.src, g.dst); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
			}); n != 0 {
				t.Errorf("Unmarshal into a reused Advert: %v allocs, want 0", n)
			}

			buf := make([]byte, 0, 128)
			if n := testing.AllocsPerRun(100, func() {
				var err error
				if buf, err = a.Append(buf[:0], g.src, g.dst); err != nil {
					t.Fatalf("Append: %v", err)
				}
			}); n != 0 {
				t.Errorf("Append into a buffer with room: %v allocs, want 0", n)
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, g := range []goldenFrame{
		goldenFile(b, "v3-ipv4-two-vips", 1),
		goldenFile(b, "v3-ipv6", 1),
		goldenFile(b, "v2-ipv4-auth-pass", 1),
	} {
		b.Run(g.file, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(g.payload)))
			var a vrrp.Advert
			for b.Loop() {
				if err := a.Unmarshal(g.payload, g.src, g.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, g := range []goldenFrame{
		goldenFile(b, "v3-ipv4-two-vips", 1),
		goldenFile(b, "v3-ipv6", 1),
		goldenFile(b, "v2-ipv4-auth-pass", 1),
	} {
		b.Run(g.file, func(b *testing.B) {
			var a vrrp.Advert
			if err := a.Unmarshal(g.payload, g.src, g.dst); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(g.payload)))
			buf := make([]byte, 0, 128)
			for b.Loop() {
				var err error
				if buf, err = a.Append(buf[:0], g.src, g.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
