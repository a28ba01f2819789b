#!/bin/sh
# tftp-test.sh SCENARIO TFTPD PEERS_DIR - exitleft-tftpd against real TFTP clients
#
#   interop-tftp-hpa, interop-atftp, interop-curl  downloads and uploads of 0, 511, 512, 513
#                   bytes, 1 MiB and a file one block past the 65 535-block rollover, with
#                   the options the client can negotiate (blksize, tsize, windowsize)
#   session-tftp-hpa  one tftp-hpa session, one socket: put, get, put, get, each request
#                   sent as soon as the transfer before it is done
#   concurrent-64   64 downloads at once, by the three clients, through one socket
#   ipv6            the three clients over ::1
#   loss-5, loss-20 every client's downloads and uploads with 5 % or 20 % of the datagrams
#                   dropped, in a network namespace of the test's own (unshare -n, nftables)
#   firewall        clients that may hear UDP only from the server's listening port:
#                   exitleft-tftpd serves them, tftpd-hpa (PEERS_DIR, fetch-peers.sh) fails
#
# Every file is checked byte for byte (sha256). Waits are for states (the server's banner,
# a bound port, a client's exit), bounded; retransmissions are bounded on both sides.
# Exits 0, 1 with the logs on failure, 77 (skip) with a reason when the clients, the
# namespace or the peer servers are not available.
set -u
scenario=$1
tftpd=$(realpath "$2")
peers=$3
here=$(cd "$(dirname "$0")" && pwd)

if [ "${TFTP_TEST_IN_NETNS:-}" = "" ]; then
	case $scenario in loss-* | firewall)
		command -v nft >/dev/null || { echo "SKIP: nft missing (apt-get install nftables)"; exit 77; }
		unshare -n true 2>/dev/null || { echo "SKIP: cannot unshare -n (not root?)"; exit 77; }
		# The peer servers are fetched out here: the namespace has no network.
		if [ "$scenario" = firewall ]; then
			"$(dirname "$0")/../fetch-peers.sh" "$3" >/dev/null 2>"$3.fetch.log" || {
				echo "SKIP: no tftpd-hpa: $(cat "$3.fetch.log")"; exit 77; }
		fi
		# A namespace of our own: its loopback, its firewall, every port free.
		TFTP_TEST_IN_NETNS=1 exec unshare -n sh "$0" "$@"
		;;
	esac
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"	# tftpd-hpa and atftpd read their root as nobody
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

skip() { echo "SKIP ($scenario): $*"; exit 77; }
fail() {
	echo "FAIL ($scenario): $*" >&2
	for f in "$tmp"/*.log; do
		[ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}
for c in tftp atftp curl sha256sum; do
	command -v $c >/dev/null || skip "$c missing (apt-get install tftp-hpa atftp curl)"
done

mkdir -p "$tmp/root" "$tmp/out"
chmod 755 "$tmp/root"
# make_file NAME BYTES
make_file() {
	head -c "$2" /dev/urandom >"$tmp/root/$1"
	chmod 644 "$tmp/root/$1"
}

# start_tftpd HOST [options...]: sets port and srv_pid once the banner is out.
start_tftpd() {
	host=$1
	shift
	case $host in *:*) listen="[$host]:0" ;; *) listen="$host:0" ;; esac
	"$tftpd" --root "$tmp/root" --listen "$listen" "$@" >"$tmp/server.log" 2>&1 &
	srv_pid=$!
	pids="$pids $srv_pid"
	i=0
	while ! grep -q 'listening on' "$tmp/server.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "server did not start within 20 s"
		kill -0 "$srv_pid" 2>/dev/null || fail "server died at start"
		sleep 0.1
	done
	port=$(sed -n 's/.*listening on .*:\([0-9]*\), root.*/\1/p' "$tmp/server.log")
}

