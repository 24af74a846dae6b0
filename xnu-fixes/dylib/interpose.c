/* libxnu_fixes.dylib: the xnu-fixes handlers for every Darling process that
 * loads it (DYLD_INSERT_LIBRARIES), with no change to Darling. Each entry of
 * the __DATA,__interpose section makes dyld bind calls to libSystem's
 * function (from every other image) to ours instead.
 *
 * Interposed only where Darling's own answer was measured wrong
 * (tests/c/darling_today.c, docs/tools/xnu-fixes.md "Darling today"):
 *   renamex_np, renameatx_np        Darling: ENOSYS (BSD 488 missing)
 *   clonefile, clonefileat,
 *   fclonefileat                    Darling: ENOSYS (callers need ENOTSUP
 *                                   or EXDEV to fall back to copying)
 *   getattrlist family              Darling: refuses realpath's attributes
 *   setattrlist family, chflags,
 *   fchflags                        Darling: refuses (Nix's lchflags)
 *   getentropy                      Darling: no 256-byte limit
 *   sandbox_init*, sandbox_free_error
 *                                   Darling: writes through a NULL errorbuf
 *   __ulock_wait2                   Darling: BSD 544 missing; a waiter
 *                                   (zig) retries it without end
 *   __ulock_wait, __ulock_wake      Darling: timeouts of 1 ms or more wait
 *                                   1000 times too long; ULF_NO_ERRNO
 *                                   errors come back as -1; no ENOENT
 *   setrlimit                       Darling: a soft RLIMIT_NOFILE below its
 *                                   darlingserver sockets (zig lowers it to
 *                                   10240) breaks every later fork
 *   os_unfair_lock_lock, _unlock    Darling: libsystem_kernel exports empty
 *                                   ones, and libSystem re-exports it before
 *                                   libsystem_platform, so a program's lock
 *                                   excludes nobody (zig's Mutex); sent on
 *                                   to libsystem_platform's
 *
 * The handlers return minus a Darwin errno; libSystem's functions return -1
 * and set errno. Built by build.sh; see xnu-fixes/integration/README.md. */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "xnu_fixes.h"

/* darling_hooks.c: whether Darling's __linux_syscall was found when the
 * image loaded. Until then (libSystem's own start-up) the ulock calls go to
 * Darling's, since a first lookup inside a lock could deadlock. */
int xnu_fixes_hooks_ready(void);

/* libSystem's functions, as imports (declared here rather than through the
 * SDK's headers, which zig's own set may lack or declare differently). */
int renamex_np(const char *, const char *, unsigned int);
int renameatx_np(int, const char *, int, const char *, unsigned int);
int clonefile(const char *, const char *, uint32_t);
int clonefileat(int, const char *, int, const char *, uint32_t);
int fclonefileat(int, int, const char *, uint32_t);
int getattrlist(const char *, void *, void *, size_t, unsigned int);
int fgetattrlist(int, void *, void *, size_t, unsigned int);
int getattrlistat(int, const char *, void *, void *, size_t, unsigned long);
int setattrlist(const char *, void *, void *, size_t, unsigned int);
int fsetattrlist(int, void *, void *, size_t, unsigned int);
int setattrlistat(int, const char *, void *, void *, size_t, uint32_t);
int chflags(const char *, unsigned int);
int fchflags(int, unsigned int);
int getentropy(void *, size_t);
int __ulock_wait(uint32_t, void *, uint64_t, uint32_t);
int __ulock_wait2(uint32_t, void *, uint64_t, uint64_t, uint64_t);
int __ulock_wake(uint32_t, void *, uint64_t);
void os_unfair_lock_lock(void *);
void os_unfair_lock_unlock(void *);

#define DARWIN_AT_FDCWD (-2)

/* A handler's result as libSystem reports it. */
static int posix(long r) {
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return (int)r;
}

