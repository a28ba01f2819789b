/*
 * exitleft-udp-server - a UDP echo server: one unconnected socket, a thread per peer
 *
 * Prints "listening on ADDR" once bound, and its counters when it stops (SIGINT, SIGTERM or
 * --duration). See udp-server-core.c for how the threads share the socket.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitleft.h"
#include "udp-common.h"
#include "udp-server-core.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: exitleft-udp-server [options]\n"
		"\n"
		"A UDP echo server on one unconnected socket, each peer served by its own thread\n"
		"waiting on an exitleft stage for its own datagrams. Each datagram is answered with\n"
		"\"<n> <datagram>\", n counting that peer's datagrams from 1; a datagram starting\n"
		"\"sleep:<ms>:\" is answered after that long (a slow peer).\n"
		"\n"
		"  -a, --address ADDR   numeric IPv4 or IPv6 address to bind (default 127.0.0.1)\n"
		"  -6, --ipv6           bind ::1 instead of 127.0.0.1\n"
		"  -p, --port PORT      port to bind (default 0: any free port, printed)\n"
		"  -m, --max-peers N    peer threads alive at once; past it datagrams from new\n"
		"                       peers are counted and dropped (default 1024)\n"
		"  -M, --mailbox N      datagrams waiting for one peer's thread at most; past it\n"
		"                       that peer's datagrams are counted (dropped_full) and\n"
		"                       dropped (default %u, at least 1)\n"
		"  -i, --idle-ms MS     retire a peer silent this long (default 5000)\n"
		"  -P, --poll-ms MS     the head's receive timeout, how often headship rotates\n"
		"                       on a quiet socket (default 20)\n"
		"  -d, --duration S     stop by itself after S seconds (default 0: on a signal)\n"
		"  -h, --help           this text\n"
		"\n"
		"On a signal or at the end of --duration it stops within about a second, however\n"
		"much is queued: what peers have not answered yet is dropped (dropped_shutdown).\n"
		"On exit it prints one line of counters: key=value pairs; besides the counters,\n"
		"shutdown_ms (from noticing the stop to every thread joined) and rss_max_kb (the\n"
		"process's peak resident memory).\n", UDP_SERVER_MAILBOX_DEFAULT);
}

static void print_stats(const struct udp_server_stats *s)
{
	uint64_t wakes = s->wakes_token + s->wakes_head;
	struct rusage ru;

	printf("server: received=%llu answered=%llu delivered=%llu kept=%llu "
	       "dropped_limit=%llu dropped_other=%llu peers_started=%llu peers_retired=%llu "
	       "peers_max=%llu wakes=%llu wakes_token=%llu wakes_head=%llu "
	       "wakes_per_dgram=%.3f head_timeouts=%llu retire_races=%llu send_errors=%llu "
	       "dropped_full=%llu dropped_shutdown=%llu recv_calls=%llu shutdown_ms=%.1f "
	       "rss_max_kb=%ld\n",
	       (unsigned long long)s->received, (unsigned long long)s->answered,
	       (unsigned long long)s->delivered, (unsigned long long)s->kept,
	       (unsigned long long)s->dropped_limit, (unsigned long long)s->dropped_other,
	       (unsigned long long)s->peers_started, (unsigned long long)s->peers_retired,
	       (unsigned long long)s->peers_max, (unsigned long long)wakes,
	       (unsigned long long)s->wakes_token, (unsigned long long)s->wakes_head,
	       s->received ? (double)wakes / (double)s->received : 0.0,
	       (unsigned long long)s->head_timeouts, (unsigned long long)s->retire_races,
	       (unsigned long long)s->send_errors, (unsigned long long)s->dropped_full,
	       (unsigned long long)s->dropped_shutdown, (unsigned long long)s->recv_calls,
	       (double)s->shutdown_ns / 1e6,
	       getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1L);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "port", required_argument, NULL, 'p' },
		{ "max-peers", required_argument, NULL, 'm' },
		{ "mailbox", required_argument, NULL, 'M' },
		{ "idle-ms", required_argument, NULL, 'i' },
		{ "poll-ms", required_argument, NULL, 'P' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct udp_server_config cfg = { .max_peers = 1024, .mailbox = UDP_SERVER_MAILBOX_DEFAULT,
					 .idle_ms = 5000, .poll_ms = 20 };
	const char *host = "127.0.0.1";
	unsigned port = 0, duration = 0;
	struct udp_server_stats stats;
	atomic_bool *stop;
	struct udp_addr addr, bound;
	struct sockaddr_storage ss;
	socklen_t blen = sizeof(ss);
	char name[80];
	int c, rc;

	while ((c = getopt_long(argc, argv, "a:6p:m:M:i:P:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': host = optarg; break;
		case '6': host = "::1"; break;
		case 'p': rc = udp_parse_uint(optarg, 65535, &port); goto check;
		case 'm': rc = udp_parse_uint(optarg, 1u << 20, &cfg.max_peers); goto check;
		case 'M': rc = udp_parse_uint(optarg, 1u << 24, &cfg.mailbox); goto check;
		case 'i': rc = udp_parse_uint(optarg, 86400000u, &cfg.idle_ms); goto check;
		case 'P': rc = udp_parse_uint(optarg, 60000u, &cfg.poll_ms); goto check;
		case 'd': rc = udp_parse_uint(optarg, 86400u, &duration); goto check;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		continue;
check:
		if (rc) {
			fprintf(stderr, "exitleft-udp-server: bad value for -%c: %s\n", c, optarg);
			return 2;
		}
	}
	if (optind != argc || cfg.max_peers == 0 || cfg.mailbox == 0 || cfg.poll_ms == 0) {
		usage(stderr);
		return 2;
	}
	if (udp_addr_parse(host, port, &addr)) {
		fprintf(stderr, "exitleft-udp-server: not a numeric address: %s\n", host);
		return 2;
	}
	cfg.duration_ms = duration * 1000u;
	cfg.fd = udp_socket_bind(&addr, false);
	if (cfg.fd < 0) {
		fprintf(stderr, "exitleft-udp-server: bind: %s\n", strerror(-cfg.fd));
		return 1;
	}
	getsockname(cfg.fd, (struct sockaddr *)&ss, &blen);
	udp_addr_normalise(&ss, &bound);
	udp_addr_format(&bound, name, sizeof(name));

	stop = udp_stop_on_signals();	/* a script may signal once it reads the line below */
	printf("listening on %s\n", name);
	fflush(stdout);
	rc = udp_server_run(&cfg, stop, &stats);
	close(cfg.fd);
	if (rc) {
		fprintf(stderr, "exitleft-udp-server: %s\n", exitleft_strerror(rc));
		return 1;
	}
	print_stats(&stats);
	return 0;
}
