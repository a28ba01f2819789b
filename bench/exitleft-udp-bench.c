/*
 * exitleft-udp-bench - one UDP echo workload through five ways of sharing a socket
 *
 *   stage            the library: peer threads take turns heading the stage, the head
 *                    reading in batches of up to UDP_BATCH_MAX (examples/udp-server-core.c)
 *   broadcast        the same leader/followers turns, with one mutex and one condvar that
 *                    the reader broadcasts on for every datagram it files: every waiter
 *                    wakes (udp-broadcast.c)
 *   dispatcher       a thread that only reads, handing datagrams to per-peer queues
 *                    (udp-dispatcher.c)
 *   dispatcher-mmsg  the dispatcher reading in batches as the stage's head does, so that
 *                    batching is not counted as the stage's alone (udp-dispatcher.c)
 *   connected        one connected socket per peer on the server's port: the kernel sorts
 *                    datagrams, one wake each; the floor (udp-connected.c)
 *
 * Each case runs its server in a child process (so that wait4() gives its CPU time and
 * context switches alone) against the ping-pong load of udp-load.c in the parent: P peers,
 * one datagram in flight each, for a fixed time. Every figure is the median of --runs runs;
 * the runs of the five servers interleave, so drift on a shared machine hits all alike.
 * Besides time, CPU and context switches, each server counts its receive system calls
 * (timeouts included), reported per datagram. With --csv, stdout holds exactly the CSV and
 * stderr the readable table (with wakes).
 *
 * This file is the harness: the options, the child processes, the runs and the output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "stats.h"
#include "udp-bserver.h"
#include "udp-common.h"
#include "udp-load.h"
#include "udp-server-core.h"

#define MAX_RUNS 15

/* The servers compared, in the order of the output's rows. */
static const enum impl udp_impls[] = { IMPL_STAGE, IMPL_BROADCAST, IMPL_DISPATCHER,
				       IMPL_DISPATCHER_MMSG, IMPL_CONNECTED };
#define NUDP_IMPL (int)(sizeof(udp_impls) / sizeof(udp_impls[0]))

/* What a child server reports back through a pipe. */
struct child_report {
	uint64_t received, wakes, misrouted, recv_calls;
};

/* The child: serve fd with `impl` until SIGTERM, report, exit. */
static void child_main(enum impl impl, int fd, int report_fd)
{
	atomic_bool *stop = udp_stop_on_signals();
	struct child_report rep = { 0 };
	struct bserver s;

	if (impl == IMPL_STAGE) {
		struct udp_server_config cfg = {
			.fd = fd, .max_peers = 4096, .idle_ms = 600000, .poll_ms = BSERVER_POLL_MS,
		};
		struct udp_server_stats st;

		if (udp_server_run(&cfg, stop, &st))
			_exit(3);
		rep.received = st.received;
		rep.wakes = st.wakes_token + st.wakes_head;
		rep.recv_calls = st.recv_calls;
	} else {
		if (bserver_init(&s, fd, stop))
			_exit(3);
		if (impl == IMPL_BROADCAST)
			bserver_run_broadcast(&s);
		else if (impl == IMPL_DISPATCHER || impl == IMPL_DISPATCHER_MMSG)
			bserver_run_dispatcher(&s, impl == IMPL_DISPATCHER_MMSG);
		else
			bserver_run_connected(&s);
		rep.received = s.received;
		rep.wakes = s.wakes;
		rep.misrouted = s.misrouted;
		rep.recv_calls = s.recv_calls;
		bserver_fini(&s);
	}
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(4);
	_exit(0);
}

/* One run's figures. */
struct sample {
	double datagrams, lost, p50_us, p99_us, rate, cpu_us, csw, wakes, misrouted, recv_calls;
};

struct options {
	unsigned runs, ms;
	bool csv, ipv6;
	unsigned peers[8];
	unsigned npeers;
};

