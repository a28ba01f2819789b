/*
 * udp-flood - sends datagrams to a loopback port as fast as it can, one socket, no answers
 *
 * Usage: udp-flood PORT COUNT BYTES [PREFIX]
 *
 * Sends COUNT datagrams of BYTES bytes each to 127.0.0.1:PORT from one socket (one peer, to
 * the server), each starting with PREFIX (say "sleep:1000:", to make every one a slow
 * answer) and padded with 'x'. It reads nothing back: it plays a peer that sends faster
 * than its thread in the server answers. Loopback only and bounded by COUNT; prints
 * "sent=N" (a datagram the local queue refused is not sent again) and exits 0, or 1 on a socket error, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp-common.h"

int main(int argc, char **argv)
{
	unsigned port, count, bytes;
	const char *prefix = argc > 4 ? argv[4] : "";
	char buf[UDP_DGRAM_MAX];
	struct udp_addr to;
	unsigned long sent = 0;
	int fd;

	if (argc < 4 || argc > 5 || udp_parse_uint(argv[1], 65535, &port) ||
	    udp_parse_uint(argv[2], 1000000, &count) ||
	    udp_parse_uint(argv[3], UDP_DGRAM_MAX, &bytes) || bytes < strlen(prefix) ||
	    udp_addr_parse("127.0.0.1", port, &to)) {
		fprintf(stderr, "usage: udp-flood PORT COUNT BYTES [PREFIX]\n");
		return 2;
	}
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, prefix, strlen(prefix));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("udp-flood: socket");
		return 1;
	}
	for (unsigned i = 0; i < count; i++) {
		if (sendto(fd, buf, bytes, 0, (const struct sockaddr *)&to.ss, to.len) < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;	/* the local queue was full: that one is lost */
			perror("udp-flood: sendto");
			close(fd);
			return 1;
		}
		sent++;
	}
	close(fd);
	printf("sent=%lu\n", sent);
	return 0;
}
