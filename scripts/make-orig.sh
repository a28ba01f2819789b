#!/bin/sh
# make-orig.sh [DIR] - the upstream tarball that Debian's source package is built from:
# DIR/exitleft_X.Y.Z.orig.tar.xz (DIR: this tree's parent directory, where dpkg-source and
# dpkg-buildpackage look for it). Then, in this tree: dpkg-buildpackage -us -uc.
#
# It is `meson dist` of HEAD, made in a scratch clone (meson dist packs what git has
# committed, and needs a repository of its own), without debian/ (meson.build's dist
# script) and without running the tests (scripts/check-dist.sh does). X.Y.Z is meson's
# project version, and it must be the upstream part of debian/changelog's latest version.
#
# An orig tarball never changes once a package has been built from it: if DIR already has
# one for X.Y.Z, it is kept, not remade. dpkg-source then refuses a tree that differs from it
# outside debian/ (a change committed after the tarball was made), rather than packaging
# something that is not the release.
set -eu
cd "$(dirname "$0")/.."
dir=$(cd "${1:-..}" && pwd)
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "not a git checkout: meson dist needs one" >&2
	exit 1
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "note: uncommitted changes are not in the tarball; packing HEAD" >&2
fi
# 1:1.2.0-3 -> 1.2.0
upstream=$(dpkg-parsechangelog -S Version | sed 's/^[0-9]*://; s/-[^-]*$//')
orig="$dir/exitleft_$upstream.orig.tar.xz"
if [ -e "$orig" ]; then
	echo "$orig: already made; kept"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q --no-checkout . "$tmp/src"
git -C "$tmp/src" checkout -q "$(git rev-parse HEAD)"
meson setup "$tmp/build" "$tmp/src" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
meson dist -C "$tmp/build" --no-tests --formats xztar >"$tmp/dist.log" 2>&1 || {
	cat "$tmp/dist.log"; exit 1; }
tarball=$(ls "$tmp"/build/meson-dist/exitleft-*.tar.xz)
version=${tarball##*/exitleft-}
version=${version%.tar.xz}
if [ "$version" != "$upstream" ]; then
	echo "meson.build says $version, debian/changelog $upstream: add a changelog entry" \
		"for $version (dch -v $version-1)" >&2
	exit 1
fi
mv "$tarball" "$orig"
echo "$orig: meson dist of $(git rev-parse --short HEAD)"
