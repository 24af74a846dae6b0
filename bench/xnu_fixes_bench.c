/* getattrlist with Libc realpath's attributes (NAME|DEVID|OBJTYPE|OBJID,
 * FSOPT_NOFOLLOW) per call, against a plain statx per call (the floor:
 * what Darling does for lstat). Alternates the two in blocks so both see
 * the same machine state. Prints ns per call for each and the ratio. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "xnu_fixes.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/usr/bin/env";
    long n = argc > 2 ? atol(argv[2]) : 200000;
    struct xnu_attrlist al = { 5, 0, 0x1 | 0x2 | 0x8 | 0x20, 0, 0, 0, 0 };
    char buf[0x41C];
    struct statx sx;
    double t_attr = 0, t_statx = 0;
    for (int round = 0; round < 10; round++) {
        double t0 = now();
        for (long i = 0; i < n / 10; i++)
            if (xnu_fixes_getattrlist(path, &al, buf, sizeof buf, 1) != 0) { fprintf(stderr, "getattrlist failed\n"); return 1; }
        double t1 = now();
        for (long i = 0; i < n / 10; i++)
            if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0) { perror("statx"); return 1; }
        double t2 = now();
        t_attr += t1 - t0;
        t_statx += t2 - t1;
    }
    printf("| getattrlist (realpath attrs) | %.0f ns |\n", t_attr / n);
    printf("| statx (floor) | %.0f ns |\n", t_statx / n);
    printf("ratio getattrlist/statx: %.2f\n", t_attr / t_statx);
    return 0;
}
