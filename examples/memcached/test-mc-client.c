/*
 * test-mc-client.c - the memcached client on a stage, against Debian's memcached and against
 * a scripted server of the test's own
 *
 * The real server checks the protocol and many threads sharing the socket; the scripted one
 * sends what a real one sends only by bad luck (a reply after its request timed out, a
 * duplicate, a runt), in an order the test fixes, so that what the client does with each is
 * checked every time. Nothing waits for a time to pass except the one timeout the client
 * must report, and that wait is on a request nobody will ever answer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mc-client.h"
#include "mc-proto.h"
#include "mc-server.h"

#define KEYS 64
#define THREADS 8
#define GETS_PER_THREAD 300
#define TIMEOUT_MS 5000		/* a reply that does not come within it is a failure */

static struct mc_server server;

static void key_value(unsigned n, char *key, size_t kcap, char *val, size_t vcap)
{
	snprintf(key, kcap, "test:%u", n);
	snprintf(val, vcap, "value of key %u, in a datagram of its own", n * 7919u);
}

static int server_up(void **state)
{
	int rc = mc_server_start(&server, 2);

	(void)state;
	if (rc == -ENOENT) {
		fprintf(stderr, "memcached is not installed (Debian: apt-get install memcached)\n");
		return -1;
	}
	return rc;
}

static int server_down(void **state)
{
	(void)state;
	mc_server_stop(&server);
	return 0;
}

static struct mc_client *client_of(const struct sockaddr_in *a)
{
	struct mc_client *c;

	assert_int_equal(mc_client_new((const struct sockaddr *)a, sizeof(*a), &c), 0);
	return c;
}

