package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/pkg/netif"
	"github.com/vipd/vipd/pkg/vrrp"
)

// attackerAddr is the third host that sends crafted packets.
var attackerAddr = netip.MustParseAddr("192.0.2.66")

// An attacker sends VRRP packets from a lab host through raw sockets: one
// as vipd sends (TTL 255) and one with TTL 1, as a packet forwarded by a
// router or forged off-link arrives.
type attacker struct {
	host  *lab.Host
	good  *netif.Conn
	ttl1  *ipv4.PacketConn
	src   netip.Addr
	count atomic.Uint64 // packets sent
	fails atomic.Uint64 // sends that failed (a full queue under a flood)
}

func newAttacker(t testing.TB, h *lab.Host, src netip.Addr) *attacker {
	t.Helper()
	ifi := h.Interface(t)
	a := &attacker{host: h, src: src}
	// Opened inside the host's namespace, the sockets stay there.
	err := h.Do(func() error {
		c, err := netif.Dial(ifi, netif.IPv4)
		if err != nil {
			return err
		}
		a.good = c
		pc, err := net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return err
		}
		p := ipv4.NewPacketConn(pc)
		a.ttl1 = p
		for _, set := range []func() error{
			func() error { return p.SetTTL(1) },
			func() error { return p.SetMulticastTTL(1) },
			func() error { return p.SetMulticastInterface(ifi) },
		} {
			if err := set(); err != nil {
				return err
			}
		}
		return nil
	})
	if a.good != nil {
		t.Cleanup(func() { a.good.Close() })
	}
	if a.ttl1 != nil {
		t.Cleanup(func() { a.ttl1.Close() })
	}
	if err != nil {
		t.Fatalf("attacker sockets on %s: %v", h.Name(), err)
	}
	return a
}

// A crafted packet: the VRRP message, where it goes, whether it leaves
// with TTL 1, and the drop reason a vipd receiving it must count.
type crafted struct {
	kind   string
	msg    []byte
	dst    netip.Addr
	ttl1   bool
	reason vrrp.DropReason
}

func (a *attacker) send(p crafted) error {
	var err error
	if p.ttl1 {
		_, err = a.ttl1.WriteTo(p.msg, nil, &net.IPAddr{IP: p.dst.AsSlice()})
	} else {
		err = a.good.WriteTo(p.msg, a.src, p.dst)
	}
	if err != nil {
		a.fails.Add(1)
		return fmt.Errorf("send %s to %v: %w", p.kind, p.dst, err)
	}
	a.count.Add(1)
	return nil
}

// advert encodes an advertisement from src to dst and fails the test if it
// cannot.
func advert(t testing.TB, a vrrp.Advert, src, dst netip.Addr) []byte {
	t.Helper()
	b, err := a.Append(nil, src, dst)
	if err != nil {
		t.Fatalf("encode %+v: %v", a, err)
	}
	return b
}

// badPackets returns one packet of each kind of invalid input for dst, a
// node of a unicast instance with vrid and vips, sent from src: each is
// dropped for the reason given.
func badPackets(t testing.TB, vrid uint8, vips []netip.Addr, src, dst netip.Addr) []crafted {
	t.Helper()
	// Priority 255 claims to be the address owner: accepted, it would
	// take the VIP from any master.
	owner := vrrp.Advert{Version: 3, VRID: vrid, Priority: 255, Interval: 100 * time.Millisecond, Addrs: vips}
	valid := advert(t, owner, src, dst)
	edit := func(f func(b []byte) []byte) []byte { return f(slices.Clone(valid)) }
	other := owner
	other.VRID = vrid + 100
	return []crafted{
		{kind: "ttl 1", msg: valid, dst: dst, ttl1: true, reason: vrrp.DropTTL},
		{kind: "bad checksum", msg: edit(func(b []byte) []byte { b[7] ^= 0x5a; return b }), dst: dst, reason: vrrp.DropChecksum},
		{kind: "truncated header", msg: valid[:6], dst: dst, reason: vrrp.DropTooShort},
		{kind: "version 4", msg: edit(func(b []byte) []byte { b[0] = 4<<4 | vrrp.TypeAdvertisement; return b }), dst: dst, reason: vrrp.DropVersion},
		{kind: "type 2", msg: edit(func(b []byte) []byte { b[0] = 3<<4 | 2; return b }), dst: dst, reason: vrrp.DropType},
		{kind: "count beyond packet", msg: edit(func(b []byte) []byte { b[3] = 40; return b }), dst: dst, reason: vrrp.DropTooShort},
		{kind: "priority 255 from a stranger", msg: valid, dst: dst, reason: vrrp.DropNotPeer},
		{kind: "unknown vrid", msg: advert(t, other, src, dst), dst: dst, reason: vrrp.DropUnknownVRID},
	}
}

