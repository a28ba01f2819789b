// The public header from C++ (built with -Wall -Wextra -pedantic -Werror, then run).
#include <exitleft.h>

#include <cstring>

int main()
{
	exitleft_stage *s = nullptr;

	if (exitleft_stage_new(&s) != 0)
		return 1;
	int rc = exitleft_stage_free(s);
	return rc == 0 && std::strcmp(exitleft_version(), "1.1.0") == 0 ? 0 : 1;
}
