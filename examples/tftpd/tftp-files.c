/*
 * tftp-files.c - files beneath the served root; see tftp-files.h
 *
 * Name checks here are only a first, friendly filter (they pick the ERROR a client sees);
 * the guarantee that nothing outside the root is reached is the kernel's: every lookup is an
 * openat2() with RESOLVE_BENEATH from the root's descriptor, which fails for an absolute
 * path, a ".." that climbs out, or a symbolic link that points out, at any depth, and with
 * RESOLVE_NO_MAGICLINKS, which refuses /proc-style links. No lookup ever starts from "/" or
 * the working directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tftp-files.h"

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

static int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)flags;
	how.mode = mode;
	how.resolve = RESOLVE_FLAGS;
	for (;;) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

		/* EAGAIN: a rename raced the lookup; the kernel asks us to try again. */
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
			return fd >= 0 ? (int)fd : -errno;
	}
}

int tftp_root_open(const char *path, struct tftp_root *root)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	root->fd = fd;
	return 0;
}

static int refuse(struct tftp_refusal *why, enum tftp_error code, const char *msg)
{
	why->code = code;
	why->msg = msg;
	return -1;
}

/* The name relative to the root (leading slashes dropped), or NULL if it has a ".." or is
 * empty. */
static const char *relative_name(const char *name)
{
	const char *p;

	while (*name == '/')
		name++;
	if (!*name)
		return NULL;
	for (p = name; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return NULL;
		p += n;
		while (*p == '/')
			p++;
	}
	return name;
}

static int refuse_errno(struct tftp_refusal *why, int err)
{
	if (err == -ENOENT || err == -ENOTDIR)
		return refuse(why, TFTP_ENOTFOUND, "file not found");
	if (err == -EEXIST)
		return refuse(why, TFTP_EEXISTS, "file already exists");
	if (err == -ENOSPC || err == -EDQUOT)
		return refuse(why, TFTP_ENOSPACE, "disk full");
	return refuse(why, TFTP_EACCESS, "access violation");
}

int tftp_open_read(const struct tftp_root *root, const char *name, int *fd, uint64_t *size,
		   struct tftp_refusal *why)
{
	const char *rel = relative_name(name);
	struct stat st;
	int f;

	if (!rel)
		return refuse(why, TFTP_EACCESS, "access violation");
	/* O_NONBLOCK: opening a FIFO someone planted must not hang the thread. */
	f = open_beneath(root->fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
	if (f < 0)
		return refuse_errno(why, f);
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return refuse(why, TFTP_EACCESS, "not a regular file");
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Opens a fresh hidden temporary file in up->dirfd; 0 or -errno. */
static int upload_tmp(struct tftp_upload *up)
{
	int tries;

	for (tries = 0; tries < 8; tries++) {
		uint64_t r = 0;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r ^= (uint64_t)getpid() << 32 ^ (uint64_t)tries;
		snprintf(up->tmp, sizeof(up->tmp), ".exitleft-tftpd.%016llx",
			 (unsigned long long)r);
		up->fd = openat(up->dirfd, up->tmp,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (up->fd >= 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int tftp_upload_open(const struct tftp_root *root, const char *name, struct tftp_upload *up,
		     struct tftp_refusal *why)
{
	const char *rel = relative_name(name), *slash;
	char dir[TFTP_NAME_MAX + 1];
	struct stat st;
	int rc;

	memset(up, 0, sizeof(*up));
	up->dirfd = up->fd = -1;
	up->overwrite = root->overwrite;
	if (!root->create)
		return refuse(why, TFTP_EACCESS, "uploads not allowed");
	if (!rel || strlen(rel) > TFTP_NAME_MAX)
		return refuse(why, TFTP_EACCESS, "access violation");
	slash = strrchr(rel, '/');
	if (slash) {
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = 0;
		snprintf(up->base, sizeof(up->base), "%s", slash + 1);
	} else {
		snprintf(dir, sizeof(dir), ".");
		snprintf(up->base, sizeof(up->base), "%s", rel);
	}
	if (!up->base[0] || strcmp(up->base, ".") == 0)
		return refuse(why, TFTP_EACCESS, "access violation");
	rc = open_beneath(root->fd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (rc < 0)
		return refuse_errno(why, rc);
	up->dirfd = rc;
	if (fstatat(up->dirfd, up->base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!up->overwrite || !S_ISREG(st.st_mode))) {
		tftp_upload_close(up);
		return up->overwrite ? refuse(why, TFTP_EACCESS, "not a regular file") :
				       refuse(why, TFTP_EEXISTS, "file already exists");
	}
	rc = upload_tmp(up);
	if (rc < 0) {
		tftp_upload_close(up);
		return refuse_errno(why, rc);
	}
	return 0;
}

int tftp_upload_write(struct tftp_upload *up, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(up->fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int tftp_upload_commit(struct tftp_upload *up)
{
	/* RENAME_NOREPLACE: a file that appeared since the request is not overwritten. */
	if (renameat2(up->dirfd, up->tmp, up->dirfd, up->base,
		      up->overwrite ? 0 : RENAME_NOREPLACE) < 0)
		return -errno;
	up->committed = true;
	return 0;
}

void tftp_upload_close(struct tftp_upload *up)
{
	if (up->fd >= 0) {
		close(up->fd);
		if (!up->committed)
			(void)unlinkat(up->dirfd, up->tmp, 0);
	}
	if (up->dirfd >= 0)
		close(up->dirfd);
	up->fd = up->dirfd = -1;
}
