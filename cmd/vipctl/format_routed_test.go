package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/vipd/vipd/pkg/control"
	"github.com/vipd/vipd/pkg/control/controltest"
)

// routedSample is a node with an instance announced over BGP, one in a
// kernel table for FRR, and two BGP sessions, one down.
func routedSample() control.Status {
	at := func(d time.Duration) time.Time { return controltest.Epoch().Add(-d) }
	return control.Status{
		Routed: []control.Routed{
			{
				Name: "api-routed", Announce: "bgp", Interface: "lo", State: control.StateAnnounced, Since: at(90 * time.Second),
				Reason: "healthy", Priority: 250, EffectivePriority: 250, MED: 5,
				VIPs: []string{"203.0.113.10/32", "2001:db8:f::10/128"}, Tracks: []control.Track{{Check: "apiserver"}},
			},
			{
				Name: "ingress", Announce: "route", Interface: "lo", State: control.StateLeaving, Since: at(time.Second),
				Reason: "tracked check failed", Priority: 240, EffectivePriority: 240, Table: 254, Protocol: 200,
				VIPs: []string{"203.0.113.20/32"}, FailingChecks: []string{"ingress"}, Withdrawals: 1,
			},
		},
		BGP: &control.BGP{
			ASN: 64512, RouterID: "198.51.100.18", Withdrawals: 3,
			Peers: []control.BGPPeer{
				{Address: "198.51.100.17", ASN: 64500, State: "Established", Since: at(5 * time.Minute), HoldTimeMS: 3000, Advertised: 1, Ups: 2},
				{Address: "2001:db8:1::1", ASN: 64500, State: "Active", Since: at(10 * time.Second)},
			},
			Routes: []control.BGPRoute{{Prefix: "203.0.113.10/32", MED: 5}, {Prefix: "2001:db8:f::10/128", MED: 5}},
		},
	}
}

func TestFormatRouted(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := testFormatter().routed(&b, routedSample(), false); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-routed.txt", b.Bytes())

	st, err := only(routedSample(), "ingress")
	if err != nil {
		t.Fatal(err)
	}
	if st.BGP != nil || len(st.Routed) != 1 {
		t.Errorf("only(ingress): %d routed, BGP %v; want the instance alone", len(st.Routed), st.BGP)
	}
}
