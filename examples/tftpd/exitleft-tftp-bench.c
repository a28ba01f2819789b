/*
 * exitleft-tftp-bench - exitleft-tftpd against tftpd-hpa and atftpd, each started by the
 * bench on loopback, under C concurrent downloads by a load generator of its own (one
 * socket per transfer, as real clients do; tests/tftp-test.sh has the real clients pass the
 * same files).
 *
 * For every combination of server, clients, file size, block size and loss, it starts the
 * server over a fresh root, starts C threads at once, each downloading the file and checking
 * every byte, and reports: throughput, failed transfers, p50/p99 transfer time, the server's
 * CPU time per block and peak RSS, both summed over all its processes (the server and every
 * descendant, from /proc/PID/stat sampled every 20 ms: tftpd-hpa forks one per transfer,
 * and those still alive at the stop are killed, unseen by wait4()), and the distinct UDP
 * ports the server sent from (what a client's firewall must let in). Loss is simulated in the
 * clients: each drops a datagram it sends or receives with the given probability, so both
 * directions lose.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tftp-proto.h"
#include "udp-common.h"

#define MAX_PORTS 4096
#define CLIENT_TIMEOUT_MS 200	/* the load generator's own retransmission */
#define CLIENT_RETRIES 50

struct run {
	const char *impl;
	unsigned clients, blksize, loss_pct;
	size_t file_bytes;
	unsigned port;
	pthread_mutex_t lock;
	unsigned ports[MAX_PORTS];
	unsigned nports;
	pthread_barrier_t start;
	uint64_t *ms;		/* per transfer, 0 if failed */
	uint64_t end_ns;	/* when the last transfer had its last DATA */
	unsigned failed;
	uint64_t blocks;
};

struct client {
	struct run *run;
	unsigned idx;
	unsigned seed;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 31 + 7 + (i >> 9));
}

static void note_port(struct run *r, unsigned port)
{
	unsigned i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nports && r->ports[i] != port; i++)
		;
	if (i == r->nports && r->nports < MAX_PORTS)
		r->ports[r->nports++] = port;
	pthread_mutex_unlock(&r->lock);
}

static bool lose(struct client *c)
{
	return c->run->loss_pct && (unsigned)rand_r(&c->seed) % 100 < c->run->loss_pct;
}

static void send_lossy(struct client *c, int fd, const uint8_t *p, size_t n,
		       const struct sockaddr_storage *to, socklen_t tolen)
{
	if (!lose(c))
		(void)sendto(fd, p, n, 0, (const struct sockaddr *)to, tolen);
}

