#!/usr/bin/env bash
# vipd demo: three nodes in network namespaces on one bridge elect a master
# for VIP 192.0.2.100; the master's link is cut and the VIP moves. The
# takeover time is measured on the wire (tcpdump on the bridge): from the
# old master's last advertisement to the new master's first gratuitous ARP.
# Everything lives in namespaces created here and removed on exit; the
# machine's own namespace is not touched.
set -euo pipefail

INTERVAL=${INTERVAL:-100ms}
here=$(cd "$(dirname "$0")/.." && pwd)
vipd=${VIPD:-$here/bin/vipd}
vipctl=${VIPCTL:-$here/bin/vipctl}

[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo make demo): it creates network namespaces" >&2; exit 1; }
"$here/scripts/lab-deps.sh" ip tcpdump tshark
[ -x "$vipd" ] && [ -x "$vipctl" ] || { echo "demo: vipd and vipctl not built (make build)" >&2; exit 1; }

id=vd$$
sw=$id-sw
work=$(mktemp -d /tmp/vipd-demo.XXXXXX)
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in 1 2 3; do ip netns del $id-n$n 2>/dev/null; done
	ip netns del $sw 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building the lab: bridge + 3 nodes (namespaces $id-*)"
ip netns add $sw
ip -n $sw link add br0 type bridge
ip -n $sw link set br0 up
for n in 1 2 3; do
	ns=$id-n$n
	ip netns add $ns
	ip link add eth0 netns $ns type veth peer name p$n netns $sw
	ip -n $sw link set p$n master br0 up
	ip -n $ns link set lo up
	ip -n $ns link set eth0 up
	ip -n $ns addr add 192.0.2.1$n/24 dev eth0
	echo "  node cp-$n: 192.0.2.1$n on $ns"
done

cat >"$work/vipd.toml" <<EOF
[cluster]
name = "demo"
interface = "eth0"
advert_interval = "$INTERVAL"
[[cluster.node]]
name = "cp-1"
address = "192.0.2.11"
[[cluster.node]]
name = "cp-2"
address = "192.0.2.12"
[[cluster.node]]
name = "cp-3"
address = "192.0.2.13"

[daemon]
metrics_listen = ""
control_socket = "@SOCKET@"
state_dir = "@STATE@"

[[instance]]
name = "kube-apiserver"
vrid = 51
vips = ["192.0.2.100/24"]
EOF
# The nodes share this machine's file system: each gets its own control
# socket and state directory.
for n in 1 2 3; do
	sed -e "s|@SOCKET@|$work/cp-$n.sock|" -e "s|@STATE@|$work/cp-$n.state|" "$work/vipd.toml" >"$work/cp-$n.toml"
	chmod 0644 "$work/cp-$n.toml"
done
"$vipd" -t -config "$work/cp-1.toml"

holder() { # holder [EXCEPT] -> the nodes with the VIP bound
	for n in 1 2 3; do
		[ "cp-$n" = "${1:-}" ] && continue
		if ip -n $id-n$n -4 addr show dev eth0 2>/dev/null | grep -q '192.0.2.100/'; then echo cp-$n; fi
	done
}

wait_holder() { # wait_holder EXCEPT -> prints the one other node holding the VIP
	for _ in $(seq 1 200); do
		h=$(holder "$1")
		if [ -n "$h" ] && [ "$h" != "$1" ] && [ "$(echo "$h" | wc -w)" = 1 ]; then echo "$h"; return 0; fi
		sleep 0.05
	done
	echo "demo: no single holder of the VIP (holders: $(holder))" >&2
	return 1
}

say "starting vipd on every node (advert interval $INTERVAL)"
for n in 1 2 3; do
	ip netns exec $id-n$n "$vipd" -config "$work/cp-$n.toml" >"$work/cp-$n.log" 2>&1 &
	pids+=($!)
done
wait_holder none >/dev/null
# The nodes start a few milliseconds apart; give the best one the time to
# preempt (one master down interval) before looking.
sleep 1
master=$(wait_holder none)
echo "  VIP 192.0.2.100 is on $master"
status() {
	local i
	for i in 1 2 3; do
		echo "  vipctl status on cp-$i:"
		"$vipctl" -socket "$work/cp-$i.sock" status 2>&1 | sed 's/^/    /'
	done
}
status

say "capturing VRRP and ARP on the bridge"
ip netns exec $sw tcpdump -i br0 -U -n -w "$work/wire.pcap" 'vrrp or arp' 2>"$work/tcpdump.log" &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$work/tcpdump.log" && break; sleep 0.05; done
sleep 0.5

m=${master#cp-}
say "cutting $master's link"
ip -n $sw link set p$m down
new=$(wait_holder "$master")
echo "  VIP 192.0.2.100 moved to $new"
sleep 0.5
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

old_ip=192.0.2.1$m
new_ip=192.0.2.1${new#cp-}
last_advert=$(tshark 2>/dev/null -r "$work/wire.pcap" -Y "vrrp && ip.src==$old_ip" -T fields -e frame.time_epoch | tail -1)
first_garp=$(tshark 2>/dev/null -r "$work/wire.pcap" -Y "arp.isgratuitous && arp.src.proto_ipv4==192.0.2.100 && frame.time_epoch > $last_advert" -T fields -e frame.time_epoch | head -1)
prio=$(tshark 2>/dev/null -r "$work/wire.pcap" -Y "vrrp && ip.src==$new_ip" -T fields -e vrrp.prio | head -1)
ms() { echo "$1" | awk '{ printf "%.1f", $1 * 1000 }'; }
ivl_s=$(echo "$INTERVAL" | awk '/ms$/ { sub("ms",""); print $1/1000; next } { sub("s",""); print $1 }')
bound=$(awk -v i="$ivl_s" -v p="$prio" 'BEGIN { printf "%.1f", (3*i + (256-p)*i/256) * 1000 }')
took=$(awk -v a="$last_advert" -v g="$first_garp" 'BEGIN { printf "%.1f", (g-a)*1000 }')

say "result"
echo "  old master $master ($old_ip): last advertisement on the wire"
echo "  new master $new ($new_ip, priority $prio): first gratuitous ARP for 192.0.2.100"
echo "  takeover: $took ms (protocol bound 3 x $INTERVAL + skew = $bound ms)"
echo
status
say "restoring $master's link: it preempts (higher priority)"
ip -n $sw link set p$m up
for _ in $(seq 1 100); do [ "$(holder)" = "$master" ] && break; sleep 0.05; done
echo "  VIP 192.0.2.100 is on $(holder)"
say "stopping (masters resign with priority 0) and cleaning up"
