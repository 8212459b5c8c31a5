package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// bgpTable is a valid [bgp] of two peers, lines 14 to 22 after head.
const bgpTable = `[bgp]
asn = 64512
hold_time = "3s"
[[bgp.peer]]
address = "192.0.2.1"
asn = 64500
[[bgp.peer]]
address = "2001:db8::1"
asn = 64500
`

// routedAPI is a valid routed instance, lines 23 to 26 after head and
// bgpTable, with extra lines from line 27.
func routedAPI(extra ...string) string {
	s := "[[instance]]\nname = \"api\"\nvips = [\"203.0.113.10\", \"2001:db8:f::10/128\"]\nannounce = \"bgp\"\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

func TestParseBGP(t *testing.T) {
	c, err := Parse("vipd.toml", []byte(head+bgpTable+routedAPI("ecmp = true")+
		"[[instance]]\nname = \"web\"\nvips = [\"203.0.113.20\"]\nannounce = \"route\"\nroute_table = 100\nwithdraw_delay = \"5s\"\norder = [\"cp-2\"]\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &BGP{ASN: 64512, HoldTime: 3 * time.Second, Peers: []Peer{
		{Address: addr("192.0.2.1"), ASN: 64500},
		{Address: addr("2001:db8::1"), ASN: 64500},
	}}
	if diff := cmp.Diff(want, c.BGP, cmpAddrs); diff != "" {
		t.Errorf("BGP (-want +got)\n%s", diff)
	}
	wantInsts := []Instance{
		{
			Name: "api", Interface: "lo", Version: 3, AdvertInterval: time.Second, Preempt: true, GARPRepeat: 5, GARPDelay: DefaultGARPDelay,
			VIPs:     []netip.Prefix{prefix("203.0.113.10/32"), prefix("2001:db8:f::10/128")},
			Announce: AnnounceBGP, ECMP: true, WithdrawDelay: 2 * time.Second,
		},
		{
			Name: "web", Interface: "lo", Version: 3, AdvertInterval: time.Second, Preempt: true, GARPRepeat: 5, GARPDelay: DefaultGARPDelay,
			VIPs: []netip.Prefix{prefix("203.0.113.20/32")}, Order: []string{"cp-2"},
			Announce: AnnounceRoute, WithdrawDelay: 5 * time.Second, RouteTable: 100, RouteProtocol: DefaultRouteProtocol,
		},
	}
	if diff := cmp.Diff(wantInsts, c.Instances, cmpAddrs); diff != "" {
		t.Errorf("instances (-want +got)\n%s", diff)
	}
	for node, want := range map[string]string{"cp-1": "192.0.2.11", "cp-3": "192.0.2.13"} {
		if id, err := c.RouterID(node); err != nil || id != addr(want) {
			t.Errorf("RouterID(%s) = %v, %v; want %s", node, id, err, want)
		}
	}
	insts, err := c.ForNode("cp-2")
	if err != nil {
		t.Fatal(err)
	}
	if insts[0].Priority != 240 || insts[1].Priority != 250 {
		t.Errorf("cp-2's priorities: %d and %d, want 240 and 250", insts[0].Priority, insts[1].Priority)
	}
}

func TestParseBGPErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{
			name: "no asn",
			src:  head + "[bgp]\n[[bgp.peer]]\naddress = \"192.0.2.1\"\nasn = 64500\n" + routedAPI(),
			want: `vipd.toml:14: [bgp]: asn is required`,
		},
		{
			name: "hold time",
			src:  strings.Replace(head+bgpTable+routedAPI(), `hold_time = "3s"`, `hold_time = "1s"`, 1),
			want: `vipd.toml:16: [bgp]: hold_time 1s is out of range 3s..90s`,
		},
		{
			name: "hold time fraction",
			src:  strings.Replace(head+bgpTable+routedAPI(), `hold_time = "3s"`, `hold_time = "3500ms"`, 1),
			want: `vipd.toml:16: [bgp]: hold_time 3.5s is not a whole number of seconds`,
		},
		{
			name: "router id of IPv6",
			src:  strings.Replace(head+bgpTable+routedAPI(), "asn = 64512\n", "asn = 64512\nrouter_id = \"2001:db8::11\"\n", 1),
			want: `vipd.toml:16: [bgp]: router_id 2001:db8::11 is not an IPv4 address`,
		},
		{
			name: "router id default without address",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress6 = \"2001:db8::14\"\n" + bgpTable + routedAPI(),
			want: `vipd.toml:17: [bgp]: router_id defaults to the node's address, and node "cp-4" has none`,
		},
		{
			name: "no peer",
			src:  head + "[bgp]\nasn = 64512\n" + routedAPI(),
			want: `vipd.toml:14: [bgp] has no [[bgp.peer]]`,
		},
		{
			name: "peer without asn",
			src:  head + "[bgp]\nasn = 64512\n[[bgp.peer]]\naddress = \"192.0.2.1\"\n" + routedAPI(),
			want: `vipd.toml:16: [[bgp.peer]] #1: asn is required`,
		},
		{
			name: "peer twice",
			src:  head + bgpTable + "[[bgp.peer]]\naddress = \"192.0.2.1\"\nasn = 64501\n" + routedAPI(),
			want: `vipd.toml:24: [[bgp.peer]] #3: address 192.0.2.1 is also another peer's`,
		},
		{
			name: "port",
			src:  strings.Replace(head+bgpTable+routedAPI(), "asn = 64500\n", "asn = 64500\nport = 0\n", 1),
			want: `vipd.toml:20: [[bgp.peer]] #1: port 0 is out of range 1..65535`,
		},
		{
			name: "relative password file",
			src:  strings.Replace(head+bgpTable+routedAPI(), "asn = 64500\n", "asn = 64500\npassword_file = \"bgp.key\"\n", 1),
			want: `vipd.toml:20: [[bgp.peer]] #1: password_file "bgp.key" must be an absolute path`,
		},
		{
			name: "multihop over iBGP",
			src:  strings.Replace(head+bgpTable+routedAPI(), "asn = 64500\n", "asn = 64512\nmultihop = 2\n", 1),
			want: `vipd.toml:20: [[bgp.peer]] #1: multihop applies to eBGP only`,
		},
		{
			name: "bfd",
			src:  strings.Replace(head+bgpTable+routedAPI(), "asn = 64500\n", "asn = 64500\nbfd = true\n", 1),
			want: `vipd.toml:20: [[bgp.peer]] #1: bfd = true: GoBGP, vipd's BGP engine, has no BFD`,
		},
		{
			name: "source of another family",
			src:  strings.Replace(head+bgpTable+routedAPI(), "asn = 64500\n", "asn = 64500\nsource = \"2001:db8::11\"\n", 1),
			want: `vipd.toml:20: [[bgp.peer]] #1: source 2001:db8::11 is IPv6, but the peer's address 192.0.2.1 is IPv4`,
		},
		{
			name: "as-path over iBGP",
			src:  strings.Replace(head+bgpTable+routedAPI(), "asn = 64500\n", "asn = 64512\n", 1) + "",
			want: "",
		},
		{
			name: "as-path with an iBGP peer",
			src:  strings.Replace(strings.Replace(head+bgpTable+routedAPI(), "asn = 64500\n", "asn = 64512\n", 1), `hold_time = "3s"`, "preference = \"as-path\"", 1),
			want: `vipd.toml:16: [bgp]: preference = "as-path" cannot work with peer 192.0.2.1, an iBGP peer`,
		},
		{
			name: "unknown announce",
			src:  head + bgpTable + strings.Replace(routedAPI(), `"bgp"`, `"ospf"`, 1),
			want: `vipd.toml:26: instance "api": announce "ospf" is not one of "vrrp", "bgp", "route"`,
		},
		{
			name: "bgp without [bgp]",
			src:  head + routedAPI(),
			want: `vipd.toml:17: instance "api": announce = "bgp" needs a [bgp] table`,
		},
		{
			name: "no peer of the family",
			src:  head + "[bgp]\nasn = 64512\n[[bgp.peer]]\naddress = \"192.0.2.1\"\nasn = 64500\n" + routedAPI(),
			want: `vipd.toml:21: instance "api": the IPv6 VIPs are announced to IPv6 peers, and [bgp] has none`,
		},
		{
			name: "vrid on a routed instance",
			src:  head + bgpTable + routedAPI("vrid = 51"),
			want: `vipd.toml:27: instance "api" (vrid 51): vrid is VRRP's and has no effect with announce = "bgp"; remove it`,
		},
		{
			name: "VRRP key on a routed instance",
			src:  head + bgpTable + routedAPI("advert_interval = \"100ms\""),
			want: `vipd.toml:27: instance "api": advert_interval is VRRP's and has no effect with announce = "bgp"`,
		},
		{
			name: "subnet VIP",
			src:  head + bgpTable + strings.Replace(routedAPI(), `"203.0.113.10"`, `"203.0.113.10/24"`, 1),
			want: `vipd.toml:25: instance "api": vip 203.0.113.10/24: a VIP announced by routing is a host route; write 203.0.113.10 or 203.0.113.10/32`,
		},
		{
			name: "ecmp with VRRP",
			src:  head + api("ecmp = true"),
			want: `vipd.toml:18: instance "api" (vrid 51): ecmp applies only to announce = "bgp" or "route"`,
		},
		{
			name: "route table with bgp",
			src:  head + bgpTable + routedAPI("route_table = 100"),
			want: `vipd.toml:27: instance "api": route_table applies only to announce = "route"`,
		},
		{
			name: "local table",
			src:  head + strings.Replace(routedAPI("route_table = 255"), `"bgp"`, `"route"`, 1),
			want: `vipd.toml:18: instance "api": route_table 255 is the kernel's local table`,
		},
		{
			name: "FRR's protocol",
			src:  head + strings.Replace(routedAPI("route_protocol = 186"), `"bgp"`, `"route"`, 1),
			want: `vipd.toml:18: instance "api": route_protocol 186 is FRR's own`,
		},
		{
			name: "interface in route mode",
			src:  head + strings.Replace(routedAPI("interface = \"lo\""), `"bgp"`, `"route"`, 1),
			want: `vipd.toml:18: instance "api": interface has no effect with announce = "route"`,
		},
		{
			name: "withdraw delay",
			src:  head + bgpTable + routedAPI("withdraw_delay = \"2m\""),
			want: `vipd.toml:27: instance "api": withdraw_delay 2m0s is out of range 0s..1m`,
		},
		{
			name: "unknown peer key",
			src:  head + bgpTable + "[[bgp.peer]]\naddress = \"192.0.2.2\"\nasn = 64500\nholdtime = 3\n" + routedAPI(),
			want: `vipd.toml:26: [[bgp.peer]] #3: unknown key "holdtime"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("vipd.toml", []byte(tc.src))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("Parse succeeded, want %q", tc.want)
			case !strings.HasPrefix(err.Error(), tc.want):
				t.Fatalf("Parse:\n%v\nwant it to start with\n%s", err, tc.want)
			}
		})
	}
}
