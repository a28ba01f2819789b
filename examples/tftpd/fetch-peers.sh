#!/bin/sh
# fetch-peers.sh DIR - the peer servers the tests and the bench compare with: tftpd-hpa's
# in.tftpd and atftpd, taken out of their Debian packages into DIR (apt-get download and
# dpkg-deb -x), because the two packages conflict (each would replace the other's
# in.tftpd) and installing either starts a system daemon on port 69. Nothing is installed.
# Prints the two binaries' paths; exits 1 if they cannot be had (no apt, offline).
set -eu
dir=$1
hpa=$dir/root/usr/sbin/in.tftpd
atftpd=$dir/root/usr/sbin/atftpd
if [ ! -x "$hpa" ] || [ ! -x "$atftpd" ]; then
	mkdir -p "$dir/debs"
	(cd "$dir/debs" && apt-get download tftpd-hpa atftpd) >"$dir/download.log" 2>&1 || {
		echo "fetch-peers: apt-get download tftpd-hpa atftpd failed:" >&2
		tail -3 "$dir/download.log" >&2
		exit 1
	}
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir/root"
	done
fi
for bin in "$hpa" "$atftpd"; do
	if ldd "$bin" | grep -q 'not found'; then
		echo "fetch-peers: $bin misses libraries:" >&2
		ldd "$bin" | grep 'not found' >&2
		exit 1
	fi
done
echo "$hpa"
echo "$atftpd"
