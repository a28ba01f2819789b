#!/bin/sh
# run-demo.sh [FILES_PER_CLIENT] - build libexitleft and run the main job: exitleft-tftpd on
# loopback over a demo folder, and curl, tftp-hpa and atftp each fetching and uploading
# FILES_PER_CLIENT files (default 8) at once, every file checked by sha256; prints the
# summary: transfers, bytes, failures, the UDP ports the server used, throughput, time.
# The UDP echo demo stays: sh examples/udp-demo.sh build-demo [PEERS [ROUND_TRIPS]].
#
# It builds in build-demo/, a release build without tests or benches, so that it and
# run-tests.sh (build/, build-*/) never reconfigure each other's folder.
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
need_packages meson ninja-build pkg-config gcc libc6-dev uthash-dev \
	curl tftp-hpa atftp iproute2
echo "building in build-demo/ (release, no tests)"
setup_build build-demo -Dbuildtype=release -Dtests=false -Dbench=false
ninja -C build-demo >build-demo/ninja.out 2>&1 || { cat build-demo/ninja.out; exit 1; }
sh examples/tftpd/demo.sh build-demo "${1:-8}"
