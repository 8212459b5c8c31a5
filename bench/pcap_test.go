package bench

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// advertFrame is a VRRPv3 advertisement as keepalived 2.2.7 sent it at
// advert_int 0.01: VRID 51, priority 250, 1 cs, VIP 192.0.2.100.
var advertFrame = []byte{
	0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x08, 0x00,
	0x45, 0xc0, 0x00, 0x20, 0x00, 0x1c, 0x00, 0x00, 0xff, 0x70, 0x00, 0x00,
	0xc0, 0x00, 0x02, 0x0b, 0xe0, 0x00, 0x00, 0x12,
	0x31, 0x33, 0xfa, 0x01, 0x00, 0x01, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x64,
}

// garpFrame is a gratuitous ARP request for 192.0.2.100 from
// 02:76:6c:00:00:02.
var garpFrame = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x76, 0x6c, 0x00, 0x00, 0x02, 0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x76, 0x6c, 0x00, 0x00, 0x02, 0xc0, 0x00, 0x02, 0x64,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x64,
}

func TestParseAdvert(t *testing.T) {
	v2 := append([]byte(nil), advertFrame...)
	v2[34], v2[38], v2[39] = 0x21, 0x00, 0x01 // version 2, no auth, 1 s
	tests := []struct {
		name  string
		frame []byte
		want  Advert
		ok    bool
	}{
		{"v3", advertFrame, Advert{Src: netip.MustParseAddr("192.0.2.11"), Version: 3, VRID: 51, Priority: 250, Interval: 10 * time.Millisecond}, true},
		{"v2", v2, Advert{Src: netip.MustParseAddr("192.0.2.11"), Version: 2, VRID: 51, Priority: 250, Interval: time.Second}, true},
		{"ARP", garpFrame, Advert{}, false},
		{"short", advertFrame[:40], Advert{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseAdvert(tt.frame)
			if diff := cmp.Diff([]any{tt.want, tt.ok}, []any{got, ok}, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseGARP(t *testing.T) {
	mac, addr, ok := ParseGARP(garpFrame)
	if !ok || mac.String() != "02:76:6c:00:00:02" || addr != netip.MustParseAddr("192.0.2.100") {
		t.Fatalf("ParseGARP = %v, %v, %v", mac, addr, ok)
	}
	// A request for another address is not gratuitous.
	req := append([]byte(nil), garpFrame...)
	req[41] = 0x01
	if _, _, ok := ParseGARP(req); ok {
		t.Error("an ordinary ARP request parsed as gratuitous")
	}
	if _, _, ok := ParseGARP(advertFrame); ok {
		t.Error("a VRRP advert parsed as gratuitous ARP")
	}
}

// pcapFile builds a little-endian pcap file with the given magic.
func pcapFile(magic uint32, frames ...Frame) []byte {
	b := binary.LittleEndian.AppendUint32(nil, magic)
	b = append(b, 2, 0, 4, 0)         // version 2.4
	b = append(b, make([]byte, 8)...) // zone, sigfigs
	b = binary.LittleEndian.AppendUint32(b, 262144)
	b = binary.LittleEndian.AppendUint32(b, 1) // Ethernet
	for _, f := range frames {
		frac := f.Time.Nanosecond() / 1000
		if magic == 0xa1b23c4d {
			frac = f.Time.Nanosecond()
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(f.Time.Unix()))
		b = binary.LittleEndian.AppendUint32(b, uint32(frac))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Data)))
		b = append(b, f.Data...)
	}
	return b
}

func TestReadPcap(t *testing.T) {
	frames := []Frame{
		{Time: time.Unix(1700000000, 123456789), Data: advertFrame},
		{Time: time.Unix(1700000001, 5000), Data: garpFrame},
	}
	micro := []Frame{
		{Time: time.Unix(1700000000, 123456000), Data: advertFrame},
		{Time: time.Unix(1700000001, 5000), Data: garpFrame},
	}
	full := pcapFile(0xa1b2c3d4, frames...)
	tests := []struct {
		name string
		file []byte
		want []Frame
	}{
		{"microseconds", full, micro},
		{"nanoseconds", pcapFile(0xa1b23c4d, frames...), frames},
		{"record cut short", full[:len(full)-3], micro[:1]},
		{"header only", full[:24], nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.pcap")
			if err := os.WriteFile(path, tt.file, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadPcap(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if got, err := ReadPcap(filepath.Join(t.TempDir(), "none")); err != nil || got != nil {
			t.Fatalf("ReadPcap(missing) = %v, %v; want nothing", got, err)
		}
	})
	t.Run("not pcap", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.pcap")
		if err := os.WriteFile(path, make([]byte, 40), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPcap(path); !errors.Is(err, ErrNotPcap) {
			t.Fatalf("ReadPcap(zeros) error %v, want ErrNotPcap", err)
		}
	})
}
