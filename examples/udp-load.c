/*
 * udp-load.c - the load generator: peers dealt among threads, each thread an epoll loop
 *
 * A peer sends "p<i>:<seq>" (with "sleep:<ms>:" in front for a slow peer, and padding), keeps
 * at most `window` unanswered, and expects each answer to be "<n> <what it sent>", in the
 * order it sent them, with n one more than the last. n == 1 after more is a restart: the
 * server retired the peer's thread and started a new one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp-load.h"

#define EPOLL_BATCH 64
#define TICK_MS 5	/* how often a thread looks at starts, pauses and lost answers */

enum peer_phase { PEER_WAITING, PEER_RUNNING, PEER_PAUSED, PEER_DONE };

/*
 * One client peer; owned by the one thread it was dealt to.
 * Invariant: next_recv <= next_send <= next_recv + window; sent_ns[s % window] is when
 * seq s went out, for next_recv <= s < next_send.
 */
struct cpeer {
	int fd;
	unsigned idx;
	unsigned count;			/* round trips to make */
	unsigned next_send, next_recv;
	uint64_t last_n;		/* the server's counter in the last answer */
	uint64_t *sent_ns;
	uint64_t start_ns, resume_ns, progress_ns;
	bool slow, paused_once;
	enum peer_phase phase;
};

struct load_thread;

/* What the threads share: the configuration, and a barrier after warm-up. Read-only. */
struct load_shared {
	const struct load_config *cfg;
	pthread_barrier_t ready;
	uint64_t start_ns;		/* written before the barrier by thread 0 */
};

/* One client thread and its peers; its result fields are read after the join. */
struct load_thread {
	struct load_shared *sh;
	pthread_t thread;
	struct cpeer *peers;
	unsigned npeers;
	int ep;
	uint64_t *rtt, *slow_rtt;
	size_t nrtt, caprtt, nslow, capslow;
	struct load_result res;
	int err;
};

static int push_sample(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4096;
		uint64_t *nv = realloc(*v, ncap * sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = x;
	return 0;
}

/* The payload of seq s of peer p into buf; returns its length. */
static size_t payload_make(const struct load_config *cfg, const struct cpeer *p, unsigned s,
			   char *buf, size_t cap)
{
	int n = p->slow ? snprintf(buf, cap, "sleep:%u:p%u:%u", cfg->slow_ms, p->idx, s)
			: snprintf(buf, cap, "p%u:%u", p->idx, s);
	size_t len = (size_t)n;

	for (unsigned i = 0; i < cfg->pad && len < cap; i++)
		buf[len++] = (char)('a' + (s + i) % 26);
	return len;
}

static int peer_send(struct load_thread *t, struct cpeer *p, uint64_t now)
{
	const struct load_config *cfg = t->sh->cfg;
	char buf[UDP_DGRAM_MAX];
	size_t len = payload_make(cfg, p, p->next_send, buf, sizeof(buf));

	if (sendto(p->fd, buf, len, 0, (const struct sockaddr *)&cfg->server.ss,
		   cfg->server.len) < 0)
		return -errno;
	p->sent_ns[p->next_send % cfg->window] = now;
	if (p->next_send == p->next_recv)
		p->progress_ns = now;
	p->next_send++;
	t->res.sent++;
	return 0;
}

/* Sends what the window allows, unless the peer pauses halfway or time is up. */
static void peer_top_up(struct load_thread *t, struct cpeer *p, uint64_t now, bool time_up)
{
	const struct load_config *cfg = t->sh->cfg;
	unsigned half = p->count / 2;

	if (p->phase != PEER_RUNNING)
		return;
	if (cfg->pause_ms && !p->paused_once && p->next_send == half) {
		if (p->next_recv < half)
			return;		/* drain the window first */
		p->paused_once = true;
		p->phase = PEER_PAUSED;
		p->resume_ns = now + (uint64_t)cfg->pause_ms * 1000000u;
		return;
	}
	while (!time_up && p->next_send < p->count && p->next_send - p->next_recv < cfg->window &&
	       !(cfg->pause_ms && !p->paused_once && p->next_send == half && half)) {
		if (peer_send(t, p, now) < 0) {
			t->res.mismatches++;	/* cannot send on loopback: count it as a failure */
			p->phase = PEER_DONE;
			return;
		}
	}
	if (p->next_recv == p->next_send && (p->next_send == p->count || time_up))
		p->phase = PEER_DONE;
}

/* Checks one answer of peer p; returns true if it is the one expected next. */
static bool answer_check(struct load_thread *t, struct cpeer *p, const char *buf, size_t len)
{
	char want[UDP_DGRAM_MAX];
	size_t wlen;
	uint64_t n = 0;
	size_t i = 0;

	if (p->next_recv == p->next_send)
		return false;		/* nothing outstanding: an answer out of nowhere */
	while (i < len && buf[i] >= '0' && buf[i] <= '9' && n < (UINT64_MAX / 10))
		n = n * 10 + (uint64_t)(buf[i++] - '0');
	if (i == 0 || i >= len || buf[i] != ' ')
		return false;
	i++;
	wlen = payload_make(t->sh->cfg, p, p->next_recv, want, sizeof(want));
	if (len - i != wlen || memcmp(buf + i, want, wlen) != 0)
		return false;
	if (n == 1 && p->last_n != 0)
		t->res.restarts++;
	else if (n != p->last_n + 1)
		return false;
	p->last_n = n;
	return true;
}

static void peer_receive(struct load_thread *t, struct cpeer *p, bool measure)
{
	const struct load_config *cfg = t->sh->cfg;
	char buf[UDP_DGRAM_MAX + 32];

	for (;;) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		uint64_t now;

		if (n < 0)
			return;
		now = udp_now_ns();
		if (!answer_check(t, p, buf, (size_t)n)) {
			t->res.mismatches++;
			continue;
		}
		if (measure) {
			uint64_t rtt = now - p->sent_ns[p->next_recv % cfg->window];

			if (p->slow)
				t->err |= push_sample(&t->slow_rtt, &t->nslow, &t->capslow, rtt);
			else
				t->err |= push_sample(&t->rtt, &t->nrtt, &t->caprtt, rtt);
			t->res.received++;
		}
		p->next_recv++;
		p->progress_ns = now;
		if (measure) {
			peer_top_up(t, p, now, cfg->max_ms &&
				    now - t->sh->start_ns >= (uint64_t)cfg->max_ms * 1000000u);
			if (p->phase == PEER_DONE) {
				uint64_t *done = p->slow ? &t->res.slow_done_ns : &t->res.fast_done_ns;

				if (now - t->sh->start_ns > *done)
					*done = now - t->sh->start_ns;
			}
		}
	}
}