// badReasons are the drop reasons badPackets provokes.
var badReasons = []vrrp.DropReason{vrrp.DropTTL, vrrp.DropChecksum, vrrp.DropTooShort, vrrp.DropVersion, vrrp.DropType, vrrp.DropNotPeer, vrrp.DropUnknownVRID}

// dropCounts reads p's drop counters of instance api, by reason.
func dropCounts(t testing.TB, p *proc) map[vrrp.DropReason]uint64 {
	t.Helper()
	in := mustInstanceStatus(t, p, "api")
	out := make(map[vrrp.DropReason]uint64)
	for _, r := range vrrp.DropReasons() {
		out[r] = in.Counters.Dropped[r.String()]
	}
	return out
}

// TestBadInput: a master and a backup in unicast mode get every kind of
// invalid advertisement from a third host, one at a time and then as a
// flood: each is counted under its reason, the VIP never moves, neither
// node changes state, and vipctl answers during the flood.
func TestBadInput(t *testing.T) {
	// Not parallel: the flood takes a CPU and the VIP is watched every
	// 5 ms, so it runs alone.
	l, hosts, addrs := threeNodes(t, 2)
	atk := l.AddHost("attacker", attackerAddr.String()+"/24")
	const vrid = 90
	cfg := cluster(t, "100ms", hosts, addrs, fmt.Sprintf(`name = "api"
vrid = %d
unicast = true
vips = ["192.0.2.100/24"]`, vrid))
	procs := []*proc{startVipd(t, hosts[0], cfg), startVipd(t, hosts[1], cfg)}
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)

	a := newAttacker(t, atk, attackerAddr)
	var packets []crafted
	for _, addr := range addrs {
		packets = append(packets, badPackets(t, vrid, []netip.Addr{vip4}, attackerAddr, netip.MustParseAddr(addr))...)
	}
	transitions := make([]uint64, len(procs))
	for i, p := range procs {
		transitions[i] = mustInstanceStatus(t, p, "api").Counters.Transitions
	}

	// One round, slowly: every packet must be counted, under its reason
	// and no other.
	before := []map[vrrp.DropReason]uint64{dropCounts(t, procs[0]), dropCounts(t, procs[1])}
	const rounds = 3
	for range rounds {
		for _, p := range packets {
			if err := a.send(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, p := range procs {
		want := make(map[vrrp.DropReason]uint64)
		for _, pk := range packets {
			if pk.dst.String() == addrs[i] {
				want[pk.reason] += rounds
			}
		}
		var got map[vrrp.DropReason]uint64
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			now := dropCounts(t, p)
			got = make(map[vrrp.DropReason]uint64)
			for _, r := range vrrp.DropReasons() {
				if d := now[r] - before[i][r]; d != 0 {
					got[r] = d
				}
			}
			if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s counted drops %v, want %v", hosts[i].Name(), got, want)
		} else {
			t.Logf("%s counted every crafted packet: %v", hosts[i].Name(), got)
		}
	}

	// The flood: all kinds mixed, as fast as one goroutine sends, at both
	// nodes. It is bounded in time and in count.
	const (
		floodFor = 3 * time.Second
		floodMax = 5_000_000
	)
	before = []map[vrrp.DropReason]uint64{dropCounts(t, procs[0]), dropCounts(t, procs[1])}
	sentBefore := a.count.Load()
	stop := make(chan struct{})
	var flood sync.WaitGroup
	halt := sync.OnceFunc(func() { close(stop); flood.Wait() })
	t.Cleanup(halt)
	flood.Go(func() {
		for i := 0; i < floodMax; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// A full queue fails a send now and then; the count of
			// failures is reported.
			_ = a.send(packets[i%len(packets)])
		}
	})
	start := time.Now()
	midFlood := make(chan error, len(procs))
	midAt := start.Add(floodFor / 2)
	var asked bool
	var samples int
	for time.Since(start) < floodFor {
		if got := holders(t, vip4, hosts...); len(got) != 1 || got[0] != "cp-1" {
			halt()
			t.Fatalf("during the flood, after %v and %d samples, the VIP is held by %v, want only cp-1", time.Since(start).Round(time.Millisecond), samples, got)
		}
		samples++
		if !asked && time.Now().After(midAt) {
			asked = true
			for _, p := range procs {
				go func() {
					began := time.Now()
					in, err := instanceStatus(p, 2*time.Second, "api")
					if err == nil {
						t.Logf("vipctl status on %s during the flood: %s after %v", p.host.Name(), in.State, time.Since(began).Round(time.Millisecond))
					}
					midFlood <- err
				}()
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	halt()
	took := time.Since(start)
	sent := a.count.Load() - sentBefore
	for range procs {
		if err := <-midFlood; err != nil {
			t.Errorf("during the flood: %v", err)
		}
	}
	t.Logf("flood: %d packets in %v (%.0f/s), %d sends failed; VIP sampled %d times, always on cp-1 alone",
		sent, took.Round(time.Millisecond), float64(sent)/took.Seconds(), a.fails.Load(), samples)
	if took < floodFor || sent < 1000 {
		t.Fatalf("flood of %d packets in %v: too small to mean anything", sent, took)
	}
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)

	for i, p := range procs {
		in := mustInstanceStatus(t, p, "api")
		if in.Counters.Transitions != transitions[i] {
			t.Errorf("%s changed state %d times under the flood (now %s): %+v", hosts[i].Name(), in.Counters.Transitions-transitions[i], in.State, in.Transitions)
		}
		after := dropCounts(t, p)
		var total uint64
		var parts []string
		for _, r := range badReasons {
			d := after[r] - before[i][r]
			total += d
			parts = append(parts, fmt.Sprintf("%s=%d", r, d))
			if d == 0 {
				t.Errorf("%s counted no %q drop during the flood", hosts[i].Name(), r)
			}
		}
		// The kernel may drop part of a flood before vipd sees it, never
		// add to it.
		if total > sent {
			t.Errorf("%s counted %d drops of %d packets sent", hosts[i].Name(), total, sent)
		}
		t.Logf("%s counted %d of the %d flood packets (%.0f%%, half were sent to it): %s; backlog=%d",
			hosts[i].Name(), total, sent, 100*float64(total)/float64(sent), strings.Join(parts, " "), after[vrrp.DropBacklog]-before[i][vrrp.DropBacklog])
	}
}

// TestVRIDCollision: in multicast mode, a third host advertises our VRID
// with another address list, as a misconfigured neighbour would. Every
// such advert is dropped and counted as a collision, the VIP stays where
// it is, and each node logs the collision once, however many adverts come.
func TestVRIDCollision(t *testing.T) {
	t.Parallel()
	l, hosts, addrs := threeNodes(t, 2)
	atk := l.AddHost("attacker", attackerAddr.String()+"/24")
	const vrid = 91
	cfg := cluster(t, "100ms", hosts, addrs, fmt.Sprintf(`name = "api"
vrid = %d
vips = ["192.0.2.100/24"]`, vrid))
	procs := []*proc{startVipd(t, hosts[0], cfg), startVipd(t, hosts[1], cfg)}
	waitHolder(t, 3*time.Second, vip4, "cp-1", hosts...)

	a := newAttacker(t, atk, attackerAddr)
	// A higher priority than both nodes: were it accepted, cp-1 would
	// give up the VIP.
	theirs := advert(t, vrrp.Advert{Version: 3, VRID: vrid, Priority: 254, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("192.0.2.201")}}, attackerAddr, vrrp.GroupIPv4)
	collision := crafted{kind: "other address list", msg: theirs, dst: vrrp.GroupIPv4, reason: vrrp.DropAddrMismatch}
	// An address count beyond the packet is not a collision: it is
	// counted as too short, before the address list is looked at.
	beyond := crafted{kind: "count beyond packet", msg: slices.Clone(theirs), dst: vrrp.GroupIPv4, reason: vrrp.DropTooShort}
	beyond.msg[3] = 9

	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)
	before := []map[vrrp.DropReason]uint64{dropCounts(t, procs[0]), dropCounts(t, procs[1])}
	// cp-2 may have been master for a moment at the start: only what the
	// master accepts from now on counts.
	advertsIn := mustInstanceStatus(t, procs[0], "api").Counters.AdvertsIn
	const n = 500
	for i := range n {
		if err := a.send(collision); err != nil {
			t.Fatal(err)
		}
		if err := a.send(beyond); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			// Paced so that the kernel keeps every packet: the counts
			// are checked exactly.
			if got := holders(t, vip4, hosts...); len(got) != 1 || got[0] != "cp-1" {
				t.Fatalf("after %d colliding adverts the VIP is held by %v, want only cp-1", i, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	stable(t, 300*time.Millisecond, vip4, "cp-1", hosts...)

	for i, p := range procs {
		in := mustInstanceStatus(t, p, "api")
		for deadline := time.Now().Add(2 * time.Second); in.Counters.Dropped[vrrp.DropAddrMismatch.String()]-before[i][vrrp.DropAddrMismatch] < n && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			in = mustInstanceStatus(t, p, "api")
		}
		mismatch := in.Counters.Dropped[vrrp.DropAddrMismatch.String()] - before[i][vrrp.DropAddrMismatch]
		short := in.Counters.Dropped[vrrp.DropTooShort.String()] - before[i][vrrp.DropTooShort]
		if mismatch != n || short != n {
			t.Errorf("%s counted %d address_mismatch and %d too_short drops, want %d of each", hosts[i].Name(), mismatch, short, n)
		}
		if in.Counters.Collisions != n {
			t.Errorf("%s counted %d collisions, want %d", hosts[i].Name(), in.Counters.Collisions, n)
		}
		if i == 0 && in.Counters.AdvertsIn != advertsIn {
			// cp-1 is master and hears no other master: nothing of the
			// attacker's may have reached its state machine.
			t.Errorf("master cp-1 accepted %d adverts during the collision", in.Counters.AdvertsIn-advertsIn)
		}
		var logged []string
		for _, line := range strings.Split(p.log.String(), "\n") {
			if strings.Contains(line, "likely a VRID collision") {
				logged = append(logged, line)
			}
		}
		if len(logged) != 1 || !strings.Contains(logged[0], "from="+attackerAddr.String()) {
			t.Errorf("%s logged the collision %d times, want once naming %v:\n%s", hosts[i].Name(), len(logged), attackerAddr, strings.Join(logged, "\n"))
		} else {
			t.Logf("%s: %d collisions counted, logged once: %s", hosts[i].Name(), in.Counters.Collisions, logged[0])
		}
	}
}
