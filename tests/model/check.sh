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
# The configurations run in two lanes side by side, one per core (EXITLEFT_MODEL_LANES=1: one
# after another). Prints one line per run with the states explored, then the total; a search
# that runs longer than 30 s says so every 30 s, so that nobody watching wonders whether it
# hangs.
set -eu
model=$1
work=$2
cc=${CC:-cc}
mkdir -p "$work"
work=$(cd "$work" && pwd)
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

# run NAME EXPECT SPIN_DEFINES PAN_CFLAGS PAN_ARGS: one configuration, in a folder of its own
# (the lanes below run side by side); its verdict goes to NAME/verdict, its states to
# NAME/states.
run() {
	name=$1 expect=$2
	mkdir -p "$work/$name"
	cd "$work/$name"
	cp "$work/exitleft.pml" .
	# shellcheck disable=SC2086
	spin $3 -a exitleft.pml >spin.out 2>&1 || { cat spin.out; echo fail >verdict; return; }
	# shellcheck disable=SC2086
	$cc -O2 -w $4 -DMEMLIM=1024 -o pan pan.c
	# shellcheck disable=SC2086
	searching "$name" "pan.out" ./pan -m200000 $5 || true
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out)
	states=$(printf '%.0f' "${states:-0}")
	incomplete='reached -DMEMLIM bound\|Search not completed'
	verdict=pass
	if grep -q 'Time limit of' pan.out && [ "${errors:-1}" = 0 ]; then
		echo "model $name: $states states in its time limit, 0 errors"
		echo "$states" >states
	elif grep -q "$incomplete" pan.out && [ "$expect" = pass ]; then
		echo "model $name: search incomplete (memory bound)"
		verdict=fail
	elif [ "$expect" = pass ] && [ "${errors:-1}" = 0 ]; then
		echo "model $name: $states states, 0 errors"
		echo "$states" >states
	elif [ "$expect" = fail ] && [ "${errors:-0}" != 0 ]; then
		echo "model $name: counterexample found, as it must be:" \
			"$(grep -m1 'assertion violated\|acceptance cycle' pan.out)"
	else
		echo "model $name: FAILED (expected $expect)"
		cat pan.out
		# shellcheck disable=SC2086
		[ -f exitleft.pml.trail ] &&
			spin -t -p -g $3 exitleft.pml | tail -80
		verdict=fail
	fi
	echo "$verdict" >verdict
}

none="-DROUTE=0 -DNOTIFIES=0 -DSPURIOUS=0 -DCANCELS=0 -DCLOSE=0"
safety="-DSAFETY -DNOCLAIM -DCOLLAPSE"
live="-DCOLLAPSE -DNFAIR=8"