/* One unmeasured round trip per peer, so that the server's threads exist when timing starts. */
static void thread_warmup(struct load_thread *t)
{
	const struct load_config *cfg = t->sh->cfg;
	uint64_t give_up = udp_now_ns() + (uint64_t)cfg->reply_timeout_ms * 1000000u;
	unsigned left = t->npeers;

	for (unsigned i = 0; i < t->npeers; i++)
		if (peer_send(t, &t->peers[i], udp_now_ns()) < 0)
			t->res.mismatches++;
	while (left && udp_now_ns() < give_up) {
		struct epoll_event ev[EPOLL_BATCH];
		int n = epoll_wait(t->ep, ev, EPOLL_BATCH, TICK_MS);

		for (int i = 0; i < n; i++) {
			struct cpeer *p = ev[i].data.ptr;
			bool was = p->next_recv == p->next_send;

			peer_receive(t, p, false);
			if (!was && p->next_recv == p->next_send)
				left--;
		}
	}
	t->res.lost += left;
	t->res.sent = 0;
	for (unsigned i = 0; i < t->npeers; i++)	/* the warm-up trip is extra */
		if (t->peers[i].count != UINT32_MAX)
			t->peers[i].count++;
}

/* Starts peers whose time has come, ends pauses, and gives up on answers that never came. */
static unsigned thread_tick(struct load_thread *t, uint64_t now)
{
	const struct load_config *cfg = t->sh->cfg;
	uint64_t patience = (uint64_t)cfg->reply_timeout_ms * 1000000u;
	bool time_up = cfg->max_ms && now - t->sh->start_ns >= (uint64_t)cfg->max_ms * 1000000u;
	unsigned live = 0;

	for (unsigned i = 0; i < t->npeers; i++) {
		struct cpeer *p = &t->peers[i];

		if (p->phase == PEER_WAITING && now >= p->start_ns) {
			p->phase = PEER_RUNNING;
			peer_top_up(t, p, now, time_up);
		} else if (p->phase == PEER_PAUSED && now >= p->resume_ns) {
			p->phase = PEER_RUNNING;
			peer_top_up(t, p, now, time_up);
		} else if (p->phase == PEER_RUNNING && p->next_send != p->next_recv &&
			   now - p->progress_ns > patience) {
			t->res.lost += p->next_send - p->next_recv;
			p->phase = PEER_DONE;
		} else if (p->phase == PEER_RUNNING && time_up) {
			peer_top_up(t, p, now, true);
		}
		live += p->phase != PEER_DONE;
	}
	return live;
}

