// The public header from C++11 (tests/check-header.sh: -pedantic -Werror, no feature-test
// macro): it declares everything inside extern "C", and the version macros agree with the
// library that is loaded.
#include <exitleft.h>

#include <cstdio>
#include <cstring>

int main()
{
	exitleft_stage *s = nullptr;
	char version[32];

	std::snprintf(version, sizeof(version), "%d.%d.%d", EXITLEFT_VERSION_MAJOR,
		      EXITLEFT_VERSION_MINOR, EXITLEFT_VERSION_MICRO);
	if (std::strcmp(version, exitleft_version()) != 0)
		return 1;
	if (exitleft_stage_new(&s) != 0)
		return 1;
	return exitleft_stage_free(s) == 0 ? 0 : 1;
}
