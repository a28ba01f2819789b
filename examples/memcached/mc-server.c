/*
 * mc-server.c - starts and stops a private memcached on loopback
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mc-proto.h"
#include "mc-server.h"

#define START_TRIES 5		/* ports tried: another process may take a free port first */
#define READY_POLLS 100		/* "version" requests, 100 ms apart, before giving up */

/* A UDP port free right now on 127.0.0.1, or 0. */
static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* The child: memcached, UDP only, dying with its parent. Never returns. */
static void exec_memcached(unsigned port, unsigned threads, pid_t parent)
{
	char udp[16], nthreads[16];
	const char *argv[16];
	int n = 0, null;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)	/* the parent died before prctl() */
		_exit(127);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	snprintf(udp, sizeof(udp), "%u", port);
	snprintf(nthreads, sizeof(nthreads), "%u", threads ? threads : 1);
	argv[n++] = "memcached";
	argv[n++] = "-l";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-U";
	argv[n++] = udp;
	argv[n++] = "-p";
	argv[n++] = "0";		/* no TCP port */
	argv[n++] = "-t";
	argv[n++] = nthreads;
	if (geteuid() == 0) {		/* memcached refuses to run as root unless told whom */
		argv[n++] = "-u";
		argv[n++] = "root";
	}
	argv[n] = NULL;
	execvp("memcached", (char *const *)argv);
	_exit(errno == ENOENT ? 126 : 127);
}

/* Waits for the server to answer; 0, -ENOENT if it is not installed, -ETIMEDOUT, -errno. */
static int wait_ready(struct mc_server *s)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint8_t req[32] = { 0, 1, 0, 0, 0, 1, 0, 0 };
	uint8_t buf[MC_DGRAM_MAX];
	int rc = -ETIMEDOUT, status;

	if (fd < 0)
		return -errno;
	memcpy(req + MC_FRAME_HDR, "version\r\n", 9);
	for (int i = 0; i < READY_POLLS && rc == -ETIMEDOUT; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			/* 126, 127: exec failed; anything else: most likely the port was taken */
			rc = !WIFEXITED(status) ? -EADDRINUSE
			     : WEXITSTATUS(status) == 126 ? -ENOENT
			     : WEXITSTATUS(status) == 127 ? -ENOEXEC : -EADDRINUSE;
			break;
		}
		(void)sendto(fd, req, MC_FRAME_HDR + 9, 0, (struct sockaddr *)&s->addr,
			     sizeof(s->addr));
		if (poll(&pfd, 1, 100) == 1 && recv(fd, buf, sizeof(buf), 0) > MC_FRAME_HDR &&
		    memcmp(buf + MC_FRAME_HDR, "VERSION ", 8) == 0)
			rc = 0;
	}
	close(fd);
	return rc;
}

int mc_server_start(struct mc_server *s, unsigned threads)
{
	int rc = -EADDRINUSE;

	for (int t = 0; t < START_TRIES && rc == -EADDRINUSE; t++) {
		unsigned port = free_port();
		pid_t parent = getpid();

		if (!port)
			return -EADDRNOTAVAIL;
		memset(s, 0, sizeof(*s));
		s->addr.sin_family = AF_INET;
		s->addr.sin_port = htons((uint16_t)port);
		s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->pid = fork();
		if (s->pid < 0)
			return -errno;
		if (s->pid == 0)
			exec_memcached(port, threads, parent);
		rc = wait_ready(s);
		if (rc)
			mc_server_stop(s);
	}
	return rc;
}

void mc_server_stop(struct mc_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}
