package vrrp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestFilterCheck(t *testing.T) {
	vip1, vip2 := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")
	peer := netip.MustParseAddr("192.0.2.11")
	stranger := netip.MustParseAddr("192.0.2.66")
	pw := [8]byte{'s', '3', 'c', 'r', 'e', 't'}
	v3 := Filter{Version: 3, Interval: time.Second, Addrs: []netip.Addr{vip1, vip2}, Local: []netip.Addr{local}}
	v2 := Filter{Version: 2, Interval: time.Second, Password: pw, Addrs: []netip.Addr{vip1}}
	uni := v3
	uni.Peers = []netip.Addr{peer}
	good3 := Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{vip2, vip1}}
	good2 := Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, AuthType: AuthPassword, Password: pw, Addrs: []netip.Addr{vip1}}
	with := func(a Advert, f func(*Advert)) Advert { f(&a); return a }

	tests := []struct {
		name string
		f    Filter
		ttl  int
		src  netip.Addr
		a    Advert
		want DropReason
	}{
		{"v3 accepted, any address order", v3, 255, peer, good3, DropNone},
		{"v3 priority 0 accepted", v3, 255, peer, with(good3, func(a *Advert) { a.Priority = 0 }), DropNone},
		{"ttl 254", v3, 254, peer, good3, DropTTL},
		{"ttl 1", v3, 1, peer, good3, DropTTL},
		{"v2 packet for a v3 router", v3, 255, peer, good2, DropVersion},
		{"own advertisement", v3, 255, local, good3, DropOwn},
		{"address missing", v3, 255, peer, with(good3, func(a *Advert) { a.Addrs = a.Addrs[:1] }), DropAddrMismatch},
		{"other address", v3, 255, peer, with(good3, func(a *Advert) { a.Addrs = []netip.Addr{vip1, stranger} }), DropAddrMismatch},
		{"unicast peer accepted", uni, 255, peer, good3, DropNone},
		{"unicast stranger", uni, 255, stranger, good3, DropNotPeer},
		{"unicast stranger priority 255", uni, 255, stranger, with(good3, func(a *Advert) { a.Priority = 255 }), DropNotPeer},
		{"v2 password accepted", v2, 255, peer, good2, DropNone},
		{"v2 wrong password", v2, 255, peer, with(good2, func(a *Advert) { a.Password[0] = 'S' }), DropAuth},
		{"v2 no auth for a password router", v2, 255, peer, with(good2, func(a *Advert) { a.AuthType = AuthNone; a.Password = [8]byte{} }), DropAuth},
		{"v2 password for a no-auth router", with2(v2, func(f *Filter) { f.Password = [8]byte{} }), 255, peer, good2, DropAuth},
		{"v2 interval mismatch", v2, 255, peer, with(good2, func(a *Advert) { a.Interval = 2 * time.Second }), DropInterval},
		{"v3 interval may differ", v3, 255, peer, with(good3, func(a *Advert) { a.Interval = 100 * time.Millisecond }), DropNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Check(tt.ttl, tt.src, &tt.a); got != tt.want {
				t.Fatalf("Check = %v, want %v", got, tt.want)
			}
		})
	}
}

func with2(f Filter, fn func(*Filter)) Filter { fn(&f); return f }

func TestDropReasonOf(t *testing.T) {
	tests := []struct {
		err  error
		want DropReason
	}{
		{nil, DropNone},
		{fmt.Errorf("x: %w", ErrTooShort), DropTooShort},
		{fmt.Errorf("x: %w", ErrLength), DropTooShort},
		{fmt.Errorf("x: %w", ErrVersion), DropVersion},
		{fmt.Errorf("x: %w", ErrType), DropType},
		{fmt.Errorf("x: %w", ErrChecksum), DropChecksum},
		{fmt.Errorf("x: %w", ErrAuthType), DropMalformed},
	}
	for _, tt := range tests {
		if got := DropReasonOf(tt.err); got != tt.want {
			t.Errorf("DropReasonOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	seen := map[string]bool{}
	for _, d := range DropReasons() {
		if s := d.String(); s == "" || s == "unknown" || seen[s] {
			t.Errorf("reason %d has name %q", d, s)
		}
		seen[d.String()] = true
	}
}
