/*
 * exitleft-tftpd - a TFTP server (RFC 1350, 2347, 2348, 2349, 7440) on one UDP socket
 *
 * Prints "exitleft-tftpd: listening on ADDR" once bound, and a summary of its counters when
 * it stops (SIGINT, SIGTERM or --duration). See tftpd-server.c for how the transfers share
 * the socket, tftp-files.c for what they may touch.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitleft.h"
#include "tftpd-args.h"
#include "tftpd-server.h"
#include "udp-common.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: exitleft-tftpd --root DIR [options]\n"
		"\n"
		"A TFTP server: every transfer is served from the one listening socket by a thread of\n"
		"its own, waiting on an exitleft stage for its client's datagrams.\n"
		"\n"
		"  -r, --root DIR          serve the files beneath DIR (required)\n"
		"  -l, --listen ADDR:PORT  numeric IPv4 address or [IPv6] and port to bind\n"
		"                          (default 0.0.0.0:69; port 0 picks a free one)\n"
		"  -c, --create            accept uploads (WRQ) of new files\n"
		"      --overwrite         with --create, let uploads replace existing files\n"
		"  -m, --max-transfers N   live transfers in all (default 256)\n"
		"  -p, --per-client N      live transfers from one IP address (default 16)\n"
		"  -R, --retries N         retransmissions in a row before giving up (default 5)\n"
		"  -t, --timeout SECONDS   retransmission timeout, 0.01 to 255, unless the client\n"
		"                          negotiates one (default 1)\n"
		"  -B, --blksize-max N     largest block size granted, 8 to 65464 (default 1468)\n"
		"  -W, --windowsize-max N  largest window granted, 1 to 64 (default 16)\n"
		"  -U, --max-upload BYTES  largest upload accepted (default 67108864)\n"
		"  -d, --duration SECONDS  stop by itself after this long (default: on a signal)\n"
		"  -v, --verbose           a line on stderr for every transfer\n"
		"  -V, --version           print the versions and exit\n"
		"  -h, --help              this text\n");
}

static void print_summary(const struct tftpd_stats *s, const char *where, double secs)
{
#define U(x) ((unsigned long long)(x))
	printf("exitleft-tftpd: summary after %.1f s on %s\n", secs, where);
	printf("  transfers: %llu started (%llu reads, %llu writes), %llu done, %llu failed\n",
	       U(s->started), U(s->rrq), U(s->wrq), U(s->done), U(s->failed));
	printf("  failures: %llu refused, %llu timed out, %llu client errors, %llu file errors, "
	       "%llu aborted\n", U(s->failed_refused), U(s->failed_timeout), U(s->failed_peer),
	       U(s->failed_io), U(s->aborted));
	printf("  requests refused without a thread: %llu busy, %llu malformed\n", U(s->busy),
	       U(s->bad_requests));
	printf("  datagrams: %llu received, %llu delivered, %llu kept by the head, "
	       "%llu stray (ERROR 5), %llu ignored, %llu dropped (mailbox full)\n",
	       U(s->datagrams), U(s->delivered), U(s->kept), U(s->stray), U(s->ignored),
	       U(s->mailbox_full));
	printf("  bytes: %llu sent, %llu received; %llu retransmitted, %llu duplicates, "
	       "%llu send errors\n", U(s->bytes_sent), U(s->bytes_received),
	       U(s->retransmits), U(s->duplicates), U(s->send_errors));
	printf("  ports used: 1; most transfers at once: %llu\n", U(s->transfers_max));
#undef U
}

struct options {
	const char *root;
	struct udp_addr listen;
	struct tftpd_config cfg;
	struct tftp_root files;
	unsigned long long upload_max;
};

/* Parses the command line into *o; returns -1 to exit 0 (help), 2 on a usage error, 0. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "create", no_argument, NULL, 'c' },
		{ "overwrite", no_argument, NULL, 'O' },
		{ "max-transfers", required_argument, NULL, 'm' },
		{ "per-client", required_argument, NULL, 'p' },
		{ "retries", required_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, 't' },
		{ "blksize-max", required_argument, NULL, 'B' },
		{ "windowsize-max", required_argument, NULL, 'W' },
		{ "max-upload", required_argument, NULL, 'U' },
		{ "duration", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct xfer_config *x = &o->cfg.xfer;
	uint64_t duration_ms = 0, timeout_ms;
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, "r:l:cm:p:R:t:B:W:U:d:vVh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': o->root = optarg; continue;
		case 'l': rc = tftpd_parse_listen(optarg, &o->listen); break;
		case 'c': o->files.create = true; continue;
		case 'O': o->files.overwrite = true; continue;
		case 'm': rc = udp_parse_uint(optarg, 65536, &o->cfg.max_transfers); break;
		case 'p': rc = udp_parse_uint(optarg, 65536, &o->cfg.per_client); break;
		case 'R': rc = udp_parse_uint(optarg, 100, &x->retries); break;
		case 't':
			rc = tftpd_parse_seconds_ms(optarg, TFTP_TIMEOUT_MAX_S, &timeout_ms);
			if (!rc && (timeout_ms < 10 || timeout_ms > 255000))
				rc = -1;
			if (!rc)
				x->timeout_ms = (unsigned)timeout_ms;
			break;
		case 'B':
			rc = udp_parse_uint(optarg, TFTP_BLKSIZE_MAX, &x->blksize_max);
			if (!rc && x->blksize_max < TFTP_BLKSIZE_MIN)
				rc = -1;
			break;
		case 'W':
			rc = udp_parse_uint(optarg, 64, &x->windowsize_max);
			if (!rc && x->windowsize_max < 1)
				rc = -1;
			break;
		case 'U':
			o->upload_max = strtoull(optarg, &end, 10);
			rc = (*optarg < '0' || *optarg > '9' || *end) ? -1 : 0;
			break;
		case 'd': rc = tftpd_parse_seconds_ms(optarg, 86400 * 365, &duration_ms); break;
		case 'v': o->cfg.verbose = true; continue;
		case 'V':
			printf("exitleft-tftpd %s (libexitleft %s)\n", TFTPD_VERSION,
			       exitleft_version());
			return -1;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
		if (rc) {
			const struct option *bad = opts;

			while (bad->val != c)
				bad++;
			fprintf(stderr, "exitleft-tftpd: bad value for --%s: %s\n", bad->name,
				optarg);
			return 2;
		}
	}
	if (optind != argc || !o->root || !o->cfg.max_transfers || !o->cfg.per_client) {
		usage(stderr);
		return 2;
	}
	x->upload_max = o->upload_max;
	o->cfg.duration_ms = duration_ms;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {
		.cfg = {
			.xfer = { .blksize_max = 1468, .windowsize_max = 16, .timeout_ms = 1000,
				  .retries = 5 },
			.max_transfers = 256, .per_client = 16, .poll_ms = 100,
		},
		.upload_max = 64ull << 20,
	};
	struct tftpd_stats stats;
	atomic_bool *stop;
	struct udp_addr bound;
	struct sockaddr_storage ss;
	socklen_t blen = sizeof(ss);
	uint64_t t0;
	char name[80];
	int rc;

	udp_addr_parse("0.0.0.0", 69, &o.listen);
	rc = parse_options(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	/* A thread per transfer would give glibc an arena per thread, and the server the
	 * memory of each: two arenas hold everything a transfer allocates. */
	mallopt(M_ARENA_MAX, 2);
	rc = tftp_root_open(o.root, &o.files);
	if (rc < 0) {
		fprintf(stderr, "exitleft-tftpd: %s: %s\n", o.root, strerror(-rc));
		return 1;
	}
	o.cfg.root = &o.files;
	o.cfg.mailbox = o.cfg.xfer.windowsize_max + 16;
	o.cfg.fd = udp_socket_bind(&o.listen, false);
	if (o.cfg.fd < 0) {
		fprintf(stderr, "exitleft-tftpd: bind: %s\n", strerror(-o.cfg.fd));
		return 1;
	}
	getsockname(o.cfg.fd, (struct sockaddr *)&ss, &blen);
	udp_addr_normalise(&ss, &bound);
	udp_addr_format(&bound, name, sizeof(name));

	stop = udp_stop_on_signals();	/* a script may signal once it reads the line below */
	printf("exitleft-tftpd: listening on %s, root %s, %s\n", name, o.root,
	       !o.files.create ? "read-only" : o.files.overwrite ? "uploads may overwrite" :
								    "uploads of new files");
	fflush(stdout);
	t0 = udp_now_ns();
	rc = tftpd_run(&o.cfg, stop, &stats);
	close(o.cfg.fd);
	close(o.files.fd);
	if (rc) {
		fprintf(stderr, "exitleft-tftpd: %s\n", exitleft_strerror(rc));
		return 1;
	}
	print_summary(&stats, name, (double)(udp_now_ns() - t0) / 1e9);
	return 0;
}
