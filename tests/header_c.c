/* The public header on its own, under C99 with -pedantic -Werror (built, then run). */
#include <exitleft.h>

int main(void)
{
	return EXITLEFT_HEAD == 1 && EXITLEFT_TOKEN_MAX == 128 ? 0 : 1;
}
