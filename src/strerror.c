/*
 * strerror.c - names for return values, and the library's version
 */
#include <errno.h>

#include "exitleft-private.h"

const char *exitleft_strerror(int rc)
{
	switch (rc) {
	case 0:			return "success";
	case EXITLEFT_HEAD:	return "head: the caller heads the stage";
	case EXITLEFT_TOKEN:	return "token: the ticket's token was notified";
	case EXITLEFT_TIMEOUT:	return "timeout: the deadline passed";
	case EXITLEFT_CLOSED:	return "closed: the stage is closed";
	case EXITLEFT_PENDING:	return "pending: in line, not decided yet";
	case -EINVAL:		return "invalid argument";
	case -ENOMEM:		return "out of memory";
	case -EEXIST:		return "token already held by a live ticket";
	case -ECANCELED:	return "stage closed: no new tickets";
	case -EPERM:		return "ticket does not head the stage";
	case -EDEADLK:		return "ticket heads the stage: exit first";
	case -EBUSY:		return "busy: in use by another thread";
	case -ENOTEMPTY:	return "mailbox not empty: take its items first";
	case -EAGAIN:		return "resource temporarily unavailable";
	case -ENOBUFS:		return "mailbox full: the ticket's limit is reached";
	case -ENOSYS:		return "not supported on this system";
	case -EMFILE:		return "too many open files";
	case -ENFILE:		return "too many open files in the system";
	}
	return rc > 0 ? "unknown outcome" : "unknown error";
}

const char *exitleft_version(void)
{
	return EXITLEFT_VERSION;
}
