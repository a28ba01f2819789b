/*
 * notify.c - routing events to their tokens: notifications and mailboxes
 */
#include <errno.h>
#include <stdlib.h>

#include <utlist.h>

#include "exitleft-private.h"

/*
 * Wakes `t` if it waits (S5), taking it out of the line first so that it can never be
 * promoted as well: it returns EXITLEFT_TOKEN and nothing else. Returns the ticket to wake
 * after the unlock, or NULL if it was not waiting. Lock held.
 */
static struct exitleft_ticket *notify_locked(struct exitleft_ticket *t)
{
	if (t->state != TICKET_WAITING) {	/* model: notify_locked */
		t->stage->counts.notify_recorded++;
		return NULL;
	}
	t->stage->counts.notify_delivered++;
	DL_DELETE(t->stage->queue, t);
	t->state = TICKET_WOKEN;
	return t;
}

int exitleft_notify(exitleft_stage *stage, const void *token, size_t len)
{
	struct exitleft_ticket *t;

	if (!stage || !hash_token_ok(token, len))
		return -EINVAL;
	pthread_mutex_lock(&stage->lock);
	t = hash_find(stage, token, len);
	if (!t) {
		stage->counts.notify_unowned++;
		pthread_mutex_unlock(&stage->lock);
		return 0;
	}
	/* Recorded whether or not it waits: a waiter reads it when it wakes, an idle or
	 * heading ticket at its next enter (S6). model: notify */
	t->notified = true;
	stage_unlock_wake(stage, notify_locked(t));
	return 1;
}

int exitleft_deliver(exitleft_stage *stage, const void *token, size_t len, void *item)
{
	struct exitleft_ticket *t;
	struct mail *m;

	if (!stage || !item || !hash_token_ok(token, len))
		return -EINVAL;
	/* Allocate before locking: a failure changes nothing and the lock is held briefly. */
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->item = item;
	m->next = NULL;
	pthread_mutex_lock(&stage->lock);
	t = hash_find(stage, token, len);
	if (!t) {
		stage->counts.notify_unowned++;
		pthread_mutex_unlock(&stage->lock);
		free(m);
		return 0;
	}
	if (t->mail_limit && t->mail_count >= t->mail_limit) {	/* S27 */
		pthread_mutex_unlock(&stage->lock);
		free(m);
		return -ENOBUFS;
	}
	/* A non-empty mailbox is itself the notification (S21): enter returns TOKEN while it
	 * holds items, and once the owner has taken them there is nothing to wake it for. */
	t->mail_count++;
	if (t->mail_first)	/* model: notify with an item */
		t->mail_last->next = m;
	else
		t->mail_first = m;
	t->mail_last = m;
	stage_unlock_wake(stage, notify_locked(t));
	return 1;
}

int exitleft_take(exitleft_ticket *t, void **itemp)
{
	struct exitleft_stage *stage;
	struct mail *m;

	if (!t || !itemp)
		return -EINVAL;
	stage = t->stage;
	pthread_mutex_lock(&stage->lock);
	m = t->mail_first;
	if (m) {
		t->mail_first = m->next;
		t->mail_count--;
	}
	pthread_mutex_unlock(&stage->lock);
	if (!m)
		return 0;
	*itemp = m->item;
	free(m);
	return 1;
}
