#!/bin/sh
# install-consumer.sh BUILDDIR CC DLOPEN_CONSUMER_C - `meson install` into a scratch
# directory, then, against what was installed:
#   - build a program out of tree with `pkg-config --cflags --libs exitleft` and run it;
#   - build DLOPEN_CONSUMER_C, which knows the library only through dlopen and dlsym, without
#     the header or -lexitleft, and run it: it must find libexitleft.so.1 by its SONAME.
set -eu
build=$1 cc=$2 dlopen_src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" || {
	cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/root" -name exitleft.pc)
[ -n "$pc" ] || { echo "exitleft.pc was not installed"; exit 1; }
find "$tmp/root" -name exitleft.h | grep -q . || { echo "exitleft.h was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
# With a sysroot, pkg-config prefixes the paths it prints with it.
libdir=$(pkg-config --variable=libdir exitleft)
[ -e "$libdir/libexitleft.so.1" ] || { echo "libexitleft.so.1 not in $libdir"; exit 1; }
cat >"$tmp/consumer.c" <<'C'
#include <exitleft.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	exitleft_stage *s;
	exitleft_ticket *t;

	if (exitleft_stage_new(&s) || exitleft_ticket_new(s, "me", 2, &t))
		return 1;
	if (exitleft_notify(s, "me", 2) != 1 || exitleft_enter(t, NULL) != EXITLEFT_TOKEN)
		return 2;
	if (exitleft_enter(t, NULL) != EXITLEFT_HEAD || exitleft_exit(t))
		return 3;
	if (exitleft_ticket_free(t) || exitleft_stage_free(s))
		return 4;
	printf("consumer linked against libexitleft %s\n", exitleft_version());
	char headers[32];
	snprintf(headers, sizeof(headers), "%d.%d.%d", EXITLEFT_VERSION_MAJOR,
		 EXITLEFT_VERSION_MINOR, EXITLEFT_VERSION_MICRO);
	return strcmp(exitleft_version(), headers) != 0;
}
C
# shellcheck disable=SC2046
$cc -Wall -Wextra -Werror "$tmp/consumer.c" -o "$tmp/consumer" \
	$(pkg-config --cflags --libs exitleft)
LD_LIBRARY_PATH="$libdir" "$tmp/consumer"

$cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror "$dlopen_src" \
	-o "$tmp/dlopen-consumer" -ldl
LD_LIBRARY_PATH="$libdir" "$tmp/dlopen-consumer"
