#!/bin/sh
# check-header.sh CC CXX INCLUDEDIR GENINCLUDEDIR LIBDIR HEADER_C HEADER_CXX - the public
# header compiles alone: HEADER_C as C99 and as C11, HEADER_CXX as C++11 (skipped when CXX is
# empty), each with -pedantic -Wall -Wextra -Werror and no feature-test macro (so none of the
# project's build flags), then linked with the library and run.
set -eu
cc=$1 cxx=$2 incdir=$3 genincdir=$4 libdir=$5 src_c=$6 src_cxx=$7
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-pedantic -Wall -Wextra -Werror -I$incdir -I$genincdir"
link="-L$libdir -Wl,-rpath,$libdir -lexitleft"

check() {	# check NAME COMPILER STD SOURCE
	# shellcheck disable=SC2086
	if ! $2 -std="$3" $flags "$4" $link -o "$tmp/$1" 2>"$tmp/$1.err"; then
		cat "$tmp/$1.err"
		echo "header: FAILED as $3"
		exit 1
	fi
	"$tmp/$1" || { echo "header: the $3 program failed"; exit 1; }
	echo "header: compiles alone and runs as $3"
}
check c99 "$cc" c99 "$src_c"
check c11 "$cc" c11 "$src_c"
if [ -n "$cxx" ]; then
	check cxx11 "$cxx" c++11 "$src_cxx"
else
	echo "header: no C++ compiler: C++11 not checked"
fi
