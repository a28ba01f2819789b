/*
 * mc-server.h - a private memcached for the tests and the bench
 *
 * Starts Debian's memcached (/usr/bin/memcached, found on PATH) on 127.0.0.1 with its UDP
 * port on and its TCP port off, on a port nobody else uses, and stops it. The server dies
 * with the thread that started it (PR_SET_PDEATHSIG), so a crashed test leaves nothing
 * running: start and stop it from the same long-lived thread (main).
 */
#ifndef EXITLEFT_MC_SERVER_H
#define EXITLEFT_MC_SERVER_H

#include <netinet/in.h>
#include <sys/types.h>

struct mc_server {
	pid_t pid;
	struct sockaddr_in addr;	/* 127.0.0.1 and the UDP port it serves */
};

/*
 * Starts memcached with `threads` worker threads and waits until it answers a "version"
 * request (at most about 10 s). Returns 0; -ENOENT if memcached is not installed; -ETIMEDOUT
 * if it never answered; another negative errno if it could not be started.
 */
int mc_server_start(struct mc_server *s, unsigned threads);

/* Stops the server and reaps it. */
void mc_server_stop(struct mc_server *s);

#endif /* EXITLEFT_MC_SERVER_H */
