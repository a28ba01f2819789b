#!/bin/sh
# udp-test.sh SCENARIO SERVER CLIENT [FLOOD] - one loopback test of exitleft-udp-server
#
# Starts the server on a free loopback port, runs a client against it, stops the server and
# checks both sides' counters. Every wait is for a state (the server's banner, its exit),
# bounded by a generous patience; the server is killed if it outstays. The scenarios whose
# checks compare times (join-leave, slow-peer) are run again, up to three times in all,
# when only a time check missed: a loaded machine may slow one run down, not every run.
# Exits 0 on success, 1 with a message on failure (never skips).
set -u

scenario=$1
server=$2
client=$3
flood=${4:-}		# udp-flood: a peer that sends and never reads
tmp=$(mktemp -d)
srv_pid=
trap 'if [ -n "$srv_pid" ]; then kill -9 "$srv_pid" 2>/dev/null; fi; rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL ($scenario): $*" >&2
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[ -s "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

# start_server [wrapper...] -- [server options...]: sets srv_pid and port.
start_server() {
	wrap=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do wrap="$wrap $1"; shift; done
	shift
	# A run before this one (socat's, a retry's) left its banner: the shell truncates the
	# file only once the server's process runs, so the wait below could read the old one.
	rm -f "$tmp/server.out" "$tmp/server.err"
	# shellcheck disable=SC2086
	$wrap "$server" "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
	srv_pid=$!
	i=0
	while ! grep -q '^listening on' "$tmp/server.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "server did not start within 20 s"
		kill -0 "$srv_pid" 2>/dev/null || fail "server died at start"
		sleep 0.1
	done
	port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/server.out")
	[ -n "$port" ] || fail "no port in: $(cat "$tmp/server.out")"
}

# stop_server [signal] [patience in tenths of a second]: waits for a clean exit.
stop_server() {
	sig=${1:-TERM}
	patience=${2:-200}
	[ "$sig" != none ] && kill -"$sig" "$srv_pid"
	i=0
	while kill -0 "$srv_pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt "$patience" ] && fail "server still running $((patience / 10)) s after SIG$sig"
		sleep 0.1
	done
	wait "$srv_pid"
	rc=$?
	srv_pid=
	[ $rc -eq 0 ] || fail "server exited with $rc"
	grep -q '^server: ' "$tmp/server.out" || fail "server printed no counters"
}

# stat FILE KEY: the value of KEY=value in the counters line of FILE.
stat() {
	tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | tail -n 1
}

run_client() {
	timeout 25 "$client" -p "$port" "$@" >"$tmp/client.out" 2>"$tmp/client.err" ||
		fail "client failed (exit $?)"
}

# A float comparison, a < b.
lt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# reader_peer: a one-trip client first, so that a peer thread of its own waits in line for
# the rest of the test (--idle-ms 60000) and heads the stage while the slow peer's thread
# sleeps: a slow peer's thread does not read the socket during its answer, and the listener
# reads only while no peer thread is alive.
reader_peer() {
	[ -n "$flood" ] || fail "no udp-flood program given"
	run_client -n 1 -c 1 --reply-timeout-ms 20000
}

# flood_slow_peer COUNT BYTES [FAST_COUNT]: one socket sends COUNT datagrams of BYTES bytes,
# each asking for a one-second answer, while (with FAST_COUNT) another socket sends that many
# quick ones. Returns once both are sent; then a one-trip client marks the end: its answer
# comes back only once the head has read everything sent before it (the socket's queue is
# first in, first out), so the server holds the flood, in mailboxes or counted as dropped.
flood_slow_peer() {
	reader_peer
	"$flood" "$port" "$1" "$2" sleep:1000: >"$tmp/flood-slow.out" 2>"$tmp/flood-slow.err" &
	slow_pid=$!
	if [ -n "${3:-}" ]; then
		"$flood" "$port" "$3" "$2" >"$tmp/flood-fast.out" 2>"$tmp/flood-fast.err" ||
			fail "the quick flood failed"
	fi
	wait "$slow_pid" || fail "the slow flood failed"
	run_client -n 1 -c 1 --reply-timeout-ms 20000
}

# timing_miss MESSAGE: a check that depends on timing failed. The scenario function
# returns 1 and is run again (three runs at the most); anything that timing cannot
# explain calls fail, which is final.
timing_miss() {
	echo "timing check missed ($scenario): $*; running it again" >&2
	return 1
}

# Peers join 40 ms apart and fall silent halfway for longer than the server's idle limit:
# each one's thread is retired, and its next datagram starts a fresh thread. (Late joiners
# idle past the limit after their warm-up trip too: restarts >= 16.) Whether the server
# retires a peer within its pause depends on the server's thread being scheduled in time.
join_leave() {
	start_server -- --idle-ms 200 --poll-ms 10
	run_client -n 16 -c 400 --stagger-ms 40 --pause-ms 700 --allow-restarts
	stop_server
	cat "$tmp/client.out" "$tmp/server.out"
	retired=$(stat "$tmp/server.out" peers_retired)
	started=$(stat "$tmp/server.out" peers_started)
	[ "$(stat "$tmp/client.out" restarts)" -ge 16 ] || timing_miss "expected >= 16 restarts" ||
		return 1
	[ "$retired" -ge 16 ] || timing_miss "only $retired peers retired" || return 1
	[ "$started" -ge 32 ] || timing_miss "only $started peers started" || return 1
}

# One peer's thread sleeps 50 ms per answer; the seven others must not wait for it. Both
# checks compare times, which a loaded machine stretches.
slow_peer() {
	start_server --
	run_client -n 8 -c 2000 --slow-peers 1 --slow-ms 50 --slow-count 30
	stop_server
	cat "$tmp/client.out" "$tmp/server.out"
	fast=$(stat "$tmp/client.out" fast_done_ms)
	slow=$(stat "$tmp/client.out" slow_done_ms)
	p99=$(stat "$tmp/client.out" p99_us)
	lt "$fast" "$slow" ||
		timing_miss "fast peers ($fast ms) finished after the slow one ($slow ms)" ||
		return 1
	lt "$p99" 50000 || timing_miss "fast peers' p99 $p99 us: they waited for the slow peer" ||
		return 1
}

echo_test() {
	family=$1
	peers=$2
	count=$3
	start_server -- $family
	run_client $family -n "$peers" -c "$count"
	stop_server
	answered=$(stat "$tmp/server.out" answered)
	want=$((peers * (count + 1)))		# the client's warm-up trip included
	[ "$answered" = "$want" ] || fail "server answered $answered, expected $want"
	[ "$(stat "$tmp/server.out" peers_started)" = "$peers" ] || fail "wrong peers_started"
	cat "$tmp/client.out" "$tmp/server.out"
}

case $scenario in
ipv4-1)		echo_test "" 1 3000 ;;
ipv4-8)		echo_test "" 8 2000 ;;
ipv4-64)	echo_test "" 64 300 ;;
ipv6-1)		echo_test -6 1 3000 ;;
ipv6-8)		echo_test -6 8 2000 ;;
ipv6-64)	echo_test -6 64 300 ;;

