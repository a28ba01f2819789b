#!/bin/sh
# check-debian.sh - build the Debian packages (libexitleft1, libexitleft-dev) from a scratch
# copy of this tree with `dpkg-buildpackage -us -uc -b`, offline, the tests run by
# dh_auto_test included, then lint them: `lintian --fail-on error,warning`.
#
# dpkg-buildpackage writes into the tree it builds (obj-*/, debian/tmp, ...) and puts the
# .deb files in its parent directory, so the build happens in a copy under a temporary
# directory, which is removed afterwards: the source tree is left as it was.
#
# Needs: dpkg-dev, debhelper, lintian and the Build-Depends of debian/control.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
# The files git knows, committed or not (ignored ones, such as build directories, left
# out); outside a git checkout, everything but build directories.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$tmp/src"
else
	tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$tmp/src"
fi

echo "dpkg-buildpackage -us -uc -b (log: build.log)"
if ! (cd "$tmp/src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	tail -n 80 "$tmp/build.log"
	echo "dpkg-buildpackage failed"
	exit 1
fi
# What dh_auto_test ran, for the record.
sed -n 's/^Ok: *\([0-9]*\).*/dh_auto_test: \1 tests passed/p' "$tmp/build.log"
for deb in "$tmp"/libexitleft1_*.deb "$tmp"/libexitleft-dev_*.deb; do
	echo "$(basename "$deb"):"
	dpkg-deb --contents "$deb" | awk '{ print "\t" $6 ($7 ? " " $7 " " $8 : "") }'
done
changes=$(ls "$tmp"/*.changes)
echo "lintian --fail-on error,warning $(basename "$changes")"
# Overrides (debian/*.lintian-overrides) are shown, so that none hides unnoticed.
lintian --fail-on error,warning --display-info --show-overrides "$changes" 2>&1 |
	grep -v '^running with root privileges' || true
lintian --fail-on error,warning "$changes" >/dev/null 2>&1 || {
	echo "lintian found errors or warnings"; exit 1; }
echo "Debian packages built and lintian clean"