static void *load_thread_main(void *arg)
{
	struct load_thread *t = arg;
	const struct load_config *cfg = t->sh->cfg;
	uint64_t next_tick = 0;
	unsigned live = t->npeers;

	if (cfg->warmup)
		thread_warmup(t);
	if (pthread_barrier_wait(&t->sh->ready) == PTHREAD_BARRIER_SERIAL_THREAD)
		t->sh->start_ns = udp_now_ns();
	pthread_barrier_wait(&t->sh->ready);	/* everyone sees start_ns */
	for (unsigned i = 0; i < t->npeers; i++) {
		struct cpeer *p = &t->peers[i];

		p->start_ns = t->sh->start_ns + (uint64_t)p->idx * cfg->stagger_ms * 1000000u;
	}
	while (live) {
		struct epoll_event ev[EPOLL_BATCH];
		uint64_t now = udp_now_ns();
		int n;

		if (now >= next_tick) {
			live = thread_tick(t, now);
			next_tick = now + TICK_MS * 1000000u;
			if (!live)
				break;
		}
		n = epoll_wait(t->ep, ev, EPOLL_BATCH, TICK_MS);
		for (int i = 0; i < n; i++)
			peer_receive(t, ev[i].data.ptr, true);
	}
	return NULL;
}

/* A socket bound to the loopback address of the server's family, any port. */
static int client_socket(const struct load_config *cfg)
{
	struct udp_addr local;

	if (udp_addr_parse(cfg->server.ss.ss_family == AF_INET6 ? "::1" : "127.0.0.1", 0,
			   &local))
		return -EINVAL;
	return udp_socket_bind(&local, false);
}

static int threads_setup(const struct load_config *cfg, struct load_thread *th,
			 struct cpeer *peers, struct load_shared *sh)
{
	for (unsigned i = 0; i < cfg->threads; i++) {
		th[i].sh = sh;
		th[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (th[i].ep < 0)
			return -errno;
	}
	for (unsigned i = 0; i < cfg->peers; i++) {
		/* Contiguous blocks: each thread's peers are one slice of the array. */
		struct load_thread *t = &th[(size_t)i * cfg->threads / cfg->peers];
		struct cpeer *p = &peers[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };

		p->idx = i;
		p->slow = i < cfg->slow_peers;
		p->count = p->slow && cfg->slow_count ? cfg->slow_count : cfg->count;
		if (!p->count)
			p->count = UINT32_MAX;
		p->fd = client_socket(cfg);
		p->sent_ns = calloc(cfg->window, sizeof(*p->sent_ns));
		if (p->fd < 0 || !p->sent_ns)
			return p->fd < 0 ? p->fd : -ENOMEM;
		if (epoll_ctl(t->ep, EPOLL_CTL_ADD, p->fd, &ev) < 0)
			return -errno;
		if (!t->peers)
			t->peers = p;
		t->npeers++;
	}
	return 0;
}

/* Sends one datagram from each of `n` new sockets; returns them for stray_check(). */
static int *strays_send(const struct load_config *cfg, unsigned n)
{
	int *fds = calloc(n ? n : 1, sizeof(*fds));

	for (unsigned i = 0; fds && i < n; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "stray:%u", i);

		fds[i] = client_socket(cfg);
		if (fds[i] >= 0)
			(void)sendto(fds[i], buf, (size_t)len, 0,
				     (const struct sockaddr *)&cfg->server.ss, cfg->server.len);
	}
	return fds;
}

static uint64_t strays_check(int *fds, unsigned n)
{
	uint64_t answers = 0;
	char buf[64];

	for (unsigned i = 0; fds && i < n; i++) {
		if (fds[i] >= 0) {
			while (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) >= 0)
				answers++;
			close(fds[i]);
		}
	}
	free(fds);
	return answers;
}

