#!/usr/bin/env bash
# Installs what the namespace lab and the demo need on Debian or Ubuntu:
# iproute2 (namespaces), tcpdump and tshark (captures, an independent
# decoder), ping, nftables (loss and one-way drops), keepalived (interop),
# curl (keepalived's checks), systemd-analyze (the unit's test),
# setpriv, for the package's and manual pages' tests lintian, man and
# groff, and FRR and BIRD, the routers VIPs are announced to over BGP
# (the lab runs them in namespaces; their system services, which the
# packages enable, are stopped and disabled when this script installed
# them). Used by .ci/run and by `sudo make test` on a fresh machine.
# With -n it only says what is missing; commands named after it (or after
# -n) limit it to those, as the demo does.
set -euo pipefail
check=false
if [ "${1:-}" = -n ]; then check=true; shift; fi
declare -A pkg=(
	[ip]=iproute2 [tcpdump]=tcpdump [tshark]=tshark [ping]=iputils-ping
	[nft]=nftables [keepalived]=keepalived [curl]=curl
	[systemd-analyze]=systemd [setpriv]=util-linux
	[lintian]=lintian [man]=man-db [groff]=groff-base [make]=make
	[vtysh]=frr [bird]=bird2
)
missing=()
want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${!pkg[@]}")
for cmd in "${want[@]}"; do
	command -v "$cmd" >/dev/null || missing+=("${pkg[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if $check; then
	echo "lab tools missing: ${missing[*]} (sudo scripts/lab-deps.sh)"
	exit 1
fi
[ "$(id -u)" = 0 ] || { echo "lab-deps: run as root to install ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tshark asks whether non-root users may capture; the lab runs as root.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The lab starts FRR and BIRD in its namespaces with files of its own:
# services of theirs would route the machine itself.
for svc in frr bird; do
	case " ${missing[*]} " in
	*" $svc "* | *" ${svc}2 "*)
		if command -v systemctl >/dev/null; then
			systemctl disable --now "$svc" >/dev/null 2>&1 || true
		fi
		;;
	esac
done
