#!/bin/sh
# check-autopkgtest.sh DIR - the packages as installed, from the source package and the .deb
# files that scripts/check-debian.sh DIR left in DIR:
#   1. autopkgtest runs debian/tests/control on this machine (the null runner), from the
#      source package unpacked afresh, with the built .debs installed;
#   2. every binary package built, whatever DIR holds, is purged, then installed again, all
#      of them at once: each must install, with every file it lists present, and be purged
#      again, leaving no package state and no file behind. "No file behind" compares the
#      files under /usr, /etc, /opt and /var/lib with a list taken before anything was
#      installed.
#
# It installs packages system-wide, so it is for a machine where that is fine (CI's, a
# container), as root; it refuses to run if any of the packages is installed already.
# Whatever happens, it ends by purging every package it installed (the built ones, and any
# dependency that apt pulled in), so that later tests, which use the build tree, cannot find
# libexitleft installed.
#
# Needs: autopkgtest, and what debian/tests/control's tests depend on already installed
# (gcc, g++, libc6-dev, pkgconf, python3, curl, mypy), so that nothing is fetched.
set -eu
dir=${1:?usage: check-autopkgtest.sh DIR (made by scripts/check-debian.sh DIR)}
dir=$(cd "$dir" && pwd)
dsc=$(ls "$dir"/*.dsc 2>/dev/null || true)
debs=$(ls "$dir"/*.deb 2>/dev/null || true)
if [ -z "$dsc" ] || [ -z "$debs" ]; then
	echo "no source package or no .deb files in $dir: scripts/check-debian.sh $dir failed?"
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "not root: installing the packages system-wide needs root; skipped"
	exit 77
fi
packages=
for deb in $debs; do
	packages="$packages $(dpkg-deb -f "$deb" Package)"
done
installed() {	# the packages dpkg knows as installed or half-installed, one a line
	dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 !~ /^.n/ { print $2 }' |
		sort -u
}
for pkg in $packages; do
	if installed | grep -qx "$pkg"; then
		echo "$pkg is installed on this machine already: this check installs and purges it;" \
			"purge it first (apt-get purge$packages)"
		exit 1
	fi
done

tmp=$(mktemp -d)
export DEBIAN_FRONTEND=noninteractive
installed >"$tmp/packages.before"
# Everything under these, but the package manager's own state and caches.
snapshot() {
	find /usr /etc /opt /var/lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt \
		-o -path /var/lib/ucf \) -prune -o -print 2>/dev/null | sort
}
snapshot >"$tmp/files.before"

# purge_new: purges every package installed since the start, the built ones among them.
purge_new() {
	installed | comm -13 "$tmp/packages.before" - >"$tmp/packages.new"
	[ -s "$tmp/packages.new" ] || return 0
	# shellcheck disable=SC2046
	apt-get purge -y -q $(cat "$tmp/packages.new") >"$tmp/purge.log" 2>&1 || {
		cat "$tmp/purge.log"; return 1; }
}
cleanup() {
	rc=$?
	purge_new || rc=1
	if installed | comm -13 "$tmp/packages.before" - | grep .; then
		echo "left installed (above): purge them by hand"
		rc=1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# 1. autopkgtest. -B: the .debs given are the packages under test, nothing is built.
echo "autopkgtest -B $(basename "$dsc") $(for d in $debs; do basename "$d"; done | tr '\n' ' ')-- null"
rc=0
# shellcheck disable=SC2086
autopkgtest -B --output-dir "$tmp/autopkgtest" "$dsc" $debs -- null \
	>"$tmp/autopkgtest.log" 2>&1 || rc=$?
if [ -f "$tmp/autopkgtest/summary" ]; then
	sed 's/^/   /' "$tmp/autopkgtest/summary"
fi
if [ "$rc" -ne 0 ]; then
	cat "$tmp/autopkgtest.log"
	echo "autopkgtest failed (status $rc)"
	exit 1
fi
tests=$(grep -c ' PASS' "$tmp/autopkgtest/summary")

# 2. Purge what autopkgtest installed; install every package built; purge it all again.
# Each time, nothing may be left behind.
leftovers() {	# leftovers WHEN: no package of ours known to dpkg, no file added
	for pkg in $packages; do
		if dpkg-query -W -f '${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -qv '^un'; then
			echo "$1: $pkg is still known to dpkg: $(dpkg-query -W -f '${Status}' "$pkg")"
			return 1
		fi
	done
	snapshot | comm -13 "$tmp/files.before" - >"$tmp/files.left"
	if [ -s "$tmp/files.left" ]; then
		echo "$1: files left behind:"
		sed 's/^/   /' "$tmp/files.left"
		return 1
	fi
}
purge_new
leftovers "after autopkgtest and a purge"

# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $debs >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"; echo "apt-get install of the built packages failed"; exit 1; }
files=0
for pkg in $packages; do
	status=$(dpkg-query -W -f '${Status}' "$pkg")
	[ "$status" = "install ok installed" ] || { echo "$pkg: $status"; exit 1; }
	for path in $(dpkg-query -L "$pkg"); do
		[ -e "$path" ] || [ -L "$path" ] || { echo "$pkg: $path listed but missing"; exit 1; }
		files=$((files + 1))
	done
done
audit=$(dpkg --audit)
[ -z "$audit" ] || { echo "$audit"; exit 1; }
purge_new
leftovers "after install and purge"

echo "autopkgtest: $tests tests passed; installed and purged cleanly:$packages ($files paths)"
