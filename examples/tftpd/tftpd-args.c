/*
 * tftpd-args.c - the values of exitleft-tftpd's command line; see tftpd-args.h
 */
#include <string.h>

#include "tftpd-args.h"

int tftpd_parse_listen(const char *s, struct udp_addr *out)
{
	char host[64];
	const char *colon;
	unsigned port;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		n = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = 0;
	if (udp_parse_uint(colon + 1, 65535, &port) < 0)
		return -1;
	return udp_addr_parse(host, port, out) < 0 ? -1 : 0;
}

int tftpd_parse_seconds_ms(const char *s, unsigned max_s, uint64_t *ms)
{
	char whole[16];
	const char *dot = strchr(s, '.');
	unsigned sec, frac = 0, scale = 100;
	size_t n = dot ? (size_t)(dot - s) : strlen(s);

	if (n == 0 || n >= sizeof(whole))
		return -1;
	memcpy(whole, s, n);
	whole[n] = 0;
	if (udp_parse_uint(whole, max_s, &sec) < 0)
		return -1;
	if (dot) {
		const char *p;

		if (!dot[1] || strlen(dot + 1) > 3)
			return -1;
		for (p = dot + 1; *p; p++, scale /= 10) {
			if (*p < '0' || *p > '9')
				return -1;
			frac += (unsigned)(*p - '0') * scale;
		}
	}
	*ms = (uint64_t)sec * 1000u + frac;
	return 0;
}
