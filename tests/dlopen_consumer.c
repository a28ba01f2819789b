/*
 * dlopen_consumer.c - libexitleft as another language's foreign-function interface sees it:
 * no header, no link against the library, only dlopen("libexitleft.so.1") and dlsym().
 * Every prototype and constant below is written from the documented ABI, so this program
 * breaks if the ABI drifts from what the header promises.
 *
 * Usage: dlopen_consumer [LIBRARY]   (default: the SONAME, found through the loader's path)
 *
 * Exercises headship, notification and a timeout through function pointers, on one thread
 * (a single thread can head and still see a second ticket time out, so no ordering is left
 * to chance).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { HEAD = 1, TOKEN = 2, TIMEOUT = 3 };	/* enum exitleft_outcome */

struct api {
	int (*stage_new)(void **stagep);
	int (*stage_free)(void *stage);
	int (*ticket_new)(void *stage, const void *token, size_t len, void **ticketp);
	int (*ticket_free)(void *ticket);
	int (*enter)(void *ticket, const struct timespec *deadline);
	int (*exit)(void *ticket);
	int (*notify)(void *stage, const void *token, size_t len);
	const char *(*strerror)(int rc);
	const char *(*version)(void);
};

static void *handle;
static int failures;

static void *sym(const char *name)
{
	void *p = dlsym(handle, name);

	if (!p) {
		fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
		failures++;
	}
	return p;
}

static void expect(const struct api *el, const char *what, int got, int want)
{
	if (got == want)
		return;
	fprintf(stderr, "%s: got %d (%s), want %d (%s)\n", what, got, el->strerror(got), want,
		el->strerror(want));
	failures++;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "libexitleft.so.1";
	struct api el;
	void *stage, *alice, *bob;
	struct timespec deadline, before, after;
	long waited_ms;

	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return 1;
	}
	/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
	el.stage_new = (int (*)(void **))sym("exitleft_stage_new");
	el.stage_free = (int (*)(void *))sym("exitleft_stage_free");
	el.ticket_new = (int (*)(void *, const void *, size_t, void **))sym("exitleft_ticket_new");
	el.ticket_free = (int (*)(void *))sym("exitleft_ticket_free");
	el.enter = (int (*)(void *, const struct timespec *))sym("exitleft_enter");
	el.exit = (int (*)(void *))sym("exitleft_exit");
	el.notify = (int (*)(void *, const void *, size_t))sym("exitleft_notify");
	el.strerror = (const char *(*)(int))sym("exitleft_strerror");
	el.version = (const char *(*)(void))sym("exitleft_version");
	if (failures)
		return 1;

	expect(&el, "stage_new", el.stage_new(&stage), 0);
	expect(&el, "ticket_new alice", el.ticket_new(stage, "alice", 5, &alice), 0);
	expect(&el, "ticket_new bob", el.ticket_new(stage, "bob", 3, &bob), 0);
	expect(&el, "ticket_new bob again", el.ticket_new(stage, "bob", 3, &bob), -EEXIST);
	if (failures)
		return 1;

	/* Head: the headless stage goes to the first to enter. */
	expect(&el, "alice enters", el.enter(alice, NULL), HEAD);
	/* Timeout: while alice heads, bob waits in line until his deadline, 20 ms away. */
	clock_gettime(CLOCK_MONOTONIC, &before);
	deadline = before;
	deadline.tv_nsec += 20000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	expect(&el, "bob enters with a deadline", el.enter(bob, &deadline), TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &after);
	waited_ms = (after.tv_sec - before.tv_sec) * 1000 +
		    (after.tv_nsec - before.tv_nsec) / 1000000;
	if (waited_ms < 19) {
		fprintf(stderr, "bob timed out after %ld ms, before his deadline\n", waited_ms);
		failures++;
	}
	/* Notify: recorded for bob, whose next enter returns TOKEN at once. */
	expect(&el, "notify bob", el.notify(stage, "bob", 3), 1);
	expect(&el, "notify nobody", el.notify(stage, "carol", 5), 0);
	expect(&el, "bob enters, notified", el.enter(bob, NULL), TOKEN);
	/* Headship passes on: alice exits, bob heads the headless stage. */
	expect(&el, "alice exits", el.exit(alice), 0);
	expect(&el, "bob enters", el.enter(bob, NULL), HEAD);
	expect(&el, "alice exits again", el.exit(alice), -EPERM);
	expect(&el, "bob frees his ticket while heading", el.ticket_free(bob), 0);
	expect(&el, "alice enters after bob", el.enter(alice, NULL), HEAD);
	expect(&el, "alice frees her ticket", el.ticket_free(alice), 0);
	expect(&el, "stage_free", el.stage_free(stage), 0);

	if (!failures)
		printf("dlopen %s: libexitleft %s; head, timeout, notify through dlsym\n", path,
		       el.version());
	dlclose(handle);
	return failures != 0;
}
