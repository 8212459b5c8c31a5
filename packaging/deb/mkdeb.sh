#!/usr/bin/env bash
# Builds vipd's Debian package from a staged tree with dpkg-deb, without a
# Debian source tree: make deb runs it.
#
#   mkdeb.sh -v VERSION -a ARCH -b BINDIR -d DOCDIR -o OUTDIR
#
# BINDIR holds vipd and vipctl for ARCH; DOCDIR is gendocs' output (the
# manual pages and the packaged vipd.toml). It writes
# OUTDIR/vipd_DEBVERSION_ARCH.deb and prints its path. The package is
# reproducible: every timestamp is SOURCE_DATE_EPOCH and dpkg-deb sorts
# the files.
set -euo pipefail

version= arch= bindir= docdir= out=
while getopts v:a:b:d:o: opt; do
	case $opt in
	v) version=$OPTARG ;;
	a) arch=$OPTARG ;;
	b) bindir=$OPTARG ;;
	d) docdir=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
[ -n "$version" ] && [ -n "$arch" ] && [ -n "$bindir" ] && [ -n "$docdir" ] && [ -n "$out" ] ||
	{ echo "usage: mkdeb.sh -v VERSION -a ARCH -b BINDIR -d DOCDIR -o OUTDIR" >&2; exit 2; }
: "${SOURCE_DATE_EPOCH:?the package is dated SOURCE_DATE_EPOCH}"
maintainer=${DEB_MAINTAINER:-vipd maintainers <maintainers@vipd.invalid>}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
umask 022

# Debian versions start with a digit: a tag v1.2.0-3-gabc1234 becomes
# 1.2.0+3.gabc1234, a bare commit (abc1234, or 38d1381, which only looks
# like a number) 0~gitYYYYMMDD.abc1234, below any release.
debversion() {
	local v=${1#v}
	if [[ $v =~ ^[0-9]+\.[0-9]+ ]]; then
		echo "${v//-/+}" | sed 's/+\([0-9]*\)+g/+\1.g/'
	else
		echo "0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).${v//-/+}"
	fi
}
debver=$(debversion "$version")

install -D -m 0755 "$bindir/vipd" "$stage/usr/sbin/vipd"
install -D -m 0755 "$bindir/vipctl" "$stage/usr/bin/vipctl"
mkdir -p "$stage/lib/systemd/system"
sed 's|@sbindir@|/usr/sbin|g' "$top/systemd/vipd.service.in" >"$stage/lib/systemd/system/vipd.service"
install -D -m 0644 "$docdir/vipd.toml" "$stage/etc/vipd/vipd.toml"

for page in vipd.8 vipctl.8 vipd.toml.5; do
	install -D -m 0644 "$docdir/$page" "$stage/usr/share/man/man${page##*.}/$page"
	gzip -9n "$stage/usr/share/man/man${page##*.}/$page"
done

doc=$stage/usr/share/doc/vipd
install -D -m 0644 "$top/README.md" "$doc/README.md"
for f in "$top"/configs/*.toml; do
	install -D -m 0644 "$f" "$doc/examples/$(basename "$f")"
done
install -D -m 0644 "$top/configs/grafana-dashboard.json" "$stage/usr/share/vipd/grafana-dashboard.json"
install -D -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/vipd"

# A native package's changelog: one entry, for this build.
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
printf 'vipd (%s) unstable; urgency=medium\n\n  * Built from vipd %s.\n\n -- %s  %s\n' \
	"$debver" "$version" "$maintainer" "$date" | gzip -9n >"$doc/changelog.gz"

# The copyright file: vipd's own, then the license of every Go module
# linked into the binaries, and Go's.
{
	echo "vipd, https://github.com/vipd/vipd, version $version."
	echo
	echo "The vipd sources carry no license statement of their own yet."
	echo
	echo "vipd and vipctl are statically linked Go programs. They contain the Go"
	echo "runtime and standard library and the following modules, whose"
	echo "licenses follow."
	mods=$(for b in vipd vipctl; do go version -m "$bindir/$b"; done | awk '$1 == "dep" { print $2 "@" $3 }' | sort -u)
	for m in $mods; do echo "  $m"; done
	license() {
		local f
		f=$(find "$2" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'COPYING*' \) | sort | head -1)
		[ -n "$f" ] || { echo "mkdeb: no license file in $2 ($1)" >&2; exit 1; }
		echo
		echo "== $1: $(basename "$f")"
		echo
		if grep -q 'Apache License' "$f" && grep -q 'Version 2.0' "$f"; then
			echo "Apache License 2.0: see /usr/share/common-licenses/Apache-2.0."
		else
			cat "$f"
		fi
		if [ -f "$2/NOTICE" ]; then
			echo
			cat "$2/NOTICE"
		fi
	}
	license "Go $(go env GOVERSION)" "$(go env GOROOT)"
	dirs=$(cd "$top" && go list -m -f '{{.Path}}@{{.Version}} {{.Dir}}' all)
	for m in $mods; do
		dir=$(echo "$dirs" | awk -v m="$m" '$1 == m { print $2 }')
		[ -n "$dir" ] || { echo "mkdeb: $m is not in the module cache (go mod download)" >&2; exit 1; }
		license "$m" "$dir"
	done
} >"$doc/copyright"
chmod 0644 "$doc/copyright"

mkdir -p "$stage/DEBIAN"
for s in postinst prerm postrm; do
	install -m 0755 "$here/$s" "$stage/DEBIAN/$s"
done
echo /etc/vipd/vipd.toml >"$stage/DEBIAN/conffiles"
size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@version@|$debver|" -e "s|@arch@|$arch|" -e "s|@maintainer@|$maintainer|" -e "s|@size@|$size|" \
	"$here/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

find "$stage" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb=$out/vipd_${debver}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
