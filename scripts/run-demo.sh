#!/bin/sh
# run-demo.sh - build libexitleft and run the main job: the demonstration of a head routing
# events from one shared resource to the threads they belong to.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages meson ninja-build pkg-config gcc libc6-dev uthash-dev libcmocka-dev
setup_build build -Dbuildtype=release
ninja -C build >/dev/null
./build/examples/exitleft-demo "$@"
