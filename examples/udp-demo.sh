#!/bin/sh
# udp-demo.sh [BUILD_DIR] [PEERS] [ROUND_TRIPS] [-6]
#
# Runs exitleft-udp-server and exitleft-udp-client (built beforehand in BUILD_DIR, default
# ./build) on loopback, PEERS peers (default 32) x ROUND_TRIPS ping-pongs each (default
# 10000), and prints a short summary. Builds nothing; everything stops by itself.
set -u

build=${1:-build}
peers=${2:-32}
count=${3:-10000}
family=${4:-}
server=$build/examples/exitleft-udp-server
client=$build/examples/exitleft-udp-client
for p in "$server" "$client"; do
	[ -x "$p" ] || { echo "udp-demo: $p not found; build first (ninja -C $build)" >&2; exit 2; }
done
tmp=$(mktemp -d)
srv_pid=
trap 'if [ -n "$srv_pid" ]; then kill -9 "$srv_pid" 2>/dev/null; fi; rm -rf "$tmp"' EXIT

# The server stops by itself after 10 minutes at the latest.
"$server" $family --duration 600 >"$tmp/server" 2>&1 &
srv_pid=$!
i=0
until grep -q '^listening on' "$tmp/server"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$srv_pid" 2>/dev/null; then
		echo "udp-demo: the server did not start" >&2; cat "$tmp/server" >&2; exit 1
	fi
	sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/server")

timeout 300 "$client" $family -p "$port" -n "$peers" -c "$count" >"$tmp/client" 2>&1
client_rc=$?
kill -TERM "$srv_pid"
i=0
while kill -0 "$srv_pid" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
wait "$srv_pid"
srv_rc=$?
srv_pid=

get() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | tail -n 1; }

where=$(sed -n 's/^listening on //p' "$tmp/server")
echo "exitleft UDP demo: one unconnected socket on $where, a thread per peer"
printf '  peers              %s\n' "$(get "$tmp/client" peers)"
printf '  datagrams          %s round trips (%s sent)\n' "$(get "$tmp/client" datagrams)" \
	"$(get "$tmp/client" sent)"
printf '  loss               %s lost, %s wrong or out of order\n' "$(get "$tmp/client" lost)" \
	"$(get "$tmp/client" mismatches)"
printf '  RTT                p50 %s us, p99 %s us\n' "$(get "$tmp/client" p50_us)" \
	"$(get "$tmp/client" p99_us)"
printf '  throughput         %s datagrams/s (%s s)\n' "$(get "$tmp/client" dgrams_per_s)" \
	"$(get "$tmp/client" seconds)"
printf '  wakes per datagram %s (%s to a mailbox, %s to headship, for %s datagrams)\n' \
	"$(get "$tmp/server" wakes_per_dgram)" "$(get "$tmp/server" wakes_token)" \
	"$(get "$tmp/server" wakes_head)" "$(get "$tmp/server" received)"
if [ $client_rc -ne 0 ] || [ $srv_rc -ne 0 ]; then
	echo "udp-demo: FAILED (client exit $client_rc, server exit $srv_rc)" >&2
	cat "$tmp/client" "$tmp/server" >&2
	exit 1
fi