join-leave)
	join_leave || join_leave || join_leave || fail "a timing check missed three times"
	;;
slow-peer)
	slow_peer || slow_peer || slow_peer || fail "a timing check missed three times"
	;;

slow-window)
	# A slow peer with eight datagrams in flight: its thread, heading, reads several of them
	# in one batch, exits after the first and answers it and the rest behind it, in order.
	# The client checks every answer's number and content; none may be lost.
	start_server --
	run_client -n 1 -w 8 -c 40 --slow-peers 1 --slow-ms 2
	stop_server
	[ "$(stat "$tmp/server.out" answered)" = 41 ] || fail "expected answered=41"
	cat "$tmp/client.out" "$tmp/server.out"
	;;

stray)
	# Four peers fill the server's limit; three strays must be counted, dropped, unanswered.
	start_server -- --max-peers 4
	run_client -n 4 -c 2000 --strays 3
	stop_server
	[ "$(stat "$tmp/server.out" dropped_limit)" = 3 ] || fail "expected dropped_limit=3"
	[ "$(stat "$tmp/server.out" peers_max)" = 4 ] || fail "expected peers_max=4"
	cat "$tmp/client.out" "$tmp/server.out"
	;;

shutdown-duration)
	# 64 peer threads wait in the stage when --duration runs out: all must end by themselves.
	start_server -- --duration 2
	run_client -n 64 -c 50
	stop_server none 200
	[ "$(stat "$tmp/server.out" peers_started)" = 64 ] || fail "wrong peers_started"
	cat "$tmp/client.out" "$tmp/server.out"
	;;

shutdown-valgrind)
	# SIGTERM while 32 peer threads wait and one heads: everything joined and freed.
	command -v valgrind >/dev/null ||
		fail "valgrind not found: apt-get install -y valgrind (this test needs it)"
	start_server valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
		--error-exitcode=1 -- --poll-ms 50
	run_client -n 32 -c 50 --reply-timeout-ms 10000
	# Lets the peer threads settle back into the stage, so that SIGTERM more likely finds
	# them waiting; the checks (clean exit, no leak) hold wherever SIGTERM finds them.
	sleep 0.5
	stop_server TERM 300
	grep -q 'ERROR SUMMARY\|definitely lost\|still reachable' "$tmp/server.err" &&
		fail "valgrind found errors or leaks"
	cat "$tmp/client.out" "$tmp/server.out"
	;;

