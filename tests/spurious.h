/*
 * spurious.h - the test hook of src/wait.c (EXITLEFT_TEST_HOOKS): every other wait returns
 * at once as a spurious wake would, after dropping the lock for a moment so that anything
 * may happen meanwhile. Include in exactly one file of a program linked with the hooked
 * objects.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static atomic_ulong spurious_injected;
static atomic_ulong spurious_calls;

int wait_hook_spurious(pthread_mutex_t *lock);
int wait_hook_spurious(pthread_mutex_t *lock)
{
	if (atomic_fetch_add(&spurious_calls, 1) % 2)
		return 0;
	pthread_mutex_unlock(lock);
	sched_yield();
	pthread_mutex_lock(lock);
	atomic_fetch_add(&spurious_injected, 1);
	return 1;
}
