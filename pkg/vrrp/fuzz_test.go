package vrrp_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vipd/vipd/pkg/vrrp"
)

// sentinels are the errors every codec failure must wrap.
var sentinels = []error{
	vrrp.ErrTooShort, vrrp.ErrVersion, vrrp.ErrType, vrrp.ErrLength, vrrp.ErrChecksum,
	vrrp.ErrFamily, vrrp.ErrAuthType, vrrp.ErrInterval, vrrp.ErrTooManyAddrs,
}

// FuzzUnmarshal checks parse → marshal → parse: whatever Unmarshal accepts,
// Append encodes to the bytes it came from and Unmarshal reads back equal.
// The seeds are every keepalived frame in testdata/keepalived, the crafted
// messages of the table tests, and the regressions in
// testdata/fuzz/FuzzUnmarshal.
//
// With fix set, the input gets the right checksum before it is parsed, so
// that mutated inputs get past the checksum to the checks behind it.
func FuzzUnmarshal(f *testing.F) {
	for _, g := range readGolden(f) {
		f.Add(g.payload, g.src.AsSlice(), g.dst.AsSlice(), false)
	}
	f.Add(v3IPv4, src4.AsSlice(), vrrp.GroupIPv4.AsSlice(), false)
	f.Add(v3IPv6, src6.AsSlice(), vrrp.GroupIPv6.AsSlice(), false)
	f.Add(v2Pass, src4.AsSlice(), vrrp.GroupIPv4.AsSlice(), false)
	// Ignored octets set: VRRPv3 reserved bits, VRRPv2 data without auth.
	f.Add(edit(v3IPv4, func(b []byte) []byte { b[4] |= 0xa0; return b }), src4.AsSlice(), vrrp.GroupIPv4.AsSlice(), true)
	f.Add(edit(v2Pass, func(b []byte) []byte { b[4] = vrrp.AuthNone; return b }), src4.AsSlice(), vrrp.GroupIPv4.AsSlice(), true)
	// Trailing octets.
	f.Add(append(bytes.Clone(v3IPv6), 0xff), src6.AsSlice(), vrrp.GroupIPv6.AsSlice(), false)

	f.Fuzz(func(t *testing.T, b, srcb, dstb []byte, fix bool) {
		src, ok := netip.AddrFromSlice(srcb)
		if !ok {
			return
		}
		dst, ok := netip.AddrFromSlice(dstb)
		if !ok {
			return
		}
		if fix {
			if n := wireLen(b, src); n > 0 && n <= len(b) {
				// The input's memory belongs to the fuzzer.
				b = fixChecksum(bytes.Clone(b), n, src.Unmap(), dst.Unmap())
			}
		}

		var a vrrp.Advert
		if err := a.Unmarshal(b, src, dst); err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Unmarshal error %v wraps no sentinel error", err)
		}

		out, err := a.Append(nil, src, dst)
		if err != nil {
			t.Fatalf("Append of a parsed advert %+v: %v", a, err)
		}
		var again vrrp.Advert
		if err := again.Unmarshal(out, src, dst); err != nil {
			t.Fatalf("Unmarshal of Append output % x: %v", out, err)
		}
		if diff := cmp.Diff(a, again, addrs, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-first +second)\n%s", diff)
		}

		if len(out) > len(b) {
			t.Fatalf("Append wrote %d octets from a %d-octet message", len(out), len(b))
		}
		in := b[:len(out)]
		if bytes.Equal(in, out) {
			return
		}
		// The only octets Append may change are those Unmarshal ignores
		// (the VRRPv3 reserved bits, VRRPv2 authentication data without
		// authentication) and, with them, the checksum.
		in, ignored := maskIgnored(in)
		out, _ = maskIgnored(out)
		if !ignored || !bytes.Equal(in, out) {
			t.Fatalf("Append changed the message\n in: % x\nout: % x", b[:len(out)], out)
		}
	})
}

// maskIgnored returns a copy of the message m with the checksum and the
// octets Unmarshal ignores cleared, and whether any ignored octet was set.
func maskIgnored(m []byte) ([]byte, bool) {
	m = bytes.Clone(m)
	m[6], m[7] = 0, 0
	var ignored bool
	switch m[0] >> 4 {
	case 3:
		ignored = m[4]&0xf0 != 0
		m[4] &= 0x0f
	case 2:
		if m[4] == vrrp.AuthNone {
			auth := m[len(m)-8:]
			ignored = !bytes.Equal(auth, make([]byte, 8))
			clear(auth)
		}
	}
	return m, ignored
}

// wireLen is the length of the VRRP message that starts b, sent from src, as
// its header describes it, or 0 when b holds no header.
func wireLen(b []byte, src netip.Addr) int {
	if len(b) < 8 {
		return 0
	}
	alen := 16
	if src.Unmap().Is4() {
		alen = 4
	}
	n := 8 + int(b[3])*alen
	if b[0]>>4 == 2 {
		n += 8
	}
	return n
}
