#!/bin/sh
# run-fuzz.sh - build the libFuzzer harness with clang (fuzzer, address, undefined) and run
# it for a bounded time on a copy of the committed seed corpus.
#
# usage: run-fuzz.sh SOURCE_ROOT GENINCLUDEDIR WORKDIR [SECONDS]
#   GENINCLUDEDIR holds the headers the build generates (exitleft-version.h); SECONDS
#   defaults to $EXITLEFT_FUZZ_SECONDS, or 60.
# Prints the executions, the coverage (libFuzzer's cov: edges and ft: features) and the
# corpus size; fails on any crash, sanitizer report or model mismatch.
set -eu
root=$1
geninc=$2
work=$3
secs=${4:-${EXITLEFT_FUZZ_SECONDS:-60}}
clang=${CLANG:-clang}
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
cp "$root"/tests/fuzz/corpus/* "$work/corpus/"
# shellcheck disable=SC2046
$clang -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -DEXITLEFT_VERSION='"fuzz"' \
	-Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$root/include" -I"$geninc" -I"$root/src" -o "$work/fuzz_stage" \
	"$root/tests/fuzz/fuzz_stage.c" $(ls "$root"/src/*.c) -lpthread
cd "$work"
if ! ./fuzz_stage -max_total_time="$secs" -print_final_stats=1 -max_len=4096 \
	-timeout=10 corpus >fuzz.log 2>&1; then
	tail -60 fuzz.log
	echo "fuzz: FAILED"
	exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz.log)
last=$(grep -E '^#[0-9]+' fuzz.log | tail -1)
echo "fuzz: $execs executions in $secs s; last status: $last"
echo "fuzz: corpus $(ls corpus | wc -l) inputs (seed: $(ls "$root"/tests/fuzz/corpus | wc -l))"
