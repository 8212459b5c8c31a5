package kaconf

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vipd/vipd/pkg/config"
	"github.com/vipd/vipd/pkg/health"
)

// TestKeepalivedSemantics converts small files, each showing one rule of
// keepalived 2.2.7 (vrrp_parser.c, vrrp.c, lib/parser.c), and checks what
// vipd gets, the verdict, and a note that says why.
func TestKeepalivedSemantics(t *testing.T) {
	// inst is a vrrp_instance with the given lines added.
	inst := func(lines ...string) string {
		return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n" +
			strings.Join(lines, "\n") + "\n virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n"
	}
	tests := []struct {
		name string
		conf string
		// check inspects the first instance of the converted file;
		// nil when the instance is not converted.
		check func(t *testing.T, in config.Instance, checks []health.Spec)
		safe  bool
		note  string // a note that must be among the notes
		err   string // the error, when the file is refused
	}{
		{
			name: "strict mode ignores authentication",
			conf: "global_defs {\n vrrp_strict\n}\n" + inst(" priority 101", " authentication {\n  auth_type PASS\n  auth_pass 1111\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.AuthPassword != "" || in.Version != 2 {
					t.Errorf("auth_password %q, version %d; want none and 2", in.AuthPassword, in.Version)
				}
			},
			safe: true,
			note: `k.conf:8: vrrp_instance VI_1: authentication in strict mode: keepalived says "Strict mode does not support authentication. Ignoring." and sends no password; neither does vipd`,
		},
		{
			name: "strict_mode of the instance ignores authentication too",
			conf: inst(" strict_mode on", " authentication {\n  auth_type PASS\n  auth_pass 1111\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.AuthPassword != "" {
					t.Errorf("auth_password %q, want none", in.AuthPassword)
				}
			},
			safe: true,
		},
		{
			name: "garp_master_delay becomes garp_delay, over vrrp_garp_master_delay",
			conf: "global_defs {\n vrrp_garp_master_delay 2\n}\n" + inst(" garp_master_delay 0"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.GARPDelay != 0 {
					t.Errorf("garp_delay %v, want 0s (no second burst)", in.GARPDelay)
				}
			},
			safe: true,
		},
		{
			name: "vrrp_garp_master_delay is the instances' default",
			conf: "global_defs {\n vrrp_garp_master_delay 2\n}\n" + inst(),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.GARPDelay != 2*time.Second {
					t.Errorf("garp_delay %v, want the global 2s", in.GARPDelay)
				}
			},
			safe: true,
		},
		{
			name: "garp_master_delay that is not a number reads as 0, as keepalived reads it",
			conf: inst(" garp_master_delay soon"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.GARPDelay != 0 {
					t.Errorf("garp_delay %v, want 0s", in.GARPDelay)
				}
			},
			safe: true,
			note: `k.conf:4: vrrp_instance VI_1: garp_master_delay "soon": keepalived reads 0 seconds and warns`,
		},
		{
			name: "without garp_master_delay, keepalived's 5s, which is vipd's",
			conf: inst(),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.GARPDelay != 5*time.Second {
					t.Errorf("garp_delay %v, want 5s", in.GARPDelay)
				}
			},
			safe: true,
		},
		{
			name: "an invalid priority is keepalived's default",
			conf: inst(" state MASTER", " priority False"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.Priority != 100 {
					t.Errorf("priority %d, want 100", in.Priority)
				}
			},
			safe: true,
			note: `k.conf:5: vrrp_instance VI_1: priority "False": keepalived says "Priority not valid! must be between 1 & 255. Using default 100"; 100`,
		},
		{
			name: "state MASTER without priority is the owner",
			conf: inst(" state MASTER"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.Priority != 255 {
					t.Errorf("priority %d, want 255", in.Priority)
				}
			},
			safe: true,
		},
		{
			name: "a process track becomes a process check with the process's weight",
			conf: "vrrp_track_process haproxy {\n process haproxy\n weight -20\n}\n" + inst(" track_process {\n  haproxy\n }"),
			check: func(t *testing.T, in config.Instance, checks []health.Spec) {
				want := []health.Spec{{Name: "haproxy", Type: health.TypeProcess, Process: "haproxy", Quorum: 1,
					Interval: time.Second, Timeout: 750 * time.Millisecond, Rise: 1, Fall: 1}}
				if diff := cmp.Diff(want, checks); diff != "" {
					t.Errorf("checks (-want +got)\n%s", diff)
				}
				if diff := cmp.Diff([]health.Track{{Check: "haproxy", Weight: -20}}, in.Track); diff != "" {
					t.Errorf("track (-want +got)\n%s", diff)
				}
			},
			safe: true,
			note: "k.conf:1: vrrp_track_process haproxy: becomes a process check: an exit is seen at once, as keepalived sees it, and fails it at once (rise 1, fall 1, as keepalived has none); a process that starts is found by a scan of /proc every 1s, where keepalived's process events see it at once",
		},
		{
			name: "a command line with params, a track's own weight, quorum",
			conf: "vrrp_track_process lb {\n process /usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg\n param_match partial\n quorum 2\n quorum_max 5\n weight 10\n}\n" +
				inst(" track_process {\n  lb weight 30\n }"),
			check: func(t *testing.T, in config.Instance, checks []health.Spec) {
				want := []health.Spec{{Name: "lb", Type: health.TypeProcess, Process: "/usr/sbin/haproxy", FullCommand: true,
					Params: []string{"-Ws", "-f", "/etc/haproxy/haproxy.cfg"}, ParamMatch: health.ParamPartial, Quorum: 2, QuorumMax: 5,
					Interval: time.Second, Timeout: 750 * time.Millisecond, Rise: 1, Fall: 1}}
				if diff := cmp.Diff(want, checks); diff != "" {
					t.Errorf("checks (-want +got)\n%s", diff)
				}
				if diff := cmp.Diff([]health.Track{{Check: "lb", Weight: 30}}, in.Track); diff != "" {
					t.Errorf("track (-want +got)\n%s", diff)
				}
			},
			safe: true,
		},
		{
			name: "quorum above quorum_max is ignored, as keepalived does",
			conf: "vrrp_track_process nginx {\n process nginx\n quorum_max 2\n quorum 3\n}\n" + inst(" track_process {\n  nginx\n }"),
			check: func(t *testing.T, in config.Instance, checks []health.Spec) {
				if checks[0].Quorum != 1 || checks[0].QuorumMax != 2 {
					t.Errorf("quorum %d..%d, want 1..2", checks[0].Quorum, checks[0].QuorumMax)
				}
			},
			safe: true,
			note: "k.conf:4: vrrp_track_process nginx: quorum 3 is above quorum_max 2: keepalived ignores it",
		},
		{
			name: "a path without full_command never matches in keepalived: refused",
			conf: "vrrp_track_process haproxy {\n process /usr/sbin/haproxy\n}\n" + inst(" track_process {\n  haproxy\n }"),
			note: "k.conf:8: vrrp_instance VI_1: track_process haproxy: vipd cannot run the vrrp_track_process as keepalived does: process /usr/sbin/haproxy: keepalived compares it with the process name (comm), which has no '/', so it never matches and keepalived sees no process ever; write the name as ps -o comm shows it, or add full_command to compare argv[0]; the instance is not converted",
		},
		{
			name: "a delay is refused",
			conf: "vrrp_track_process haproxy {\n process haproxy\n terminate_delay 2\n}\n" + inst(" track_process {\n  haproxy\n }"),
			note: "k.conf:9: vrrp_instance VI_1: track_process haproxy: vipd cannot run the vrrp_track_process as keepalived does: terminate_delay 2: keepalived waits that long before it acts on a process that starts or exits, and vipd's process checks act at once, which would move the VIP where keepalived keeps it; the instance is not converted",
		},
		{
			name: "quorum_max 0 is refused",
			conf: "vrrp_track_process haproxy {\n process haproxy\n quorum_max 0\n}\n" + inst(" track_process {\n  haproxy\n }"),
			note: "k.conf:9: vrrp_instance VI_1: track_process haproxy: vipd cannot run the vrrp_track_process as keepalived does: quorum_max 0: keepalived's track passes only while no such process runs; a vipd process check needs at least one; the instance is not converted",
		},
		{
			name: "a reversed process weight is refused",
			conf: "vrrp_track_process haproxy {\n process haproxy\n weight 10 reverse\n}\n" + inst(" track_process {\n  haproxy\n }"),
			note: "k.conf:9: vrrp_instance VI_1: track_process haproxy: its weight is reversed, which vipd does not do; the instance is not converted",
		},
		{
			name: "a sync group member keeps its weighted process, as keepalived does",
			conf: "vrrp_track_process nginx {\n process nginx\n}\nvrrp_sync_group G {\n group {\n  VI_1\n }\n}\n" + inst(" priority 100", " track_process {\n  nginx weight -30\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if diff := cmp.Diff([]health.Track{{Check: "nginx", Weight: -30}}, in.Track); diff != "" {
					t.Errorf("track (-want +got)\n%s", diff)
				}
			},
			safe: true,
		},
		{
			name: "a process tracked by the instance and its group has the group's weight",
			conf: "vrrp_track_process nginx {\n process nginx\n}\nvrrp_sync_group G {\n group {\n  VI_1\n }\n track_process {\n  nginx weight -40\n }\n}\n" + inst(" priority 100", " track_process {\n  nginx weight -30\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if diff := cmp.Diff([]health.Track{{Check: "nginx", Weight: -40}}, in.Track); diff != "" {
					t.Errorf("track (-want +got)\n%s", diff)
				}
			},
			safe: true,
		},
		{
			name: "a weighted process on the address owner is refused",
			conf: "vrrp_track_process nginx {\n process nginx\n weight -30\n}\n" + inst(" priority 255", " track_process {\n  nginx\n }"),
			note: "k.conf:10: vrrp_instance VI_1: track_process nginx weight -30 on the address owner (priority 255): keepalived applies the weight as the process is when it starts and ignores every change after, which vipd cannot do; the instance is not converted",
		},
		{
			name: "a vrrp_track_process without process is removed, as keepalived does",
			conf: "vrrp_track_process haproxy {\n weight 10\n}\n" + inst(" track_process {\n  haproxy\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.Track) != 0 {
					t.Errorf("tracks %v, want none", in.Track)
				}
			},
			safe: true,
			note: `k.conf:1: vrrp_track_process haproxy has no process: keepalived removes it ("process name not specified")`,
		},
		{
			name: "a process track of an undefined process is ignored, as keepalived does",
			conf: inst(" track_process {\n  haproxy\n }") + "vrrp_track_process haproxy {\n process haproxy\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.Track) != 0 {
					t.Errorf("tracks %v, want none", in.Track)
				}
			},
			safe: true,
			note: `k.conf:5: vrrp_instance VI_1: track_process haproxy: there is no vrrp_track_process haproxy before it, so keepalived ignores it ("track process not found")`,
		},
		{
			name: "a VIP on another interface is bound there, advertised with the others and tracked",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/24\n  203.0.113.10/24 dev eth1\n  198.51.100.10/24 dev eth2 no_track\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				want := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("203.0.113.10/24"), netip.MustParsePrefix("198.51.100.10/24")}
				if diff := cmp.Diff(want, in.VIPs, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
					t.Errorf("vips, the advert's address list (-want +got)\n%s", diff)
				}
				wantDevs := map[netip.Addr]config.VIPDev{
					netip.MustParseAddr("203.0.113.10"):  {Interface: "eth1"},
					netip.MustParseAddr("198.51.100.10"): {Interface: "eth2", NoTrack: true},
				}
				if diff := cmp.Diff(wantDevs, in.VIPDevs); diff != "" {
					t.Errorf("VIPDevs (-want +got)\n%s", diff)
				}
				if diff := cmp.Diff([]string{"eth0", "eth1"}, in.TrackedInterfaces()); diff != "" {
					t.Errorf("tracked interfaces (-want +got)\n%s", diff)
				}
			},
			safe: true,
			note: `k.conf:6: vrrp_instance VI_1: virtual_ipaddress 203.0.113.10/24 dev eth1: if eth1 is missing when keepalived starts, it drops the address ("interface eth1 for ip address 203.0.113.10/24 doesn't exist") and advertises the others; vipd waits for eth1, in FAULT`,
		},
		{
			name: "no_track on the instance's interface is dropped",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/24 dev eth0 no_track\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.VIPDevs) != 0 {
					t.Errorf("VIPDevs %v, want none", in.VIPDevs)
				}
			},
			safe: true,
			note: "k.conf:5: vrrp_instance VI_1: virtual_ipaddress 192.0.2.10/24 no_track: the address is on the instance's interface, which keepalived and vipd track all the same; dropped",
		},
		{
			name: "a weighted interface where a VIP is is tracked unweighted",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n track_interface {\n  eth1 weight -20\n }\n virtual_ipaddress {\n  192.0.2.10/24\n  203.0.113.10/24 dev eth1\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.TrackInterfaces) != 0 {
					t.Errorf("track_interfaces %v, want none: the VIP tracks eth1", in.TrackInterfaces)
				}
				if diff := cmp.Diff([]health.Track{{Check: "link:eth0"}, {Check: "link:eth1"}}, in.Tracks()); diff != "" {
					t.Errorf("tracks (-want +got)\n%s", diff)
				}
			},
			safe: true,
			note: "k.conf:5: vrrp_instance VI_1: track_interface eth1 weight -20: VIP 203.0.113.10 is on eth1, and keepalived tracks the interface of a VIP unweighted, so it ignores the weight: a link down faults the instance; so does vipd",
		},
		{
			name: "a VIP on the instance's interface is fine",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/24 dev eth0\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if diff := cmp.Diff([]netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}, in.VIPs, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
					t.Errorf("vips (-want +got)\n%s", diff)
				}
			},
			safe: true,
		},
		{
			name: "0.0.0.0 changes the advertised addresses",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/24\n  0.0.0.0 dev eth0\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.VIPs) != 1 {
					t.Errorf("vips %v, want 192.0.2.10/24 alone", in.VIPs)
				}
			},
			note: "k.conf:6: vrrp_instance VI_1: keepalived advertises the addresses 192.0.2.10 0.0.0.0, and vipd would advertise 1 of them: a vipd backup drops a keepalived master's adverts as an address mismatch, and keepalived drops vipd's, so both become master (as for virtual_ipaddress_excluded, change the addresses once every node runs vipd)",
		},
		{
			name: "a duplicate VIP changes the advertised addresses",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/24\n  192.0.2.10/32\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.VIPs) != 1 {
					t.Errorf("vips %v, want one", in.VIPs)
				}
			},
			note: "k.conf:6: vrrp_instance VI_1: virtual_ipaddress 192.0.2.10/32 is listed again; vipd holds it once",
		},
		{
			name: "a track_script weight option keepalived does not know is ignored, with its warning",
			conf: "vrrp_script chk {\n script \"/usr/local/bin/chk\"\n interval 2\n timeout 1\n}\n" + inst(" track_script {\n  chk weight -20 backwards\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.Track) != 1 || in.Track[0].Weight != -20 {
					t.Errorf("track %+v, want chk with weight -20", in.Track)
				}
			},
			safe: true,
			note: "k.conf:10: vrrp_instance VI_1: track_script chk: weight option backwards: keepalived ignores it",
		},
		{
			name: "a script without timeout gets the whole interval",
			conf: "vrrp_script chk {\n script \"/usr/local/bin/chk\"\n interval 2\n}\n" + inst(" track_script {\n  chk\n }"),
			check: func(t *testing.T, _ config.Instance, checks []health.Spec) {
				if len(checks) != 1 || checks[0].Timeout != 2*time.Second-time.Millisecond {
					t.Errorf("checks %+v, want a timeout of 1.999s", checks)
				}
			},
			safe: true,
			note: "k.conf:1: vrrp_script chk: without timeout keepalived gives the script its whole interval (2s); vipd needs a timeout shorter than the interval: 1.999s",
		},
		{
			name: "a script interval is whole seconds",
			conf: "vrrp_script chk {\n script \"/usr/local/bin/chk\"\n interval 2.5\n timeout 1\n rise 3x\n}\n" + inst(" track_script {\n  chk\n }"),
			check: func(t *testing.T, _ config.Instance, checks []health.Spec) {
				if len(checks) != 1 || checks[0].Interval != 2*time.Second || checks[0].Rise != 3 || checks[0].Timeout != time.Second {
					t.Errorf("checks %+v, want interval 2s, timeout 1s, rise 3", checks)
				}
			},
			safe: true,
			note: `k.conf:3: vrrp_script chk: interval "2.5": keepalived reads 2 (whole seconds) and warns; keepalived -t rejects it`,
		},
		{
			name: "a script defined after the instance is not found",
			conf: inst(" track_script {\n  chk\n }") + "vrrp_script chk {\n script \"/usr/local/bin/chk\"\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.Track) != 0 {
					t.Errorf("tracks %v, want none", in.Track)
				}
			},
			safe: true,
			note: `k.conf:5: vrrp_instance VI_1: track_script chk: there is no vrrp_script chk before it (with a script), so keepalived ignores it ("track script not found")`,
		},
		{
			name: "the first of two scripts of one name is used",
			conf: "vrrp_script chk {\n script \"/bin/first\"\n}\nvrrp_script chk {\n script \"/bin/second\"\n}\n" + inst(" track_script {\n  chk\n }"),
			check: func(t *testing.T, _ config.Instance, checks []health.Spec) {
				if len(checks) != 1 || checks[0].Command[0] != "/bin/first" {
					t.Errorf("checks %+v, want /bin/first", checks)
				}
			},
			safe: true,
		},
		{
			name: "a reversed weight is refused",
			conf: "vrrp_script chk {\n script \"/bin/chk\"\n weight 10 reverse\n}\n" + inst(" priority 100", " track_script {\n  chk\n }"),
			note: "k.conf:10: vrrp_instance VI_1: track_script chk: its weight is reversed, which vipd does not do; the instance is not converted",
		},
		{
			name: "the owner's weighted scripts are ignored",
			conf: "vrrp_script chk {\n script \"/bin/chk\"\n weight -10\n}\n" + inst(" priority 255", " track_script {\n  chk\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if len(in.Track) != 0 {
					t.Errorf("tracks %v, want none", in.Track)
				}
			},
			safe: true,
		},
		{
			name: "a weighted interface moves the priority",
			conf: inst(" track_interface {\n  eth1 weight -20\n  eth2 weight 10\n  eth3\n }"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				want := []config.TrackInterface{{Name: "eth1", Weight: -20}, {Name: "eth2", Weight: 10}, {Name: "eth3"}}
				if diff := cmp.Diff(want, in.TrackInterfaces); diff != "" {
					t.Errorf("track_interfaces (-want +got)\n%s", diff)
				}
			},
			safe: true,
		},
		{
			name: "a reversed weighted interface is refused",
			conf: inst(" track_interface {\n  eth1 weight -20 reverse\n }"),
			note: "k.conf:5: vrrp_instance VI_1: track_interface eth1 weight -20 reverse: keepalived reverses the weight (a link up counts as down), which vipd does not do; the instance is not converted",
		},
		{
			name: "VRRPv2 over IPv6 is refused",
			conf: "vrrp_instance VI_1 {\n interface eth0\n version 2\n virtual_router_id 51\n virtual_ipaddress {\n  2001:db8::10/64\n }\n}\n",
		},
		{
			name: "version 2 after an IPv6 address is ignored",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  2001:db8::10/64\n }\n version 2\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.Version != 3 {
					t.Errorf("version %d, want 3", in.Version)
				}
			},
			safe: true,
		},
		{
			name: "the first address fixes the family",
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n unicast_src_ip 192.0.2.1\n unicast_peer {\n  192.0.2.2\n }\n virtual_ipaddress {\n  2001:db8::10/64\n  192.0.2.10/24\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if diff := cmp.Diff([]netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}, in.VIPs, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
					t.Errorf("vips (-want +got)\n%s", diff)
				}
			},
			safe: true,
		},
		{
			name: "a sync group of two is a sync_group",
			conf: inst() + strings.NewReplacer("VI_1", "VI_2", "interface eth0", "interface eth1", "virtual_router_id 51", "virtual_router_id 52", "192.0.2.10/24", "192.0.2.11/24").Replace(inst()) +
				"vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.SyncGroup != "G" || len(in.TrackInterfaces) != 0 {
					t.Errorf("sync_group %q, track_interfaces %v; want G and none", in.SyncGroup, in.TrackInterfaces)
				}
			},
			safe: true,
		},
		{
			name: "a sync group's name is made a vipd name",
			conf: inst() + strings.NewReplacer("VI_1", "VI_2", "interface eth0", "interface eth1", "virtual_router_id 51", "virtual_router_id 52", "192.0.2.10/24", "192.0.2.11/24").Replace(inst()) +
				"vrrp_sync_group G/1 {\n group {\n  VI_1\n  VI_2\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.SyncGroup != "G-1" {
					t.Errorf("sync_group %q, want G-1", in.SyncGroup)
				}
			},
			safe: true,
			note: `k.conf:17: vrrp_sync_group G/1 is sync_group "G-1" in vipd`,
		},
		{
			name: "a sync group with a member not converted is not converted",
			conf: "vrrp_track_file f {\n file /tmp/f\n}\n" + inst() + strings.Replace(strings.NewReplacer("VI_1", "VI_2", "interface eth0", "interface eth1", "virtual_router_id 51", "virtual_router_id 52", "192.0.2.10/24", "192.0.2.11/24").Replace(inst()), " virtual_router_id 52\n", " virtual_router_id 52\n track_file {\n  f\n }\n", 1) +
				"vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n}\n",
			note: "k.conf:23: vrrp_instance VI_1: vrrp_sync_group G: its member vrrp_instance VI_2 is not converted, and this one would change state without it; the instance is not converted",
		},
		{
			name: "a sync group of address owners and others is not safe",
			conf: inst(" priority 255") + strings.NewReplacer("VI_1", "VI_2", "interface eth0", "interface eth1", "virtual_router_id 51", "virtual_router_id 52", "192.0.2.10/24", "192.0.2.11/24").Replace(inst()) +
				"vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n}\n",
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.SyncGroup != "G" {
					t.Errorf("sync_group %q, want G", in.SyncGroup)
				}
			},
		},
		{
			name:  "a sync group of one is safe",
			conf:  inst() + "vrrp_sync_group G {\n group {\n  VI_1\n }\n}\n",
			check: func(*testing.T, config.Instance, []health.Spec) {},
			safe:  true,
		},
		{
			name: "preempt_delay in strict mode is ignored",
			conf: "global_defs {\n vrrp_strict\n}\n" + inst(" preempt_delay 30"),
			check: func(t *testing.T, in config.Instance, _ []health.Spec) {
				if in.PreemptDelay != 0 {
					t.Errorf("preempt_delay %v, want none", in.PreemptDelay)
				}
			},
			safe: true,
		},
		{
			name: "a multicast group of its own is refused",
			conf: "global_defs {\n vrrp_mcast_group4 224.0.0.19\n}\n" + inst(),
		},
		{
			name: "unicast in strict mode: keepalived does not start",
			conf: "global_defs {\n vrrp_strict\n}\n" + inst(" unicast_src_ip 192.0.2.1", " unicast_peer {\n  192.0.2.2\n }"),
			err:  `k.conf:8: keepalived 2.2.7 does not run this file: vrrp_instance VI_1 has unicast peers in strict mode ("Unicast peers are not supported in strict mode"), on an interface that can multicast`,
		},
		{
			name: "a missing parameter: keepalived does not start",
			conf: inst(" priority"),
			err:  "k.conf:4: keepalived 2.2.7 does not run this file: priority is missing a parameter, and keepalived stops there (exit code 2)",
		},
		{
			name: "VRRPv3 without VIPs: keepalived does not start",
			conf: "global_defs {\n vrrp_version 3\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n",
			err:  `k.conf:4: keepalived 2.2.7 does not run this file: vrrp_instance VI_1 has no virtual_ipaddress keepalived can use, which VRRPv3 and strict mode require ("No VIP specified; at least one is required")`,
		},
		{
			name: "one VRID twice on an interface: keepalived does not start",
			conf: inst() + strings.Replace(inst(), "VI_1", "VI_2", 1),
			err:  `k.conf:9: keepalived 2.2.7 does not run this file: vrrp_instance VI_2 and vrrp_instance VI_1 (line 1) both use VRID 51 with IPv4 on eth0 ("duplicate VRID conflict")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := convert(mapLoader{"k.conf": tt.conf}, []string{"k.conf"}, Options{})
			var notes []string
			for _, n := range res.Notes {
				notes = append(notes, n.String())
			}
			all := strings.Join(notes, "\n")
			if tt.note != "" && !strings.Contains("\n"+all+"\n", "\n"+tt.note+"\n") {
				t.Errorf("notes lack\n%s\nnotes:\n%s", tt.note, all)
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || !errors.Is(err, ErrRefused) {
					t.Fatalf("error %v, want %s (ErrRefused)", err, tt.err)
				}
				return
			}
			if err != nil && !errors.Is(err, ErrNothingToConvert) {
				t.Fatalf("convert: %v\nnotes:\n%s", err, all)
			}
			if len(res.Verdicts) == 0 {
				t.Fatalf("no verdict; notes:\n%s", all)
			}
			v := res.Verdicts[0]
			if v.Safe != tt.safe || v.Converted != (tt.check != nil) {
				t.Errorf("verdict %s; want safe %v, converted %v", v, tt.safe, tt.check != nil)
			}
			if v.Safe != (len(v.Reasons) == 0) {
				t.Errorf("verdict %s: safe %v with %d reasons", v, v.Safe, len(v.Reasons))
			}
			if tt.check == nil {
				if len(res.Nodes) > 0 && strings.Contains(string(res.Nodes[0].TOML), `name = "VI_1"`) {
					t.Errorf("VI_1 is converted:\n%s", res.Nodes[0].TOML)
				}
				return
			}
			cfg, err := config.Parse("k.toml", res.Nodes[0].TOML)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg.Instances[0], cfg.Checks)
		})
	}
}

// TestReadNumbers checks the number readers against what keepalived 2.2.7
// makes of the words while it runs.
func TestReadNumbers(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  kaNum
		want kaNum
	}{
		{"priority False", kaUnsigned("False", 1, 255, false), kaNum{}},
		{"priority 101", kaUnsigned("101", 1, 255, false), kaNum{val: 101, ok: true, clean: true}},
		{"priority 300", kaUnsigned("300", 1, 255, false), kaNum{}},
		{"interval 2.5, lenient", kaUnsigned("2.5", 0, 4294, true), kaNum{val: 2, ok: true}},
		{"interval -1, lenient", kaUnsigned("-1", 0, 4294, true), kaNum{}},
		{"interval ' 7' (quoted blanks)", kaUnsigned(" 7", 0, 4294, true), kaNum{val: 7, ok: true, clean: true}},
		{"weight -20", kaInt("-20", -253, 253, true), kaNum{val: -20, ok: true, clean: true}},
		{"weight 10x", kaInt("10x", -253, 253, true), kaNum{val: 10, ok: true}},
		{"weight abc", kaInt("abc", -253, 253, true), kaNum{val: 0, ok: true}},
		{"weight 300", kaInt("300", -253, 253, true), kaNum{val: 300}},
		{"advert_int 0.5", kaDecimal("0.5", 10000, 255000000, 6, true), kaNum{val: 500000, ok: true, clean: true}},
		{"advert_int 0.0000005", kaDecimal("0.0000005", 0, 255000000, 6, true), kaNum{val: 1, ok: true, clean: true}},
		{"advert_int 1s", kaDecimal("1s", 10000, 255000000, 6, true), kaNum{val: 1}},
		{"advert_int 0.001", kaDecimal("0.001", 10000, 255000000, 6, true), kaNum{val: 1000}},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}