/* One download; returns its time in ms, 0 if it failed. */
static uint64_t download(struct client *c)
{
	struct run *r = c->run;
	struct udp_addr srv;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct tftp_request opts = { 0 };
	uint8_t out[600], in[TFTP_PACKET_MAX];
	size_t outlen, got = 0;
	uint64_t t0, t1 = 0, block = 0;
	unsigned tid = 0, misses = 0;
	int fd;
	bool ok = true;

	udp_addr_parse("127.0.0.1", r->port, &srv);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (r->blksize != TFTP_BLKSIZE_DEFAULT) {
		opts.opts = TFTP_OPT_BLKSIZE;
		opts.blksize = r->blksize;
	}
	outlen = tftp_build_request(out, sizeof(out), TFTP_RRQ, "f", "octet", &opts);
	peer = srv.ss;
	peerlen = srv.len;
	pthread_barrier_wait(&r->start);
	t0 = udp_now_ns();
	send_lossy(c, fd, out, outlen, &peer, peerlen);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		struct udp_addr fa;
		ssize_t n;
		unsigned op;

		if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) <= 0) {
			if (++misses > CLIENT_RETRIES) {
				ok = false;
				break;
			}
			send_lossy(c, fd, out, outlen, &peer, peerlen);
			continue;
		}
		n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0 || lose(c))
			continue;
		udp_addr_normalise(&from, &fa);
		if (tid && udp_addr_port(&fa) != tid)
			continue;
		op = tftp_opcode(in, (size_t)n);
		if (!tid) {
			tid = udp_addr_port(&fa);
			note_port(r, tid);
			peer = fa.ss;
			peerlen = fa.len;
		}
		misses = 0;
		if (op == TFTP_OACK && block == 0) {
			outlen = tftp_build_ack(out, sizeof(out), 0);
		} else if (op == TFTP_DATA && n >= 4) {
			size_t len = (size_t)n - 4, i;

			if (tftp_block(in) != (uint16_t)(block + 1)) {
				/* again: our ACK was lost; say it once more */
				send_lossy(c, fd, out, outlen, &peer, peerlen);
				continue;
			}
			for (i = 0; i < len && ok; i++)
				ok = got + i < r->file_bytes && in[4 + i] == pattern(got + i);
			got += len;
			block++;
			outlen = tftp_build_ack(out, sizeof(out), (uint16_t)block);
			if (!ok)
				break;
			if (len < r->blksize) {
				/* done: the wait below is the client's, not the transfer's */
				t1 = udp_now_ns();
				send_lossy(c, fd, out, outlen, &peer, peerlen);
				/* a lost last ACK leaves the server retransmitting: answer a few */
				for (i = 0; i < 3; i++) {
					pfd.revents = 0;
					if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) <= 0)
						break;
					if (recv(fd, in, sizeof(in), 0) > 0)
						send_lossy(c, fd, out, outlen, &peer, peerlen);
				}
				break;
			}
		} else if (op == TFTP_ERROR) {
			ok = false;
			break;
		} else {
			continue;
		}
		send_lossy(c, fd, out, outlen, &peer, peerlen);
	}
	close(fd);
	pthread_mutex_lock(&r->lock);
	r->blocks += block;
	if (t1 > r->end_ns)
		r->end_ns = t1;
	pthread_mutex_unlock(&r->lock);
	if (!ok || got != r->file_bytes || !t1)
		return 0;
	return (t1 - t0 + 999999u) / 1000000u;
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	c->run->ms[c->idx] = download(c);
	return NULL;
}

/*
 * The server's processes: the server, its descendants, and the bench's other children (the
 * bench is their subreaper, so a process whose parent died before it is reparented here and
 * stays counted). Sums their RSS (KiB) and their CPU (clock ticks: each one's own plus the
 * children it reaped, so a process reaped by another of the server's processes moves its
 * ticks to the reaper's and the sum neither loses nor counts them twice).
 */
#define TREE_MAX 8192
struct proc_entry {
	int pid, ppid;
	uint64_t ticks;
	long rss;
	signed char in;	/* 1 one of the server's, 0 not, -1 not known yet */
};

