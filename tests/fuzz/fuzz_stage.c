/*
 * fuzz_stage.c - libFuzzer harness: the input is a program of single-threaded operations on
 * one stage, each checked against a plain reference model kept here.
 *
 * Every byte string decodes to a valid program: the first byte of an operation picks it,
 * the next bytes give its slot, token length and token bytes, deadline, and so on (zeros
 * once the input runs out). Eight slots each hold at most one ticket. Only enters the model
 * says will not block are made without a deadline; the others get one in the past (or an
 * invalid one). Pending enters (exitleft_enter_start) wait in a line the model keeps too,
 * decided by exits, frees, notifications, deliveries and the close, and collected by poll
 * or cancel; a ticket's descriptor must be readable exactly while its enter is decided and
 * not collected, and a bounded mailbox refuses past its limit. At the end everything is
 * collected, taken, exited and freed, and the stage must free.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exitleft-private.h"

#define SLOTS 8
#define MAIL_MAX 64

/* A pending enter, as the model sees it. */
enum pend { NOT_PENDING, PEND_WAITING, PEND_WOKEN, PEND_PROMOTED };

struct slot {
	exitleft_ticket *t;		/* NULL: empty */
	unsigned char token[EXITLEFT_TOKEN_MAX];
	size_t len;
	int notified;
	uintptr_t mail[MAIL_MAX];	/* item ids, oldest first */
	int nmail;
	int limit;			/* exitleft_ticket_limit(), 0: none */
	enum pend pend;
	int fd;				/* exitleft_ticket_fd()'s, or -1 */
};

