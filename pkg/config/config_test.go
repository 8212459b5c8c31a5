package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/pkg/health"
)

// head is a [cluster] of three nodes, 13 lines long: an [[instance]] that
// follows starts on line 14. cp-3 has no IPv6 address.
const head = `[cluster]
interface = "eth0"
[[cluster.node]]
name = "cp-1"
address = "192.0.2.11"
address6 = "2001:db8::11"
[[cluster.node]]
name = "cp-2"
address = "192.0.2.12"
address6 = "2001:db8::12"
[[cluster.node]]
name = "cp-3"
address = "192.0.2.13"
`

// api is a valid instance, lines 14 to 17 after head, with extra lines
// from line 18.
func api(extra ...string) string {
	s := "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\"]\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

// chk is a [[check]] named name, lines 14 and 15 after head, with extra
// lines from line 16.
func chk(name string, extra ...string) string {
	s := "[[check]]\nname = \"" + name + "\"\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

// Lines that make a valid check for chk.
const (
	tcpCheck   = "type = \"tcp\"\naddress = \"127.0.0.1:8443\""
	httpsCheck = "type = \"https\"\nurl = \"https://127.0.0.1:6443/readyz\""
	execCheck  = "type = \"exec\"\ncommand = [\"/usr/local/bin/check\"]"
)

// nodes returns n [[cluster.node]] tables.
func nodes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[[cluster.node]]\nname = \"n%d\"\naddress = \"198.51.100.%d\"\n", i+1, i+1)
	}
	return b.String()
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		// Syntax and types.
		{
			name: "syntax",
			src:  head + "[[instance]\nname = \"api\"\n",
			want: `vipd.toml:14: expected end of table array name delimiter ']', but got '\n' instead`,
		},
		{
			name: "wrong type",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = \"51\"\nvips = [\"192.0.2.100/24\"]\n",
			want: `vipd.toml:16: instance "api": vrid: expected an integer, found a string`,
		},
		{
			name: "wrong element type",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\", 7]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vips: expected a string, found an integer`,
		},
		{
			name: "wrong type in second instance",
			src:  head + api() + "[[instance]]\nname = \"web\"\nvrid = 52\nvips = [\"192.0.2.101/24\"]\npreempt = \"yes\"\n",
			want: `vipd.toml:22: instance "web" (vrid 52): preempt: expected a boolean, found a string`,
		},
		{
			name: "wrong type in cluster",
			src:  "[cluster]\ninterface = 1\n" + nodes(1) + api(),
			want: `vipd.toml:2: [cluster]: interface: expected a string, found an integer`,
		},
		{
			name: "wrong type in node",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress = [\"192.0.2.14\"]\n" + api(),
			want: `vipd.toml:16: node "cp-4": address: expected a string, found an array`,
		},
		{
			name: "top-level key of the wrong type",
			src:  "instance = 1\n" + head,
			want: `vipd.toml:1: instance: expected an array, found an integer`,
		},
		{
			name: "table of the wrong type",
			src:  "cluster = \"prod\"\n" + api(),
			want: `vipd.toml:1: [cluster]: expected a table, found a string`,
		},
		{
			name: "table written as an array of tables",
			src:  head + "[[daemon]]\nlog_level = \"info\"\n" + api(),
			want: `vipd.toml:14: write [daemon], not [[daemon]]`,
		},
		{
			name: "array of tables written as a table",
			src:  head + "[instance]\nname = \"api\"\n",
			want: `vipd.toml:14: write [[instance]], not [instance]`,
		},
		{
			name: "node written as a table",
			src:  "[cluster]\ninterface = \"eth0\"\n[cluster.node]\nname = \"cp-1\"\n" + api(),
			want: `vipd.toml:3: write [[cluster.node]], not [cluster.node]`,
		},
		{
			name: "duration without unit",
			src:  head + api("advert_interval = 1"),
			want: `vipd.toml:18: instance "api" (vrid 51): advert_interval: "1" is not a duration; write a string with a unit, such as "1s" or "100ms"`,
		},
		{
			name: "duration misspelt",
			src:  head + api(`preempt_delay = "5 s"`),
			want: `vipd.toml:18: instance "api" (vrid 51): preempt_delay: "5 s" is not a duration; write a string with a unit, such as "1s" or "100ms"`,
		},

		// Unknown keys.
		{
			name: "unknown key, misspelt",
			src:  head + api(`advert_intervl = "1s"`),
			want: `vipd.toml:18: instance "api" (vrid 51): unknown key "advert_intervl"; did you mean "advert_interval"?`,
		},
		{
			name: "unknown key, wrong case",
			src:  head + api(`Preempt = false`),
			want: `vipd.toml:18: instance "api" (vrid 51): unknown key "Preempt"; did you mean "preempt"?`,
		},
		{
			name: "unknown key",
			src:  head + api(`notifyy = ["/usr/local/bin/notify"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): unknown key "notifyy"; did you mean "notify"?`,
		},
		{
			name: "notify not absolute",
			src:  head + api(`notify = ["notify.sh"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): notify program "notify.sh" must be an absolute path (it runs without a shell)`,
		},
		{
			name: "notify empty",
			src:  head + api(`notify = []`),
			want: `vipd.toml:18: instance "api" (vrid 51): notify must name a program and its arguments, such as ["/usr/local/lib/vipd/on-change"]`,
		},
		{
			name: "state_dir relative",
			src:  "[daemon]\nstate_dir = \"var/lib\"\n" + head + api(""),
			want: `vipd.toml:2: [daemon]: state_dir "var/lib" must be an absolute path`,
		},
		{
			name: "unknown key in second instance",
			src:  head + api() + "[[instance]]\nname = \"web\"\nvrid = 52\nvips = [\"192.0.2.101/24\"]\nvip = \"192.0.2.102\"\n",
			want: `vipd.toml:22: instance "web" (vrid 52): unknown key "vip"; did you mean "vips"?`,
		},
		{
			name: "unknown key in node",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddr = \"192.0.2.14\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": unknown key "addr"; known keys: name, address, address6`,
		},
		{
			name: "unknown key in cluster",
			src:  "[cluster]\ninterface = \"eth0\"\npriority_step = 5\n" + nodes(1) + api(),
			want: `vipd.toml:3: [cluster]: unknown key "priority_step"; known keys: name, interface, advert_interval, node`,
		},
		{
			name: "unknown key in daemon",
			src:  head + "[daemon]\nloglevel = \"debug\"\n" + api(),
			want: `vipd.toml:15: [daemon]: unknown key "loglevel"; did you mean "log_level"?`,
		},
		{
			name: "unknown table",
			src:  head + api() + "[global]\nrouter_id = \"x\"\n",
			want: `vipd.toml:18: unknown table [global]; known tables: [cluster], [daemon], [[check]], [[instance]], [bgp]`,
		},
		{
			name: "unknown array of tables",
			src:  head + "[[instances]]\nname = \"api\"\n",
			want: `vipd.toml:14: unknown table [[instances]]; did you mean "instance"?`,
		},
		{
			name: "unknown top-level key",
			src:  "log_level = \"debug\"\n" + head + api(),
			want: `vipd.toml:1: unknown key "log_level"; known tables: [cluster], [daemon], [[check]], [[instance]], [bgp]`,
		},

		// [cluster] and its nodes.
		{
			name: "cluster without nodes",
			src:  "[cluster]\ninterface = \"eth0\"\n" + api(),
			want: `vipd.toml:1: [cluster] has no [[cluster.node]]; list the nodes in order of preference`,
		},
		{
			name: "too many nodes",
			src:  "[cluster]\ninterface = \"eth0\"\n" + nodes(26) + api(),
			want: `vipd.toml:78: [cluster] has 26 nodes; at most 25 are supported (priorities 250, 240, ... 10)`,
		},
		{
			name: "node without name",
			src:  head + "[[cluster.node]]\naddress = \"192.0.2.14\"\n" + api(),
			want: `vipd.toml:14: node #4: name is required`,
		},
		{
			name: "node name with a space",
			src:  head + "[[cluster.node]]\nname = \"cp 4\"\naddress = \"192.0.2.14\"\n" + api(),
			want: `vipd.toml:15: node "cp 4": name "cp 4" may contain only letters, digits, '-', '_' and '.'`,
		},
		{
			name: "duplicate node name",
			src:  head + "[[cluster.node]]\nname = \"cp-2\"\naddress = \"192.0.2.14\"\n" + api(),
			want: `vipd.toml:15: node "cp-2": name "cp-2" is already used by the node on line 7`,
		},
		{
			name: "duplicate node address",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress = \"192.0.2.12\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address 192.0.2.12 is also the address of node "cp-2"`,
		},
		{
			name: "duplicate node address6",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress6 = \"2001:db8::11\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address6 2001:db8::11 is also the address of node "cp-1"`,
		},
		{
			name: "node address invalid",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress = \"192.0.2.300\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address "192.0.2.300" is not an IP address`,
		},
		{
			name: "node address with prefix length",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress = \"192.0.2.14/24\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address "192.0.2.14/24" is not an IP address`,
		},
		{
			name: "node address of the wrong family",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress = \"2001:db8::14\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address 2001:db8::14 is not an IPv4 address; put it in address6`,
		},
		{
			name: "node address6 of the wrong family",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress6 = \"192.0.2.14\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address6 192.0.2.14 is not an IPv6 address; put it in address`,
		},
		{
			name: "node address loopback",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress = \"127.0.0.1\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address "127.0.0.1" is a loopback address`,
		},
		{
			name: "node address6 link-local",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\naddress6 = \"fe80::14\"\n" + api(),
			want: `vipd.toml:16: node "cp-4": address6 fe80::14 is link-local, which does not identify a host; use a global or unique local address`,
		},
		{
			name: "node without address",
			src:  head + "[[cluster.node]]\nname = \"cp-4\"\n" + api(),
			want: `vipd.toml:14: node "cp-4": set address (IPv4), address6 (IPv6) or both`,
		},
		{
			name: "cluster interface invalid",
			src:  "[cluster]\ninterface = \"eth0/1\"\n" + nodes(1) + api(),
			want: `vipd.toml:2: [cluster]: interface "eth0/1" is not a valid interface name`,
		},

		// [daemon].
		{
			name: "log level",
			src:  head + "[daemon]\nlog_level = \"verbose\"\n" + api(),
			want: `vipd.toml:15: [daemon]: log_level "verbose" is not one of debug, info, warn, error`,
		},
		{
			name: "metrics listen without port",
			src:  head + "[daemon]\nmetrics_listen = \"127.0.0.1\"\n" + api(),
			want: `vipd.toml:15: [daemon]: metrics_listen "127.0.0.1" is not host:port (such as "127.0.0.1:9654"), or "" to disable`,
		},
		{
			name: "metrics listen port",
			src:  head + "[daemon]\nmetrics_listen = \"127.0.0.1:http\"\n" + api(),
			want: `vipd.toml:15: [daemon]: metrics_listen "127.0.0.1:http" has port "http"; want 1..65535`,
		},
		{
			name: "control socket relative",
			src:  head + "[daemon]\ncontrol_socket = \"vipd.sock\"\n" + api(),
			want: `vipd.toml:15: [daemon]: control_socket "vipd.sock" must be an absolute path`,
		},
		{
			name: "control socket too long",
			src:  head + "[daemon]\ncontrol_socket = \"/" + strings.Repeat("s", 107) + "\"\n" + api(),
			want: `vipd.toml:15: [daemon]: control_socket is 108 bytes long; a unix socket path has at most 107`,
		},

		// [[instance]].
		{
			name: "no instance",
			src:  head,
			want: `vipd.toml: no [[instance]]: the file must define at least one virtual router`,
		},
		{
			name: "no name",
			src:  head + "[[instance]]\nvrid = 51\nvips = [\"192.0.2.100/24\"]\n",
			want: `vipd.toml:14: instance #1 (vrid 51): name is required`,
		},
		{
			name: "no vrid",
			src:  head + "[[instance]]\nname = \"api\"\nvips = [\"192.0.2.100/24\"]\n",
			want: `vipd.toml:14: instance "api": vrid is required (1..255)`,
		},
		{
			name: "vrid 0",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 0\nvips = [\"192.0.2.100/24\"]\n",
			want: `vipd.toml:16: instance "api": vrid 0 is out of range 1..255`,
		},
		{
			name: "vrid 256",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 256\nvips = [\"192.0.2.100/24\"]\n",
			want: `vipd.toml:16: instance "api": vrid 256 is out of range 1..255`,
		},
		{
			name: "duplicate vrid",
			src:  head + api() + "[[instance]]\nname = \"web\"\nvrid = 51\nvips = [\"192.0.2.101/24\"]\n",
			want: `vipd.toml:20: instance "web" (vrid 51): vrid 51 is already used on eth0 for IPv4 by instance "api" (line 14)`,
		},
		{
			name: "duplicate vrid in a mixed instance",
			src:  head + "[[instance]]\nname = \"api6\"\nvrid = 51\nvips = [\"2001:db8::100/64\"]\n" + "[[instance]]\nname = \"web\"\nvrid = 51\nvips = [\"192.0.2.101/24\", \"2001:db8::101/64\"]\n",
			want: `vipd.toml:20: instance "web" (vrid 51): vrid 51 is already used on eth0 for IPv6 by instance "api6" (line 14)`,
		},
		{
			name: "duplicate name",
			src:  head + api() + "[[instance]]\nname = \"api\"\nvrid = 52\nvips = [\"192.0.2.101/24\"]\n",
			want: `vipd.toml:19: instance "api" (vrid 52): name "api" is already used by the instance on line 14`,
		},
		{
			name: "name with a slash",
			src:  head + "[[instance]]\nname = \"kube/api\"\nvrid = 51\nvips = [\"192.0.2.100/24\"]\n",
			want: `vipd.toml:15: instance "kube/api" (vrid 51): name "kube/api" may contain only letters, digits, '-', '_' and '.'`,
		},
		{
			name: "empty vips",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = []\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vips is empty; list at least one address, such as vips = ["192.0.2.100/24"]`,
		},
		{
			name: "no vips",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\n",
			want: `vipd.toml:14: instance "api" (vrid 51): vips is empty; list at least one address, such as vips = ["192.0.2.100/24"]`,
		},
		{
			name: "invalid vip",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.300/24\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "192.0.2.300/24" is not an address or address/prefix-length`,
		},
		{
			name: "vip prefix length too long",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/33\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "192.0.2.100/33" is not an address or address/prefix-length`,
		},
		{
			name: "multicast vip",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"224.0.0.18\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "224.0.0.18" is a multicast address`,
		},
		{
			name: "vip with a zone",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"fe80::1%eth0\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "fe80::1%eth0" has a zone; the instance's interface is implied`,
		},
		{
			name: "IPv4-mapped vip",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"::ffff:192.0.2.100/120\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "::ffff:192.0.2.100/120" is an IPv4-mapped IPv6 address; write the IPv4 address`,
		},
		{
			name: "unspecified vip",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"::\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "::" is the unspecified address`,
		},
		{
			name: "vip with prefix length 0",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/0\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "192.0.2.100/0" has prefix length 0`,
		},
		{
			name: "vip twice",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\", \"192.0.2.100/32\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip 192.0.2.100 is listed twice`,
		},
		{
			name: "vip twice on two interfaces",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\", \"192.0.2.100/24 dev eth1\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip 192.0.2.100 is listed twice (on eth0 and on eth1); an address is bound on one interface`,
		},
		{
			name: "vip with dev and no interface",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"203.0.113.10/24 dev\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "203.0.113.10/24 dev" has dev without an interface`,
		},
		{
			name: "vip with dev twice",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"203.0.113.10/24 dev eth1 dev eth2\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "203.0.113.10/24 dev eth1 dev eth2" has dev twice`,
		},
		{
			name: "vip with a bad dev",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"203.0.113.10/24 dev enp0s31f6-vlan100\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "203.0.113.10/24 dev enp0s31f6-vlan100" has dev "enp0s31f6-vlan100", which is longer than 15 bytes`,
		},
		{
			name: "vip with an unknown option",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"203.0.113.10/24 label eth1:api\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "203.0.113.10/24 label eth1:api" has "label", which is not an option; write "ADDR/LEN", "ADDR/LEN dev IF" or "ADDR/LEN dev IF no_track"`,
		},
		{
			name: "vip in the unknown form interface/address",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"eth1 203.0.113.10/24\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "eth1 203.0.113.10/24" is not an address or address/prefix-length`,
		},
		{
			name: "no_track on the own interface",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24 dev eth0 no_track\"]\n",
			want: `vipd.toml:17: instance "api" (vrid 51): vip "192.0.2.100/24 dev eth0 no_track": no_track has no effect on the instance's interface, which is always tracked; remove it`,
		},
		{
			name: "dev of a routed instance",
			src:  "[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n[[bgp.peer]]\naddress = \"192.0.2.254\"\nasn = 65000\n[[instance]]\nname = \"api\"\nannounce = \"bgp\"\npriority = 100\nvips = [\"203.0.113.10/32 dev eth1\"]\n",
			want: `vipd.toml:11: instance "api": vip "203.0.113.10/32 dev eth1": dev applies to announce = "vrrp"; a VIP announced by routing is bound on lo`,
		},
		{
			name: "vip on two interfaces in two instances",
			src:  head + api() + "[[instance]]\nname = \"web\"\nvrid = 52\nvips = [\"192.0.2.100 dev eth1\"]\n",
			want: `vipd.toml:21: instance "web" (vrid 52): vip 192.0.2.100 is also in instance "api" (line 14)`,
		},
		{
			name: "vip in two instances",
			src:  head + api() + "[[instance]]\nname = \"web\"\nvrid = 52\nvips = [\"192.0.2.100\"]\n",
			want: `vipd.toml:21: instance "web" (vrid 52): vip 192.0.2.100 is also in instance "api" (line 14)`,
		},
		{
			name: "v2 with IPv6",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nversion = 2\nvips = [\"192.0.2.100/24\", \"2001:db8::100/64\"]\n",
			want: `vipd.toml:18: instance "api" (vrid 51): vip 2001:db8::100/64 is IPv6, which VRRPv2 does not carry; use version = 3`,
		},
		{
			name: "version 4",
			src:  head + api("version = 4"),
			want: `vipd.toml:18: instance "api" (vrid 51): version 4 is not supported; use 3 (the default) or 2`,
		},
		{
			name: "v3 interval below minimum",
			src:  head + api(`advert_interval = "5ms"`),
			want: `vipd.toml:18: instance "api" (vrid 51): advert_interval 5ms is below the VRRPv3 minimum of 10ms`,
		},
		{
			name: "v3 interval not a multiple of 10ms",
			src:  head + api(`advert_interval = "15ms"`),
			want: `vipd.toml:18: instance "api" (vrid 51): advert_interval 15ms is not a multiple of 10ms, the VRRPv3 unit`,
		},
		{
			name: "v3 interval above maximum",
			src:  head + api(`advert_interval = "41s"`),
			want: `vipd.toml:18: instance "api" (vrid 51): advert_interval 41s is above the VRRPv3 maximum of 40.95s`,
		},
		{
			name: "v2 interval not whole seconds",
			src:  head + api("version = 2", `advert_interval = "1500ms"`),
			want: `vipd.toml:19: instance "api" (vrid 51): advert_interval 1.5s is not a whole number of seconds, as VRRPv2 requires`,
		},
		{
			name: "v2 interval below minimum",
			src:  head + api("version = 2", `advert_interval = "100ms"`),
			want: `vipd.toml:19: instance "api" (vrid 51): advert_interval 100ms is below the VRRPv2 minimum of 1s`,
		},
		{
			name: "v2 interval above maximum",
			src:  head + api("version = 2", `advert_interval = "256s"`),
			want: `vipd.toml:19: instance "api" (vrid 51): advert_interval 4m16s is above the VRRPv2 maximum of 255s`,
		},
		{
			name: "interval from the cluster",
			src:  "[cluster]\ninterface = \"eth0\"\nadvert_interval = \"100ms\"\n" + nodes(1) + api("version = 2"),
			want: `vipd.toml:3: instance "api" (vrid 51): advert_interval 100ms (from [cluster]) is below the VRRPv2 minimum of 1s`,
		},
		{
			name: "auth password with v3",
			src:  head + api(`auth_password = "secret"`),
			want: `vipd.toml:18: instance "api" (vrid 51): auth_password is VRRPv2 only (VRRPv3 has no authentication); remove it or set version = 2`,
		},
		{
			name: "auth password too long",
			src:  head + api("version = 2", `auth_password = "123456789"`),
			want: `vipd.toml:19: instance "api" (vrid 51): auth_password is 9 bytes long; it must be 1 to 8`,
		},
		{
			name: "auth password empty",
			src:  head + api("version = 2", `auth_password = ""`),
			want: `vipd.toml:19: instance "api" (vrid 51): auth_password is 0 bytes long; it must be 1 to 8`,
		},
		{
			name: "priority 0",
			src:  head + api("priority = 0"),
			want: `vipd.toml:18: instance "api" (vrid 51): priority 0 is out of range 1..255`,
		},
		{
			name: "priority 256",
			src:  head + api("priority = 256"),
			want: `vipd.toml:18: instance "api" (vrid 51): priority 256 is out of range 1..255`,
		},
		{
			name: "priority 255 with cluster",
			src:  head + api("priority = 255"),
			want: `vipd.toml:18: instance "api" (vrid 51): priority 255 (address owner) would apply to every node of [cluster]; leave priority out to derive it from the node order`,
		},
		{
			name: "priority required without cluster",
			src:  api(`interface = "eth0"`),
			want: `vipd.toml:1: instance "api" (vrid 51): priority is required without [cluster] (1..255; 255 = address owner)`,
		},
		{
			name: "order names an unknown node",
			src:  head + api(`order = ["cp-2", "cp-9"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): order names "cp-9", which is not a [[cluster.node]] (nodes: cp-1, cp-2, cp-3)`,
		},
		{
			name: "order names a node twice",
			src:  head + api(`order = ["cp-2", "cp-1", "cp-2"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): order names "cp-2" twice`,
		},
		{
			name: "order without cluster",
			src:  api(`interface = "eth0"`, "priority = 100", `order = ["cp-1"]`),
			want: `vipd.toml:7: instance "api" (vrid 51): order lists [[cluster.node]] names, but the file has no [cluster]`,
		},
		{
			name: "order with priority",
			src:  head + api("priority = 100", `order = ["cp-1"]`),
			want: `vipd.toml:19: instance "api" (vrid 51): order has no effect with an explicit priority; remove one of them`,
		},
		{
			name: "no interface",
			src:  "[cluster]\n" + nodes(1) + api(),
			want: `vipd.toml:5: instance "api" (vrid 51): no interface: set interface here or in [cluster]`,
		},
		{
			name: "interface name too long",
			src:  head + api(`interface = "enp0s31f6-vlan100"`),
			want: `vipd.toml:18: instance "api" (vrid 51): interface "enp0s31f6-vlan100" is longer than 15 bytes`,
		},
		{
			name: "preempt delay negative",
			src:  head + api(`preempt_delay = "-1s"`),
			want: `vipd.toml:18: instance "api" (vrid 51): preempt_delay -1s is negative`,
		},
		{
			name: "preempt delay above maximum",
			src:  head + api(`preempt_delay = "2h"`),
			want: `vipd.toml:18: instance "api" (vrid 51): preempt_delay 2h0m0s is above the maximum of 1h`,
		},
		{
			name: "preempt delay without preempt",
			src:  head + api("preempt = false", `preempt_delay = "30s"`),
			want: `vipd.toml:19: instance "api" (vrid 51): preempt_delay has no effect with preempt = false; remove one of them`,
		},
		{
			name: "garp repeat 0",
			src:  head + api("garp_repeat = 0"),
			want: `vipd.toml:18: instance "api" (vrid 51): garp_repeat 0 is out of range 1..100`,
		},
		{
			name: "garp repeat 101",
			src:  head + api("garp_repeat = 101"),
			want: `vipd.toml:18: instance "api" (vrid 51): garp_repeat 101 is out of range 1..100`,
		},
		{
			name: "garp refresh below 1s",
			src:  head + api(`garp_refresh = "500ms"`),
			want: `vipd.toml:18: instance "api" (vrid 51): garp_refresh 500ms must be 0s (off) or at least 1s`,
		},
		{
			name: "garp delay below 1s",
			src:  head + api(`garp_delay = "200ms"`),
			want: `vipd.toml:18: instance "api" (vrid 51): garp_delay 200ms must be 0s (no second round) or 1s to 1h0m0s`,
		},
		{
			name: "garp delay above 1h",
			src:  head + api(`garp_delay = "2h"`),
			want: `vipd.toml:18: instance "api" (vrid 51): garp_delay 2h0m0s must be 0s (no second round) or 1s to 1h0m0s`,
		},

		// Unicast.
		{
			name: "unicast IPv6 with a node lacking address6",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\", \"2001:db8::100/64\"]\nunicast = true\n",
			want: `vipd.toml:18: instance "api" (vrid 51): unicast needs the address6 of every node for the IPv6 VIPs, and node "cp-3" has none`,
		},
		{
			name: "unicast in a single-node cluster",
			src:  "[cluster]\ninterface = \"eth0\"\n" + nodes(1) + api("unicast = true"),
			want: `vipd.toml:10: instance "api" (vrid 51): unicast = true, but [cluster] has a single node and so no peer`,
		},
		{
			name: "unicast without cluster or peers",
			src:  api(`interface = "eth0"`, "priority = 100", "unicast = true"),
			want: `vipd.toml:7: instance "api" (vrid 51): unicast = true needs unicast_peers in a file without [cluster]`,
		},
		{
			name: "unicast peer of the wrong family",
			src:  api(`interface = "eth0"`, "priority = 100", `unicast_peers = ["198.51.100.2", "2001:db8::2"]`),
			want: `vipd.toml:7: instance "api" (vrid 51): unicast peer 2001:db8::2 is IPv6, but the instance has no IPv6 VIP`,
		},
		{
			name: "unicast peers lack a family",
			src: "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\", \"2001:db8::100/64\"]\n" +
				"interface = \"eth0\"\npriority = 100\nunicast_peers = [\"198.51.100.2\"]\n",
			want: `vipd.toml:7: instance "api" (vrid 51): unicast_peers has no IPv6 address for the IPv6 VIPs`,
		},
		{
			name: "unicast peer invalid",
			src:  api(`interface = "eth0"`, "priority = 100", `unicast_peers = ["198.51.100.2/24"]`),
			want: `vipd.toml:7: instance "api" (vrid 51): unicast peer "198.51.100.2/24" is not an IP address`,
		},
		{
			name: "unicast peer twice",
			src:  api(`interface = "eth0"`, "priority = 100", `unicast_peers = ["198.51.100.2", "198.51.100.2"]`),
			want: `vipd.toml:7: instance "api" (vrid 51): unicast peer 198.51.100.2 is listed twice`,
		},
		{
			name: "unicast peers with cluster leave a node alone",
			src:  head + api(`unicast_peers = ["192.0.2.12"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): unicast_peers leaves node "cp-2" no IPv4 peer but itself`,
		},
		{
			name: "unicast peer with a zone",
			src:  api(`interface = "eth0"`, "priority = 100", `unicast_peers = ["fe80::2%eth0"]`),
			want: `vipd.toml:7: instance "api" (vrid 51): unicast peer "fe80::2%eth0" has a zone; write the address without it`,
		},
		{
			name: "unicast false with peers",
			src:  api(`interface = "eth0"`, "priority = 100", "unicast = false", `unicast_peers = ["198.51.100.2"]`),
			want: `vipd.toml:7: instance "api" (vrid 51): unicast = false contradicts unicast_peers; remove one of them`,
		},
		{
			name: "unicast source with cluster",
			src:  head + api("unicast = true", `unicast_source = "192.0.2.11"`),
			want: `vipd.toml:19: instance "api" (vrid 51): unicast_source cannot be used with [cluster], where each node sends from its own address or address6`,
		},
		{
			name: "unicast source of the wrong family",
			src:  api(`interface = "eth0"`, "priority = 100", `unicast_peers = ["198.51.100.2"]`, `unicast_source = "2001:db8::1"`),
			want: `vipd.toml:8: instance "api" (vrid 51): unicast_source 2001:db8::1 is IPv6, but the instance has no IPv6 VIP`,
		},
		{
			name: "unicast source without unicast",
			src:  api(`interface = "eth0"`, "priority = 100", `unicast_source = "198.51.100.1"`),
			want: `vipd.toml:7: instance "api" (vrid 51): unicast_source has no effect without unicast; set unicast_peers`,
		},

		// [[check]].
		{
			name: "check without type",
			src:  head + chk("api") + api(),
			want: `vipd.toml:14: check "api": type is missing; one of http, https, tcp, exec, process`,
		},
		{
			name: "process check without process",
			src:  head + chk("lb", `type = "process"`) + api(),
			want: `vipd.toml:14: check "lb": process is missing; a process check counts the processes of a name (process = "haproxy") or the one of a pid_file`,
		},
		{
			name: "process check with params but no full_command",
			src:  head + chk("lb", `type = "process"`, `process = "haproxy"`, `params = ["-f", "/etc/haproxy/haproxy.cfg"]`) + api(),
			want: `vipd.toml:18: check "lb": params and param_match compare the command line: set full_command = true, with process as argv[0] (such as /usr/sbin/haproxy)`,
		},
		{
			name: "process check with quorum 0",
			src:  head + chk("lb", `type = "process"`, `process = "haproxy"`, `quorum = 0`) + api(),
			want: `vipd.toml:18: check "lb": quorum 0 is out of range 1 to 65535`,
		},
		{
			name: "process check with quorum_max below quorum",
			src:  head + chk("lb", `type = "process"`, `process = "nginx"`, `quorum = 4`, `quorum_max = 2`) + api(),
			want: `vipd.toml:19: check "lb": quorum_max 2 is below quorum 4`,
		},
		{
			name: "process check with a relative pid_file",
			src:  head + chk("lb", `type = "process"`, `pid_file = "haproxy.pid"`) + api(),
			want: `vipd.toml:17: check "lb": pid_file "haproxy.pid" must be an absolute path`,
		},
		{
			name: "pid_file on a tcp check",
			src:  head + chk("lb", tcpCheck, `pid_file = "/run/haproxy.pid"`) + api(),
			want: `vipd.toml:18: check "lb": pid_file applies only to process checks`,
		},
		{
			name: "watch_connection on a process check",
			src:  head + chk("lb", `type = "process"`, `process = "haproxy"`, `watch_connection = true`) + api(),
			want: `vipd.toml:18: check "lb": watch_connection applies only to tcp, http and https checks`,
		},
		{
			name: "check without name",
			src:  head + "[[check]]\ntype = \"tcp\"\naddress = \"127.0.0.1:8443\"\n" + api(),
			want: `vipd.toml:14: check #1: name is missing`,
		},
		{
			name: "check name reserved for links",
			src:  head + chk("link:eth0", tcpCheck) + api(),
			want: `vipd.toml:15: check "link:eth0": name "link:eth0": the prefix "link:" is reserved for tracked interfaces`,
		},
		{
			name: "check name with a space",
			src:  head + chk("api server", tcpCheck) + api(),
			want: `vipd.toml:15: check "api server": name "api server": use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
		},
		{
			name: "duplicate check name",
			src:  head + chk("api", tcpCheck) + chk("api", tcpCheck) + api(),
			want: `vipd.toml:19: check "api": name "api" is already used by the check on line 14`,
		},
		{
			name: "check of unknown type",
			src:  head + chk("api", `type = "icmp"`) + api(),
			want: `vipd.toml:16: check "api": unknown type "icmp"; one of http, https, tcp, exec, process`,
		},
		{
			name: "https check with an http url",
			src:  head + chk("api", `type = "https"`, `url = "http://127.0.0.1:6443/readyz"`) + api(),
			want: `vipd.toml:17: check "api": url "http://127.0.0.1:6443/readyz": an https check needs an https:// URL`,
		},
		{
			name: "http check without url",
			src:  head + chk("api", `type = "http"`) + api(),
			want: `vipd.toml:14: check "api": url is missing; an http check GETs a URL such as http://127.0.0.1:6443/readyz`,
		},
		{
			name: "watch_connection on an exec check",
			src:  head + chk("api", execCheck, "watch_connection = true") + api(),
			want: `vipd.toml:18: check "api": watch_connection applies only to tcp, http and https checks`,
		},
		{
			name: "watch_connection = false on an exec check",
			src:  head + chk("api", execCheck, "watch_connection = false") + api(),
			want: `vipd.toml:18: check "api": watch_connection applies only to tcp, http and https checks`,
		},
		{
			name: "ca_file on a tcp check",
			src:  head + chk("api", tcpCheck, `ca_file = "/etc/kubernetes/pki/ca.crt"`) + api(),
			want: `vipd.toml:18: check "api": ca_file applies only to https checks`,
		},
		{
			name: "ca_file and insecure_skip_verify",
			src:  head + chk("api", httpsCheck, `ca_file = "/etc/kubernetes/pki/ca.crt"`, "insecure_skip_verify = true") + api(),
			want: `vipd.toml:19: check "api": insecure_skip_verify and ca_file exclude each other`,
		},
		{
			name: "server_name on a tcp check",
			src:  head + chk("api", tcpCheck, `server_name = "kubernetes"`) + api(),
			want: `vipd.toml:18: check "api": server_name applies only to https checks`,
		},
		{
			name: "server_name on an http check",
			src:  head + chk("api", `type = "http"`, `url = "http://127.0.0.1:10256/healthz"`, `server_name = "kubernetes"`) + api(),
			want: `vipd.toml:18: check "api": server_name applies only to https checks`,
		},
		{
			name: "server_name with a port",
			src:  head + chk("api", httpsCheck, `server_name = "kubernetes:6443"`) + api(),
			want: `vipd.toml:18: check "api": server_name "kubernetes:6443" is not a DNS name or IP address (no scheme, port or wildcard)`,
		},
		{
			name: "server_name and insecure_skip_verify",
			src:  head + chk("api", httpsCheck, "insecure_skip_verify = true", `server_name = "kubernetes"`) + api(),
			want: `vipd.toml:18: check "api": insecure_skip_verify and server_name exclude each other: no name is verified without verifying the server`,
		},
		{
			name: "cert_file without key_file",
			src:  head + chk("api", httpsCheck, `cert_file = "/etc/vipd/client.crt"`) + api(),
			want: `vipd.toml:18: check "api": cert_file and key_file go together`,
		},
		{
			name: "expect_status empty",
			src:  head + chk("api", httpsCheck, "expect_status = []") + api(),
			want: `vipd.toml:18: check "api": expect_status is empty`,
		},
		{
			name: "expect_status not a status",
			src:  head + chk("api", httpsCheck, "expect_status = [200, 2000]") + api(),
			want: `vipd.toml:18: check "api": expect_status 2000 is not an HTTP status (100 to 599)`,
		},
		{
			name: "tcp check with a bad port",
			src:  head + chk("api", `type = "tcp"`, `address = "127.0.0.1:http"`) + api(),
			want: `vipd.toml:17: check "api": address "127.0.0.1:http": port "http" is not a number from 1 to 65535`,
		},
		{
			name: "exec check with a relative program",
			src:  head + chk("api", `type = "exec"`, `command = ["check-api"]`) + api(),
			want: `vipd.toml:17: check "api": program "check-api" must be an absolute path (no shell and no PATH lookup are used)`,
		},
		{
			name: "exec check interval too short",
			src:  head + chk("api", `type = "exec"`, `command = ["/usr/local/lib/vipd/check"]`, `interval = "500ms"`, `timeout = "400ms"`) + api(),
			want: `vipd.toml:18: check "api": interval 500ms is below the minimum of 1s for exec checks`,
		},
		{
			// The default timeout, 3/4 of the default interval, would be
			// reported too if it were not derived.
			name: "interval 0s",
			src:  head + chk("api", tcpCheck, `interval = "0s"`) + api(),
			want: `vipd.toml:18: check "api": interval 0s is below the minimum of 50ms for tcp checks`,
		},
		{
			name: "timeout as long as the interval",
			src:  head + chk("api", tcpCheck, `interval = "200ms"`, `timeout = "200ms"`) + api(),
			want: `vipd.toml:19: check "api": timeout 200ms must be shorter than interval 200ms`,
		},
		{
			name: "timeout 0s",
			src:  head + chk("api", tcpCheck, `timeout = "0s"`) + api(),
			want: `vipd.toml:18: check "api": timeout 0s must be positive`,
		},
		{
			name: "rise 0",
			src:  head + chk("api", tcpCheck, "rise = 0") + api(),
			want: `vipd.toml:18: check "api": rise 0 is out of range 1 to 100`,
		},
		{
			name: "fall too large",
			src:  head + chk("api", tcpCheck, "fall = 10000000000") + api(),
			want: `vipd.toml:18: check "api": fall 2147483647 is out of range 1 to 100`,
		},
		{
			name: "check duration without unit",
			src:  head + chk("api", tcpCheck, "interval = 1") + api(),
			want: `vipd.toml:18: check "api": interval: "1" is not a duration; write a string with a unit, such as "1s" or "100ms"`,
		},
		{
			name: "check value of the wrong type",
			src:  head + chk("api", tcpCheck, `rise = "2"`) + api(),
			want: `vipd.toml:18: check "api": rise: expected an integer, found a string`,
		},
		{
			name: "check command of the wrong type",
			src:  head + chk("api", `type = "exec"`, `command = "/usr/local/lib/vipd/check --quick"`) + api(),
			want: `vipd.toml:17: check "api": command: expected an array, found a string`,
		},
		{
			name: "unknown key in check",
			src:  head + chk("api", tcpCheck, `intervall = "1s"`) + api(),
			want: `vipd.toml:18: check "api": unknown key "intervall"; did you mean "interval"?`,
		},
		{
			name: "unknown array of tables like check",
			src:  head + "[[checks]]\nname = \"api\"\n" + api(),
			want: `vipd.toml:14: unknown table [[checks]]; did you mean "check"?`,
		},
		{
			name: "check written as a table",
			src:  head + "[check]\nname = \"api\"\n" + api(),
			want: `vipd.toml:14: write [[check]], not [check]`,
		},
		{
			name: "several problems in a check",
			src:  head + chk("api", `type = "https"`, `url = "https://127.0.0.1:6443/readyz"`, "expect_status = [99]", "rise = 0") + api(),
			want: `vipd.toml:18: check "api": expect_status 99 is not an HTTP status (100 to 599)` + "\n" +
				`vipd.toml:19: check "api": rise 0 is out of range 1 to 100`,
		},

		// Tracking.
		{
			name: "track names an unknown check",
			src:  head + chk("apiserver", tcpCheck) + chk("haproxy", tcpCheck) + api(`track = [{ check = "apiserver" }, { check = "api-server" }]`),
			want: `vipd.toml:26: instance "api" (vrid 51): track names check "api-server", which is not a [[check]] (checks: apiserver, haproxy)`,
		},
		{
			name: "track without checks",
			src:  head + api(`track = [{ check = "apiserver" }]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track names check "apiserver", which is not a [[check]] (the file has no [[check]])`,
		},
		{
			name: "track names a link",
			src:  head + api(`track = [{ check = "link:eth1" }]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track names check "link:eth1"; track interfaces with track_interfaces = ["eth1"]`,
		},
		{
			name: "track without check",
			src:  head + chk("apiserver", tcpCheck) + api(`track = [{ check = "apiserver" }, { weight = -10 }]`),
			want: `vipd.toml:22: instance "api" (vrid 51): track #2 names no check; write { check = "NAME" }`,
		},
		{
			name: "track names a check twice",
			src:  head + chk("apiserver", tcpCheck) + api(`track = [{ check = "apiserver" }, { check = "apiserver", weight = -10 }]`),
			want: `vipd.toml:22: instance "api" (vrid 51): track names check "apiserver" twice`,
		},
		{
			name: "track weight too low",
			src:  head + chk("apiserver", tcpCheck) + api(`track = [{ check = "apiserver", weight = -255 }]`),
			want: `vipd.toml:22: instance "api" (vrid 51): track weight -255 of check "apiserver" is out of range -254..254`,
		},
		{
			name: "track weight too high, as an array of tables",
			src:  head + chk("apiserver", tcpCheck) + api("[[instance.track]]", `check = "apiserver"`, "weight = 255"),
			want: `vipd.toml:24: instance "api" (vrid 51): track weight 255 of check "apiserver" is out of range -254..254`,
		},
		{
			name: "track of a check with problems of its own",
			src:  head + chk("apiserver", `type = "tcp"`) + api(`track = [{ check = "apiserver" }]`),
			want: `vipd.toml:14: check "apiserver": address is missing; a tcp check connects to host:port`,
		},
		{
			name: "track of the wrong type",
			src:  head + api(`track = "apiserver"`),
			want: `vipd.toml:18: instance "api" (vrid 51): track: expected an array, found a string`,
		},
		{
			name: "track weight of the wrong type",
			src:  head + api(`track = [{ check = "apiserver", weight = "-30" }]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track.weight: expected an integer, found a string`,
		},
		{
			name: "unknown key in track",
			src:  head + chk("apiserver", tcpCheck) + api("vrid_unused = 1", `track = [{ check = "apiserver" },`, `  { check = "apiserver", wieght = -30 }]`),
			want: `vipd.toml:22: instance "api" (vrid 51): unknown key "vrid_unused"; known keys: name, vrid, interface, version, advert_interval, vips, priority, order, preempt, preempt_delay, unicast, unicast_peers, unicast_source, auth_password, garp_repeat, garp_refresh, garp_delay, track, track_interfaces, sync_group, notify, announce, ecmp, withdraw_delay, route_table, route_protocol` + "\n" +
				`vipd.toml:23: instance "api" (vrid 51): track: unknown key "wieght"; did you mean "weight"?`,
		},
		{
			name: "unknown key in track of the second instance",
			src: head + chk("apiserver", tcpCheck) + api(`track = [{ check = "apiserver" }]`) +
				"[[instance]]\nname = \"web\"\nvrid = 52\nvips = [\"192.0.2.101/24\"]\ntrack = [{ chek = \"apiserver\" }]\n",
			want: `vipd.toml:27: instance "web" (vrid 52): track: unknown key "chek"; did you mean "check"?`,
		},
		{
			name: "track_interfaces invalid",
			src:  head + api(`track_interfaces = ["eth 1"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces entry "eth 1" is not a valid interface name`,
		},
		{
			name: "track_interfaces with a vertical tab",
			src:  head + api(`track_interfaces = ["eth\u000b1"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces entry "eth\v1" is not a valid interface name`,
		},
		{
			name: "track_interfaces too long",
			src:  head + api(`track_interfaces = ["enp0s31f6-vlan100"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces entry "enp0s31f6-vlan100" is longer than 15 bytes`,
		},
		{
			name: "track_interfaces twice",
			src:  head + api(`track_interfaces = ["eth1", "eth2", "eth1"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces names "eth1" twice`,
		},
		{
			name: "track_interfaces lists the own interface",
			src:  head + api(`track_interfaces = ["eth1", "eth0"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces names "eth0", the instance's own interface, which is always tracked; remove it`,
		},
		{
			name: "sync_group of one",
			src:  head + api(`sync_group = "lb"`),
			want: `vipd.toml:18: instance "api" (vrid 51): sync_group "lb" has no other instance; a group needs at least two (or remove sync_group)`,
		},
		{
			name: "sync_group of one, another group fine",
			src: head + api(`sync_group = "lb"`) + "[[instance]]\nname = \"web\"\nvrid = 52\nvips = [\"192.0.2.101/24\"]\nsync_group = \"lbb\"\n" +
				"[[instance]]\nname = \"db\"\nvrid = 53\nvips = [\"192.0.2.102/24\"]\nsync_group = \"lb\"\n",
			want: `vipd.toml:23: instance "web" (vrid 52): sync_group "lbb" has no other instance; a group needs at least two (or remove sync_group)`,
		},
		{
			name: "sync_group empty",
			src:  head + api(`sync_group = ""`),
			want: `vipd.toml:18: instance "api" (vrid 51): sync_group is empty; name the group, such as sync_group = "lb"`,
		},
		{
			name: "sync_group invalid",
			src:  head + api(`sync_group = "l b"`),
			want: `vipd.toml:18: instance "api" (vrid 51): sync_group "l b" may contain only letters, digits, '-', '_' and '.'`,
		},
		{
			name: "sync_group of a routed instance",
			src: head + "[[instance]]\nname = \"api\"\nannounce = \"route\"\nvips = [\"192.0.2.100/32\"]\nsync_group = \"lb\"\n" +
				"[[instance]]\nname = \"web\"\nvrid = 52\nvips = [\"192.0.2.101/24\"]\nsync_group = \"lb\"\n",
			want: `vipd.toml:18: instance "api": sync_group needs announce = "vrrp": a routed instance has no state to share`,
		},
		{
			name: "track_interfaces weight without a value",
			src:  head + api(`track_interfaces = ["eth1 weight"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces entry "eth1 weight" has weight without a value`,
		},
		{
			name: "track_interfaces weight out of range",
			src:  head + api(`track_interfaces = ["eth1 weight -255"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces entry "eth1 weight -255" has weight "-255"; want an integer in -254..254`,
		},
		{
			name: "track_interfaces reverse",
			src:  head + api(`track_interfaces = ["eth1 weight 20 reverse"]`),
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces entry "eth1 weight 20 reverse" is not "IF" or "IF weight W"`,
		},
		{
			name: "track_interfaces weighted where a tracked vip is",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\", \"203.0.113.10/24 dev eth1\"]\ntrack_interfaces = [\"eth1 weight -20\"]\n",
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces gives "eth1" weight -20, but vip 203.0.113.10 is bound there, and its interface down faults the instance, so the weight would never apply; add no_track to the VIP or remove the weight`,
		},
		{
			name: "track_interfaces where a tracked vip is",
			src:  head + "[[instance]]\nname = \"api\"\nvrid = 51\nvips = [\"192.0.2.100/24\", \"203.0.113.10/24 dev eth1\"]\ntrack_interfaces = [\"eth1\"]\n",
			want: `vipd.toml:18: instance "api" (vrid 51): track_interfaces names "eth1", where vip 203.0.113.10 is bound, which tracks it already; remove it`,
		},

		// Several problems: all reported, in the order of the file.
		{
			name: "several",
			src:  head + "[daemon]\nlog_level = \"loud\"\n" + api("garp_repeat = 0", `advert_interval = "5ms"`),
			want: `vipd.toml:15: [daemon]: log_level "loud" is not one of debug, info, warn, error` + "\n" +
				`vipd.toml:20: instance "api" (vrid 51): garp_repeat 0 is out of range 1..100` + "\n" +
				`vipd.toml:21: instance "api" (vrid 51): advert_interval 5ms is below the VRRPv3 minimum of 10ms`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("vipd.toml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q; config:\n%+v", tt.want, c)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Fatalf("error (-want +got)\n%s", diff)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not an *Error", err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	src := `[cluster]
name = "prod-cp"
interface = "eth0"
advert_interval = "100ms"
[[cluster.node]]
name = "cp-1"
address = "192.0.2.11"
address6 = "2001:db8::11"
[[cluster.node]]
name = "cp-2"
address6 = "2001:db8::12"

[daemon]
metrics_listen = ""

[[instance]]
name = "api"
vrid = 51
vips = ["192.0.2.100/24", "2001:db8::100", "192.0.2.101"]

[[instance]]
name = "legacy"
vrid = 51                  # same VRID, other interface: another router
interface = "eth1"
version = 2
advert_interval = "3s"
vips = ["198.51.100.10/24"]
priority = 100
preempt = false
auth_password = "secret"
garp_repeat = 1
garp_refresh = "1m"
garp_delay = "0s"

[[instance]]
name = "api6"
vrid = 52
vips = ["2001:db8::200/64"]
order = ["cp-2"]
preempt_delay = "30s"
unicast_peers = ["2001:db8::11", "2001:db8::12", "2001:db8::99"]
`
	got, err := Parse("vipd.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Path: "vipd.toml",
		Cluster: &Cluster{
			Name:           "prod-cp",
			Interface:      "eth0",
			AdvertInterval: 100 * time.Millisecond,
			Nodes: []Node{
				{Name: "cp-1", Address: addr("192.0.2.11"), Address6: addr("2001:db8::11")},
				{Name: "cp-2", Address6: addr("2001:db8::12")},
			},
		},
		Daemon: Daemon{ControlSocket: "/run/vipd/vipd.sock", MetricsListen: "", LogLevel: "info", StateDir: "/var/lib/vipd"},
		Instances: []Instance{
			{
				Name: "api", VRID: 51, Interface: "eth0", Version: 3,
				AdvertInterval: 100 * time.Millisecond,
				VIPs: []netip.Prefix{
					prefix("192.0.2.100/24"), prefix("2001:db8::100/128"), prefix("192.0.2.101/32"),
				},
				Preempt: true, GARPRepeat: 5, GARPDelay: 5 * time.Second, Announce: AnnounceVRRP,
			},
			{
				Name: "legacy", VRID: 51, Interface: "eth1", Version: 2,
				AdvertInterval: 3 * time.Second,
				VIPs:           []netip.Prefix{prefix("198.51.100.10/24")},
				Priority:       100,
				AuthPassword:   "secret", GARPRepeat: 1, GARPRefresh: time.Minute,
				Announce: AnnounceVRRP,
			},
			{
				Name: "api6", VRID: 52, Interface: "eth0", Version: 3,
				AdvertInterval: 100 * time.Millisecond,
				VIPs:           []netip.Prefix{prefix("2001:db8::200/64")},
				Order:          []string{"cp-2"},
				Preempt:        true, PreemptDelay: 30 * time.Second,
				Unicast:      true,
				UnicastPeers: []netip.Addr{addr("2001:db8::11"), addr("2001:db8::12"), addr("2001:db8::99")},
				GARPRepeat:   5, GARPDelay: DefaultGARPDelay,
				Announce: AnnounceVRRP,
			},
		},
	}
	if diff := cmp.Diff(want, got, cmpAddrs); diff != "" {
		t.Fatalf("Parse (-want +got)\n%s", diff)
	}
}

func TestParseChecks(t *testing.T) {
	src := head + `
[[check]]
name = "apiserver"
type = "https"
url = "https://127.0.0.1:6443/readyz"
ca_file = "/etc/kubernetes/pki/ca.crt"
server_name = "kubernetes"
cert_file = "/etc/vipd/client.crt"
key_file = "/etc/vipd/client.key"
expect_status = [200, 204]
interval = "200ms"
timeout = "150ms"
rise = 3
fall = 1

[[check]]
name = "haproxy"
type = "tcp"
address = "127.0.0.1:8443"

[[check]]
name = "ingress"
type = "exec"
command = ["/usr/local/lib/vipd/check-ingress", "--quick"]

[[check]]
name = "web"
type = "http"
url = "http://127.0.0.1:8080/healthz"
interval = "20s"

[[check]]
name = "self-signed"
type = "https"
url = "https://[::1]:8443/"
insecure_skip_verify = true

[[instance]]
name = "api"
vrid = 51
vips = ["192.0.2.100/24"]
track = [{ check = "apiserver" }, { check = "haproxy", weight = -30 }, { check = "web", weight = 5 }]
track_interfaces = ["eth1", "bond0.100"]

[[instance]]
name = "ingress"
vrid = 52
interface = "eth2"
vips = ["192.0.2.101/24"]

[[instance.track]]
check = "ingress"
weight = -254
`
	c, err := Parse("vipd.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	wantChecks := []health.Spec{
		{
			Name: "apiserver", Type: "https", URL: "https://127.0.0.1:6443/readyz",
			CAFile: "/etc/kubernetes/pki/ca.crt", ServerName: "kubernetes",
			CertFile: "/etc/vipd/client.crt", KeyFile: "/etc/vipd/client.key",
			ExpectStatus: []int{200, 204},
			Interval:     200 * time.Millisecond, Timeout: 150 * time.Millisecond, Rise: 3, Fall: 1,
		},
		{
			Name: "haproxy", Type: "tcp", Address: "127.0.0.1:8443",
			Interval: time.Second, Timeout: 750 * time.Millisecond, Rise: 2, Fall: 2,
		},
		{
			Name: "ingress", Type: "exec", Command: []string{"/usr/local/lib/vipd/check-ingress", "--quick"},
			Interval: 2 * time.Second, Timeout: 1500 * time.Millisecond, Rise: 2, Fall: 2,
		},
		{
			Name: "web", Type: "http", URL: "http://127.0.0.1:8080/healthz", ExpectStatus: []int{200},
			Interval: 20 * time.Second, Timeout: 10 * time.Second, Rise: 2, Fall: 2,
		},
		{
			Name: "self-signed", Type: "https", URL: "https://[::1]:8443/", InsecureSkipVerify: true,
			ExpectStatus: []int{200},
			Interval:     time.Second, Timeout: 750 * time.Millisecond, Rise: 2, Fall: 2,
		},
	}
	if diff := cmp.Diff(wantChecks, c.Checks); diff != "" {
		t.Fatalf("Checks (-want +got)\n%s", diff)
	}

	api, ingress := c.Instances[0], c.Instances[1]
	wantTrack := []health.Track{{Check: "apiserver"}, {Check: "haproxy", Weight: -30}, {Check: "web", Weight: 5}}
	if diff := cmp.Diff(wantTrack, api.Track); diff != "" {
		t.Errorf("Track (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]TrackInterface{{Name: "eth1"}, {Name: "bond0.100"}}, api.TrackInterfaces); diff != "" {
		t.Errorf("TrackInterfaces (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"eth0", "eth1", "bond0.100"}, api.TrackedInterfaces()); diff != "" {
		t.Errorf("TrackedInterfaces (-want +got)\n%s", diff)
	}
	wantTracks := append(wantTrack, health.Track{Check: "link:eth0"}, health.Track{Check: "link:eth1"}, health.Track{Check: "link:bond0.100"})
	if diff := cmp.Diff(wantTracks, api.Tracks()); diff != "" {
		t.Errorf("Tracks (-want +got)\n%s", diff)
	}
	if &api.Tracks()[0] == &api.Track[0] {
		t.Error("Tracks shares its array with Track")
	}
	wantTracks = []health.Track{{Check: "ingress", Weight: -254}, {Check: "link:eth2"}}
	if diff := cmp.Diff(wantTracks, ingress.Tracks()); diff != "" {
		t.Errorf("Tracks of an instance tracking no interface (-want +got)\n%s", diff)
	}

	insts, err := c.ForNode("cp-2")
	if err != nil {
		t.Fatalf("ForNode: %v", err)
	}
	if diff := cmp.Diff(api.Track, insts[0].Track); diff != "" {
		t.Errorf("ForNode: Track (-want +got)\n%s", diff)
	}
	insts[0].Track[0].Weight = -1
	insts[0].TrackInterfaces[0].Name = "eth9"
	if c.Instances[0].Track[0].Weight != 0 || c.Instances[0].TrackInterfaces[0].Name != "eth1" {
		t.Error("ForNode returned instances sharing tracks with the Config")
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("vipd.toml", []byte(api(`interface = "eth0"`, "priority = 100")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Path:   "vipd.toml",
		Daemon: Daemon{ControlSocket: DefaultControlSocket, MetricsListen: DefaultMetricsListen, LogLevel: DefaultLogLevel, StateDir: DefaultStateDir},
		Instances: []Instance{{
			Name: "api", VRID: 51, Interface: "eth0", Version: 3, AdvertInterval: time.Second,
			VIPs: []netip.Prefix{prefix("192.0.2.100/24")}, Priority: 100, Preempt: true, GARPRepeat: 5, GARPDelay: DefaultGARPDelay,
			Announce: AnnounceVRRP,
		}},
	}
	if diff := cmp.Diff(want, c, cmpAddrs); diff != "" {
		t.Fatalf("Parse (-want +got)\n%s", diff)
	}
}

// cluster3 is head with an IPv6 address for cp-3, and instances resolved
// differently on each node.
var cluster3 = strings.Replace(head, "address = \"192.0.2.13\"\n", "address = \"192.0.2.13\"\naddress6 = \"2001:db8::13\"\n", 1) + `
[[instance]]
name = "default-order"
vrid = 1
vips = ["192.0.2.100/24"]

[[instance]]
name = "reordered"
vrid = 2
vips = ["192.0.2.101/24"]
order = ["cp-3", "cp-1"]

[[instance]]
name = "fixed"
vrid = 3
vips = ["192.0.2.102/24"]
priority = 42

[[instance]]
name = "unicast"
vrid = 4
vips = ["192.0.2.103/24"]
unicast = true

[[instance]]
name = "unicast-dual"
vrid = 5
interface = "eth1"
vips = ["2001:db8::104/64", "198.51.100.104/24"]
unicast = true
order = ["cp-2"]

[[instance]]
name = "listed-peers"
vrid = 6
vips = ["192.0.2.105/24", "2001:db8::105/64"]
unicast_peers = ["192.0.2.11", "192.0.2.12", "203.0.113.7", "2001:db8::12", "2001:db8::77"]
`

func TestForNode(t *testing.T) {
	c, err := Parse("vipd.toml", []byte(cluster3))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	type resolved struct {
		Name           string
		Priority       uint8
		UnicastPeers   []netip.Addr
		UnicastSource  netip.Addr
		UnicastSource6 netip.Addr
	}
	a := addrs
	tests := []struct {
		node string
		want []resolved
	}{
		{
			node: "cp-1",
			want: []resolved{
				{Name: "default-order", Priority: 250},
				{Name: "reordered", Priority: 240},
				{Name: "fixed", Priority: 42},
				{Name: "unicast", Priority: 250, UnicastPeers: a("192.0.2.12", "192.0.2.13"), UnicastSource: addr("192.0.2.11")},
				{
					Name: "unicast-dual", Priority: 240,
					UnicastPeers:  a("192.0.2.12", "192.0.2.13", "2001:db8::12", "2001:db8::13"),
					UnicastSource: addr("192.0.2.11"), UnicastSource6: addr("2001:db8::11"),
				},
				{
					Name: "listed-peers", Priority: 250,
					UnicastPeers:  a("192.0.2.12", "203.0.113.7", "2001:db8::12", "2001:db8::77"),
					UnicastSource: addr("192.0.2.11"), UnicastSource6: addr("2001:db8::11"),
				},
			},
		},
		{
			node: "cp-2",
			want: []resolved{
				{Name: "default-order", Priority: 240},
				{Name: "reordered", Priority: 230},
				{Name: "fixed", Priority: 42},
				{Name: "unicast", Priority: 240, UnicastPeers: a("192.0.2.11", "192.0.2.13"), UnicastSource: addr("192.0.2.12")},
				{
					Name: "unicast-dual", Priority: 250,
					UnicastPeers:  a("192.0.2.11", "192.0.2.13", "2001:db8::11", "2001:db8::13"),
					UnicastSource: addr("192.0.2.12"), UnicastSource6: addr("2001:db8::12"),
				},
				{
					Name: "listed-peers", Priority: 240,
					UnicastPeers:  a("192.0.2.11", "203.0.113.7", "2001:db8::77"),
					UnicastSource: addr("192.0.2.12"), UnicastSource6: addr("2001:db8::12"),
				},
			},
		},
		{
			node: "cp-3",
			want: []resolved{
				{Name: "default-order", Priority: 230},
				{Name: "reordered", Priority: 250},
				{Name: "fixed", Priority: 42},
				{Name: "unicast", Priority: 230, UnicastPeers: a("192.0.2.11", "192.0.2.12"), UnicastSource: addr("192.0.2.13")},
				{
					Name: "unicast-dual", Priority: 230,
					UnicastPeers:  a("192.0.2.11", "192.0.2.12", "2001:db8::11", "2001:db8::12"),
					UnicastSource: addr("192.0.2.13"), UnicastSource6: addr("2001:db8::13"),
				},
				{
					Name: "listed-peers", Priority: 230,
					UnicastPeers:  a("192.0.2.11", "192.0.2.12", "203.0.113.7", "2001:db8::12", "2001:db8::77"),
					UnicastSource: addr("192.0.2.13"), UnicastSource6: addr("2001:db8::13"),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			insts, err := c.ForNode(tt.node)
			if err != nil {
				t.Fatalf("ForNode: %v", err)
			}
			got := make([]resolved, len(insts))
			for i, in := range insts {
				got[i] = resolved{in.Name, in.Priority, in.UnicastPeers, in.UnicastSource, in.UnicastSource6}
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Fatalf("ForNode(%q) (-want +got)\n%s", tt.node, diff)
			}
		})
	}

	// Resolving leaves the Config as written.
	if c.Instances[0].Priority != 0 || c.Instances[3].UnicastPeers != nil {
		t.Fatalf("ForNode changed Config.Instances: %+v", c.Instances)
	}
}

func TestForNodeFamilies(t *testing.T) {
	c, err := Parse("vipd.toml", []byte(cluster3))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	insts, err := c.ForNode("cp-2")
	if err != nil {
		t.Fatalf("ForNode: %v", err)
	}
	want := []Family{
		{
			VIPs:          []netip.Prefix{prefix("198.51.100.104/24")},
			UnicastPeers:  addrs("192.0.2.11", "192.0.2.13"),
			UnicastSource: addr("192.0.2.12"),
		},
		{
			IPv6:          true,
			VIPs:          []netip.Prefix{prefix("2001:db8::104/64")},
			UnicastPeers:  addrs("2001:db8::11", "2001:db8::13"),
			UnicastSource: addr("2001:db8::12"),
		},
	}
	if diff := cmp.Diff(want, insts[4].Families(), cmpAddrs); diff != "" {
		t.Fatalf("Families (-want +got)\n%s", diff)
	}
	want = []Family{{VIPs: []netip.Prefix{prefix("192.0.2.100/24")}}}
	if diff := cmp.Diff(want, insts[0].Families(), cmpAddrs); diff != "" {
		t.Fatalf("Families of a multicast IPv4 instance (-want +got)\n%s", diff)
	}
}

func TestForNodeWithoutCluster(t *testing.T) {
	src := api(`interface = "eth0"`, "priority = 100", `unicast_peers = ["192.0.2.2"]`, `unicast_source = "192.0.2.1"`)
	c, err := Parse("vipd.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got, err := c.ForNode("")
	if err != nil {
		t.Fatalf("ForNode: %v", err)
	}
	if diff := cmp.Diff(c.Instances, got, cmpAddrs); diff != "" {
		t.Fatalf("ForNode(\"\") differs from the instances as written (-want +got)\n%s", diff)
	}
	got[0].UnicastPeers[0] = addr("192.0.2.99")
	if c.Instances[0].UnicastPeers[0] != addr("192.0.2.2") {
		t.Fatal("ForNode returned instances sharing slices with the Config")
	}
	if _, err := c.ForNode("cp-1"); err == nil || err.Error() != `vipd.toml: node "cp-1": the file has no [cluster]` {
		t.Fatalf("ForNode(\"cp-1\") without [cluster]: got error %v", err)
	}
}

func TestForNodeErrors(t *testing.T) {
	c, err := Parse("vipd.toml", []byte(cluster3))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for node, want := range map[string]string{
		"":     "vipd.toml: a node name is needed to resolve a file with [cluster]",
		"cp-9": `vipd.toml: no [[cluster.node]] is named "cp-9" (nodes: cp-1, cp-2, cp-3)`,
	} {
		if _, err := c.ForNode(node); err == nil || err.Error() != want {
			t.Errorf("ForNode(%q): got error %v, want %q", node, err, want)
		}
	}
}

func TestTwentyFiveNodes(t *testing.T) {
	c, err := Parse("vipd.toml", []byte("[cluster]\ninterface = \"eth0\"\n"+nodes(25)+api()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for i, want := range map[int]uint8{0: 250, 1: 240, 24: 10} {
		insts, err := c.ForNode(fmt.Sprintf("n%d", i+1))
		if err != nil {
			t.Fatalf("ForNode: %v", err)
		}
		if got := insts[0].Priority; got != want {
			t.Errorf("node %d: priority %d, want %d", i+1, got, want)
		}
	}
}

func TestSelf(t *testing.T) {
	c, err := Parse("/etc/vipd/vipd.toml", []byte(cluster3))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		name    string
		flag    string
		local   []netip.Addr
		want    string
		wantErr string
		// wantWait: the error is ErrNoLocalNode, which vipd waits out.
		wantWait bool
	}{
		{name: "by name", flag: "cp-2", local: addrs("192.0.2.11"), want: "cp-2"},
		{name: "by IPv4", local: addrs("127.0.0.1", "198.51.100.1", "192.0.2.12"), want: "cp-2"},
		{name: "by IPv6", local: addrs("::1", "fe80::1", "2001:db8::13"), want: "cp-3"},
		{name: "by IPv4-mapped", local: addrs("::ffff:192.0.2.11"), want: "cp-1"},
		{name: "both addresses of one node", local: addrs("192.0.2.11", "2001:db8::11"), want: "cp-1"},
		{
			name:    "unknown name",
			flag:    "cp-9",
			wantErr: `/etc/vipd/vipd.toml: -node cp-9: no [[cluster.node]] is named "cp-9" (nodes: cp-1, cp-2, cp-3)`,
		},
		{
			name:     "no address",
			local:    addrs("127.0.0.1", "198.51.100.1", "::1"),
			wantErr:  "/etc/vipd/vipd.toml: no [[cluster.node]] has an address of this host (local addresses: 127.0.0.1, 198.51.100.1, ::1); use -node NAME",
			wantWait: true,
		},
		{
			name:     "no local addresses",
			wantErr:  "/etc/vipd/vipd.toml: no [[cluster.node]] has an address of this host (local addresses: none); use -node NAME",
			wantWait: true,
		},
		{
			name:    "several nodes",
			local:   addrs("192.0.2.11", "2001:db8::12"),
			wantErr: "/etc/vipd/vipd.toml: several [[cluster.node]] have an address of this host: cp-1 (192.0.2.11), cp-2 (2001:db8::12); use -node NAME",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Self(tt.flag, tt.local)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Self: got %q, %v; want error %q", got, err, tt.wantErr)
				}
				if errors.Is(err, ErrNoLocalNode) != tt.wantWait {
					t.Fatalf("Self: errors.Is(%v, ErrNoLocalNode) = %v, want %v", err, !tt.wantWait, tt.wantWait)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Self: got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSelfWithoutCluster(t *testing.T) {
	c, err := Parse("vipd.toml", []byte(api(`interface = "eth0"`, "priority = 100")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, err := c.Self("", addrs("192.0.2.1")); got != "" || err != nil {
		t.Fatalf("Self: got %q, %v; want \"\", nil", got, err)
	}
	want := "vipd.toml: -node cp-1: the file has no [cluster] to find the node in"
	if _, err := c.Self("cp-1", nil); err == nil || err.Error() != want {
		t.Fatalf("Self(\"cp-1\"): got error %v, want %q", err, want)
	}
}

func TestLoad(t *testing.T) {
	path := t.TempDir() + "/vipd.toml"
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: got %v, want an error wrapping fs.ErrNotExist", err)
	}
	if err := os.WriteFile(path, []byte(head+api(`advert_interval = "5ms"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:18: instance "api" (vrid 51): advert_interval 5ms is below the VRRPv3 minimum of 10ms`
	if err == nil || err.Error() != want {
		t.Fatalf("Load: got error %v, want %q", err, want)
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = addr(s)
	}
	return out
}

func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// cmpAddrs compares netip values with ==, as cmp cannot look inside them.
var cmpAddrs = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// BenchmarkParse255 parses a file of 255 instances, the most one
// interface takes: the daemon's start-up waits for it.
func BenchmarkParse255(b *testing.B) {
	var src strings.Builder
	src.WriteString(head)
	for i := range 255 {
		fmt.Fprintf(&src, "[[instance]]\nname = \"vip%d\"\nvrid = %d\nvips = [\"203.0.113.%d/24\"]\npreempt_delay = \"0s\"\n", i, i+1, i)
	}
	data := []byte(src.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("vipd.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVIPInterfacesAndWeightedLinks(t *testing.T) {
	src := head + `[[instance]]
name = "api"
vrid = 51
vips = ["192.0.2.100/24", "203.0.113.10/24 dev eth1", "2001:db8:1::10/64 dev eth2 no_track", "192.0.2.101/24 dev eth0", "203.0.113.11/24 dev eth1"]
track_interfaces = ["eth3 weight -20", "eth4", "eth2 weight 10"]
`
	c, err := Parse("vipd.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	inst := c.Instances[0]
	wantDevs := map[netip.Addr]VIPDev{
		netip.MustParseAddr("203.0.113.10"):   {Interface: "eth1"},
		netip.MustParseAddr("203.0.113.11"):   {Interface: "eth1"},
		netip.MustParseAddr("2001:db8:1::10"): {Interface: "eth2", NoTrack: true},
	}
	if diff := cmp.Diff(wantDevs, inst.VIPDevs); diff != "" {
		t.Errorf("VIPDevs (-want +got)\n%s", diff)
	}
	// The adverts list every VIP in the order written, wherever bound.
	wantVIPs := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("203.0.113.10/24"),
		netip.MustParsePrefix("2001:db8:1::10/64"), netip.MustParsePrefix("192.0.2.101/24"),
		netip.MustParsePrefix("203.0.113.11/24"),
	}
	if diff := cmp.Diff(wantVIPs, inst.VIPs, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("VIPs (-want +got)\n%s", diff)
	}
	if got := inst.VIPInterface(netip.MustParseAddr("192.0.2.101")); got != "eth0" {
		t.Errorf("VIPInterface(192.0.2.101) = %q, want eth0", got)
	}
	fams := inst.Families()
	if len(fams) != 2 || len(fams[0].VIPs) != 4 || len(fams[0].Devs) != 2 || fams[1].Devs[netip.MustParseAddr("2001:db8:1::10")] != "eth2" {
		t.Errorf("Families = %+v", fams)
	}
	// eth1 carries tracked VIPs and faults the instance, eth2's VIP is
	// no_track, so eth2 moves the priority by its weight only.
	wantTracks := []health.Track{
		{Check: "link:eth0"}, {Check: "link:eth1"}, {Check: "link:eth4"},
		{Check: "link:eth3", Weight: -20}, {Check: "link:eth2", Weight: 10},
	}
	if diff := cmp.Diff(wantTracks, inst.Tracks()); diff != "" {
		t.Errorf("Tracks (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"eth0", "eth1", "eth4", "eth3", "eth2"}, inst.TrackedInterfaces()); diff != "" {
		t.Errorf("TrackedInterfaces (-want +got)\n%s", diff)
	}
	insts, err := c.ForNode("cp-1")
	if err != nil {
		t.Fatal(err)
	}
	insts[0].VIPDevs[netip.MustParseAddr("203.0.113.10")] = VIPDev{Interface: "eth9"}
	if c.Instances[0].VIPDevs[netip.MustParseAddr("203.0.113.10")].Interface != "eth1" {
		t.Error("ForNode returned instances sharing VIPDevs with the Config")
	}
}