static int dn_renamex_np(const char *from, const char *to, unsigned int flags) {
    return posix(xnu_fixes_renamex_np(from, to, flags));
}
static int dn_renameatx_np(int fromfd, const char *from, int tofd, const char *to, unsigned int flags) {
    return posix(xnu_fixes_renameatx_np(fromfd, from, tofd, to, flags));
}
static int dn_clonefile(const char *src, const char *dst, uint32_t flags) {
    return posix(xnu_fixes_clonefileat(DARWIN_AT_FDCWD, src, DARWIN_AT_FDCWD, dst, flags));
}
static int dn_clonefileat(int sfd, const char *src, int dfd, const char *dst, uint32_t flags) {
    return posix(xnu_fixes_clonefileat(sfd, src, dfd, dst, flags));
}
static int dn_fclonefileat(int srcfd, int dfd, const char *dst, uint32_t flags) {
    return posix(xnu_fixes_fclonefileat(srcfd, dfd, dst, flags));
}
static int dn_getattrlist(const char *path, void *alist, void *buf, size_t size, unsigned int options) {
    return posix(xnu_fixes_getattrlist(path, alist, buf, size, options));
}
static int dn_fgetattrlist(int fd, void *alist, void *buf, size_t size, unsigned int options) {
    return posix(xnu_fixes_fgetattrlist(fd, alist, buf, size, options));
}
static int dn_getattrlistat(int fd, const char *path, void *alist, void *buf, size_t size, unsigned long options) {
    return posix(xnu_fixes_getattrlistat(fd, path, alist, buf, size, options));
}
static int dn_setattrlist(const char *path, void *alist, void *buf, size_t size, unsigned int options) {
    return posix(xnu_fixes_setattrlist(path, alist, buf, size, options));
}
static int dn_fsetattrlist(int fd, void *alist, void *buf, size_t size, unsigned int options) {
    return posix(xnu_fixes_fsetattrlist(fd, alist, buf, size, options));
}
static int dn_setattrlistat(int fd, const char *path, void *alist, void *buf, size_t size, uint32_t options) {
    return posix(xnu_fixes_setattrlistat(fd, path, alist, buf, size, options));
}
static int dn_chflags(const char *path, unsigned int flags) {
    return posix(xnu_fixes_chflags(path, (int)flags));
}
static int dn_fchflags(int fd, unsigned int flags) {
    return posix(xnu_fixes_fchflags(fd, (int)flags));
}
static int dn_getentropy(void *buf, size_t size) {
    return posix(xnu_fixes_getentropy(buf, size));
}
static int dn_sandbox_init(const char *profile, uint64_t flags, char **errorbuf) {
    return xnu_fixes_sandbox_init(profile, flags, errorbuf);
}
static int dn_sandbox_init_with_parameters(const char *profile, uint64_t flags, const char *const parameters[], char **errorbuf) {
    return xnu_fixes_sandbox_init_with_parameters(profile, flags, parameters, errorbuf);
}
static int dn_sandbox_init_with_extensions(const char *profile, uint64_t flags, const char *const extensions[], char **errorbuf) {
    return xnu_fixes_sandbox_init_with_extensions(profile, flags, extensions, errorbuf);
}
static void dn_sandbox_free_error(char *errorbuf) {
    xnu_fixes_sandbox_free_error(errorbuf);
}
#define ULF_NO_ERRNO 0x01000000u

/* A ulock handler's result as the caller asked for it. */
static int ulock_result(uint32_t op, long r) {
    if (r < 0 && (op & ULF_NO_ERRNO)) return (int)r;
    return posix(r);
}
static int dn_ulock_wait(uint32_t op, void *addr, uint64_t value, uint32_t timeout_us) {
    if (!xnu_fixes_hooks_ready()) return __ulock_wait(op, addr, value, timeout_us);
    return ulock_result(op, xnu_fixes_ulock_wait(op, addr, value, timeout_us));
}
static int dn_ulock_wait2(uint32_t op, void *addr, uint64_t value, uint64_t timeout_ns, uint64_t value2) {
    if (!xnu_fixes_hooks_ready()) {
        /* Darling's older call (microseconds; 0 = none), for the few waits
         * before this image's initializer. */
        uint64_t us = timeout_ns == 0 ? 0 : (timeout_ns + 999) / 1000;
        if (us > UINT32_MAX) us = UINT32_MAX;
        return __ulock_wait(op, addr, value, (uint32_t)us);
    }
    return ulock_result(op, xnu_fixes_ulock_wait2(op, addr, value, timeout_ns, value2));
}
static int dn_ulock_wake(uint32_t op, void *addr, uint64_t wake_value) {
    if (!xnu_fixes_hooks_ready()) return __ulock_wake(op, addr, wake_value);
    return ulock_result(op, xnu_fixes_ulock_wake(op, addr, wake_value));
}