# stop_tftpd: SIGTERM, then the summary within 10 s.
stop_tftpd() {
	kill -TERM "$srv_pid"
	i=0
	while kill -0 "$srv_pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "server still running 10 s after SIGTERM"
		sleep 0.1
	done
	wait "$srv_pid" || fail "server exited with an error"
	grep -q 'summary after' "$tmp/server.log" || fail "no summary"
	sed -n '/summary after/,$p' "$tmp/server.log"
}

# Clients: get|put CLIENT HOST PORT REMOTE LOCAL [client options...]. Each bounds its
# own retransmissions; their exit codes say little (tftp-hpa's is always 0): the
# checksums decide.
client() {
	dir=$1 cl=$2 host=$3 p=$4 remote=$5 local=$6
	shift 6
	log=$tmp/client-$cl-$(basename "$local").log
	case $cl in
	tftp-hpa)
		v6=
		case $host in *:*) v6=-6 ;; esac
		mode=binary
		[ "${1:-}" = ascii ] && mode=ascii
		printf '%s\nrexmt 1\ntimeout 30\n%s %s %s\nquit\n' "$mode" "$dir" \
			"$([ "$dir" = get ] && echo "$remote" || echo "$local")" \
			"$([ "$dir" = get ] && echo "$local" || echo "$remote")" |
			timeout 120 tftp $v6 "$host" "$p" >"$log" 2>&1
		;;
	atftp)
		flag=-g
		[ "$dir" = put ] && flag=-p
		timeout 120 atftp --tftp-timeout 1 "$@" $flag -r "$remote" -l "$local" \
			"$host" "$p" >"$log" 2>&1
		;;
	curl)
		case $host in *:*) h="[$host]" ;; *) h=$host ;; esac
		if [ "$dir" = get ]; then
			timeout 120 curl -sS -g --max-time 110 "$@" -o "$local" \
				"tftp://$h:$p/$remote" >"$log" 2>&1
		else
			timeout 120 curl -sS -g --max-time 110 "$@" -T "$local" \
				"tftp://$h:$p/$remote" >"$log" 2>&1
		fi
		;;
	esac
}

# same A B WHAT: byte for byte, by sha256.
same() {
	[ -f "$2" ] || fail "$3: no file $2"
	a=$(sha256sum <"$1" | cut -d' ' -f1)
	b=$(sha256sum <"$2" | cut -d' ' -f1)
	[ "$a" = "$b" ] || fail "$3: sha256 differs ($(stat -c %s "$1") vs $(stat -c %s "$2") bytes)"
}

# roundtrip CLIENT HOST NAME [client options...]: download NAME, upload it back as a new
# file, check both.
roundtrip() {
	cl=$1 host=$2 name=$3
	shift 3
	client get "$cl" "$host" "$port" "$name" "$tmp/out/$name.$cl" "$@"
	same "$tmp/root/$name" "$tmp/out/$name.$cl" "$cl get $name $*"
	client put "$cl" "$host" "$port" "up-$cl-$name" "$tmp/out/$name.$cl" "$@"
	same "$tmp/root/$name" "$tmp/root/up-$cl-$name" "$cl put $name $*"
	echo "ok: $cl $host $name ($(stat -c %s "$tmp/root/$name") bytes) down and up $*"
}