/* Runs one case once; returns 0, or -1 if something broke (printed). */
static int run_once(const struct options *o, enum impl impl, unsigned peers, struct sample *out)
{
	struct load_config lc = {
		.peers = peers, .window = 1, .threads = 1, .max_ms = o->ms,
		.reply_timeout_ms = 2000, .warmup = true,
	};
	struct udp_addr any;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct child_report rep = { 0 };
	struct load_result r;
	struct rusage ru;
	int fd, pipefd[2], status = 0, rc;
	pid_t pid;

	udp_addr_parse(o->ipv6 ? "::1" : "127.0.0.1", 0, &any);
	fd = udp_socket_bind(&any, true);
	if (fd < 0 || pipe(pipefd) < 0) {
		fprintf(stderr, "exitleft-udp-bench: socket: %s\n", strerror(errno));
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	udp_addr_normalise(&ss, &lc.server);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		child_main(impl, fd, pipefd[1]);
	}
	close(fd);
	close(pipefd[1]);
	if (pid < 0)
		return -1;
	rc = load_run(&lc, &r);
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {		/* at most 10 s, then kill */
		if (wait4(pid, &status, WNOHANG, &ru) == pid)
			break;
		if (i == 99) {
			kill(pid, SIGKILL);
			wait4(pid, &status, 0, &ru);
		}
		struct timespec t = { .tv_sec = 0, .tv_nsec = 100000000L };

		nanosleep(&t, NULL);
	}
	if (read(pipefd[0], &rep, sizeof(rep)) != sizeof(rep))
		memset(&rep, 0, sizeof(rep));
	close(pipefd[0]);
	if (rc || !WIFEXITED(status) || WEXITSTATUS(status) || r.mismatches) {
		fprintf(stderr, "exitleft-udp-bench: %s x %u failed (load %d, status %d, "
			"mismatches %llu)\n", impl_name(impl), peers, rc, status,
			(unsigned long long)r.mismatches);
		return -1;
	}
	out->datagrams = (double)r.received;
	out->lost = (double)r.lost;
	out->p50_us = (double)r.p50_ns / 1e3;
	out->p99_us = (double)r.p99_ns / 1e3;
	out->rate = r.seconds > 0 ? (double)r.received / r.seconds : 0;
	/* Per datagram the server handled, its warm-up included: CPU and switches count it. */
	{
		double n = rep.received ? (double)rep.received : 1;
		double cpu = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
			     (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;

		out->cpu_us = cpu / n;
		out->csw = (double)(ru.ru_nvcsw + ru.ru_nivcsw) / n;
		out->wakes = (double)rep.wakes / n;
		out->misrouted = (double)rep.misrouted;
		out->recv_calls = (double)rep.recv_calls / n;
	}
	return 0;
}

/* Folds n runs of one case into one: the median of each figure. */
static struct sample sample_median(const struct sample *s, unsigned n)
{
	return (struct sample){
		.datagrams = STATS_MEDIAN_OF(s, n, datagrams),
		.lost = STATS_MEDIAN_OF(s, n, lost),
		.p50_us = STATS_MEDIAN_OF(s, n, p50_us),
		.p99_us = STATS_MEDIAN_OF(s, n, p99_us),
		.rate = STATS_MEDIAN_OF(s, n, rate),
		.cpu_us = STATS_MEDIAN_OF(s, n, cpu_us),
		.csw = STATS_MEDIAN_OF(s, n, csw),
		.wakes = STATS_MEDIAN_OF(s, n, wakes),
		.misrouted = STATS_MEDIAN_OF(s, n, misrouted),
		.recv_calls = STATS_MEDIAN_OF(s, n, recv_calls),
	};
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: exitleft-udp-bench [--csv] [--quick] [--runs N] [--ms MS]"
		" [--peers LIST] [-6]\n"
		"\n"
		"The UDP echo workload (P peers in ping-pong on loopback) through five servers:\n"
		"stage (this library), broadcast (one mutex + one broadcast condvar), dispatcher\n"
		"(a reading thread + per-peer queues), dispatcher-mmsg (the same, reading up to\n"
		"%d datagrams a recvmmsg(), as the stage's head does), connected (a connected\n"
		"socket per peer, the floor). Each case is the median of N runs of MS\n"
		"milliseconds; the server runs in a child process whose CPU time, context\n"
		"switches and receive system calls are counted per datagram.\n"
		"\n"
		"  --csv          CSV on stdout (bench,impl,peers,datagrams,lost,p50_us,p99_us,\n"
		"                 dgrams_per_s,cpu_us_per_dgram,csw_per_dgram,\n"
		"                 recv_calls_per_dgram); table on stderr\n"
		"  --quick        smoke test: peers 1 and 8, 3 runs of 150 ms\n"
		"  --runs N       runs per case (default 3, at most %d)\n"
		"  --ms MS        length of a run (default 1000)\n"
		"  --peers LIST   comma-separated peer counts (default 1,8,64,256)\n"
		"  -6, --ipv6     over ::1\n"
		"  -h, --help     this text\n", UDP_BATCH_MAX, MAX_RUNS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ "quick", no_argument, NULL, 'q' },
		{ "runs", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },
		{ "peers", required_argument, NULL, 'p' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .runs = 3, .ms = 1000, .peers = { 1, 8, 64, 256 }, .npeers = 4 };
	FILE *table;
	int c, n, failed = 0;

	while ((c = getopt_long(argc, argv, "6h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.csv = true; break;
		case 'q': o.ms = 150; o.peers[0] = 1; o.peers[1] = 8; o.npeers = 2; break;
		case 'r': o.runs = (unsigned)atoi(optarg); break;
		case 'm': o.ms = (unsigned)atoi(optarg); break;
		case 'p':
			n = parse_count_list(optarg, 4096, o.peers, 8);
			if (n < 0) {
				usage(stderr);
				return 2;
			}
			o.npeers = (unsigned)n;
			break;
		case '6': o.ipv6 = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || o.runs < 1 || o.runs > MAX_RUNS || o.ms < 10) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	table = o.csv ? stderr : stdout;
	if (o.csv)
		printf("bench,impl,peers,datagrams,lost,p50_us,p99_us,dgrams_per_s,"
		       "cpu_us_per_dgram,csw_per_dgram,recv_calls_per_dgram\n");
	fprintf(table, "%-15s %5s %9s %5s %9s %9s %10s %8s %8s %8s %8s\n", "impl", "peers",
		"datagrams", "lost", "p50_us", "p99_us", "dgrams/s", "cpu_us", "csw", "wakes",
		"recvs");
	for (unsigned k = 0; k < o.npeers; k++) {
		struct sample s[NUDP_IMPL][MAX_RUNS];
		bool broken[NUDP_IMPL] = { false };

		/* Runs interleave: run r of every server before run r + 1 of any. */
		for (unsigned r = 0; r < o.runs; r++)
			for (int i = 0; i < NUDP_IMPL; i++)
				if (!broken[i] && run_once(&o, udp_impls[i], o.peers[k], &s[i][r]))
					broken[i] = true;
		for (int i = 0; i < NUDP_IMPL; i++) {
			if (broken[i]) {
				failed = 1;
				continue;
			}
			struct sample m = sample_median(s[i], o.runs);
			const char *name = impl_name(udp_impls[i]);

			if (o.csv)
				printf("udp,%s,%u,%.0f,%.0f,%.1f,%.1f,%.0f,%.2f,%.3f,%.3f\n",
				       name, o.peers[k], m.datagrams, m.lost, m.p50_us, m.p99_us,
				       m.rate, m.cpu_us, m.csw, m.recv_calls);
			fprintf(table, "%-15s %5u %9.0f %5.0f %9.1f %9.1f %10.0f %8.2f %8.3f"
				" %8.3f %8.3f%s\n", name, o.peers[k], m.datagrams, m.lost,
				m.p50_us, m.p99_us, m.rate, m.cpu_us, m.csw, m.wakes, m.recv_calls,
				m.misrouted > 0 ? "  (misrouted!)" : "");
			fflush(NULL);
		}
	}
	return failed;
}
