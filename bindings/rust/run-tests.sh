#!/bin/sh
# run-tests.sh BUILDDIR - build the Rust binding against BUILDDIR's libexitleft and run
# `cargo test` (the safe layer, compat, the README example, the 64-ticket test).
# Offline, with Debian's rustc and cargo (1.63) when installed, whatever rustup puts first
# on PATH. The crate has no dependencies; the cargo configuration written below points
# crates-io at Debian's librust-*-dev registry all the same, so that nothing is ever
# fetched. Exits 77 (skipped, with the reason) when no cargo is installed.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 BUILDDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)

if [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
	cargo=/usr/bin/cargo
	RUSTC=/usr/bin/rustc
	RUSTDOC=/usr/bin/rustdoc
	export RUSTC RUSTDOC
elif command -v cargo >/dev/null 2>&1; then
	cargo=$(command -v cargo)
else
	echo "SKIP: no cargo (apt-get install cargo rustc): the Rust binding is not tested"
	exit 77
fi
[ -e "$build/libexitleft.so" ] || { echo "no libexitleft.so in $build" >&2; exit 1; }

out=$build/bindings-rust
mkdir -p "$out/cargo-home"
# A cargo home of our own: no user configuration, no registry index, no network.
{
	echo '[net]'
	echo 'offline = true'
	if [ -d /usr/share/cargo/registry ]; then
		echo '[source.crates-io]'
		echo 'replace-with = "debian"'
		echo '[source.debian]'
		echo 'directory = "/usr/share/cargo/registry"'
	fi
} >"$out/cargo-home/config.toml"

echo "$("$cargo" --version), $("${RUSTC:-rustc}" --version)"
cd "$here"
CARGO_HOME=$out/cargo-home CARGO_TARGET_DIR=$out/target EXITLEFT_LIB_DIR=$build \
LD_LIBRARY_PATH=$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
	"$cargo" test --offline --locked --quiet