interop() {
	cl=$1
	# 65 536 blocks of 512 and a short one: the block number rolls over to 0 and goes on.
	for f in 0:0 511:511 512:512 513:513 1m:1048576 rollover:33554532; do
		make_file "f${f%%:*}" "${f#*:}"
	done
	start_tftpd 127.0.0.1 --create --max-upload 40000000
	for f in f0 f511 f512 f513 f1m frollover; do
		roundtrip "$cl" 127.0.0.1 "$f"
	done
	case $cl in
	atftp)
		rm -f "$tmp/root/up-atftp-f1m"
		roundtrip atftp 127.0.0.1 f1m --option "blksize 1428" --option "tsize 0" \
			--option "windowsize 8"
		rm -f "$tmp/root/up-atftp-f513"
		roundtrip atftp 127.0.0.1 f513 --option "blksize 1428" --option "tsize 0"
		grep -q 'windowsize = 8' "$tmp/client-atftp-f1m.atftp.log" ||
			fail "atftp did not log the windowsize granted"
		;;
	curl)
		rm -f "$tmp/root/up-curl-f1m"
		roundtrip curl 127.0.0.1 f1m --tftp-blksize 1428
		;;
	tftp-hpa)
		# netascii: the client turns LF into CR LF on the wire and back.
		printf 'one\ntwo\n\nthree\n' >"$tmp/root/text.txt"
		roundtrip tftp-hpa 127.0.0.1 text.txt ascii
		;;
	esac
	stop_tftpd
	grep -q ' 0 failed' "$tmp/server.log" || fail "server counted failures"
}

# tftp-hpa's interactive client keeps one socket for its session, so each request comes from
# the port of the transfer before it, and after a put while the server still dallies (ready
# to acknowledge a repeated last block). The server's timeout, and so its dally, is 60 s; the
# client gives up on a request after 10 s (rexmt 1, timeout 10): a request the server kept
# for the end of its dally, or swallowed, fails its transfer.
session() {
	make_file f513 513
	make_file f1m 1048576
	cp "$tmp/root/f1m" "$tmp/out/up1"
	cp "$tmp/root/f513" "$tmp/out/up2"
	start_tftpd 127.0.0.1 --create --timeout 60
	printf 'binary\nrexmt 1\ntimeout 10\nput %s up1\nget f513 %s\nput %s up2\nget f1m %s\nquit\n' \
		"$tmp/out/up1" "$tmp/out/f513" "$tmp/out/up2" "$tmp/out/f1m" |
		timeout 120 tftp 127.0.0.1 "$port" >"$tmp/client-session.log" 2>&1
	same "$tmp/out/up1" "$tmp/root/up1" "session put up1"
	same "$tmp/root/f513" "$tmp/out/f513" "session get f513 after a put"
	same "$tmp/out/up2" "$tmp/root/up2" "session put up2 after a get"
	same "$tmp/root/f1m" "$tmp/out/f1m" "session get f1m after a put"
	echo "ok: one tftp-hpa session: put, get, put, get"
	stop_tftpd
	grep -q '4 started (2 reads, 2 writes), 4 done, 0 failed' "$tmp/server.log" ||
		fail "not 4 transfers done"
}

concurrent() {
	make_file f1m 1048576
	start_tftpd 127.0.0.1 --max-transfers 64 --per-client 64
	cpids=
	i=0
	for cl in tftp-hpa atftp curl; do
		n=0
		while [ $n -lt 22 ] && [ $i -lt 64 ]; do
			client get $cl 127.0.0.1 "$port" f1m "$tmp/out/f1m.$cl.$n" &
			cpids="$cpids $!"
			n=$((n + 1))
			i=$((i + 1))
		done
	done
	sockets=$(find /proc/"$srv_pid"/fd -lname 'socket:*' 2>/dev/null | wc -l)
	for p in $cpids; do wait "$p"; done
	n=0
	for f in "$tmp"/out/f1m.*; do
		same "$tmp/root/f1m" "$f" "concurrent $(basename "$f")"
		n=$((n + 1))
	done
	[ $n -eq 64 ] || fail "$n files instead of 64"
	echo "ok: 64 concurrent downloads (22 tftp-hpa, 22 atftp, 20 curl); server sockets: $sockets"
	[ "$sockets" -eq 1 ] || fail "the server had $sockets sockets"
	stop_tftpd
	grep -q '64 started.* 64 done, 0 failed' "$tmp/server.log" || fail "not 64 done"
}

ipv6() {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6"
	make_file f513 513
	make_file f1m 1048576
	start_tftpd ::1 --create
	for cl in tftp-hpa atftp curl; do
		roundtrip $cl ::1 f513
		rm -f "$tmp/root/up-$cl-f513"
		roundtrip $cl ::1 f1m
	done
	stop_tftpd
}

