/* The two hooks the xnu-fixes archive needs, for Mach-O code run
 * inside Darling. Darling's libsystem_kernel exports
 *   int __linux_syscall(int nr, long a1, ..., long a6)
 *   int __darling_vchroot_expand(const char *path, char *out)  (out: 4096 bytes;
 *     a prefix path to its host path, a final symlink not followed)
 * but zig's macOS libSystem stubs (what Mach-O code here links against) do
 * not list them, so both are looked up when first needed, in that library
 * itself: the image this file is linked into (the interposing dylib, a
 * test program) defines a __linux_syscall of its own, which a
 * process-wide lookup would find first.
 *
 * A final symlink is followed here when asked: absolute targets are
 * translated again, relative ones resolved against the link's host
 * directory. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define HOST_MAX 4096
#define LINUX_READLINKAT 267
#define LINUX_AT_FDCWD (-100)
#define LINUX_ELOOP 40
#define LINUX_ENAMETOOLONG 36

typedef int (*linux_syscall_fn)(int, long, long, long, long, long, long);
typedef int (*expand_fn)(const char *, char *);

static linux_syscall_fn darling_syscall;
static expand_fn darling_expand;

/* Not on Darling (or a Darling without these exports): nothing here can
 * work, so say which symbol is missing and stop. */
static void *darling_symbol(const char *name) {
    void *kernel = dlopen("/usr/lib/system/libsystem_kernel.dylib", RTLD_LAZY | RTLD_NOLOAD);
    void *sym = kernel ? dlsym(kernel, name) : NULL;
    if (sym == NULL) {
        fprintf(stderr, "darling_hooks: %s not found in libsystem_kernel (not running in Darling?)\n", name);
        exit(70);
    }
    return sym;
}

/* Both hooks, looked up once when the image loads, quietly: a lookup on
 * first use could come inside a lock dyld or libSystem holds. */
__attribute__((constructor)) static void find_darling_hooks(void) {
    void *kernel = dlopen("/usr/lib/system/libsystem_kernel.dylib", RTLD_LAZY | RTLD_NOLOAD);
    if (kernel == NULL) return;
    expand_fn e = (expand_fn)dlsym(kernel, "__darling_vchroot_expand");
    if (e != NULL) darling_expand = e;
    linux_syscall_fn s = (linux_syscall_fn)dlsym(kernel, "__linux_syscall");
    if (s != NULL) __atomic_store_n(&darling_syscall, s, __ATOMIC_RELEASE);
}

int xnu_fixes_hooks_ready(void) {
    return __atomic_load_n(&darling_syscall, __ATOMIC_ACQUIRE) != NULL;
}

int __linux_syscall(int nr, long a1, long a2, long a3, long a4, long a5, long a6) {
    if (darling_syscall == NULL) darling_syscall = (linux_syscall_fn)darling_symbol("__linux_syscall");
    return darling_syscall(nr, a1, a2, a3, a4, a5, a6);
}

static int expand(const char *path, char *out) {
    if (darling_expand == NULL) darling_expand = (expand_fn)darling_symbol("__darling_vchroot_expand");
    return darling_expand(path, out);
}

static size_t len(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

long xnu_fixes_translate_path(const char *path, char *out, size_t out_size, int follow) {
    char host[HOST_MAX], link[HOST_MAX], next[HOST_MAX];
    if (len(path) >= HOST_MAX) return -LINUX_ENAMETOOLONG;
    int r = expand(path, host);
    if (r < 0) return r;
    for (int hops = 0; follow; hops++) {
        if (hops == 40) return -LINUX_ELOOP;
        int n = __linux_syscall(LINUX_READLINKAT, LINUX_AT_FDCWD, (long)host, (long)link, HOST_MAX - 1, 0, 0);
        if (n < 0) break; /* not a symlink (or gone): done */
        link[n] = 0;
        if (link[0] == '/') {
            r = expand(link, host);
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
