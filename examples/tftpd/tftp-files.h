/*
 * tftp-files.h - the files a TFTP server may serve: every name is resolved beneath one root
 * directory by the kernel (openat2 with RESOLVE_BENEATH), and uploads appear only once
 * complete, under a name that did not exist unless overwriting was asked for.
 */
#ifndef EXITLEFT_TFTP_FILES_H
#define EXITLEFT_TFTP_FILES_H

#include <stdbool.h>
#include <stdint.h>

#include "tftp-proto.h"

/* The served directory; fd is an O_PATH descriptor, read-only to the process's threads. */
struct tftp_root {
	int fd;
	bool create;		/* WRQ allowed, for new files */
	bool overwrite;		/* WRQ may replace an existing regular file */
};

/* Opens the root directory; 0 or -errno. */
int tftp_root_open(const char *path, struct tftp_root *root);

/*
 * Opens `name` (a request's file name: leading slashes mean the root, a ".." component is
 * refused, symbolic links are followed only while they stay beneath the root) for reading.
 * Returns 0 with *fd and *size set, or -1 with *why set (not found, access violation).
 */
int tftp_open_read(const struct tftp_root *root, const char *name, int *fd, uint64_t *size,
		   struct tftp_refusal *why);

/*
 * An upload in progress: written to a hidden temporary file beside its final name, renamed
 * to it by tftp_upload_commit() (atomically, and never over an existing file unless
 * root->overwrite), unlinked by tftp_upload_discard() otherwise.
 */
struct tftp_upload {
	int dirfd, fd;
	bool overwrite, committed;
	char tmp[40];
	char base[TFTP_NAME_MAX + 1];
};

/* Starts an upload of `name`; 0, or -1 with *why set (no --create, exists, access). */
int tftp_upload_open(const struct tftp_root *root, const char *name, struct tftp_upload *up,
		     struct tftp_refusal *why);

/* Appends to the upload; 0 or -errno. */
int tftp_upload_write(struct tftp_upload *up, const uint8_t *buf, size_t len);

/* Gives the upload its name; 0 or -errno (-EEXIST if the name was taken meanwhile). */
int tftp_upload_commit(struct tftp_upload *up);

/* Closes the upload, removing the temporary file unless committed. */
void tftp_upload_close(struct tftp_upload *up);

#endif /* EXITLEFT_TFTP_FILES_H */
