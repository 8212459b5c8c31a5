package lab

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// A Fault is a misbehaviour of the segment made with nftables rules on the
// switch: each is a table of its own in the switch namespace, removed by
// Heal, or at the latest with the namespace.
type Fault struct {
	l     *Lab
	table string
	once  sync.Once
}

// nftTable counts the tables of faults, for unique names.
var nftTable struct {
	mu sync.Mutex
	n  int
}

// fault adds a bridge table with a prerouting and a forward chain holding
// the given rules, each "pre: RULE" or "fw: RULE".
func (l *Lab) fault(t testing.TB, what string, rules ...string) *Fault {
	t.Helper()
	RequireCommand(t, "nft")
	nftTable.mu.Lock()
	nftTable.n++
	name := fmt.Sprintf("fault%d", nftTable.n)
	nftTable.mu.Unlock()
	// Chains named pre and fw: "forward" and "fwd" are keywords of nft.
	script := []string{
		"add table bridge " + name,
		"add chain bridge " + name + " pre { type filter hook prerouting priority 0; }",
		"add chain bridge " + name + " fw { type filter hook forward priority 0; }",
	}
	for _, r := range rules {
		chain, rule, ok := strings.Cut(r, ": ")
		if !ok || (chain != "pre" && chain != "fw") {
			t.Fatalf("lab: fault %s: rule %q must start with pre: or fw:", what, r)
		}
		script = append(script, fmt.Sprintf("add rule bridge %s %s %s", name, chain, rule))
	}
	f := &Fault{l: l, table: name}
	run(t, "ip", "netns", "exec", l.sw.name, "nft", strings.Join(script, "; "))
	t.Cleanup(func() { f.heal() })
	return f
}

// Heal removes the fault. It may be called more than once.
func (f *Fault) Heal(t testing.TB) {
	t.Helper()
	if err := f.heal(); err != nil {
		t.Fatalf("lab: %v", err)
	}
}

func (f *Fault) heal() error {
	var err error
	f.once.Do(func() {
		if out, cerr := command(context.Background(), "ip", "netns", "exec", f.l.sw.name, "nft", "delete table bridge "+f.table).CombinedOutput(); cerr != nil {
			err = fmt.Errorf("heal %s: %v: %s", f.table, cerr, out)
		}
	})
	return err
}

// Loss drops frames on h's link at random, percent of them in each
// direction: those h sends before the bridge forwards them anywhere (a
// frame lost on the cable is lost for every receiver), and those the
// bridge sends to h. The kernel's random numbers decide (nft numgen), so a
// run cannot be replayed; tests assert with margins.
func (l *Lab) Loss(t testing.TB, h *Host, percent float64) *Fault {
	t.Helper()
	if percent <= 0 || percent > 100 {
		t.Fatalf("lab: loss of %v%%: want a percentage in (0, 100]", percent)
	}
	random := fmt.Sprintf(" numgen random mod 1000 < %d", int(percent*10+0.5))
	if percent == 100 {
		random = ""
	}
	return l.fault(t, "loss",
		fmt.Sprintf("pre: iifname %q%s drop", h.port, random),
		fmt.Sprintf("fw: oifname %q%s drop", h.port, random))
}

// OneWay stops every frame from one host to another while the reverse
// direction works: to stops hearing from, from still hears to. Frames to
// and from other hosts pass.
func (l *Lab) OneWay(t testing.TB, from, to *Host) *Fault {
	t.Helper()
	return l.fault(t, "one-way",
		fmt.Sprintf("fw: iifname %q oifname %q drop", from.port, to.port))
}

// DropMulticast makes the segment drop every multicast frame, as some
// clouds do, while unicast and broadcast (ARP) pass. IPv6 neighbour
// discovery, which needs multicast, passes: those clouds answer it for
// the hosts.
func (l *Lab) DropMulticast(t testing.TB) *Fault {
	t.Helper()
	const multicast = "ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 ether daddr != ff:ff:ff:ff:ff:ff"
	return l.fault(t, "drop multicast",
		"fw: "+multicast+" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
		"fw: "+multicast+" drop")
}

// SnoopingTimers are the bridge's multicast snooping timers, in the
// bridge's unit of hundredths of a second. The lab's defaults are much
// shorter than the kernel's (a query every 125 s), so that a test sees
// memberships expire and be refreshed within seconds.
type SnoopingTimers struct {
	QueryInterval, QueryResponseInterval, MembershipInterval, StartupQueryInterval int
}

// DefaultSnoopingTimers: a query every second, answered within half a
// second, and a membership forgotten after 2.5 s without a report.
var DefaultSnoopingTimers = SnoopingTimers{QueryInterval: 100, QueryResponseInterval: 50, MembershipInterval: 250, StartupQueryInterval: 25}

// Snooping turns the bridge into a switch with IGMP and MLD snooping and
// a querier of both (as with `ip link set br0 type bridge mcast_snooping
// 1 mcast_querier 1`): multicast other than to the link-local groups that
// are always flooded (224.0.0.0/24, ff02::1) reaches only the ports whose
// hosts reported a membership, and keep reporting it when queried. The
// bridge gets an IPv6 link-local address, which the MLD querier sends
// from. Undone with the switch, at cleanup.
func (l *Lab) Snooping(t testing.TB, timers SnoopingTimers) {
	t.Helper()
	br := l.bridge
	if err := l.sw.do(func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/" + br + "/accept_dad":   "0",
			"net/ipv6/conf/" + br + "/disable_ipv6": "0",
		})
	}); err != nil {
		t.Fatalf("lab: IPv6 on the bridge for its MLD querier: %v", err)
	}
	l.ip(t, "-n", l.sw.name, "link", "set", br, "type", "bridge",
		"mcast_query_interval", fmt.Sprint(timers.QueryInterval),
		"mcast_query_response_interval", fmt.Sprint(timers.QueryResponseInterval),
		"mcast_membership_interval", fmt.Sprint(timers.MembershipInterval),
		"mcast_startup_query_interval", fmt.Sprint(timers.StartupQueryInterval))
	l.ip(t, "-n", l.sw.name, "link", "set", br, "type", "bridge", "mcast_snooping", "1", "mcast_querier", "1")
}

// MulticastGroups returns the bridge's multicast database: the group
// memberships it learnt by snooping, as `bridge mdb show` prints them.
func (l *Lab) MulticastGroups(t testing.TB) string {
	t.Helper()
	return run(t, "bridge", "-n", l.sw.name, "mdb", "show")
}