# config NAME: the configuration of that name.
config() {
	case $1 in
	# Safety: assertions in every reachable state, and no invalid end state (deadlock).
	handoff) run handoff pass "$none -DROUNDS=2" "$safety" "" ;;
	route) run route pass "$none -DROUNDS=1 -DROUTE=1" "$safety" "" ;;
	notify-spurious)
		run notify-spurious pass "$none -DROUNDS=1 -DNOTIFIES=1 -DSPURIOUS=1" "$safety" "" ;;
	close-cancel) run close-cancel pass "$none -DROUNDS=1 -DCANCELS=1 -DCLOSE=1" "$safety" "" ;;
	# A last head coming back defers to an arrival that may return TOKEN instead of heading
	# (two threads are enough for that: the last head and the arrival).
	defer-notify) run defer-notify pass "$none -DNT=2 -DROUNDS=2 -DNOTIFIES=1" "$safety" "" ;;
	# Liveness: every run ends (every enter returns, the stage is freed).
	terminates-spurious)
		run terminates-spurious pass "$none -DROUNDS=1 -DSPURIOUS=1" "$live" "-a -f" ;;
	terminates-close-cancel)
		run terminates-close-cancel pass "$none -DROUNDS=1 -DCANCELS=1 -DCLOSE=1" \
			"$live" "-a -f" ;;
	terminates-defer-notify)
		run terminates-defer-notify pass "$none -DNT=2 -DROUNDS=2 -DNOTIFIES=1" \
			"$live" "-a -f" ;;
	# The properties bite: known bugs are caught.
	mutant-timeout-wins)
		run mutant-timeout-wins fail "$none -DROUNDS=2 -DBUG_TIMEOUT_WINS" "$safety" "" ;;
	mutant-ignore-in-flight)
		run mutant-ignore-in-flight fail "$none -DROUNDS=1 -DNOTIFIES=1 -DSPURIOUS=1 \
			-DBUG_IGNORE_IN_FLIGHT" "$safety" "" ;;
	mutant-no-promote-at-out)
		run mutant-no-promote-at-out fail \
			"$none -DROUNDS=2 -DNOTIFIES=1 -DBUG_NO_PROMOTE_AT_OUT" "$safety" "" ;;
	# Pending tickets (exitleft_enter_start): polled once decided, cancelled at any time,
	# their descriptor asked for at any time, racing promotion, notification, close and
	# the deferral.
	pending)
		run pending pass "$none -DNT=2 -DROUNDS=2 -DPENDING=1 -DNOTIFIES=1 -DCLOSE=1" \
			"$safety" "" ;;
	pending-three)
		run pending-three pass "$none -DROUNDS=1 -DPENDING=1 -DNOTIFIES=1" "$safety" "" ;;
	terminates-pending)
		run terminates-pending pass \
			"$none -DNT=2 -DROUNDS=2 -DPENDING=1 -DNOTIFIES=1 -DCLOSE=1" "$live" "-a -f" ;;
	mutant-cancel-swallows)
		run mutant-cancel-swallows fail \
			"$none -DROUNDS=1 -DPENDING=1 -DBUG_CANCEL_SWALLOWS" "$safety" "" ;;
	mutant-collect-unwritten)
		run mutant-collect-unwritten fail "$none -DROUNDS=1 -DPENDING=1 -DNOTIFIES=1 \
			-DBUG_COLLECT_UNWRITTEN" "$safety" "" ;;
	mutant-drop-before-lock)
		run mutant-drop-before-lock fail \
			"$none -DROUNDS=1 -DNOTIFIES=1 -DBUG_DROP_BEFORE_LOCK" "$safety" "" ;;
	everything-bitstate)
		run everything-bitstate pass "-DROUNDS=1 -DPENDING=1" \
			"-DSAFETY -DNOCLAIM -DBITSTATE" "-w30 -Q${EXITLEFT_MODEL_DEEP_MINUTES:-3}" ;;
	esac
}

# Two lanes, one per core, each running its configurations one after another; split so that
# they take about as long (by their states, and the liveness runs' cost per state; the
# bitstate search, a fixed time, goes to the lane that ends first). Each search needs up to
# MEMLIM (1 GiB).
lane1='pending-three pending handoff close-cancel mutant-timeout-wins mutant-ignore-in-flight
	mutant-cancel-swallows mutant-collect-unwritten'
lane2='terminates-pending notify-spurious route terminates-close-cancel terminates-spurious
	defer-notify terminates-defer-notify mutant-no-promote-at-out mutant-drop-before-lock'
[ "${EXITLEFT_MODEL_DEEP:-0}" = 1 ] && lane1="$lane1 everything-bitstate"
lane() {
	for c in $1; do
		config "$c"
	done
}
if [ "${EXITLEFT_MODEL_LANES:-2}" = 1 ]; then
	lane "$lane1 $lane2"
else
	lane "$lane1" &
	lane1_pid=$!
	lane "$lane2"
	wait "$lane1_pid" || true
fi

for c in $lane1 $lane2; do
	verdict=$(cat "$work/$c/verdict" 2>/dev/null || echo missing)
	[ "$verdict" = missing ] && echo "model $c: no verdict"
	[ "$verdict" = pass ] || fail=1
	[ -f "$work/$c/states" ] && total=$((total + $(cat "$work/$c/states")))
done

echo "model: $total states explored, $([ $fail = 0 ] && echo 'no counterexample' || echo FAILED)"
exit $fail
