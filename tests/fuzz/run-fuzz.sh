#!/bin/sh
# run-fuzz.sh - build a libFuzzer target with clang (fuzzer, address, undefined) and run it
# for a bounded time on a copy of its committed seed corpus. Every fuzz target of the
# project (the API's, tests/fuzz; the TFTP server's, examples/tftpd/fuzz) runs through it.
#
# usage: run-fuzz.sh NAME WORKDIR SEEDS MAX_LEN SECONDS CLANG_ARGUMENTS...
#   NAME names the binary and prefixes every line printed; SEEDS is the corpus directory;
#   MAX_LEN bounds an input; SECONDS is the default run time, $EXITLEFT_FUZZ_SECONDS
#   overrides it; CLANG_ARGUMENTS are the sources, include directories and libraries.
# Prints the executions, libFuzzer's last status line (cov: edges, ft: features) and the
# corpus size; fails on any crash, assertion, sanitizer report or model mismatch.
set -eu
name=$1 work=$2 seeds=$3 max_len=$4
secs=${EXITLEFT_FUZZ_SECONDS:-$5}
shift 5
clang=${CLANG:-clang}
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
$clang -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o "$work/$name" "$@"
cd "$work"
if ! "./$name" -max_total_time="$secs" -print_final_stats=1 -max_len="$max_len" \
	-timeout=10 corpus >"$name.log" 2>&1; then
	tail -60 "$name.log"
	echo "$name: FAILED"
	exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$name.log")
echo "$name: $execs executions in $secs s; last status: $(grep -E '^#[0-9]+' "$name.log" | tail -1)"
echo "$name: corpus $(ls corpus | wc -l) inputs (seed: $(ls "$seeds" | wc -l))"