static int proc_cmp(const void *a, const void *b)
{
	const struct proc_entry *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static bool proc_in(struct proc_entry *p, unsigned n, unsigned i, unsigned depth)
{
	struct proc_entry key = { .pid = p[i].ppid }, *parent;

	if (p[i].in < 0) {
		parent = bsearch(&key, p, n, sizeof(*p), proc_cmp);
		p[i].in = parent && depth < 64 && proc_in(p, n, (unsigned)(parent - p), depth + 1);
	}
	return p[i].in > 0;
}

static void proc_tree(pid_t pid, uint64_t *rss_kib, uint64_t *ticks)
{
	static struct proc_entry p[TREE_MAX];
	DIR *d = opendir("/proc");
	struct dirent *e;
	long page_kib = sysconf(_SC_PAGESIZE) / 1024;
	int self = (int)getpid();
	unsigned n = 0, i;

	*rss_kib = *ticks = 0;
	while (d && n < TREE_MAX && (e = readdir(d))) {
		char path[64], buf[1024], *q;
		unsigned long long ut, st, cut, cst;
		long rss;
		int ppid, me = atoi(e->d_name);
		FILE *f;

		if (me <= 0 || me == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", me);
		f = fopen(path, "r");
		if (!f)
			continue;
		q = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!q || sscanf(q + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu "
				 "%llu %*d %*d %*d %*d %*u %*u %ld", &ppid, &ut, &st, &cut, &cst,
				 &rss) != 6)
			continue;
		p[n] = (struct proc_entry){ me, ppid, ut + st + cut + cst, rss,
					    me == pid || ppid == self ? 1 : -1 };
		n++;
	}
	if (d)
		closedir(d);
	qsort(p, n, sizeof(*p), proc_cmp);
	for (i = 0; i < n; i++) {
		if (!proc_in(p, n, i, 0))
			continue;
		*rss_kib += (uint64_t)p[i].rss * (uint64_t)page_kib;
		*ticks += p[i].ticks;
	}
}

struct sampler {
	pid_t pid;
	volatile bool stop;
	uint64_t rss_max, ticks;	/* peaks over the samples */
};

static void sample(struct sampler *s)
{
	uint64_t rss, ticks;

	proc_tree(s->pid, &rss, &ticks);
	if (rss > s->rss_max)
		s->rss_max = rss;
	if (ticks > s->ticks)
		s->ticks = ticks;
}

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;

	while (!s->stop) {
		struct timespec ts = { 0, 20000000 };

		sample(s);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/*
 * A cgroup (v2) of the server's own, when the bench may make one (root): its cpu.stat counts
 * every process that ever ran in it, those that ended unseen included. tftpd-hpa ignores
 * SIGCHLD, so its per-transfer children are reaped by the kernel and neither wait4() nor
 * the parent's /proc/PID/stat ever count them; the /proc samples only see them while alive.
 */
static bool cgroup_make(char *dir, size_t cap, unsigned port)
{
	static const char *const bases[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	char probe[256];
	size_t i;

	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		snprintf(probe, sizeof(probe), "%s/cgroup.controllers", bases[i]);
		if (access(probe, F_OK) != 0)
			continue;
		snprintf(dir, cap, "%s/exitleft-tftp-bench.%d.%u", bases[i], (int)getpid(), port);
		if (mkdir(dir, 0755) == 0)
			return true;
	}
	dir[0] = '\0';
	return false;
}

/* The CPU time (us) every process of the cgroup used, or -1. */
static int64_t cgroup_cpu_us(const char *dir)
{
	char path[320], line[128];
	long long us = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cpu.stat", dir);
	f = fopen(path, "r");
	while (f && us < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "usage_usec %lld", &us) != 1)
			us = -1;
	if (f)
		fclose(f);
	return us;
}

static void cgroup_remove(const char *dir)
{
	int i;

	for (i = 0; i < 50 && rmdir(dir) != 0 && errno == EBUSY; i++)
		usleep(20000);	/* the last of its processes still leaving */
}

static bool port_bound(unsigned port)
{
	char want[16], line[256];
	FILE *f = fopen("/proc/net/udp", "r");
	bool found = false;

	snprintf(want, sizeof(want), ":%04X ", port);
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	if (f)
		fclose(f);
	return found;
}

static pid_t start_server(const char *impl, const char *tftpd, const char *peers,
			  const char *root, unsigned port, unsigned clients, const char *cgroup)
{
	char addr[64], portstr[16], maxstr[16], hpa[512], atftpd[512];
	pid_t pid;
	int i;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(portstr, sizeof(portstr), "%u", port);
	snprintf(maxstr, sizeof(maxstr), "%u", clients + 16);
	snprintf(hpa, sizeof(hpa), "%s/root/usr/sbin/in.tftpd", peers);
	snprintf(atftpd, sizeof(atftpd), "%s/root/usr/sbin/atftpd", peers);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setpgid(0, 0);	/* its children (tftpd-hpa's) die with it */
		if (cgroup[0]) {
			char procs[320];
			int fd;

			snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
			fd = open(procs, O_WRONLY);
			if (fd < 0 || write(fd, "0", 1) != 1)
				_exit(126);
			close(fd);
		}
		dup2(null, 1);
		dup2(null, 2);
		if (strcmp(impl, "stage") == 0)
			execl(tftpd, tftpd, "--root", root, "--listen", addr, "--max-transfers",
			      maxstr, "--per-client", maxstr, (char *)NULL);
		else if (strcmp(impl, "tftpd-hpa") == 0)
			execl(hpa, hpa, "--listen", "--foreground", "-4", "--address", addr,
			      "--secure", root, (char *)NULL);
		else
			execl(atftpd, atftpd, "--daemon", "--no-fork", "--port", portstr,
			      "--bind-address", "127.0.0.1", "--maxthread", maxstr,
			      "--retry-timeout", "1", "--logfile", "/dev/null", root, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && !port_bound(port); i++)
		usleep(20000);
	if (i == 500) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/*
 * Stops the server and every process of its group, reaps them (the server, and those of its
 * processes that outlived their parent and came to the bench as subreaper); returns the CPU
 * time (us) wait4() saw for the server and every child it reaped.
 */
static uint64_t stop_server(pid_t pid)
{
	struct rusage ru;
	int i;

	kill(-pid, SIGTERM);
	for (i = 0; i < 250; i++) {
		if (wait4(pid, NULL, WNOHANG, &ru) == pid)
			goto done;
		usleep(20000);
	}
	kill(-pid, SIGKILL);
	wait4(pid, NULL, 0, &ru);
done:
	kill(-pid, SIGKILL);
	for (i = 0; i < 250; i++) {
		pid_t w = waitpid(-1, NULL, WNOHANG);

		if (w < 0)
			break;	/* no child left */
		if (w == 0)
			usleep(20000);
	}
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int run_one(struct run *r, const char *tftpd, const char *peers, bool csv)
{
	char root[] = "/tmp/exitleft-tftp-bench.XXXXXX", path[64], cgroup[256];
	struct client *cs = calloc(r->clients, sizeof(*cs));
	pthread_t *th = calloc(r->clients, sizeof(*th));
	struct sampler smp = { 0 };
	pthread_t sth;
	uint64_t t0, wall, ticks, cpu_us, *sorted;
	int64_t cg_us = -1;
	unsigned i, ok = 0;
	pid_t pid;
	FILE *f;

	r->ms = calloc(r->clients, sizeof(*r->ms));
	if (!cs || !th || !r->ms || !mkdtemp(root))
		return -1;
	chmod(root, 0755);	/* tftpd-hpa and atftpd read as nobody */
	snprintf(path, sizeof(path), "%s/f", root);
	f = fopen(path, "w");
	for (i = 0; f && i < r->file_bytes; i++)
		fputc(pattern(i), f);
	if (f)
		fclose(f);
	chmod(path, 0644);
	cgroup_make(cgroup, sizeof(cgroup), r->port);
	pid = start_server(r->impl, tftpd, peers, root, r->port, r->clients, cgroup);
	if (pid < 0) {
		fprintf(stderr, "exitleft-tftp-bench: %s did not start%s%s\n", r->impl,
			cgroup[0] ? " or could not join " : "", cgroup[0] ? cgroup : "");
		if (cgroup[0])
			cgroup_remove(cgroup);
		return -1;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_barrier_init(&r->start, NULL, r->clients + 1);
	smp.pid = pid;
	pthread_create(&sth, NULL, sampler_main, &smp);
	for (i = 0; i < r->clients; i++) {
		cs[i] = (struct client){ r, i, 12345u + i * 7919u };
		pthread_create(&th[i], NULL, client_main, &cs[i]);
	}
	pthread_barrier_wait(&r->start);
	t0 = udp_now_ns();
	for (i = 0; i < r->clients; i++)
		pthread_join(th[i], NULL);
	wall = (r->end_ns > t0 ? r->end_ns : udp_now_ns()) - t0;
	smp.stop = true;
	pthread_join(sth, NULL);
	sample(&smp);	/* the last, now that every transfer is done */
	if (cgroup[0])
		cg_us = cgroup_cpu_us(cgroup);
	cpu_us = stop_server(pid);
	if (cgroup[0])
		cgroup_remove(cgroup);
	/*
	 * Without a cgroup: the larger of wait4's count and the samples' (which have the
	 * processes killed at the stop); both miss children the kernel reaped.
	 */
	ticks = smp.ticks * 1000000u / (uint64_t)sysconf(_SC_CLK_TCK);
	if (ticks > cpu_us)
		cpu_us = ticks;
	if (cg_us >= 0)
		cpu_us = (uint64_t)cg_us;
	sorted = calloc(r->clients, sizeof(*sorted));
	for (i = 0; i < r->clients; i++) {
		if (r->ms[i])
			sorted[ok++] = r->ms[i];
	}
	udp_sort_u64(sorted, ok);
	r->failed = r->clients - ok;
	printf(csv ? "tftp,%s,%u,%zu,%u,%u,%u,%u,%.2f,%llu,%llu,%.1f,%llu,%u\n" :
		     "%-10s clients %-4u file %-8zu blksize %-5u loss %u%%: %u transfers, %u failed, "
		     "%.2f MB/s, p50 %llu ms, p99 %llu ms, %.1f us/block, rss %llu KiB, "
		     "%u ports\n", r->impl, r->clients, r->file_bytes, r->blksize, r->loss_pct,
	       r->clients, r->failed, (double)ok * (double)r->file_bytes / ((double)wall / 1e9) / 1e6,
	       (unsigned long long)udp_percentile(sorted, ok, 50),
	       (unsigned long long)udp_percentile(sorted, ok, 99),
	       r->blocks ? (double)cpu_us / (double)r->blocks : 0.0,
	       (unsigned long long)smp.rss_max, r->nports);
	fflush(stdout);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		fprintf(stderr, "exitleft-tftp-bench: could not remove %s\n", root);
	pthread_barrier_destroy(&r->start);
	pthread_mutex_destroy(&r->lock);
	free(sorted);
	free(r->ms);
	free(th);
	free(cs);
	return 0;
}

/* "1,16,64" into v (at most cap); returns the count. */
static unsigned parse_list(const char *s, unsigned *v, unsigned cap)
{
	unsigned n = 0;
	char *copy = strdup(s), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok && n < cap; tok = strtok_r(NULL, ",", &save))
		v[n++] = (unsigned)strtoul(tok, NULL, 10);
	free(copy);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csv", no_argument, NULL, 'c' }, { "quick", no_argument, NULL, 'q' },
		{ "tftpd", required_argument, NULL, 't' }, { "peers", required_argument, NULL, 'P' },
		{ "impl", required_argument, NULL, 'i' }, { "clients", required_argument, NULL, 'C' },
		{ "file-bytes", required_argument, NULL, 'f' },
		{ "blksize", required_argument, NULL, 'b' }, { "loss", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned clients[8] = { 1, 16, 64, 256 }, files[8] = { 1048576, 65536 };
	unsigned blks[8] = { 512, 1428 }, losses[8] = { 0, 5 };
	unsigned nc = 4, nf = 2, nb = 2, nl = 2, port = 16900, a, b, c, d, e;
	const char *impls[3] = { "stage", "tftpd-hpa", "atftpd" };
	const char *tftpd = NULL, *peers = NULL, *implarg = NULL;
	bool csv = false;
	int o;

	while ((o = getopt_long(argc, argv, "cqt:P:i:C:f:b:l:p:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': csv = true; break;
		case 'q':	/* the targets' cases: 64 and 256 clients, 64 KiB, both losses */
			nc = parse_list("64,256", clients, 8);
			nf = parse_list("65536", files, 8);
			nb = parse_list("512", blks, 8);
			break;
		case 't': tftpd = optarg; break;
		case 'P': peers = optarg; break;
		case 'i': implarg = optarg; break;
		case 'C': nc = parse_list(optarg, clients, 8); break;
		case 'f': nf = parse_list(optarg, files, 8); break;
		case 'b': nb = parse_list(optarg, blks, 8); break;
		case 'l': nl = parse_list(optarg, losses, 8); break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		default:
			fprintf(o == 'h' ? stdout : stderr,
				"usage: exitleft-tftp-bench --tftpd PATH --peers DIR [--csv] [--quick]\n"
				"       [--impl stage,tftpd-hpa,atftpd] [--clients 1,16,64,256]\n"
				"       [--file-bytes 1048576,65536] [--blksize 512,1428] [--loss 0,5]\n"
				"       [--port BASE]\n"
				"DIR holds tftpd-hpa and atftpd as fetch-peers.sh DIR leaves them.\n");
			return o == 'h' ? 0 : 2;
		}
	}
	if (!tftpd || !peers)
		return 2;
	/* a server's process whose parent dies comes here, still counted (proc_tree) */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (csv)
		printf("bench,impl,clients,file_bytes,blksize,loss_pct,transfers,failed,mb_per_s,"
		       "p50_ms,p99_ms,cpu_us_per_block,rss_kib,ports\n");
	for (a = 0; a < nl; a++)
		for (b = 0; b < nf; b++)
			for (c = 0; c < nb; c++)
				for (d = 0; d < nc; d++)
					for (e = 0; e < 3; e++) {
						struct run r = {
							.impl = impls[e], .clients = clients[d],
							.blksize = blks[c], .file_bytes = files[b],
							.loss_pct = losses[a], .port = port++,
						};

						if (implarg && !strstr(implarg, impls[e]))
							continue;
						if (run_one(&r, tftpd, peers, csv) < 0)
							return 1;
					}
	return 0;
}