mailbox-flood)
	# One peer's thread answers in a second per datagram while that peer sends 20 000 of
	# 1 500 bytes, and another peer sends 20 000 quick ones. Every mailbox holds 64: the
	# rest is counted in dropped_full and freed. The server's peak resident memory (VmHWM,
	# read while the flood sits in the mailboxes, and its own rss_max_kb) must stay under
	# 8 MiB: bounded it is about 2 MiB; unbounded (--mailbox 1000000) the same flood kept
	# 15 MiB, the kernel having dropped part of it, and 30 MB if all of it arrives.
	bound_kb=8192
	start_server -- --mailbox 64 --idle-ms 60000
	flood_slow_peer 20000 1500 20000
	hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$srv_pid/status")
	# Nothing queued may hold the shutdown: 63 slow datagrams wait, a minute's answers.
	stop_server TERM 100
	cat "$tmp/flood-slow.out" "$tmp/flood-fast.out" "$tmp/client.out" "$tmp/server.out"
	echo "VmHWM before the stop: $hwm kB (bound $bound_kb kB)"
	full=$(stat "$tmp/server.out" dropped_full)
	rss=$(stat "$tmp/server.out" rss_max_kb)
	[ -n "$hwm" ] && [ "$hwm" -lt "$bound_kb" ] || fail "VmHWM $hwm kB, bound $bound_kb kB"
	[ "$rss" -lt "$bound_kb" ] || fail "rss_max_kb=$rss, bound $bound_kb kB"
	# Of 20 000 slow datagrams at most 64 wait and one is being answered; even if the
	# kernel dropped many from the socket's queue, thousands reach a full mailbox.
	[ "$full" -ge 1000 ] || fail "dropped_full=$full: the slow mailbox was never full"
	;;

shutdown-queue-term)
	# 20 000 slow datagrams queued for one peer (mailbox room for all of them): answered
	# one by one they would take five and a half hours. SIGTERM must end the server within
	# 10 s (the bound is a second; the rest is patience for a loaded machine).
	start_server -- --mailbox 100000 --idle-ms 60000
	flood_slow_peer 20000 64
	stop_server TERM 100
	cat "$tmp/flood-slow.out" "$tmp/client.out" "$tmp/server.out"
	dropped=$(stat "$tmp/server.out" dropped_shutdown)
	[ "$dropped" -ge 1000 ] || fail "dropped_shutdown=$dropped: the queue was not long"
	echo "shutdown_ms=$(stat "$tmp/server.out" shutdown_ms) with $dropped datagrams queued"
	;;

shutdown-queue-duration)
	# The same queue, and --duration ends the run: the server must stop by itself, within
	# its 3 s plus 10 s of patience. (Whether the flood is all in before the 3 s are up
	# changes how much is dropped, not whether the server must stop in time.)
	start_server -- --mailbox 100000 --idle-ms 60000 --duration 3
	reader_peer
	"$flood" "$port" 20000 64 sleep:1000: >"$tmp/flood-slow.out" 2>"$tmp/flood-slow.err" ||
		fail "the slow flood failed"
	stop_server none 130
	cat "$tmp/flood-slow.out" "$tmp/server.out"
	echo "shutdown_ms=$(stat "$tmp/server.out" shutdown_ms)" \
		"dropped_shutdown=$(stat "$tmp/server.out" dropped_shutdown)"
	;;

socat)
	# A client nobody here wrote: socat, from one fixed source port, twice per family.
	command -v socat >/dev/null ||
		fail "socat not found: apt-get install -y socat (this test needs it)"
	for fam in 4 6; do
		if [ $fam = 4 ]; then opt=; dst=127.0.0.1; else opt=-6; dst='[::1]'; fi
		start_server -- $opt
		sport=$(( (port % 20000) + 30000 ))
		for n in 1 2; do
			out=$(printf 'hello %s' "$n" |
				timeout 5 socat -T 2 - "UDP$fam:$dst:$port,sourceport=$sport,reuseaddr")
			[ "$out" = "$n hello $n" ] ||
				fail "IPv$fam: socat got '$out', expected '$n hello $n'"
			echo "IPv$fam socat: sent 'hello $n', got '$out'"
		done
		stop_server
		[ "$(stat "$tmp/server.out" peers_started)" = 1 ] || fail "one peer expected"
		cat "$tmp/server.out"
	done
	;;

*)
	fail "unknown scenario"
	;;
esac
exit 0
