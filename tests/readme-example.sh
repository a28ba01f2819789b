#!/bin/sh
# readme-example.sh README INCLUDEDIR LIBDIR CC GENINCLUDEDIR - the README's usage example
# compiles without warnings and runs: the C block that follows the line "<!-- example -->".
# GENINCLUDEDIR holds the headers the build generates (exitleft-version.h).
set -eu
readme=$1 incdir=$2 libdir=$3 cc=$4 genincdir=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/<!-- example -->/ { on = 1; next }
     on && /^```c/ { body = 1; next }
     body && /^```/ { exit }
     body { print }' "$readme" >"$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "no example block in $readme"; exit 1; }
$cc -std=c11 -Wall -Wextra -Werror -pthread -I"$incdir" -I"$genincdir" "$tmp/example.c" \
	-L"$libdir" -Wl,-rpath,"$libdir" -lexitleft -o "$tmp/example"
"$tmp/example"