# nft_loss PERCENT: drop that share of every UDP datagram, both ways (on loopback every
# datagram passes the input hook once; a drop there is silent, where one at the output hook
# would fail the sender's sendto() with EPERM).
nft_loss() {
	ip link set lo up
	nft add table inet loss
	nft add chain inet loss in '{ type filter hook input priority 0; }'
	nft add rule inet loss in meta l4proto udp numgen random mod 100 '<' "$1" drop
	nft list ruleset >"$tmp/nft.log"
}

loss() {
	pct=$1
	nft_loss "$pct"
	make_file f64k 65536
	make_file f16k 16384
	# Short server timeout, many retries: every transfer completes, and soon.
	start_tftpd 127.0.0.1 --create --timeout 0.1 --retries 12 --per-client 64
	cpids=
	# tftp-hpa answers a repeated DATA with its ACK again, so the server's first
	# retransmission repairs a lost ACK. atftp ignores it and waits for its own timer
	# (1 s, restarted by every datagram; the server's backoff gives it that silence).
	# curl 7.88 answers a repeated DATA, but takes in a datagram only when its 5 s timer
	# fires once anything was lost (measured: 33 blocks of 512 at 20 % took 86 to over
	# 110 s, about 0.55 stalls of 5 s per block). So each lost datagram costs them
	# seconds, and they get fewer blocks: curl blksize 1428, smaller files at 20 %. atftp 0.8.0 cannot upload
	# through a lost DATA at all: on its timeout it sends the next block instead of the
	# lost one; and it aborts on a second OACK, which a lost ACK 0 draws from any server
	# (doc/tftpd.md has both): it downloads only, without options. curl 7.88 cannot upload
	# through loss either: once in about three runs at 20 % a 16 KiB upload arrived with
	# every block number in sequence but one 1428-byte block's data missing (the server
	# takes a DATA only if it is the next block), so it downloads only too.
	small=f64k
	[ "$pct" -ge 20 ] && small=f16k
	# A job is KIND:CLIENT:FILE[:CLIENT_OPTIONS], an underscore for each space.
	jobs="roundtrip:tftp-hpa:$small get:curl:f16k:--tftp-blksize_1428 get:atftp:$small"
	for job in $jobs; do
		(
			IFS=:
			set -- $job
			IFS=' '
			kind=$1 cl=$2 f=$3
			shift 3
			opts=$(echo "${1:-}" | tr _ ' ')
			# shellcheck disable=SC2086 # $opts: the option words
			if [ "$kind" = roundtrip ]; then
				roundtrip "$cl" 127.0.0.1 "$f" $opts
			else
				client get "$cl" 127.0.0.1 "$port" "$f" "$tmp/out/$f.$cl" $opts &&
					same "$tmp/root/$f" "$tmp/out/$f.$cl" "$cl get $f" &&
					echo "ok: $cl 127.0.0.1 $f down"
			fi
		) &
		cpids="$cpids $!"
	done
	status=0
	for p in $cpids; do wait "$p" || status=1; done
	[ $status -eq 0 ] || fail "a transfer failed at $pct % loss"
	echo "ok: 4 transfers byte-exact with $pct % of the datagrams dropped"
	stop_tftpd
	nft list table inet loss | grep -q 'numgen random mod 100 < '"$pct" || fail "rule gone"
}

# wait_udp_port PORT: until something is bound to it.
wait_udp_port() {
	hex=$(printf ':%04X ' "$1")
	i=0
	while ! grep -q "$hex" /proc/net/udp /proc/net/udp6 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "nothing bound to UDP port $1 within 20 s"
		sleep 0.1
	done
}

