/*
 * The public header on its own, as C99 and as C11 with -pedantic -Werror and no feature-test
 * macro (tests/check-header.sh): everything it declares is usable from it alone, and the
 * version macros agree with the library that is loaded.
 */
#include <exitleft.h>

#include <stdio.h>
#include <string.h>

#if !EXITLEFT_VERSION_AT_LEAST(1, 1, 0) || EXITLEFT_VERSION_AT_LEAST(2, 0, 0)
#error "the version macros do not describe a 1.x header from 1.1 on"
#endif

int main(void)
{
	exitleft_stage *s = NULL;
	const struct timespec *no_deadline = NULL;
	char version[32];
	int rc;

	snprintf(version, sizeof(version), "%d.%d.%d", EXITLEFT_VERSION_MAJOR,
		 EXITLEFT_VERSION_MINOR, EXITLEFT_VERSION_MICRO);
	if (strcmp(version, exitleft_version()) != 0) {
		printf("header %s, library %s\n", version, exitleft_version());
		return 1;
	}
	if (exitleft_stage_new(&s) != 0)
		return 1;
	rc = exitleft_enter(NULL, no_deadline) == -22 && exitleft_stage_free(s) == 0;
	return rc && EXITLEFT_HEAD == 1 && EXITLEFT_TOKEN_MAX == 128 ? 0 : 1;
}