static void set_then_get(void **state)
{
	struct mc_client *c = client_of(&server.addr);
	char big[MC_DGRAM_MAX], buf[64];
	size_t len;

	(void)state;
	assert_int_equal(mc_set(c, "greeting", "hello", 5, TIMEOUT_MS), 0);
	assert_int_equal(mc_get(c, "greeting", buf, sizeof(buf), &len, TIMEOUT_MS), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(mc_set(c, "empty", "", 0, TIMEOUT_MS), 0);
	assert_int_equal(mc_get(c, "empty", buf, sizeof(buf), &len, TIMEOUT_MS), 1);
	assert_int_equal(len, 0);
	assert_int_equal(mc_get(c, "never-set", buf, sizeof(buf), &len, TIMEOUT_MS), 0);
	/* Too small a buffer for the value; a key memcached refuses; a request too long. */
	assert_int_equal(mc_get(c, "greeting", buf, 4, &len, TIMEOUT_MS), -EMSGSIZE);
	assert_int_equal(mc_get(c, "two words", buf, sizeof(buf), &len, TIMEOUT_MS), -EINVAL);
	assert_int_equal(mc_get(c, "", buf, sizeof(buf), &len, TIMEOUT_MS), -EINVAL);
	memset(big, 'x', sizeof(big));
	assert_int_equal(mc_set(c, "big", big, sizeof(big), TIMEOUT_MS), -EMSGSIZE);
	assert_int_equal(mc_set(c, "bad key", "v", 1, TIMEOUT_MS), -EINVAL);
	mc_client_free(c);
}

struct getter {
	struct mc_client *c;
	unsigned first, wrong;
	int rc;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;

	for (unsigned i = 0; i < GETS_PER_THREAD && g->rc >= 0; i++) {
		unsigned n = (g->first + i) % KEYS;
		char key[32], want[64], got[64];
		size_t len;

		key_value(n, key, sizeof(key), want, sizeof(want));
		g->rc = mc_get(g->c, key, got, sizeof(got), &len, TIMEOUT_MS);
		if (g->rc != 1 || len != strlen(want) || memcmp(got, want, len) != 0)
			g->wrong++;
	}
	return NULL;
}

/* THREADS threads on one client: every reply reaches the thread that asked, read once. */
static void threads_share_one_socket(void **state)
{
	struct mc_client *c = client_of(&server.addr);
	struct getter g[THREADS];
	pthread_t t[THREADS];
	struct mc_client_stats st;

	(void)state;
	for (unsigned n = 0; n < KEYS; n++) {
		char key[32], val[64];

		key_value(n, key, sizeof(key), val, sizeof(val));
		assert_int_equal(mc_set(c, key, val, strlen(val), TIMEOUT_MS), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		g[i] = (struct getter){ .c = c, .first = i * 11 };
		assert_int_equal(pthread_create(&t[i], NULL, getter_main, &g[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(g[i].rc, 1);
		assert_int_equal(g[i].wrong, 0);
	}
	mc_client_stats(c, &st);
	assert_int_equal(st.requests, KEYS + THREADS * GETS_PER_THREAD);
	assert_int_equal(st.reads, st.requests);	/* each reply read once, by some head */
	assert_int_equal(st.timeouts, 0);
	assert_int_equal(st.stray, 0);
	assert_true(st.handoffs <= st.reads);
	mc_client_free(c);
}

/* The scripted server: a socket the client talks to, and what it last received. */
struct script {
	int fd;
	struct sockaddr_in addr, client;
	uint16_t id;		/* of the request last received */
};

static void script_open(struct script *s)
{
	socklen_t len = sizeof(s->addr);

	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	memset(&s->addr, 0, sizeof(s->addr));
	s->addr.sin_family = AF_INET;
	s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&s->addr, sizeof(s->addr)), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&s->addr, &len), 0);
}

/* Receives the next request, which must ask for `key`. */
static void script_expect_get(struct script *s, const char *key)
{
	uint8_t buf[MC_DGRAM_MAX], want[MC_DGRAM_MAX];
	socklen_t len = sizeof(s->client);
	ssize_t n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&s->client, &len);
	size_t wlen;

	assert_true(n > 0);
	assert_true(mc_reply_id(buf, (size_t)n, &s->id));
	wlen = mc_build_get(want, sizeof(want), s->id, key);
	assert_int_equal((size_t)n, wlen);
	assert_memory_equal(buf, want, wlen);
}

/* Sends the reply "VALUE key 0 len\r\nval\r\nEND\r\n" with request id `id`. */
static void script_send_value(struct script *s, uint16_t id, const char *key, const char *val)
{
	uint8_t out[MC_DGRAM_MAX] = { (uint8_t)(id >> 8), (uint8_t)id, 0, 0, 0, 1, 0, 0 };
	int n = snprintf((char *)out + MC_FRAME_HDR, sizeof(out) - MC_FRAME_HDR,
			 "VALUE %s 0 %zu\r\n%s\r\nEND\r\n", key, strlen(val), val);

	assert_int_equal(sendto(s->fd, out, MC_FRAME_HDR + (size_t)n, 0,
				(struct sockaddr *)&s->client, sizeof(s->client)),
			 MC_FRAME_HDR + n);
}

/* What the scripted server does for the second and third requests. */
struct script_run {
	struct script *s;
	uint16_t late_id;	/* the timed-out request's */
	uint16_t ids[2];
};

static void *script_main(void *arg)
{
	struct script_run *r = arg;
	struct script *s = r->s;

	/* Second request: first the late reply to the first, then the reply, twice. */
	script_expect_get(s, "k2");
	r->ids[0] = s->id;
	script_send_value(s, r->late_id, "k1", "late");
	script_send_value(s, s->id, "k2", "second");
	script_send_value(s, s->id, "k2", "second");
	/* Third: a runt datagram, then the reply. */
	script_expect_get(s, "k3");
	r->ids[1] = s->id;
	assert_int_equal(sendto(s->fd, "??", 2, 0, (struct sockaddr *)&s->client,
				sizeof(s->client)), 2);
	script_send_value(s, s->id, "k3", "third");
	return NULL;
}

/*
 * A reply after its request timed out is not taken for a newer one (whose ids differ: the
 * late one's slot is in quarantine), a duplicate is dropped, a runt is counted. The second
 * request's head may read the duplicate in the same batch as the reply, or leave it to the
 * third request's; that one borrows the same slot (the free list is last in, first out),
 * and drops it as an older reply of its own slot. Either way, after the third request each
 * of the three is counted once.
 */
static void late_duplicate_and_runt_replies(void **state)
{
	struct script s;
	struct script_run r = { .s = &s };
	struct mc_client *c;
	struct mc_client_stats st;
	char buf[64];
	size_t len;
	pthread_t t;

	(void)state;
	script_open(&s);
	c = client_of(&s.addr);
	assert_int_equal(mc_get(c, "k1", buf, sizeof(buf), &len, 20), -ETIMEDOUT);
	script_expect_get(&s, "k1");
	r.late_id = s.id;
	mc_client_stats(c, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.quarantined, 1);

	assert_int_equal(pthread_create(&t, NULL, script_main, &r), 0);
	assert_int_equal(mc_get(c, "k2", buf, sizeof(buf), &len, TIMEOUT_MS), 1);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "second", 6);
	assert_int_equal(mc_get(c, "k3", buf, sizeof(buf), &len, TIMEOUT_MS), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "third", 5);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_not_equal(r.ids[0] / MC_SLOT_IDS, r.late_id / MC_SLOT_IDS);
	assert_int_equal(r.ids[1] / MC_SLOT_IDS, r.ids[0] / MC_SLOT_IDS);
	assert_int_not_equal(r.ids[1], r.ids[0]);
	mc_client_stats(c, &st);
	assert_int_equal(st.stray, 2);		/* the late reply and the duplicate */
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.reads, 5);
	assert_int_equal(st.requests, 3);
	mc_client_free(c);
	close(s.fd);
}

/* Nothing listens: the kernel's port-unreachable reaches the head as the socket's error. */
static void nobody_listens(void **state)
{
	struct script s;
	struct mc_client *c;
	char buf[8];
	size_t len;

	(void)state;
	script_open(&s);
	c = client_of(&s.addr);
	close(s.fd);
	assert_int_equal(mc_get(c, "k", buf, sizeof(buf), &len, TIMEOUT_MS), -ECONNREFUSED);
	mc_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_then_get),
		cmocka_unit_test(threads_share_one_socket),
		cmocka_unit_test(late_duplicate_and_runt_replies),
		cmocka_unit_test(nobody_listens),
	};

	return cmocka_run_group_tests(tests, server_up, server_down);
}
