/*
 * exitleft-udp-client - load generator and checker for exitleft-udp-server
 *
 * Prints one line of key=value counters; exits 1 if any answer was lost, wrong, out of order,
 * or (without --allow-restarts) showed that the server restarted a peer's thread.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udp-common.h"
#include "udp-load.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: exitleft-udp-client -p PORT [options]\n"
		"\n"
		"N peers, each its own UDP socket, send datagrams to exitleft-udp-server and check\n"
		"every answer: none lost, right order, right content, the server's per-peer\n"
		"counter going up by one.\n"
		"\n"
		"  -a, --address ADDR       server address (default 127.0.0.1)\n"
		"  -6, --ipv6               server at ::1\n"
		"  -p, --port PORT          server port (required)\n"
		"  -n, --peers N            peers (default 32)\n"
		"  -c, --count M            round trips per peer (default 10000)\n"
		"  -w, --window W           datagrams outstanding per peer (default 1: ping-pong)\n"
		"  -t, --threads T          client threads (default 1)\n"
		"  -T, --max-ms MS          stop sending after MS milliseconds (default: never)\n"
		"      --slow-peers K       the first K peers ask the server to sleep per answer\n"
		"      --slow-ms MS         how long (default 20)\n"
		"      --slow-count M       round trips of a slow peer (default: --count)\n"
		"      --pause-ms MS        each peer goes silent MS halfway through\n"
		"      --stagger-ms MS      peer i starts i*MS after peer 0 (join and leave)\n"
		"      --strays K           K extra sockets each send one datagram and must get\n"
		"                           no answer (run against a server at --max-peers N)\n"
		"      --allow-restarts     a restarted server counter is fine (with --pause-ms)\n"
		"      --reply-timeout-ms MS  an answer later than this is lost (default 2000)\n"
		"      --pad BYTES          extra payload per datagram (default 0)\n"
		"      --no-warmup          measure the first round trip of each peer too\n"
		"  -h, --help               this text\n");
}

enum {
	OPT_SLOW_PEERS = 256, OPT_SLOW_MS, OPT_SLOW_COUNT, OPT_PAUSE, OPT_STAGGER, OPT_STRAYS,
	OPT_RESTARTS, OPT_TIMEOUT, OPT_PAD, OPT_NO_WARMUP,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "port", required_argument, NULL, 'p' },
		{ "peers", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'c' },
		{ "window", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-ms", required_argument, NULL, 'T' },
		{ "slow-peers", required_argument, NULL, OPT_SLOW_PEERS },
		{ "slow-ms", required_argument, NULL, OPT_SLOW_MS },
		{ "slow-count", required_argument, NULL, OPT_SLOW_COUNT },
		{ "pause-ms", required_argument, NULL, OPT_PAUSE },
		{ "stagger-ms", required_argument, NULL, OPT_STAGGER },
		{ "strays", required_argument, NULL, OPT_STRAYS },
		{ "allow-restarts", no_argument, NULL, OPT_RESTARTS },
		{ "reply-timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "pad", required_argument, NULL, OPT_PAD },
		{ "no-warmup", no_argument, NULL, OPT_NO_WARMUP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct load_config cfg = {
		.peers = 32, .count = 10000, .window = 1, .threads = 1, .slow_ms = 20,
		.reply_timeout_ms = 2000, .warmup = true,
	};
	const char *host = "127.0.0.1";
	unsigned port = 0, *dst;
	bool allow_restarts = false, ok;
	struct load_result r;
	double rate;
	int c, rc;

	while ((c = getopt_long(argc, argv, "a:6p:n:c:w:t:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': host = optarg; continue;
		case '6': host = "::1"; continue;
		case 'h': usage(stdout); return 0;
		case OPT_RESTARTS: allow_restarts = true; continue;
		case OPT_NO_WARMUP: cfg.warmup = false; continue;
		case 'p': dst = &port; break;
		case 'n': dst = &cfg.peers; break;
		case 'c': dst = &cfg.count; break;
		case 'w': dst = &cfg.window; break;
		case 't': dst = &cfg.threads; break;
		case 'T': dst = &cfg.max_ms; break;
		case OPT_SLOW_PEERS: dst = &cfg.slow_peers; break;
		case OPT_SLOW_MS: dst = &cfg.slow_ms; break;
		case OPT_SLOW_COUNT: dst = &cfg.slow_count; break;
		case OPT_PAUSE: dst = &cfg.pause_ms; break;
		case OPT_STAGGER: dst = &cfg.stagger_ms; break;
		case OPT_STRAYS: dst = &cfg.strays; break;
		case OPT_TIMEOUT: dst = &cfg.reply_timeout_ms; break;
		case OPT_PAD: dst = &cfg.pad; break;
		default: usage(stderr); return 2;
		}
		if (udp_parse_uint(optarg, 100000000u, dst)) {
			fprintf(stderr, "exitleft-udp-client: bad number: %s\n", optarg);
			return 2;
		}
	}
	if (optind != argc || !port || port > 65535 || !cfg.peers || !cfg.window ||
	    (!cfg.count && !cfg.max_ms) || cfg.slow_ms > UDP_SLEEP_MAX_MS ||
	    cfg.pad > UDP_DGRAM_MAX - 64) {
		usage(stderr);
		return 2;
	}
	if (udp_addr_parse(host, port, &cfg.server)) {
		fprintf(stderr, "exitleft-udp-client: not a numeric address: %s\n", host);
		return 2;
	}
	rc = load_run(&cfg, &r);
	if (rc) {
		fprintf(stderr, "exitleft-udp-client: %s\n", strerror(-rc));
		return 1;
	}
	rate = r.seconds > 0 ? (double)r.received / r.seconds : 0;
	printf("client: peers=%u datagrams=%llu sent=%llu lost=%llu mismatches=%llu "
	       "restarts=%llu stray_answers=%llu seconds=%.3f dgrams_per_s=%.0f "
	       "p50_us=%.1f p99_us=%.1f max_us=%.1f slow_p50_us=%.1f "
	       "fast_done_ms=%.1f slow_done_ms=%.1f\n",
	       cfg.peers, (unsigned long long)r.received, (unsigned long long)r.sent,
	       (unsigned long long)r.lost, (unsigned long long)r.mismatches,
	       (unsigned long long)r.restarts, (unsigned long long)r.stray_answers, r.seconds,
	       rate, (double)r.p50_ns / 1e3, (double)r.p99_ns / 1e3, (double)r.max_ns / 1e3,
	       (double)r.slow_p50_ns / 1e3, (double)r.fast_done_ns / 1e6,
	       (double)r.slow_done_ns / 1e6);
	ok = !r.lost && !r.mismatches && !r.stray_answers && r.received == r.sent &&
	     (allow_restarts || !r.restarts);
	if (!cfg.max_ms) {
		uint64_t want = (uint64_t)(cfg.peers - (cfg.slow_peers < cfg.peers ?
			cfg.slow_peers : cfg.peers)) * cfg.count;

		want += (uint64_t)(cfg.slow_peers < cfg.peers ? cfg.slow_peers : cfg.peers) *
			(cfg.slow_count ? cfg.slow_count : cfg.count);
		ok = ok && r.received == want;
	}
	if (!ok)
		fprintf(stderr, "exitleft-udp-client: FAILED: lost, wrong or missing answers\n");
	return ok ? 0 : 1;
}
