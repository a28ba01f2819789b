/*
 * common.c - the implementations' names and die(), for every bench program
 */
#define _GNU_SOURCE	/* program_invocation_short_name */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char *const impl_names[NIMPL] = {
	[IMPL_STAGE] = "stage",
	[IMPL_STAGE_FD] = "stage-fd",
	[IMPL_STAGE_FD_EPOLL] = "stage-fd-epoll",
	[IMPL_FLOOR] = "floor",
	[IMPL_BROADCAST] = "broadcast",
	[IMPL_MUTEX] = "mutex",
	[IMPL_DISPATCHER] = "dispatcher",
	[IMPL_CONNECTED] = "connected",
	[IMPL_DISPATCHER_MMSG] = "dispatcher-mmsg",
	[IMPL_PER_THREAD] = "per-thread",
};

const char *impl_name(enum impl impl)
{
	return (unsigned)impl < NIMPL ? impl_names[impl] : "?";
}

int impl_parse(const char *name)
{
	for (int i = 0; i < NIMPL; i++)
		if (!strcmp(name, impl_names[i]))
			return i;
	return -1;
}

int parse_count_list(const char *s, unsigned max, unsigned *out, unsigned cap)
{
	unsigned n = 0;

	for (;;) {
		unsigned long v;
		char *end;

		if (*s < '0' || *s > '9' || n == cap)
			return -1;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || v == 0 || v > max || (*end && *end != ','))
			return -1;
		out[n++] = (unsigned)v;
		if (!*end)
			return (int)n;
		s = end + 1;
	}
}

_Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}
