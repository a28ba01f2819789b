/*
 * fuzz_stage.c - libFuzzer harness: the input is a program of single-threaded operations on
 * one stage, each checked against a plain reference model kept here.
 *
 * Every byte string decodes to a valid program: the first byte of an operation picks it,
 * the next bytes give its slot, token length and token bytes, deadline, and so on (zeros
 * once the input runs out). Eight slots each hold at most one ticket. Only enters the model
 * says will not block are made without a deadline; the others get one in the past (or an
 * invalid one). At the end everything is taken, exited and freed, and the stage must free.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exitleft-private.h"

#define SLOTS 8
#define MAIL_MAX 64

struct slot {
	exitleft_ticket *t;		/* NULL: empty */
	unsigned char token[EXITLEFT_TOKEN_MAX];
	size_t len;
	int notified;
	uintptr_t mail[MAIL_MAX];	/* item ids, oldest first */
	int nmail;
};

static struct {
	struct slot s[SLOTS];
	int head;			/* slot index, or -1 */
	int closed;
	uintptr_t next_item;
} m;

static const uint8_t *in;
static size_t left;

static uint8_t next_byte(void)
{
	if (!left)
		return 0;
	left--;
	return *in++;
}

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "model mismatch at %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);			\
			abort();						\
		}								\
	} while (0)

/* The slot whose live ticket holds this token, or -1. */
static int holder(const void *token, size_t len)
{
	for (int i = 0; i < SLOTS; i++)
		if (m.s[i].t && m.s[i].len == len && !memcmp(m.s[i].token, token, len))
			return i;
	return -1;
}

/* A token: a live slot's (to hit), a near miss of it, or fresh bytes; length 0..136. */
static size_t read_token(unsigned char *buf)
{
	uint8_t how = next_byte();
	struct slot *src = &m.s[how % SLOTS];
	size_t len;

	if ((how & 0x30) == 0 && src->t) {
		memcpy(buf, src->token, src->len);
		return src->len;
	}
	if ((how & 0x30) == 0x10 && src->t) {	/* same bytes, one more or one less */
		memcpy(buf, src->token, src->len);
		if (src->len < EXITLEFT_TOKEN_MAX)
			buf[src->len] = next_byte();
		return how & 0x40 ? src->len - 1 : src->len + 1;
	}
	len = next_byte() % (EXITLEFT_TOKEN_MAX + 9);
	for (size_t i = 0; i < len && i < EXITLEFT_TOKEN_MAX; i++)
		buf[i] = next_byte();
	return len;
}

static int token_ok(size_t len)
{
	return len > 0 && len <= EXITLEFT_TOKEN_MAX;
}

/* What exitleft_enter must return for slot i with a deadline in the past. */
static int expected_enter(int i)
{
	struct slot *sl = &m.s[i];

	if (m.head == i)
		return -EDEADLK;
	if (sl->notified || sl->nmail)
		return EXITLEFT_TOKEN;
	if (m.closed)
		return EXITLEFT_CLOSED;
	if (m.head < 0)
		return EXITLEFT_HEAD;
	return EXITLEFT_TIMEOUT;
}

static void apply_enter(int i, int rc)
{
	if (rc == EXITLEFT_TOKEN)
		m.s[i].notified = 0;
	else if (rc == EXITLEFT_HEAD)
		m.head = i;
}

static void check_invariants(exitleft_stage *stage)
{
	size_t live = 0;

	for (int i = 0; i < SLOTS; i++) {
		if (!m.s[i].t)
			continue;
		live++;
		CHECK(m.s[i].t->state == (m.head == i ? TICKET_HEAD : TICKET_IDLE));
		CHECK(m.s[i].t->notified == (m.s[i].notified != 0));
	}
	CHECK(stage->nlive == live);
	CHECK(stage->queue == NULL);
	CHECK((stage->head == NULL) == (m.head < 0));
	CHECK(stage->closed == (m.closed != 0));
}

