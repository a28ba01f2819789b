#!/bin/sh
# run-demo.sh [PEERS [ROUND_TRIPS]] - build libexitleft and run the main job: the UDP
# multiplexing demo. One unconnected UDP socket on loopback, a server thread per peer sharing
# it through a stage, and a load generator checking every reply; prints the summary.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages meson ninja-build pkg-config gcc libc6-dev uthash-dev libcmocka-dev
setup_build build -Dbuildtype=release
ninja -C build >/dev/null
sh examples/udp-demo.sh build "${1:-32}" "${2:-10000}"
