#!/bin/sh
# run-fuzz.sh SOURCE_DIR WORKDIR [SECONDS] - build the TFTP libFuzzer target with clang
# (fuzzer, address, undefined) and run it for a bounded time (default: $TFTP_FUZZ_SECONDS,
# or 20) on a copy of the committed seeds. Fails on any crash, assertion or sanitizer report.
set -eu
src=$1
work=$2
secs=${3:-${TFTP_FUZZ_SECONDS:-20}}
clang=${CLANG:-clang}
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
cp "$src"/fuzz/corpus/* "$work/corpus/"
$clang -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I"$src" \
	-o "$work/fuzz_tftp" "$src/fuzz/fuzz_tftp.c" "$src/tftp-proto.c" "$src/tftp-xfer.c"
cd "$work"
if ! ./fuzz_tftp -max_total_time="$secs" -print_final_stats=1 -max_len=2048 -timeout=10 \
	corpus >fuzz.log 2>&1; then
	tail -60 fuzz.log
	echo "fuzz-tftp: FAILED"
	exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz.log)
echo "fuzz-tftp: $execs executions in $secs s; last: $(grep -E '^#[0-9]+' fuzz.log | tail -1)"
