package gobgp

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	bgppacket "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/vipd/vipd/pkg/bgp"
)

func TestAPIPath(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		pref   bgp.Pref
		want   string // the path as GoBGP decodes it
	}{
		{"203.0.113.10/32", bgp.Pref{MED: 5}, "203.0.113.10/32 nexthop 0.0.0.0 med 5 aspath []"},
		{"203.0.113.10/32", bgp.Pref{MED: 15, Prepend: 2}, "203.0.113.10/32 nexthop 0.0.0.0 med 15 aspath [64512 64512]"},
		{"2001:db8:f::10/128", bgp.Pref{MED: 5}, "2001:db8:f::10/128 nexthop :: med 5 aspath []"},
	} {
		p, err := apiPath(netip.MustParsePrefix(tc.prefix), tc.pref, 64512)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(t, p); got != tc.want {
			t.Errorf("apiPath(%s, %+v) = %q, want %q", tc.prefix, tc.pref, got, tc.want)
		}
	}
	if _, err := apiPath(netip.MustParsePrefix("203.0.113.10/24"), bgp.Pref{}, 64512); err == nil {
		t.Error("apiPath of 203.0.113.10/24 did not fail")
	}
}

// describe decodes a GoBGP path into "prefix nexthop N med M aspath [...]".
func describe(t *testing.T, p *api.Path) string {
	t.Helper()
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		t.Fatal(err)
	}
	nh, med, aspath := "", "", "[]"
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgppacket.PathAttributeNextHop:
			nh = a.Value.String()
		case *bgppacket.PathAttributeMpReachNLRI:
			nh = a.Nexthop.String()
		case *bgppacket.PathAttributeMultiExitDisc:
			med = strconv.Itoa(int(a.Value))
		case *bgppacket.PathAttributeAsPath:
			aspath = "["
			for _, v := range a.Value {
				for i, as := range v.GetAS() {
					if i > 0 {
						aspath += " "
					}
					aspath += strconv.Itoa(int(as))
				}
			}
			aspath += "]"
		}
	}
	return nlri.String() + " nexthop " + nh + " med " + med + " aspath " + aspath
}

// TestSpeaker peers a Speaker with a GoBGP router on the loopback
// interface: the router learns, updates and loses the route, and sees the
// session closed when Run ends.
func TestSpeaker(t *testing.T) {
	for _, tc := range []struct {
		name      string
		routerASN uint32
		wantPath  string
	}{
		{"eBGP", 64500, "203.0.113.10/32 nexthop 127.0.0.2 med %s aspath [64512]"},
		{"iBGP", 64512, "203.0.113.10/32 nexthop 127.0.0.2 med %s aspath []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			router := startRouter(t, tc.routerASN, port)
			sp := New(bgp.Config{
				ASN:      64512,
				RouterID: netip.MustParseAddr("192.0.2.11"),
				HoldTime: 3 * time.Second,
				Peers: []bgp.Peer{{
					Address: netip.MustParseAddr("127.0.0.1"),
					ASN:     tc.routerASN,
					Port:    uint16(port),
					Source:  netip.MustParseAddr("127.0.0.2"),
				}},
			}, nil)
			vip := netip.MustParsePrefix("203.0.113.10/32")
			// Announced before Run: sent once the session is up.
			if err := sp.Announce(vip, bgp.Pref{MED: 5}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- sp.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				<-done
			})

			want := func(med string) string {
				if med == "" {
					return ""
				}
				return fmtPath(tc.wantPath, med)
			}
			waitPath(t, router, want("5"))
			waitFor(t, "the session established", func() bool {
				st := sp.Status()
				return len(st.Peers) == 1 && st.Peers[0].State == bgp.Established && st.Peers[0].Advertised == 1
			})
			st := sp.Status()
			if st.Peers[0].HoldTime != 3*time.Second {
				t.Errorf("negotiated hold time %v, want 3s", st.Peers[0].HoldTime)
			}
			if want := []bgp.Route{{Prefix: vip, Pref: bgp.Pref{MED: 5}}}; !slices.Equal(want, st.Routes) {
				t.Errorf("routes %v, want %v", st.Routes, want)
			}

			if err := sp.Announce(vip, bgp.Pref{MED: 15}); err != nil {
				t.Fatal(err)
			}
			waitPath(t, router, want("15"))

			if err := sp.Withdraw(vip); err != nil {
				t.Fatal(err)
			}
			waitPath(t, router, "")
			if st := sp.Status(); st.Withdrawals != 1 || len(st.Routes) != 0 {
				t.Errorf("after withdrawing: %d withdrawals, routes %v; want 1 and none", st.Withdrawals, st.Routes)
			}

			if err := sp.Announce(vip, bgp.Pref{MED: 5}); err != nil {
				t.Fatal(err)
			}
			waitPath(t, router, want("5"))
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			done <- nil
			// The Cease drops the route without waiting for the hold time.
			waitPath(t, router, "")
			if st := sp.Status(); st.Running || st.Peers[0].State != bgp.Idle {
				t.Errorf("after Run: running %v, session %v", st.Running, st.Peers[0].State)
			}
		})
	}
}

func fmtPath(format, med string) string {
	out := ""
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) && format[i+1] == 's' {
			out += med
			i++
			continue
		}
		out += string(format[i])
	}
	return out
}

// startRouter runs a GoBGP server of AS asn on 127.0.0.1:port that
// accepts a session from 127.0.0.2 of AS 64512.
func startRouter(t *testing.T, asn uint32, port int) *server.BgpServer {
	t.Helper()
	s := server.NewBgpServer(server.LoggerOption(&logger{log: testLogger(t)}))
	go s.Serve()
	ctx := context.Background()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: asn, RouterId: "192.0.2.1", ListenPort: int32(port), ListenAddresses: []string{"127.0.0.1"},
	}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.StopBgp(context.Background(), &api.StopBgpRequest{}) })
	if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: "127.0.0.2", PeerAsn: 64512},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 90, KeepaliveInterval: 30}},
		Transport: &api.Transport{PassiveMode: true},
	}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitPath waits until the router's best path to 203.0.113.10/32 is want
// (as describe spells it), or it has none when want is "".
func waitPath(t *testing.T, r *server.BgpServer, want string) {
	t.Helper()
	var got string
	waitFor(t, "the router's path "+strconv.Quote(want), func() bool {
		got = ""
		err := r.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: familyIPv4}, func(d *api.Destination) {
			for _, p := range d.Paths {
				if p.Best {
					got = describe(t, p)
				}
			}
		})
		return err == nil && got == want
	})
}

// waitFor polls cond until it holds, and fails the test after 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
