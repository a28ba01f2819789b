/*
 * spurious.h - the test hook of src/wait.c (EXITLEFT_TEST_HOOKS): every other wait returns
 * at once as a spurious wake would, after dropping the lock for a moment so that anything
 * may happen meanwhile. Including it installs the hook for the whole program; include it in
 * exactly one file of a program linked with the test build of the library.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

extern int (*wait_hook_spurious)(pthread_mutex_t *lock);

static atomic_ulong spurious_injected;
static atomic_ulong spurious_calls;

static int spurious_hook(pthread_mutex_t *lock)
{
	if (atomic_fetch_add(&spurious_calls, 1) % 2)
		return 0;
	pthread_mutex_unlock(lock);
	sched_yield();
	pthread_mutex_lock(lock);
	atomic_fetch_add(&spurious_injected, 1);
	return 1;
}

__attribute__((constructor)) static void spurious_install(void)
{
	wait_hook_spurious = spurious_hook;
}
