#!/bin/sh
# check-debian.sh [OUTDIR] - build the Debian source package and every binary package from a
# clean clone of HEAD, the way a maintainer or a buildd would, offline, then lint them:
#   1. the orig tarball: `meson dist` of HEAD (scripts/make-orig.sh);
#   2. dpkg-buildpackage -us -uc: dpkg-source -b, then the binaries, with the tests that
#      dh_auto_test runs;
#   3. lintian -I --pedantic on the .dsc and the .changes (which holds the .debs too): any
#      tag that is not overridden fails, information and pedantic ones included, and every
#      override must follow a comment giving its reason.
# With OUTDIR, the source package and the .deb files are left there, and nothing else (for
# scripts/check-autopkgtest.sh); the scratch clone is removed either way. Uncommitted changes
# are not checked (commit first): the orig tarball is made of what git has committed.
#
# Needs: dpkg-dev, debhelper, lintian, git, and the Build-Depends of debian/control.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "not a git checkout: the orig tarball is made by meson dist, which needs one; skipped"
	exit 77
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "note: uncommitted changes are not in the packages; checking HEAD"
fi
out=
if [ $# -gt 0 ]; then
	mkdir -p "$1"
	out=$(cd "$1" && pwd)
	rm -f "$out"/*.dsc "$out"/*.tar.* "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
fi
head=$(git rev-parse HEAD)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q --no-checkout . "$tmp/exitleft"
git -C "$tmp/exitleft" checkout -q "$head"
cd "$tmp/exitleft"

# Overrides without a reason: a comment line must come right before each override (or
# before the block of overrides it explains).
for file in debian/*lintian-overrides debian/source/lintian-overrides; do
	[ -e "$file" ] || continue
	awk -v file="$file" '
	/^#/ { reason = 1; next }
	/^[ \t]*$/ { reason = 0; next }
	!reason { print file ":" FNR ": override without a comment giving its reason: " $0; bad = 1 }
	END { exit bad }' "$file" || exit 1
done

sh scripts/make-orig.sh "$tmp"
echo "dpkg-buildpackage -us -uc (log: build.log)"
if ! dpkg-buildpackage -us -uc -Jauto >"$tmp/build.log" 2>&1; then
	tail -n 80 "$tmp/build.log"
	echo "dpkg-buildpackage failed"
	exit 1
fi
# What dh_auto_test ran, for the record.
sed -n 's/^Ok: *\([0-9]*\).*/dh_auto_test: \1 tests passed/p' "$tmp/build.log"
cd "$tmp"
dsc=$(ls ./*.dsc)
changes=$(ls ./*.changes)
echo "${dsc#./}: $(sed -n 's/^Binary: //p' "$dsc")"
for deb in ./*.deb; do
	echo "${deb#./}:"
	dpkg-deb --contents "$deb" | awk '{ print "\t" $6 ($7 ? " " $7 " " $8 : "") }'
done

echo "lintian -I --pedantic ${dsc#./} ${changes#./}"
# Overrides are shown too (as O:), so that none hides unnoticed. Any tag shown that is not
# overridden (E:, W:, I: or P:) fails; lintian's own status only says whether it ran, since
# with --show-overrides it would count overridden tags as failures too.
lintian -I --pedantic --show-overrides --fail-on none "$dsc" "$changes" >lintian.out 2>&1 || {
	cat lintian.out; echo "lintian failed"; exit 1; }
grep -v '^running with root privileges' lintian.out || true
if grep -q '^[EWIP]: ' lintian.out; then
	echo "lintian: the tags above that are not overridden must be fixed (or overridden in" \
		"debian/, with a comment giving the reason)"
	exit 1
fi
if [ -n "$out" ]; then
	cp ./*.dsc ./*.tar.* ./*.deb ./*.changes ./*.buildinfo "$out/"
fi
set -- ./*.deb
echo "source package and $# binary packages built; lintian clean" \
	"($(grep -c '^O: ' lintian.out) overridden tags, each with its reason)"
