/* getattrlist with Libc realpath's attributes (NAME|DEVID|OBJTYPE|OBJID,
 * FSOPT_NOFOLLOW) per call through xnu-fixes, against the floor, side by
 * side in one process (the two alternate in blocks so both see the same
 * machine state). Prints ns per call for each and the ratios.
 *
 * On Linux (the linux-shim archive) the floor is a plain statx: what
 * Darling does for lstat.
 * Built as a Mach-O program and run inside Darling (the Mach-O archive and
 * dylib/darling_hooks.c), the handler goes through Darling's
 * __linux_syscall and vchroot; the floor is Darling's own lstat, and a
 * third row is what realpath pays per component on an unpatched Darling:
 * its getattrlist (refused with EINVAL) and then lstat. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#ifdef __APPLE__
#include <mach/mach_time.h>
#include <sys/attr.h>
#include <unistd.h>
#endif

#include "xnu_fixes.h"

static double now(void) {
#ifdef __APPLE__
    /* Darwin's own clock: Darling's clock_gettime(CLOCK_MONOTONIC) was
     * seen going backwards between blocks. */
    static mach_timebase_info_data_t tb;
    if (tb.denom == 0) mach_timebase_info(&tb);
    return (double)mach_absolute_time() * tb.numer / tb.denom;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
#endif
}

static int floor_call(const char *path) {
#ifdef __APPLE__
    struct stat st;
    return lstat(path, &st);
#else
    struct statx sx;
    return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx);
#endif
}

#ifdef __APPLE__
/* An unpatched Darling: getattrlist refuses realpath's request, realpath
 * then calls lstat. */
static int today_call(const char *path) {
    struct attrlist al = {ATTR_BIT_MAP_COUNT, 0, ATTR_CMN_NAME | ATTR_CMN_DEVID | ATTR_CMN_OBJTYPE | ATTR_CMN_OBJID, 0, 0, 0, 0};
    char buf[0x41C];
    struct stat st;
    if (getattrlist(path, &al, buf, sizeof buf, FSOPT_NOFOLLOW) == 0) return 0;
    return lstat(path, &st);
}
#endif

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/usr/bin/env";
    long n = argc > 2 ? atol(argv[2]) : 200000;
    struct xnu_attrlist al = { 5, 0, 0x1 | 0x2 | 0x8 | 0x20, 0, 0, 0, 0 };
    char buf[0x41C];
    double t_attr = 0, t_floor = 0, t_today = 0;
    for (int round = 0; round < 10; round++) {
        double t0 = now();
        for (long i = 0; i < n / 10; i++)
            if (xnu_fixes_getattrlist(path, &al, buf, sizeof buf, 1) != 0) { fprintf(stderr, "getattrlist failed\n"); return 1; }
        double t1 = now();
        for (long i = 0; i < n / 10; i++)
            if (floor_call(path) != 0) { perror("floor"); return 1; }
        double t2 = now();
#ifdef __APPLE__
        for (long i = 0; i < n / 10; i++)
            if (today_call(path) != 0) { perror("lstat"); return 1; }
#endif
        double t3 = now();
        t_attr += t1 - t0;
        t_floor += t2 - t1;
        t_today += t3 - t2;
    }
#ifdef __APPLE__
    printf("| xnu-fixes getattrlist (realpath attrs), inside Darling | %.0f ns |\n", t_attr / n);
    printf("| Darling's lstat (floor) | %.0f ns |\n", t_floor / n);
    printf("| Darling today: getattrlist (EINVAL) + lstat | %.0f ns |\n", t_today / n);
    printf("ratio getattrlist/lstat: %.2f\n", t_attr / t_floor);
    printf("ratio getattrlist/today: %.2f\n", t_attr / t_today);
#else
    printf("| getattrlist (realpath attrs) | %.0f ns |\n", t_attr / n);
    printf("| statx (floor) | %.0f ns |\n", t_floor / n);
    printf("ratio getattrlist/statx: %.2f\n", t_attr / t_floor);
#endif
    return 0;
}
