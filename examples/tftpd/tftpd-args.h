/*
 * tftpd-args.h - the values of exitleft-tftpd's command line that are more than a number:
 * an address to listen on, and seconds with decimals. Apart from main() so that a test can
 * call them.
 */
#ifndef EXITLEFT_TFTPD_ARGS_H
#define EXITLEFT_TFTPD_ARGS_H

#include <stdint.h>

#include "udp-common.h"

/* "A.B.C.D:PORT" or "[V6]:PORT" into *out; 0 or -1. */
int tftpd_parse_listen(const char *s, struct udp_addr *out);

/*
 * Seconds with up to three decimals ("1", "0.25"), at most max_s whole seconds, into
 * milliseconds; 0 or -1. In 64 bits: a year of seconds is more milliseconds than 32 bits
 * hold.
 */
int tftpd_parse_seconds_ms(const char *s, unsigned max_s, uint64_t *ms);

#endif /* EXITLEFT_TFTPD_ARGS_H */
