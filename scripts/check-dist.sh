#!/bin/sh
# check-dist.sh - `meson dist` makes a source tarball whose own build and tests pass: meson
# unpacks the tarball, configures, builds, runs `meson test` and installs it, and fails if
# any of that fails.
#
# meson dist packs what git has committed, and it needs a git repository of its own to do
# it: it runs in a scratch clone of HEAD, removed afterwards, so the tree is left as it was.
# Uncommitted changes are not checked (commit first); outside a git checkout, nothing is.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "not a git checkout: meson dist needs one; skipped"
	exit 77
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "note: uncommitted changes are not in the tarball; checking HEAD"
fi
head=$(git rev-parse HEAD)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q --no-checkout . "$tmp/src"
git -C "$tmp/src" checkout -q "$head"
meson setup "$tmp/build" "$tmp/src" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
if ! meson dist -C "$tmp/build" --formats xztar >"$tmp/dist.log" 2>&1; then
	tail -n 80 "$tmp/dist.log"
	echo "meson dist failed"
	exit 1
fi
tarball=$(ls "$tmp"/build/meson-dist/*.tar.xz)
tests=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$tmp/dist.log" | tail -n 1)
echo "$(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tJf "$tarball" | wc -l)" \
	"entries) of $(git rev-parse --short "$head"): built, installed, $tests tests passed"
