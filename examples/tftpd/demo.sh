#!/bin/sh
# demo.sh BUILDDIR [PER_CLIENT] - the TFTP demo: exitleft-tftpd on loopback over a demo
# directory; curl, tftp-hpa and atftp each download and upload PER_CLIENT files (default 8)
# all at once; every file is checked by sha256; prints a summary: transfers, bytes,
# failures, the UDP ports the server used, throughput and time.
set -eu
build=$1
per=${2:-8}
tftpd=$build/examples/tftpd/exitleft-tftpd
for c in curl tftp atftp sha256sum ss; do
	command -v $c >/dev/null || {
		echo "demo: $c missing: apt-get install curl tftp-hpa atftp iproute2" >&2
		exit 1
	}
done
tmp=$(mktemp -d)
srv=
trap '[ -n "$srv" ] && kill -9 "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root" "$tmp/got"
i=0
while [ $i -lt "$per" ]; do
	# 64 KiB to 2 MiB, odd sizes so that the last block is short
	head -c $(( (65536 << (i % 6)) + 317 * i )) /dev/urandom >"$tmp/root/file$i.bin"
	i=$((i + 1))
done

"$tftpd" --root "$tmp/root" --listen 127.0.0.1:0 --create --max-transfers 256 \
	--per-client 256 >"$tmp/server.log" 2>&1 &
srv=$!
n=0
until grep -q 'listening on' "$tmp/server.log"; do
	n=$((n + 1))
	[ $n -gt 100 ] && { cat "$tmp/server.log"; exit 1; }
	sleep 0.1
done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\),.*/\1/p' "$tmp/server.log")
echo "exitleft-tftpd on 127.0.0.1:$port; $per downloads and $per uploads each by curl," \
	"tftp-hpa and atftp, all at once"

start=$(date +%s.%N)
pids=
i=0
while [ $i -lt "$per" ]; do
	f=file$i.bin
	curl -sS --max-time 120 -o "$tmp/got/$f.curl" "tftp://127.0.0.1:$port/$f" &
	pids="$pids $!"
	curl -sS --max-time 120 -T "$tmp/root/$f" "tftp://127.0.0.1:$port/up-curl-$f" &
	pids="$pids $!"
	printf 'binary\nrexmt 1\nget %s %s\nput %s up-hpa-%s\nquit\n' "$f" "$tmp/got/$f.hpa" \
		"$tmp/root/$f" "$f" | tftp 127.0.0.1 "$port" >/dev/null 2>&1 &
	pids="$pids $!"
	atftp --option "blksize 1428" -g -r "$f" -l "$tmp/got/$f.atftp" 127.0.0.1 "$port" \
		>/dev/null 2>&1 &
	pids="$pids $!"
	atftp -p -l "$tmp/root/$f" -r "up-atftp-$f" 127.0.0.1 "$port" >/dev/null 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
# The server's UDP sockets while the transfers run (ss -p names the owning process).
sockets=$(ss -uanp | grep -c "pid=$srv,")
for p in $pids; do wait "$p" || true; done
end=$(date +%s.%N)

ok=0 bad=0 bytes=0
i=0
while [ $i -lt "$per" ]; do
	f=file$i.bin
	want=$(sha256sum <"$tmp/root/$f" | cut -d' ' -f1)
	size=$(stat -c %s "$tmp/root/$f")
	for got in "$tmp/got/$f.curl" "$tmp/got/$f.hpa" "$tmp/got/$f.atftp" \
		"$tmp/root/up-curl-$f" "$tmp/root/up-hpa-$f" "$tmp/root/up-atftp-$f"; do
		if [ -f "$got" ] && [ "$(sha256sum <"$got" | cut -d' ' -f1)" = "$want" ]; then
			ok=$((ok + 1))
			bytes=$((bytes + size))
		else
			bad=$((bad + 1))
			echo "checksum mismatch or missing: $(basename "$got")"
		fi
	done
	i=$((i + 1))
done
kill -TERM "$srv"
wait "$srv" || true
srv=
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
echo "---- exitleft-tftpd's own summary"
sed -n '/summary after/,$p' "$tmp/server.log"
echo "---- demo summary"
printf 'transfers:    %d (%d downloads, %d uploads), every file checked by sha256\n' \
	$((ok + bad)) $((3 * per)) $((3 * per))
printf 'bytes:        %d\n' "$bytes"
printf 'failures:     %d\n' "$bad"
printf 'server ports: %d UDP socket(s) while serving, all on port %s\n' "$sockets" "$port"
awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "throughput:   %.1f MB/s\n", b / s / 1e6 }'
printf 'time:         %s s\n' "$secs"
[ "$bad" -eq 0 ] && [ "$sockets" -eq 1 ]