/* The soft open-file limit when this image loaded: Darling's sockets sit
 * below it, so no request may go lower (rlimit.rs). */
static uint64_t nofile_floor;

__attribute__((constructor)) static void record_nofile_floor(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) nofile_floor = rl.rlim_cur;
}

static int dn_setrlimit(int resource, const struct rlimit *rl) {
    if (rl == NULL) return setrlimit(resource, rl);
    struct rlimit kept = *rl;
    xnu_fixes_rlimit_keep_floor(resource, &kept, nofile_floor);
    return setrlimit(resource, &kept);
}

/* libsystem_platform's os_unfair_lock, the real one. Looked up when the
 * image loads; a call before that looks it up itself. Not found (not
 * Darling's layout): whatever the caller's binding was. */
typedef void (*unfair_lock_fn)(void *);
static unfair_lock_fn platform_lock, platform_unlock;

__attribute__((constructor)) static void find_platform_lock(void) {
    void *platform = dlopen("/usr/lib/system/libsystem_platform.dylib", RTLD_LAZY | RTLD_NOLOAD);
    unfair_lock_fn lock = platform ? (unfair_lock_fn)dlsym(platform, "os_unfair_lock_lock") : NULL;
    unfair_lock_fn unlock = platform ? (unfair_lock_fn)dlsym(platform, "os_unfair_lock_unlock") : NULL;
    if (lock == NULL || unlock == NULL) {
        lock = os_unfair_lock_lock;
        unlock = os_unfair_lock_unlock;
    }
    __atomic_store_n(&platform_unlock, unlock, __ATOMIC_RELEASE);
    __atomic_store_n(&platform_lock, lock, __ATOMIC_RELEASE);
}
static void dn_os_unfair_lock_lock(void *lock) {
    unfair_lock_fn f = __atomic_load_n(&platform_lock, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        find_platform_lock();
        f = platform_lock;
    }
    f(lock);
}
static void dn_os_unfair_lock_unlock(void *lock) {
    unfair_lock_fn f = __atomic_load_n(&platform_unlock, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        find_platform_lock();
        f = platform_unlock;
    }
    f(lock);
}

#define INTERPOSE(ours, theirs)                                                  \
    __attribute__((used)) static const struct {                                  \
        const void *replacement;                                                 \
        const void *replacee;                                                    \
    } interpose_##theirs __attribute__((section("__DATA,__interpose"))) = {     \
        (const void *)(uintptr_t)&ours, (const void *)(uintptr_t)&theirs}

INTERPOSE(dn_renamex_np, renamex_np);
INTERPOSE(dn_renameatx_np, renameatx_np);
INTERPOSE(dn_clonefile, clonefile);
INTERPOSE(dn_clonefileat, clonefileat);
INTERPOSE(dn_fclonefileat, fclonefileat);
INTERPOSE(dn_getattrlist, getattrlist);
INTERPOSE(dn_fgetattrlist, fgetattrlist);
INTERPOSE(dn_getattrlistat, getattrlistat);
INTERPOSE(dn_setattrlist, setattrlist);
INTERPOSE(dn_fsetattrlist, fsetattrlist);
INTERPOSE(dn_setattrlistat, setattrlistat);
INTERPOSE(dn_chflags, chflags);
INTERPOSE(dn_fchflags, fchflags);
INTERPOSE(dn_getentropy, getentropy);
INTERPOSE(dn_sandbox_init, sandbox_init);
INTERPOSE(dn_sandbox_init_with_parameters, sandbox_init_with_parameters);
INTERPOSE(dn_sandbox_init_with_extensions, sandbox_init_with_extensions);
INTERPOSE(dn_sandbox_free_error, sandbox_free_error);
INTERPOSE(dn_ulock_wait, __ulock_wait);
INTERPOSE(dn_ulock_wait2, __ulock_wait2);
INTERPOSE(dn_ulock_wake, __ulock_wake);
INTERPOSE(dn_setrlimit, setrlimit);
INTERPOSE(dn_os_unfair_lock_lock, os_unfair_lock_lock);
INTERPOSE(dn_os_unfair_lock_unlock, os_unfair_lock_unlock);
