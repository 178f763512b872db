/* Reading a whole file into memory, with one bound and one "too large"
 * error for every file cjx reads whole (rule sets, PEM files, CRLs). */
#ifndef CJX_FILE_H
#define CJX_FILE_H

#include <stddef.h>

#include "cjx/error.h"

/* Reads the whole regular file open on fd (path names it in messages; fd
 * stays open) into a new buffer with a NUL after the last byte: free() it.
 * A file that shrinks while being read is read up to its new end; one that
 * grows, up to the size it had. Returns 0 with *out and *len, or:
 * CJX_ELIMIT "PATH: larger than N bytes" for a file over max_bytes, before
 * any of it is read; CJX_EINVAL "PATH: not a regular file"; CJX_EIO with
 * the system's reason; CJX_ENOMEM. On failure *out is untouched, and a
 * buffer given up is wiped first (it may hold part of a key). */
int cjx_file_read_fd(int fd, const char *path, size_t max_bytes, char **out,
                     size_t *len, struct cjx_errbuf *eb);

/* Opens path for reading (close-on-exec, never as a controlling
 * terminal) into *fd: 0, or CJX_EIO (CJX_ENOMEM) "PATH: reason". For a
 * caller that checks the open file before it reads it (a key's mode). */
int cjx_file_open(const char *path, int *fd, struct cjx_errbuf *eb);

/* Opens path and reads it as cjx_file_read_fd does. */
int cjx_file_read(const char *path, size_t max_bytes, char **out, size_t *len,
                  struct cjx_errbuf *eb);

#endif
