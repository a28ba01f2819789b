#!/bin/sh
# run-demo.sh [PEERS [ROUND_TRIPS]] - build libexitleft and run the main job: the UDP
# multiplexing demo. One unconnected UDP socket on loopback, a server thread per peer sharing
# it through a stage, and a load generator checking every reply; prints the summary.
#
# It builds in build-demo/, a release build without tests or benches, so that it and
# run-tests.sh (build/, build-*/) never reconfigure each other's folder.
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
need_packages meson ninja-build pkg-config gcc libc6-dev uthash-dev
echo "building in build-demo/ (release, no tests)"
setup_build build-demo -Dbuildtype=release -Dtests=false -Dbench=false
ninja -C build-demo >build-demo/ninja.out 2>&1 || { cat build-demo/ninja.out; exit 1; }
echo "running: ${1:-32} peers x ${2:-10000} round trips"
sh examples/udp-demo.sh build-demo "${1:-32}" "${2:-10000}"