static void op(exitleft_stage *stage)
{
	uint8_t code = next_byte();
	int i = next_byte() % SLOTS;
	struct slot *sl = &m.s[i];
	unsigned char tok[EXITLEFT_TOKEN_MAX + 16];
	size_t len;
	int rc, want;

	switch (code % 10) {
	case 0: {	/* ticket_new into an empty slot */
		exitleft_ticket *t = NULL;
		if (sl->t)
			return;
		len = read_token(tok);
		rc = exitleft_ticket_new(stage, tok, len, &t);
		want = !token_ok(len) ? -EINVAL : m.closed ? -ECANCELED
		     : holder(tok, len) >= 0 ? -EEXIST : 0;
		CHECK(rc == want);
		if (rc == 0) {
			CHECK(t != NULL);
			sl->t = t;
			memcpy(sl->token, tok, len);
			sl->len = len;
			sl->notified = 0;
			sl->nmail = 0;
		}
		break;
	}
	case 1:		/* ticket_free */
		if (!sl->t)
			return;
		rc = exitleft_ticket_free(sl->t);
		CHECK(rc == (sl->nmail ? -ENOTEMPTY : 0));
		if (rc == 0) {
			sl->t = NULL;
			if (m.head == i)
				m.head = -1;	/* nobody waits: headless */
		}
		break;
	case 2: {	/* enter with a past deadline, or an invalid one */
		struct timespec d = { next_byte() % 3, 0 };
		uint8_t bad = next_byte();
		if (!sl->t)
			return;
		if (bad % 8 == 0)
			d.tv_nsec = bad & 1 ? -1 : 1000000000L;
		else if (bad % 8 == 1)
			d.tv_sec = -1;
		rc = exitleft_enter(sl->t, &d);
		want = bad % 8 <= 1 ? -EINVAL : expected_enter(i);
		CHECK(rc == want);
		apply_enter(i, rc);
		break;
	}
	case 3:		/* enter without a deadline, when the model says it cannot block */
		if (!sl->t || expected_enter(i) == EXITLEFT_TIMEOUT)
			return;
		rc = exitleft_enter(sl->t, NULL);
		CHECK(rc == expected_enter(i));
		apply_enter(i, rc);
		break;
	case 4:		/* exit */
		if (!sl->t)
			return;
		rc = exitleft_exit(sl->t);
		CHECK(rc == (m.head == i ? 0 : -EPERM));
		if (rc == 0)
			m.head = -1;
		break;
	case 5: {	/* notify */
		len = read_token(tok);
		rc = exitleft_notify(stage, tok, len);
		int h = token_ok(len) ? holder(tok, len) : -1;
		CHECK(rc == (!token_ok(len) ? -EINVAL : h >= 0));
		if (h >= 0)
			m.s[h].notified = 1;
		break;
	}
	case 6: {	/* deliver */
		len = read_token(tok);
		int h = token_ok(len) ? holder(tok, len) : -1;
		if (h >= 0 && m.s[h].nmail == MAIL_MAX)
			return;
		uintptr_t item = ++m.next_item;
		rc = exitleft_deliver(stage, tok, len, (void *)item);
		CHECK(rc == (!token_ok(len) ? -EINVAL : h >= 0));
		if (h >= 0)
			m.s[h].mail[m.s[h].nmail++] = item;
		break;
	}
	case 7: {	/* take */
		void *got = (void *)1;
		if (!sl->t)
			return;
		rc = exitleft_take(sl->t, &got);
		CHECK(rc == (sl->nmail > 0));
		if (rc == 1) {
			CHECK((uintptr_t)got == sl->mail[0]);
			memmove(sl->mail, sl->mail + 1, --sl->nmail * sizeof(sl->mail[0]));
		} else {
			CHECK(got == (void *)1);
		}
		break;
	}
	case 8:		/* close */
		CHECK(exitleft_stage_close(stage) == 0);
		m.closed = 1;
		break;
	case 9:		/* bad input and refused calls change nothing */
		CHECK(exitleft_enter(NULL, NULL) == -EINVAL);
		CHECK(exitleft_notify(stage, NULL, 1) == -EINVAL);
		CHECK(exitleft_deliver(stage, "x", 1, NULL) == -EINVAL);
		CHECK(exitleft_take(NULL, NULL) == -EINVAL);
		if (stage->nlive)
			CHECK(exitleft_stage_free(stage) == -EBUSY);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	exitleft_stage *stage;

	memset(&m, 0, sizeof(m));
	m.head = -1;
	in = data;
	left = size;
	CHECK(exitleft_stage_new(&stage) == 0);
	for (int ops = 0; left && ops < 512; ops++) {
		op(stage);
		check_invariants(stage);
	}
	for (int i = 0; i < SLOTS; i++) {
		void *got;
		if (!m.s[i].t)
			continue;
		for (int k = 0; k < m.s[i].nmail; k++) {
			CHECK(exitleft_take(m.s[i].t, &got) == 1);
			CHECK((uintptr_t)got == m.s[i].mail[k]);
		}
		CHECK(exitleft_take(m.s[i].t, &got) == 0);
		CHECK(exitleft_stage_free(stage) == -EBUSY);
		CHECK(exitleft_ticket_free(m.s[i].t) == 0);
	}
	CHECK(exitleft_stage_free(stage) == 0);
	return 0;
}