# fetch_three PORT TAG: each client downloads f64k, bounded to a few seconds.
fetch_three() {
	P=$1 T=$2
	for cl in tftp-hpa atftp curl; do
		rm -f "$tmp/out/f64k.$T.$cl"
		case $cl in
		tftp-hpa)
			printf 'binary\nrexmt 1\ntimeout 3\nget f64k %s\nquit\n' \
				"$tmp/out/f64k.$T.$cl" | timeout 20 tftp 127.0.0.1 "$P" \
				>"$tmp/fw-$T-$cl.log" 2>&1 ;;
		atftp)
			timeout 10 atftp --tftp-timeout 1 -g -r f64k -l "$tmp/out/f64k.$T.$cl" \
				127.0.0.1 "$P" >"$tmp/fw-$T-$cl.log" 2>&1 ;;
		curl)
			timeout 20 curl -sS --max-time 5 -o "$tmp/out/f64k.$T.$cl" \
				"tftp://127.0.0.1:$P/f64k" >"$tmp/fw-$T-$cl.log" 2>&1 ;;
		esac
		if [ -f "$tmp/out/f64k.$T.$cl" ] && cmp -s "$tmp/root/f64k" "$tmp/out/f64k.$T.$cl"
		then
			echo "$T $cl ok"
		else
			echo "$T $cl FAILED"
		fi
	done
}

firewall() {
	ip link set lo up
	# tftpd-hpa resolves its address with AI_ADDRCONFIG, which finds no IPv4 on a host
	# with loopback only: a veth pair with an address gives the namespace one.
	ip link add tftp0 type veth peer name tftp1 || skip "no veth"
	ip addr add 10.99.0.1/24 dev tftp0
	ip link set tftp0 up
	hpa=$("$here/../fetch-peers.sh" "$peers" | head -1)
	make_file f64k 65536
	start_tftpd 127.0.0.1
	hpa_port=6970	# the namespace is ours: every port is free
	"$hpa" --listen --foreground -4 --address "127.0.0.1:$hpa_port" --secure "$tmp/root" \
		>"$tmp/tftpd-hpa.log" 2>&1 &
	pids="$pids $!"
	wait_udp_port $hpa_port
	fetch_three "$port" stage >"$tmp/open-stage.log"
	fetch_three "$hpa_port" tftpd-hpa >"$tmp/open-hpa.log"
	echo "without the rule:"
	cat "$tmp/open-stage.log" "$tmp/open-hpa.log"
	grep -q FAILED "$tmp/open-stage.log" "$tmp/open-hpa.log" && fail "a control run failed"
	# The client may hear UDP only from a server's listening port (a stateless rule, as
	# on a firewall that opens a port for requests and their answers only).
	nft add table inet fw
	nft add chain inet fw in '{ type filter hook input priority 0; }'
	nft add rule inet fw in udp sport != "{ $port, $hpa_port }" \
		udp dport != "{ $port, $hpa_port }" drop
	echo "with: nft add rule inet fw in udp sport != { $port, $hpa_port }" \
		"udp dport != { $port, $hpa_port } drop"
	fetch_three "$port" stage >"$tmp/fw-stage.log"
	fetch_three "$hpa_port" tftpd-hpa >"$tmp/fw-hpa.log"
	cat "$tmp/fw-stage.log" "$tmp/fw-hpa.log"
	grep -q FAILED "$tmp/fw-stage.log" && fail "exitleft-tftpd failed behind the firewall"
	[ "$(grep -c FAILED "$tmp/fw-hpa.log")" -eq 3 ] ||
		fail "tftpd-hpa was expected to fail for every client behind the firewall"
	stop_tftpd
}

case $scenario in
interop-tftp-hpa) interop tftp-hpa ;;
interop-atftp) interop atftp ;;
interop-curl) interop curl ;;
session-tftp-hpa) session ;;
concurrent-64) concurrent ;;
ipv6) ipv6 ;;
loss-5) loss 5 ;;
loss-20) loss 20 ;;
firewall) firewall ;;
*) fail "unknown scenario" ;;
esac
echo "PASS ($scenario)"