static struct {
	struct slot s[SLOTS];
	int head;			/* slot index, or -1; a promoted pending slot too */
	int closed;
	int line[SLOTS];		/* pending slots in line, oldest first */
	int nline;
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

/* Takes slot i out of the model's line. */
static void line_remove(int i)
{
	for (int k = 0; k < m.nline; k++)
		if (m.line[k] == i) {
			memmove(m.line + k, m.line + k + 1, (m.nline - k - 1) * sizeof(int));
			m.nline--;
			return;
		}
	CHECK(0);
}

/* The head exits (or frees its ticket): the longest waiter is promoted, or none heads. */
static void model_exit(void)
{
	m.head = -1;
	if (m.nline && !m.closed) {
		m.head = m.line[0];
		m.s[m.head].pend = PEND_PROMOTED;
		line_remove(m.head);
	}
}

/* A notification or a delivery reaches slot h: a waiting pending enter is decided. */
static void model_wake(int h)
{
	if (m.s[h].pend == PEND_WAITING) {
		m.s[h].pend = PEND_WOKEN;
		line_remove(h);
	}
}

/* The outcome of slot i's decided pending enter, now collected (wait.c, enter_collect). */
static int model_collect(int i)
{
	struct slot *sl = &m.s[i];
	enum pend p = sl->pend;

	sl->pend = NOT_PENDING;
	if (p == PEND_PROMOTED)
		return EXITLEFT_HEAD;
	if (!sl->notified && !sl->nmail && m.closed)
		return EXITLEFT_CLOSED;
	sl->notified = 0;
	return EXITLEFT_TOKEN;
}

/* What exitleft_enter must return for slot i with a deadline in the past. */
static int expected_enter(int i)
{
	struct slot *sl = &m.s[i];

	if (sl->pend)
		return -EBUSY;
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

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void check_invariants(exitleft_stage *stage)
{
	static const enum ticket_state of_pend[] = {
		[PEND_WAITING] = TICKET_WAITING,
		[PEND_WOKEN] = TICKET_WOKEN,
		[PEND_PROMOTED] = TICKET_PROMOTED,
	};
	struct exitleft_ticket *w = stage->queue;
	size_t live = 0;

	for (int i = 0; i < SLOTS; i++) {
		struct slot *sl = &m.s[i];

		if (!sl->t)
			continue;
		live++;
		CHECK(sl->t->state == (sl->pend ? of_pend[sl->pend]
				       : m.head == i ? TICKET_HEAD : TICKET_IDLE));
		CHECK(sl->t->pending == (sl->pend != NOT_PENDING));
		CHECK(sl->t->notified == (sl->notified != 0));
		if (sl->fd >= 0)	/* S26 */
			CHECK(readable(sl->fd) ==
			      (sl->pend == PEND_WOKEN || sl->pend == PEND_PROMOTED));
	}
	for (int k = 0; k < m.nline; k++, w = w->next)
		CHECK(w == m.s[m.line[k]].t);
	CHECK(w == NULL);
	CHECK(stage->nlive == live);
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

	switch (code % 15) {
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
			sl->limit = 0;
			sl->pend = NOT_PENDING;
			sl->fd = -1;
		}
		break;
	}
	case 1:		/* ticket_free */
		if (!sl->t)
			return;
		rc = exitleft_ticket_free(sl->t);
		CHECK(rc == (sl->pend ? -EBUSY : sl->nmail ? -ENOTEMPTY : 0));
		if (rc == 0) {
			sl->t = NULL;
			if (sl->fd >= 0)	/* closed with the ticket (S26) */
				CHECK(fcntl(sl->fd, F_GETFD) == -1 && errno == EBADF);
			if (m.head == i)
				model_exit();	/* S12 */
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
		CHECK(rc == (m.head == i && !sl->pend ? 0 : -EPERM));
		if (rc == 0)
			model_exit();
		break;
	case 5: {	/* notify */
		len = read_token(tok);
		rc = exitleft_notify(stage, tok, len);
		int h = token_ok(len) ? holder(tok, len) : -1;
		CHECK(rc == (!token_ok(len) ? -EINVAL : h >= 0));
		if (h >= 0) {
			m.s[h].notified = 1;
			model_wake(h);
		}
		break;
	}
	case 6: {	/* deliver */
		len = read_token(tok);
		int h = token_ok(len) ? holder(tok, len) : -1;
		if (h >= 0 && m.s[h].nmail == MAIL_MAX)
			return;
		int full = h >= 0 && m.s[h].limit && m.s[h].nmail >= m.s[h].limit;
		uintptr_t item = ++m.next_item;
		rc = exitleft_deliver(stage, tok, len, (void *)item);
		CHECK(rc == (!token_ok(len) ? -EINVAL : full ? -ENOBUFS : h >= 0));
		if (rc == 1) {
			m.s[h].mail[m.s[h].nmail++] = item;
			model_wake(h);
		}
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
	case 8:		/* close: every waiting pending enter is decided */
		CHECK(exitleft_stage_close(stage) == 0);
		m.closed = 1;
		while (m.nline) {
			m.s[m.line[0]].pend = PEND_WOKEN;
			line_remove(m.line[0]);
		}
		break;
	case 9:		/* bad input and refused calls change nothing */
		CHECK(exitleft_enter(NULL, NULL) == -EINVAL);
		CHECK(exitleft_notify(stage, NULL, 1) == -EINVAL);
		CHECK(exitleft_deliver(stage, "x", 1, NULL) == -EINVAL);
		CHECK(exitleft_take(NULL, NULL) == -EINVAL);
		CHECK(exitleft_enter_start(NULL) == -EINVAL);
		CHECK(exitleft_enter_poll(NULL) == -EINVAL);
		CHECK(exitleft_enter_cancel(NULL) == -EINVAL);
		CHECK(exitleft_ticket_fd(NULL) == -EINVAL);
		CHECK(exitleft_ticket_limit(NULL, 1) == -EINVAL);
		if (stage->nlive)
			CHECK(exitleft_stage_free(stage) == -EBUSY);
		break;
	case 10:	/* enter_start: at once where enter would be, else in line (S22) */
		if (!sl->t)
			return;
		want = expected_enter(i);
		rc = exitleft_enter_start(sl->t);
		if (want == EXITLEFT_TIMEOUT) {
			CHECK(rc == EXITLEFT_PENDING);
			sl->pend = PEND_WAITING;
			m.line[m.nline++] = i;
		} else {
			CHECK(rc == want);
			apply_enter(i, rc);
		}
		break;
	case 11:	/* enter_poll (S23) */
	case 12:	/* enter_cancel (S24) */
		if (!sl->t)
			return;
		rc = code % 15 == 11 ? exitleft_enter_poll(sl->t) : exitleft_enter_cancel(sl->t);
		if (!sl->pend) {
			want = -EPERM;
		} else if (sl->pend != PEND_WAITING) {
			want = model_collect(i);
		} else if (code % 15 == 12) {
			line_remove(i);
			sl->pend = NOT_PENDING;
			want = EXITLEFT_TIMEOUT;
		} else {
			want = EXITLEFT_PENDING;
		}
		CHECK(rc == want);
		break;
	case 13:	/* ticket_fd: one descriptor, the same every time (S26) */
		if (!sl->t)
			return;
		rc = exitleft_ticket_fd(sl->t);
		CHECK(rc >= 0 && (sl->fd < 0 || rc == sl->fd));
		sl->fd = rc;
		break;
	case 14:	/* ticket_limit (S27) */
		if (!sl->t)
			return;
		sl->limit = next_byte() % 4;
		CHECK(exitleft_ticket_limit(sl->t, (size_t)sl->limit) == 0);
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
	for (int i = 0; i < SLOTS; i++) {	/* pending enters are collected first */
		if (!m.s[i].t || !m.s[i].pend)
			continue;
		int want = m.s[i].pend == PEND_WAITING ? EXITLEFT_TIMEOUT : model_collect(i);
		if (want == EXITLEFT_TIMEOUT) {
			line_remove(i);
			m.s[i].pend = NOT_PENDING;
		}
		CHECK(exitleft_enter_cancel(m.s[i].t) == want);
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
