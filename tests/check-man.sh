#!/bin/sh
# check-man.sh BUILDDIR HEADER - the manual pages as `meson install` installs them:
#   - every function the header declares has a page of that name, its own or an alias (a
#     symbolic link to a page that exists), and every name in a page's NAME section too;
#   - `mandoc -T lint` reports nothing at the level of a warning or above, and groff with
#     every warning enabled (what `man --warnings` runs) reports nothing, for every page.
set -eu
build=$1 header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
meson install -C "$build" --no-rebuild --tags man --destdir "$tmp/root" >"$tmp/install.log" ||
	{ cat "$tmp/install.log"; exit 1; }
man3=$(find "$tmp/root" -type d -name man3)
[ -n "$man3" ] || { echo "no man3 directory was installed"; exit 1; }
functions=$(sed -n 's/^EXITLEFT_EXPORT[^(]*[ *]\(exitleft_[a-z0-9_]*\)(.*/\1/p' "$header")
[ -n "$functions" ] || { echo "no functions declared in $header"; exit 1; }
cd "$man3"

for f in $functions; do
	[ -f "$f.3" ] || { echo "no page for $f"; fail=1; }
done
pages=0 aliases=0
for page in *.3; do
	if [ -L "$page" ]; then
		aliases=$((aliases + 1))
		target=$(readlink "$page")
		[ -f "$target" ] && [ ! -L "$target" ] ||
			{ echo "$page: link to a missing page or to a link: $target"; fail=1; }
		continue
	fi
	pages=$((pages + 1))
	# The NAME section up to " \- ": every function named there must have a page.
	names=$(awk '/^\.SH NAME/ { on = 1; next } on && /^\./ { exit } on { printf "%s ", $0 }' \
		"$page" | sed 's/ *\\-.*//' | tr ',' ' ')
	for name in $names; do
		[ -f "$name.3" ] || { echo "$page names $name, which has no page"; fail=1; }
	done
	out=$(mandoc -T lint -W warning "$page" 2>&1) || true
	[ -z "$out" ] || { echo "$out"; fail=1; }
	out=$(groff -man -ww -z "$page" 2>&1) || true
	[ -z "$out" ] || { echo "groff: $page: $out"; fail=1; }
done
[ "$fail" -eq 0 ] || exit 1
echo "$pages pages and $aliases aliases: every function has one; mandoc and groff are silent"
