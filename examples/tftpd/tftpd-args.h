/*
 * tftpd-args.h - the values of exitleft-tftpd's command line that are more than a number:
 * an address to listen on, and seconds with decimals. Apart from main() so that a test can
 * call them.
 */
#ifndef EXITLEFT_TFTPD_ARGS_H
#define EXITLEFT_TFTPD_ARGS_H

#include "udp-common.h"

/* "A.B.C.D:PORT" or "[V6]:PORT" into *out; 0 or -1. */
int tftpd_parse_listen(const char *s, struct udp_addr *out);

/* Seconds with up to three decimals ("1", "0.25") into milliseconds; 0 or -1. */
int tftpd_parse_seconds_ms(const char *s, unsigned max_s, unsigned *ms);

#endif /* EXITLEFT_TFTPD_ARGS_H */