static void result_merge(struct load_result *res, struct load_thread *th, unsigned nth,
			 uint64_t end_ns, uint64_t start_ns)
{
	size_t n = 0, ns = 0;
	uint64_t *all, *slow;

	for (unsigned i = 0; i < nth; i++) {
		res->sent += th[i].res.sent;
		res->received += th[i].res.received;
		res->lost += th[i].res.lost;
		res->mismatches += th[i].res.mismatches;
		res->restarts += th[i].res.restarts;
		if (th[i].res.slow_done_ns > res->slow_done_ns)
			res->slow_done_ns = th[i].res.slow_done_ns;
		if (th[i].res.fast_done_ns > res->fast_done_ns)
			res->fast_done_ns = th[i].res.fast_done_ns;
		n += th[i].nrtt;
		ns += th[i].nslow;
	}
	all = malloc((n ? n : 1) * sizeof(*all));
	slow = malloc((ns ? ns : 1) * sizeof(*slow));
	if (all && slow) {
		size_t k = 0, ks = 0;

		for (unsigned i = 0; i < nth; i++) {
			/* A thread with no samples of a kind may have no array for them:
			 * memcpy() from NULL is undefined even for 0 bytes. */
			if (th[i].nrtt)
				memcpy(all + k, th[i].rtt, th[i].nrtt * sizeof(*all));
			if (th[i].nslow)
				memcpy(slow + ks, th[i].slow_rtt, th[i].nslow * sizeof(*slow));
			k += th[i].nrtt;
			ks += th[i].nslow;
		}
		udp_sort_u64(all, n);
		udp_sort_u64(slow, ns);
		res->p50_ns = udp_percentile(all, n, 50);
		res->p99_ns = udp_percentile(all, n, 99);
		res->max_ns = n ? all[n - 1] : 0;
		res->slow_p50_ns = udp_percentile(slow, ns, 50);
	}
	free(all);
	free(slow);
	res->seconds = (double)(end_ns - start_ns) / 1e9;
}

int load_run(const struct load_config *cfg_in, struct load_result *res)
{
	struct load_config cfg = *cfg_in;
	struct load_shared sh = { .cfg = &cfg };
	struct load_thread *th;
	struct cpeer *peers;
	int *strays = NULL;
	unsigned started = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!cfg.peers || !cfg.window || (!cfg.count && !cfg.max_ms))
		return -EINVAL;
	if (!cfg.threads)
		cfg.threads = 1;
	if (cfg.threads > cfg.peers)
		cfg.threads = cfg.peers;
	if (!cfg.reply_timeout_ms)
		cfg.reply_timeout_ms = 2000;
	th = calloc(cfg.threads, sizeof(*th));
	peers = calloc(cfg.peers, sizeof(*peers));
	if (!th || !peers) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < cfg.peers; i++)
		peers[i].fd = -1;
	for (unsigned i = 0; i < cfg.threads; i++)
		th[i].ep = -1;
	rc = threads_setup(&cfg, th, peers, &sh);
	if (rc)
		goto out;
	/* The calling thread joins the barrier too, to send the strays once all peers run. */
	pthread_barrier_init(&sh.ready, NULL, cfg.threads + 1);
	for (; started < cfg.threads; started++) {
		rc = -pthread_create(&th[started].thread, NULL, load_thread_main, &th[started]);
		if (rc)
			break;
	}
	if (started == cfg.threads) {
		if (pthread_barrier_wait(&sh.ready) == PTHREAD_BARRIER_SERIAL_THREAD)
			sh.start_ns = udp_now_ns();
		pthread_barrier_wait(&sh.ready);
		strays = strays_send(&cfg, cfg.strays);
	} else {
		fprintf(stderr, "udp-load: pthread_create failed\n");
		abort();	/* the started threads wait at the barrier forever otherwise */
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i].thread, NULL);
	result_merge(res, th, cfg.threads, udp_now_ns(), sh.start_ns);
	res->stray_answers = strays_check(strays, cfg.strays);
	for (unsigned i = 0; i < cfg.threads; i++)
		if (th[i].err)
			rc = -ENOMEM;
	pthread_barrier_destroy(&sh.ready);
out:
	for (unsigned i = 0; peers && i < cfg.peers; i++) {
		if (peers[i].fd >= 0)
			close(peers[i].fd);
		free(peers[i].sent_ns);
	}
	for (unsigned i = 0; th && i < cfg.threads; i++) {
		if (th[i].ep >= 0)
			close(th[i].ep);
		free(th[i].rtt);
		free(th[i].slow_rtt);
	}
	free(peers);
	free(th);
	return rc;
}
