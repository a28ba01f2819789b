/*
 * tftp-args.c - exitleft-tftpd's command-line values, by the values they compute
 *
 * --duration takes up to 365 days, which is more milliseconds than 32 bits hold: the
 * milliseconds are checked across that boundary, and so is the deadline udp_stop_init()
 * makes of them. No check waits: the deadline is compared with the clock read just before
 * and just after it was set.
 */
#include <inttypes.h>
#include <stdio.h>

#include "tftpd-args.h"
#include "udp-common.h"

#define YEAR_S (86400u * 365)

static int failed;

static void check(int cond, const char *what)
{
	printf("%s%s\n", cond ? "ok   " : "FAIL ", what);
	if (!cond)
		failed++;
}

/* s parses, with at most max_s whole seconds, into exactly want milliseconds. */
static void parses(const char *s, unsigned max_s, uint64_t want)
{
	uint64_t ms = 0;
	char what[128];
	int rc = tftpd_parse_seconds_ms(s, max_s, &ms);

	snprintf(what, sizeof(what), "\"%s\" -> %" PRIu64 " ms (got %s%" PRIu64 ")", s, want,
		 rc ? "refused, " : "", ms);
	check(rc == 0 && ms == want, what);
}

static void refused(const char *s, unsigned max_s)
{
	uint64_t ms = 0;
	char what[128];

	snprintf(what, sizeof(what), "\"%s\" refused", s);
	check(tftpd_parse_seconds_ms(s, max_s, &ms) == -1, what);
}

/* The stop udp_stop_init() makes of ms ends ms after it was made. */
static void stops_after(uint64_t ms)
{
	atomic_bool flag = false;
	struct udp_stop stop;
	uint64_t before, after;
	char what[128];

	before = udp_now_ns();
	udp_stop_init(&stop, &flag, ms);
	after = udp_now_ns();
	snprintf(what, sizeof(what), "a stop of %" PRIu64 " ms ends %" PRIu64 " ms later", ms,
		 ms);
	check(stop.end_ns >= before + ms * 1000000u && stop.end_ns <= after + ms * 1000000u,
	      what);
	check(!udp_stopping(&stop), "... and has not ended yet");
}

int main(void)
{
	/* --duration: past 2^32 ms (49.7 days), up to a year. */
	parses("4294968", YEAR_S, 4294968000u);
	parses("4294967.297", YEAR_S, 4294967297u);	/* 1 ms, in 32 bits */
	parses("31536000", YEAR_S, 31536000000u);
	parses("31536000.999", YEAR_S, 31536000999u);
	refused("31536001", YEAR_S);
	parses("4294967", YEAR_S, 4294967000u);
	parses("0.001", YEAR_S, 1);
	/* --timeout's forms. */
	parses("1", 255, 1000);
	parses("0.25", 255, 250);
	parses("0.01", 255, 10);
	parses("255.000", 255, 255000);
	refused("256", 255);
	refused("", 255);
	refused(".5", 255);
	refused("1.", 255);
	refused("1.2345", 255);
	refused("1.x", 255);
	refused("-1", 255);

	stops_after(4294968000u);
	stops_after(31536000000u);
	stops_after(86400000u);
	{
		atomic_bool flag = false;
		struct udp_stop stop;

		udp_stop_init(&stop, &flag, 0);
		check(stop.end_ns == 0 && !udp_stopping(&stop), "a duration of 0 never stops");
	}
	if (failed) {
		printf("%d checks failed\n", failed);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}
