#!/bin/sh
# check.sh - model-check tests/model/exitleft.pml with spin; fails on any counterexample.
#
# usage: check.sh MODEL WORKDIR
# Runs each configuration below: spin -a, a C compiler builds pan, pan searches. Safety runs
# are exhaustive (-DCOLLAPSE only compresses states, losing none); liveness runs check the
# LTL claim `terminates` under weak fairness. Six mutants of the model must fail, so the
# properties are known to bite. EXITLEFT_MODEL_DEEP=1 adds a bitstate search of the whole
# model with every feature on, stopped after EXITLEFT_MODEL_DEEP_MINUTES (default 3; the
# whole search, 3.7 * 10^8 states, takes about 7 minutes here).
# Prints one line per run with the states explored, then the total; a search that runs
# longer than 30 s says so every 30 s, so that nobody watching wonders whether it hangs.
set -eu
model=$1
work=$2
cc=${CC:-cc}
mkdir -p "$work"
cp "$model" "$work/exitleft.pml"
cd "$work"
total=0
fail=0

# searching NAME OUT CMD...: runs CMD with its output in OUT; every 30 s while it runs,
# prints that NAME still searches. The ticker stops when CMD ends, or within a second of
# this script.
searching() {
	search_name=$1 search_out=$2
	shift 2
	search_start=$(date +%s)
	(
		next=30
		while kill -0 "$$" 2>/dev/null; do
			sleep 1 >/dev/null 2>&1
			secs=$(($(date +%s) - search_start))
			[ "$secs" -ge "$next" ] || continue
			next=$((next + 30))
			echo "model $search_name: still searching (${secs} s)"
		done
	) &
	search_ticker=$!
	search_rc=0
	"$@" >"$search_out" 2>&1 || search_rc=$?
	kill "$search_ticker" 2>/dev/null || true
	wait "$search_ticker" 2>/dev/null || true
	return "$search_rc"
}

# run NAME EXPECT SPIN_DEFINES PAN_CFLAGS PAN_ARGS
run() {
	name=$1 expect=$2
	rm -f exitleft.pml.trail
	# shellcheck disable=SC2086
	spin $3 -a exitleft.pml >spin.out 2>&1 || { cat spin.out; fail=1; return; }
	# shellcheck disable=SC2086
	$cc -O2 -w $4 -DMEMLIM=1024 -o pan pan.c
	# shellcheck disable=SC2086
	searching "$name" "pan-$name.out" ./pan -m200000 $5 || true
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "pan-$name.out")
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "pan-$name.out")
	states=$(printf '%.0f' "${states:-0}")
	incomplete='reached -DMEMLIM bound\|Search not completed'
	if grep -q 'Time limit of' "pan-$name.out" && [ "${errors:-1}" = 0 ]; then
		echo "model $name: $states states in its time limit, 0 errors"
		total=$((total + states))
	elif grep -q "$incomplete" "pan-$name.out" && [ "$expect" = pass ]; then
		echo "model $name: search incomplete (memory bound)"
		fail=1
	elif [ "$expect" = pass ] && [ "${errors:-1}" = 0 ]; then
		echo "model $name: $states states, 0 errors"
		total=$((total + states))
	elif [ "$expect" = fail ] && [ "${errors:-0}" != 0 ]; then
		echo "model $name: counterexample found, as it must be:" \
			"$(grep -m1 'assertion violated\|acceptance cycle' "pan-$name.out")"
	else
		echo "model $name: FAILED (expected $expect)"
		cat "pan-$name.out"
		# shellcheck disable=SC2086
		[ -f exitleft.pml.trail ] &&
			spin -t -p -g $3 exitleft.pml | tail -80
		fail=1
	fi
}

none="-DROUTE=0 -DNOTIFIES=0 -DSPURIOUS=0 -DCANCELS=0 -DCLOSE=0"
safety="-DSAFETY -DNOCLAIM -DCOLLAPSE"
live="-DCOLLAPSE -DNFAIR=8"

# Safety: assertions in every reachable state, and no invalid end state (deadlock).
run handoff pass "$none -DROUNDS=2" "$safety" ""
run route pass "$none -DROUNDS=1 -DROUTE=1" "$safety" ""
run notify-spurious pass "$none -DROUNDS=1 -DNOTIFIES=1 -DSPURIOUS=1" "$safety" ""
run close-cancel pass "$none -DROUNDS=1 -DCANCELS=1 -DCLOSE=1" "$safety" ""
# A last head coming back defers to an arrival that may return TOKEN instead of heading
# (two threads are enough for that: the last head and the arrival).
run defer-notify pass "$none -DNT=2 -DROUNDS=2 -DNOTIFIES=1" "$safety" ""
# Liveness: every run ends (every enter returns, the stage is freed).
run terminates-spurious pass "$none -DROUNDS=1 -DSPURIOUS=1" "$live" "-a -f"
run terminates-close-cancel pass "$none -DROUNDS=1 -DCANCELS=1 -DCLOSE=1" "$live" "-a -f"
run terminates-defer-notify pass "$none -DNT=2 -DROUNDS=2 -DNOTIFIES=1" "$live" "-a -f"
# The properties bite: known bugs are caught.
run mutant-timeout-wins fail "$none -DROUNDS=2 -DBUG_TIMEOUT_WINS" "$safety" ""
run mutant-ignore-in-flight fail "$none -DROUNDS=1 -DNOTIFIES=1 -DSPURIOUS=1 \
	-DBUG_IGNORE_IN_FLIGHT" "$safety" ""
run mutant-no-promote-at-out fail "$none -DROUNDS=2 -DNOTIFIES=1 -DBUG_NO_PROMOTE_AT_OUT" "$safety" ""
# Pending tickets (exitleft_enter_start): polled once decided, cancelled at any time, their
# descriptor asked for at any time, racing promotion, notification, close and the deferral.
run pending pass "$none -DNT=2 -DROUNDS=2 -DPENDING=1 -DNOTIFIES=1 -DCLOSE=1" "$safety" ""
run pending-three pass "$none -DROUNDS=1 -DPENDING=1 -DNOTIFIES=1" "$safety" ""
run terminates-pending pass "$none -DNT=2 -DROUNDS=2 -DPENDING=1 -DNOTIFIES=1 -DCLOSE=1" \
	"$live" "-a -f"
run mutant-cancel-swallows fail "$none -DROUNDS=1 -DPENDING=1 -DBUG_CANCEL_SWALLOWS" \
	"$safety" ""
run mutant-collect-unwritten fail "$none -DROUNDS=1 -DPENDING=1 -DNOTIFIES=1 \
	-DBUG_COLLECT_UNWRITTEN" "$safety" ""
run mutant-drop-before-lock fail "$none -DROUNDS=1 -DNOTIFIES=1 -DBUG_DROP_BEFORE_LOCK" \
	"$safety" ""
if [ "${EXITLEFT_MODEL_DEEP:-0}" = 1 ]; then
	run everything-bitstate pass "-DROUNDS=1 -DPENDING=1" "-DSAFETY -DNOCLAIM -DBITSTATE" \
		"-w30 -Q${EXITLEFT_MODEL_DEEP_MINUTES:-3}"
fi

echo "model: $total states explored, $([ $fail = 0 ] && echo 'no counterexample' || echo FAILED)"
exit $fail
