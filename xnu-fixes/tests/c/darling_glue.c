/* The path hook for a Mach-O test program inside an unpatched Darling, over
 * what Darling's libsystem_kernel exports:
 *   int __darling_vchroot_expand(const char *path, char *out)  (out: 4096 bytes;
 *     translates a prefix path to the host path, not following a final symlink)
 *   int __linux_syscall(int nr, long a1, ..., long a6)
 * The patched Darling uses integration/xnu_fixes_glue.c instead, which calls
 * vchroot_expand with or without VCHROOT_FOLLOW. Here a final symlink is
 * followed by hand when asked: absolute targets are translated again,
 * relative ones are resolved against the link's host directory. */
#include <stddef.h>

int __darling_vchroot_expand(const char *path, char *out);
int __linux_syscall(int nr, long a1, long a2, long a3, long a4, long a5, long a6);

#define HOST_MAX 4096
#define LINUX_READLINKAT 267
#define LINUX_AT_FDCWD (-100)
#define LINUX_ELOOP 40
#define LINUX_ENAMETOOLONG 36

static size_t len(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

long xnu_fixes_translate_path(const char *path, char *out, size_t out_size, int follow) {
    char host[HOST_MAX], link[HOST_MAX], next[HOST_MAX];
    if (len(path) >= HOST_MAX) return -LINUX_ENAMETOOLONG;
    int r = __darling_vchroot_expand(path, host);
    if (r < 0) return r;
    for (int hops = 0; follow; hops++) {
        if (hops == 40) return -LINUX_ELOOP;
        int n = __linux_syscall(LINUX_READLINKAT, LINUX_AT_FDCWD, (long)host, (long)link, HOST_MAX - 1, 0, 0);
        if (n < 0) break; /* not a symlink (or gone): done */
        link[n] = 0;
        if (link[0] == '/') {
            r = __darling_vchroot_expand(link, host);
            if (r < 0) return r;
            continue;
        }
        size_t dir = len(host);
        while (dir > 0 && host[dir - 1] != '/') dir--;
        if (dir + (size_t)n >= HOST_MAX) return -LINUX_ENAMETOOLONG;
        for (size_t i = 0; i < dir; i++) next[i] = host[i];
        for (int i = 0; i <= n; i++) next[dir + i] = link[i];
        for (size_t i = 0; i <= dir + (size_t)n; i++) host[i] = next[i];
    }
    size_t n = len(host);
    if (n >= out_size) return -LINUX_ENAMETOOLONG;
    for (size_t i = 0; i <= n; i++) out[i] = host[i];
    return 0;
}
