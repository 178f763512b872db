/* Whole-file reads with one size bound and one "too large" error. */
#include "cjx/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
cjx_file_read_fd(int fd, const char *path, size_t max_bytes, char **out,
                 size_t *len, struct cjx_errbuf *eb)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return cjx_errf(eb, CJX_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cjx_errf(eb, CJX_EINVAL, "%s: not a regular file", path);
    if ((unsigned long long)st.st_size > (unsigned long long)max_bytes)
        return cjx_errf(eb, CJX_ELIMIT, "%s: larger than %zu bytes", path,
                        max_bytes);
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", path);
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int rc = cjx_errf(eb, CJX_EIO, "%s: %s", path, strerror(errno));
            explicit_bzero(buf, cap + 1);
            free(buf);
            return rc;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

int
cjx_file_open(const char *path, int *fd, struct cjx_errbuf *eb)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (*fd < 0) {
        int e = errno;
        return cjx_errf(eb, e == ENOMEM ? CJX_ENOMEM : CJX_EIO, "%s: %s", path,
                        strerror(e));
    }
    return 0;
}

int
cjx_file_read(const char *path, size_t max_bytes, char **out, size_t *len,
              struct cjx_errbuf *eb)
{
    int fd;
    int rc = cjx_file_open(path, &fd, eb);
    if (rc != 0)
        return rc;
    rc = cjx_file_read_fd(fd, path, max_bytes, out, len, eb);
    close(fd);
    return rc;
}
