/* One transcript of every xnu-fixes handler, for comparing platforms.
 *
 * Built twice from this file: as a Mach-O program run inside Darling (the
 * handlers reach Linux through Darling's __linux_syscall and its vchroot),
 * and as a Linux program against the linux-shim archive. Both runs get a
 * fresh directory <base> and a directory <other> on another filesystem,
 * make the same files there, and print one line per case: return values
 * and what the platform's own calls (lstat, open, read) observe afterwards.
 * The live test compares the two transcripts line by line. Nothing here
 * knows the right answers; lines ending in "yes"/"no" are consistency
 * checks against the platform's own stat, which must say "yes".
 *
 * usage: live_suite <base> <other>     (prints the transcript on stdout) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "xnu_fixes.h"

#ifdef __APPLE__
#define ATIME_NSEC(st) ((st).st_atimespec.tv_nsec)
#define MTIME_NSEC(st) ((st).st_mtimespec.tv_nsec)
#else
#define ATIME_NSEC(st) ((st).st_atim.tv_nsec)
#define MTIME_NSEC(st) ((st).st_mtim.tv_nsec)
#endif

#define DARWIN_AT_FDCWD (-2)
#define FSOPT_NOFOLLOW 0x1u
#define FSOPT_REPORT_FULLSIZE 0x4u
#define FSOPT_PACK_INVAL_ATTRS 0x8u

#define CMN_NAME 0x1u
#define CMN_DEVID 0x2u
#define CMN_OBJTYPE 0x8u
#define CMN_OBJID 0x20u
#define CMN_MODTIME 0x400u
#define CMN_ACCTIME 0x1000u
#define CMN_FNDRINFO 0x4000u
#define CMN_OWNERID 0x8000u
#define CMN_GRPID 0x10000u
#define CMN_ACCESSMASK 0x20000u
#define CMN_FLAGS 0x40000u
#define CMN_USERACCESS 0x200000u
#define CMN_UUID 0x800000u
#define CMN_RETURNED_ATTRS 0x80000000u
/* Arguments are evaluated in no fixed order: every call whose effect is
 * observed runs in its own statement first. */

/* Every common bit the library answers (see xnu_fixes.h). */
#define CMN_ANSWERED 0x067fffffu
#define FILE_LINKCOUNT 0x1u
#define FILE_TOTALSIZE 0x2u
#define FILE_DATALENGTH 0x200u
#define FILE_ANSWERED 0x362fu
#define DIR_ANSWERED 0x3fu

static const char *base, *other;
static int lines;

/* "<dir>/<name>", allocated (never freed: a short-lived test program). */
static const char *at(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *b = malloc(n);
    if (!b) exit(2);
    snprintf(b, n, "%s/%s", dir, name);
    return b;
}

#define OUT(...) do { printf(__VA_ARGS__); putchar('\n'); lines++; } while (0)
static const char *yn(int c) { return c ? "yes" : "no"; }

static void make(const char *name, const char *content) {
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
        perror(name);
        exit(2);
    }
    close(fd);
}

static const char *slurp(const char *name) {
    char buf[64];
    int fd = open(name, O_RDONLY);
    if (fd < 0) return "(none)";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    return strdup(buf);
}

static int exists(const char *name) {
    struct stat st;
    return lstat(name, &st) == 0;
}

/* ---- getattrlist with realpath's attributes ------------------------------ */

struct realpath_buf {
    uint32_t length;
    int32_t name_off;
    uint32_t name_len;
    uint32_t dev;
    uint32_t obj_type;
    uint32_t obj_lo, obj_hi;
    char name[1024];
} __attribute__((packed));

static void report_realpath(const char *label, long r, const struct realpath_buf *b, const char *stat_path, int follow) {
    struct stat st;
    int sr = follow ? stat(stat_path, &st) : lstat(stat_path, &st);
    if (r != 0) {
        OUT("%s rc=%ld", label, r);
        return;
    }
    const char *name = (const char *)&b->name_off + b->name_off;
    OUT("%s rc=0 length=%u name=%s name_len=%u type=%u", label, b->length, name, b->name_len, b->obj_type);
    OUT("%s objid-is-st_ino %s", label, yn(sr == 0 && (((uint64_t)b->obj_hi << 32) | b->obj_lo) == (uint64_t)st.st_ino));
    OUT("%s devid-is-st_dev %s", label, yn(sr == 0 && b->dev == (uint32_t)st.st_dev));
}

static void realpath_attrs(void) {
    struct xnu_attrlist al = {5, 0, CMN_NAME | CMN_DEVID | CMN_OBJTYPE | CMN_OBJID, 0, 0, 0, 0};
    struct realpath_buf b;
    const char *objs[][2] = {
        {"Real File", "file"}, {"dir", "dir"}, {"link", "symlink"}, {"dir/..", "dotdot"}, {"dir/.", "dot"},
    };
    for (unsigned i = 0; i < sizeof objs / sizeof objs[0]; i++) {
        char label[64];
        const char *p = at(base, objs[i][0]);
        snprintf(label, sizeof label, "realpath-nofollow %s", objs[i][1]);
        memset(&b, 0xee, sizeof b);
        report_realpath(label, xnu_fixes_getattrlist(p, &al, &b, sizeof b, FSOPT_NOFOLLOW), &b, p, 0);
        snprintf(label, sizeof label, "realpath-follow %s", objs[i][1]);
        memset(&b, 0xee, sizeof b);
        report_realpath(label, xnu_fixes_getattrlist(p, &al, &b, sizeof b, 0), &b, p, 1);
    }
    memset(&b, 0xee, sizeof b);
    report_realpath("realpath root", xnu_fixes_getattrlist("/", &al, &b, sizeof b, FSOPT_NOFOLLOW), &b, "/", 0);
    memset(&b, 0xee, sizeof b);
    report_realpath("realpath missing", xnu_fixes_getattrlist(at(base, "nope"), &al, &b, sizeof b, FSOPT_NOFOLLOW), &b, at(base, "nope"), 0);
    /* What realpath relies on: an attribute it cannot answer is EINVAL. */
    struct xnu_attrlist uuid = al;
    uuid.commonattr |= CMN_UUID;
    OUT("realpath uuid rc=%ld", xnu_fixes_getattrlist(at(base, "Real File"), &uuid, &b, sizeof b, FSOPT_NOFOLLOW));

    /* The same object through an fd and through a directory fd. */
    int fd = open(at(base, "Real File"), O_RDONLY);
    memset(&b, 0xee, sizeof b);
    report_realpath("fgetattrlist file", xnu_fixes_fgetattrlist(fd, &al, &b, sizeof b, 0), &b, at(base, "Real File"), 0);
    close(fd);
    int dfd = open(base, O_RDONLY | O_DIRECTORY);
    memset(&b, 0xee, sizeof b);
    report_realpath("fgetattrlist dir", xnu_fixes_fgetattrlist(dfd, &al, &b, sizeof b, 0), &b, base, 0);
    memset(&b, 0xee, sizeof b);
    report_realpath("getattrlistat dirfd", xnu_fixes_getattrlistat(dfd, "Real File", &al, &b, sizeof b, FSOPT_NOFOLLOW), &b, at(base, "Real File"), 0);
    close(dfd);
    if (chdir(base) != 0) exit(2);
    memset(&b, 0xee, sizeof b);
    report_realpath("getattrlistat cwd", xnu_fixes_getattrlistat(DARWIN_AT_FDCWD, "Real File", &al, &b, sizeof b, FSOPT_NOFOLLOW), &b, at(base, "Real File"), 0);
}

/* ---- getattrlist: more attributes, checked against lstat --------------- */

static void wider_attrs(const char *label, const char *p) {
    struct xnu_attrlist al = {5, 0, CMN_RETURNED_ATTRS | CMN_OBJTYPE | CMN_OWNERID | CMN_GRPID | CMN_ACCESSMASK | CMN_FLAGS | CMN_USERACCESS,
                              0, 0, FILE_LINKCOUNT | FILE_TOTALSIZE | FILE_DATALENGTH, 0};
    uint32_t b[64];
    memset(b, 0, sizeof b);
    long r = xnu_fixes_getattrlist(p, &al, b, sizeof b, FSOPT_NOFOLLOW);
    struct stat st;
    lstat(p, &st);
    if (r != 0) {
        OUT("attrs %s rc=%ld", label, r);
        return;
    }
    /* length, returned (5 words), type, uid, gid, mode, flags, access,
     * then (files) linkcount, totalsize (8), datalength (8). */
    OUT("attrs %s rc=0 length=%u returned=%08x,%08x,%08x,%08x,%08x type=%u perm=%o flags=%x access=%o",
        label, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[9] & 07777, b[10], b[11]);
    OUT("attrs %s owner-group-mode-are-lstat %s", label,
        yn(b[7] == (uint32_t)st.st_uid && b[8] == (uint32_t)st.st_gid && b[9] == (uint32_t)st.st_mode));
    if (b[4])
        OUT("attrs %s nlink-size-are-lstat %s", label,
            yn(b[12] == (uint32_t)st.st_nlink && (b[13] | (uint64_t)b[14] << 32) == (uint64_t)st.st_size &&
               (b[15] | (uint64_t)b[16] << 32) == (uint64_t)st.st_size));
}

/* ---- property cases: random requests behind a canary ------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void properties(void) {
    const char *objs[] = {"Real File", "dir", "link", "fifo"};
    for (int i = 0; i < 400; i++) {
        struct xnu_attrlist al = {5, 0, next() & CMN_ANSWERED, 0, 0, 0, 0};
        if (next() % 2) al.commonattr |= CMN_RETURNED_ATTRS;
        if (next() % 3 == 0) al.dirattr = next() & DIR_ANSWERED;
        if (next() % 3 == 0) al.fileattr = next() & FILE_ANSWERED;
        switch (next() % 16) { /* now and then, something it must refuse */
        case 0: al.commonattr |= CMN_UUID; break;
        case 1: al.volattr = 1; break;
        case 2: al.bitmapcount = 4; break;
        case 3: al.forkattr = 1; break;
        }
        unsigned long opts = next() & (FSOPT_NOFOLLOW | FSOPT_REPORT_FULLSIZE | FSOPT_PACK_INVAL_ATTRS);
        size_t size = next() % 600;
        const char *obj = objs[next() % 4];
        unsigned char buf[1024];
        memset(buf, 0xa5, sizeof buf);
        long r = xnu_fixes_getattrlist(at(base, obj), &al, buf, size, opts);
        int canary = 1;
        for (size_t k = size; k < sizeof buf; k++) canary &= buf[k] == 0xa5;
        uint32_t len = 0, ret0 = 0;
        if (r == 0 && size >= 4) memcpy(&len, buf, 4);
        if (r == 0 && size >= 8 && (al.commonattr & CMN_RETURNED_ATTRS)) memcpy(&ret0, buf + 4, 4);
        OUT("prop %d %s rc=%ld len=%u returned=%08x canary-intact %s", i, obj, r, len, ret0, yn(canary));
    }
}

/* ---- setattrlist ----------------------------------------------------------- */

static void setattrs(void) {
    const char *f = at(base, "timed");
    make(f, "t");
    struct stat st;
    struct { int64_t ms, mns, as, ans; } t = {1, 0, 12345, 6};
    struct xnu_attrlist times = {5, 0, CMN_MODTIME | CMN_ACCTIME, 0, 0, 0, 0};
    OUT("setattrlistat times rc=%ld", xnu_fixes_setattrlistat(DARWIN_AT_FDCWD, f, &times, &t, sizeof t, 0));
    lstat(f, &st);
    OUT("setattrlistat times mtime=%ld atime=%ld.%ld", (long)st.st_mtime, (long)st.st_atime, (long)ATIME_NSEC(st));
    /* A short buffer: EINVAL, and nothing changed. */
    struct { int64_t ms, mns; } half = {777, 0};
    OUT("setattrlist short-buffer rc=%ld", xnu_fixes_setattrlist(f, &times, &half, sizeof half, 0));
    lstat(f, &st);
    OUT("setattrlist short-buffer mtime=%ld", (long)st.st_mtime);
    uint32_t mode = 0640;
    struct xnu_attrlist perm = {5, 0, CMN_ACCESSMASK, 0, 0, 0, 0};
    OUT("setattrlist mode rc=%ld", xnu_fixes_setattrlist(f, &perm, &mode, sizeof mode, 0));
    lstat(f, &st);
    OUT("setattrlist mode now=%o", (unsigned)(st.st_mode & 07777));
    uint32_t ids[2] = {(uint32_t)getuid(), (uint32_t)getgid()};
    struct xnu_attrlist owner = {5, 0, CMN_OWNERID | CMN_GRPID, 0, 0, 0, 0};
    OUT("setattrlist owner rc=%ld", xnu_fixes_setattrlist(f, &owner, ids, sizeof ids, 0));
    /* FinderInfo round trip, then all zero removes it. */
    unsigned char fi[32], back[4 + 32];
    for (int i = 0; i < 32; i++) fi[i] = (unsigned char)(i * 7 + 1);
    struct xnu_attrlist finder = {5, 0, CMN_FNDRINFO, 0, 0, 0, 0};
    OUT("setattrlist finderinfo rc=%ld", xnu_fixes_setattrlist(f, &finder, fi, sizeof fi, 0));
    long r = xnu_fixes_getattrlist(f, &finder, back, sizeof back, 0);
    OUT("getattrlist finderinfo rc=%ld round-trip %s", r, yn(r == 0 && memcmp(back + 4, fi, 32) == 0));
    memset(fi, 0, sizeof fi);
    OUT("setattrlist finderinfo-zero rc=%ld", xnu_fixes_setattrlist(f, &finder, fi, sizeof fi, 0));
    /* Libc's lchflags on a symlink; an unsupported attribute. */
    uint32_t flags = 0;
    struct xnu_attrlist fl = {5, 0, CMN_FLAGS, 0, 0, 0, 0};
    OUT("setattrlist lchflags-shape rc=%ld", xnu_fixes_setattrlist(at(base, "link"), &fl, &flags, sizeof flags, FSOPT_NOFOLLOW));
    unsigned char uuid[16] = {0};
    struct xnu_attrlist u = {5, 0, CMN_UUID, 0, 0, 0, 0};
    OUT("setattrlist uuid rc=%ld", xnu_fixes_setattrlist(f, &u, uuid, sizeof uuid, 0));
    /* Through an fd. */
    int fd = open(f, O_RDONLY);
    struct { int64_t s, ns; } m2 = {2000000000, 5};
    struct xnu_attrlist mt = {5, 0, CMN_MODTIME, 0, 0, 0, 0};
    OUT("fsetattrlist modtime rc=%ld", xnu_fixes_fsetattrlist(fd, &mt, &m2, sizeof m2, 0));
    close(fd);
    lstat(f, &st);
    OUT("fsetattrlist modtime now=%ld.%ld", (long)st.st_mtime, (long)MTIME_NSEC(st));
    OUT("setattrlist missing rc=%ld", xnu_fixes_setattrlist(at(base, "nope"), &mt, &m2, sizeof m2, 0));
}

/* ---- clonefileat / fclonefileat --------------------------------------------- */

static void clones(void) {
    const char *src = at(base, "clone-src");
    make(src, "C");
    long r = xnu_fixes_clonefileat(DARWIN_AT_FDCWD, src, DARWIN_AT_FDCWD, at(base, "clone-dst"), 0);
    OUT("clonefileat same-fs rc=%ld dst-exists=%s", r, yn(exists(at(base, "clone-dst"))));
    OUT("clonefileat onto-existing rc=%ld", xnu_fixes_clonefileat(DARWIN_AT_FDCWD, src, DARWIN_AT_FDCWD, at(base, "Real File"), 0));
    r = xnu_fixes_clonefileat(DARWIN_AT_FDCWD, src, DARWIN_AT_FDCWD, at(other, "clone-x"), 0);
    OUT("clonefileat cross-fs rc=%ld dst-exists=%s", r, yn(exists(at(other, "clone-x"))));
    OUT("clonefileat directory rc=%ld", xnu_fixes_clonefileat(DARWIN_AT_FDCWD, at(base, "dir"), DARWIN_AT_FDCWD, at(base, "dir-clone"), 0));
    OUT("clonefileat bad-flags rc=%ld", xnu_fixes_clonefileat(DARWIN_AT_FDCWD, src, DARWIN_AT_FDCWD, at(base, "clone-f"), 0x80));
    OUT("clonefileat missing rc=%ld", xnu_fixes_clonefileat(DARWIN_AT_FDCWD, at(base, "nope"), DARWIN_AT_FDCWD, at(base, "clone-m"), 0));
    r = xnu_fixes_clonefileat(DARWIN_AT_FDCWD, at(base, "link"), DARWIN_AT_FDCWD, at(base, "link-clone"), XNU_CLONE_NOFOLLOW);
    char target[64] = "";
    ssize_t n = readlink(at(base, "link-clone"), target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    OUT("clonefileat symlink-nofollow rc=%ld target=%s", r, target);
    int fd = open(src, O_RDONLY);
    r = xnu_fixes_fclonefileat(fd, DARWIN_AT_FDCWD, at(base, "fclone-dst"), 0);
    OUT("fclonefileat same-fs rc=%ld dst-exists=%s", r, yn(exists(at(base, "fclone-dst"))));
    r = xnu_fixes_fclonefileat(fd, DARWIN_AT_FDCWD, at(other, "fclone-x"), 0);
    OUT("fclonefileat cross-fs rc=%ld dst-exists=%s", r, yn(exists(at(other, "fclone-x"))));
    close(fd);
    OUT("fclonefileat bad-fd rc=%ld", xnu_fixes_fclonefileat(-1, DARWIN_AT_FDCWD, at(base, "fclone-b"), 0));
}

/* ---- renameatx_np / renamex_np ---------------------------------------------- */

static void renames(void) {
    const char *a = at(base, "ra"), *b = at(base, "rb"), *c = at(base, "rc");
    make(a, "A");
    make(b, "B");
    OUT("renamex_np swap rc=%ld", xnu_fixes_renamex_np(a, b, XNU_RENAME_SWAP));
    OUT("renamex_np swap a=%s", slurp(a));
    OUT("renamex_np swap b=%s", slurp(b));
    long r = xnu_fixes_renamex_np(a, b, XNU_RENAME_EXCL);
    OUT("renamex_np excl-existing rc=%ld b=%s", r, slurp(b));
    r = xnu_fixes_renamex_np(a, c, XNU_RENAME_EXCL);
    OUT("renamex_np excl-free rc=%ld c=%s a-exists=%s", r, slurp(c), yn(exists(a)));
    OUT("renamex_np swap-missing rc=%ld", xnu_fixes_renamex_np(a, b, XNU_RENAME_SWAP));
    OUT("renamex_np swap+excl rc=%ld", xnu_fixes_renamex_np(c, b, XNU_RENAME_SWAP | XNU_RENAME_EXCL));
    OUT("renamex_np seclude rc=%ld", xnu_fixes_renamex_np(c, b, XNU_RENAME_SECLUDE));
    OUT("renamex_np unknown-flag rc=%ld", xnu_fixes_renamex_np(c, b, 0x10));
    r = xnu_fixes_renamex_np(c, b, 0);
    OUT("renamex_np plain rc=%ld b=%s", r, slurp(b));
    const char *x = at(other, "rx");
    make(x, "X");
    OUT("renamex_np swap-cross-fs rc=%ld", xnu_fixes_renamex_np(b, x, XNU_RENAME_SWAP));
    int dfd = open(base, O_RDONLY | O_DIRECTORY);
    make(a, "A2");
    OUT("renameatx_np dirfd-swap rc=%ld", xnu_fixes_renameatx_np(dfd, "ra", DARWIN_AT_FDCWD, b, XNU_RENAME_SWAP));
    OUT("renameatx_np dirfd-swap ra=%s rb=%s", slurp(a), slurp(b));
    close(dfd);
}

/* ---- chflags ------------------------------------------------------------------ */

static uint32_t flags_of(const char *p) {
    struct xnu_attrlist fl = {5, 0, CMN_FLAGS, 0, 0, 0, 0};
    uint32_t b[2] = {0, 0xffffffffu};
    long r = xnu_fixes_getattrlist(p, &fl, b, sizeof b, FSOPT_NOFOLLOW);
    return r == 0 ? b[1] : 0xdeadu;
}

static void chflags_cases(void) {
    const char *f = at(base, "flagged");
    make(f, "f");
    OUT("chflags zero rc=%ld", xnu_fixes_chflags(f, 0));
    long r = xnu_fixes_chflags(f, 0x1);
    OUT("chflags nodump rc=%ld flags=%x", r, flags_of(f));
    int fd = open(f, O_RDONLY);
    r = xnu_fixes_fchflags(fd, 0);
    OUT("fchflags zero rc=%ld flags=%x", r, flags_of(f));
    close(fd);
    OUT("chflags hidden rc=%ld", xnu_fixes_chflags(f, 0x8000));
    OUT("chflags missing rc=%ld", xnu_fixes_chflags(at(base, "nope"), 0));
    OUT("chflags dir-zero rc=%ld", xnu_fixes_chflags(at(base, "dir"), 0));
}

/* ---- getentropy, sandbox, errno ------------------------------------------------ */

static void misc(void) {
    unsigned char buf[300];
    memset(buf, 0, sizeof buf);
    long r = xnu_fixes_getentropy(buf, 256);
    int nonzero = 0, tail = 0;
    for (int i = 0; i < 256; i++) nonzero += buf[i] != 0;
    for (int i = 256; i < 300; i++) tail |= buf[i];
    OUT("getentropy 256 rc=%ld mostly-nonzero %s untouched-after %s", r, yn(nonzero > 200), yn(tail == 0));
    OUT("getentropy 257 rc=%ld", xnu_fixes_getentropy(buf, 257));
    OUT("getentropy 0 rc=%ld", xnu_fixes_getentropy(buf, 0));
    OUT("sandbox_init null-errorbuf rc=%d", sandbox_init("(version 1)(allow default)", 0, NULL));
    char *err = (char *)buf;
    int s = sandbox_init("(version 1)(deny default)", 0, &err);
    OUT("sandbox_init errorbuf rc=%d set-to-null %s", s, yn(err == NULL));
    sandbox_free_error(err);
    sandbox_free_error(NULL);
    const char *params[] = {"_GLOBAL_TMP_DIR", "/tmp", NULL};
    OUT("sandbox_init_with_parameters null-errorbuf rc=%d", sandbox_init_with_parameters("(version 1)", 0, params, NULL));
    OUT("sandbox_init_with_extensions null-errorbuf rc=%d", sandbox_init_with_extensions("(version 1)", 0, NULL, NULL));
    OUT("sandbox enforced=%d", xnu_fixes_sandbox_enforced());
    static uint32_t word;
    OUT("ulock_wait2 value-differs rc=%ld", xnu_fixes_ulock_wait2(1, &word, 1, 0, 0));
    OUT("ulock_wait null rc=%ld", xnu_fixes_ulock_wait(1, NULL, 0, 0));
    OUT("ulock_wait 64-bit rc=%ld", xnu_fixes_ulock_wait(5, &word, 0, 0));
    OUT("ulock_wake no-waiter rc=%ld", xnu_fixes_ulock_wake(1, &word, 0));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long w = xnu_fixes_ulock_wait(1, &word, 0, 2000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    OUT("ulock_wait 2ms rc=%ld within-2ms-and-1s %s", w, yn(took >= 0.002 && took < 1.0));
    uint64_t lim[2] = {10240, 10240};
    int changed = xnu_fixes_rlimit_keep_floor(8, (struct rlimit *)lim, 65535);
    OUT("rlimit keep-floor changed=%d cur=%llu max=%llu", changed, (unsigned long long)lim[0], (unsigned long long)lim[1]);
    OUT("errno 95=%d socket-95=%d 36=%d 61=%d", xnu_fixes_errno_linux_to_darwin(95), xnu_fixes_errno_linux_to_darwin_socket(95),
        xnu_fixes_errno_linux_to_darwin(36), xnu_fixes_errno_linux_to_darwin(61));
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: live_suite <base> <other>\n");
        return 2;
    }
    base = argv[1];
    other = argv[2];
    make(at(base, "Real File"), "hello");
    if (mkdir(at(base, "dir"), 0755) != 0 || symlink("Real File", at(base, "link")) != 0 ||
        mkfifo(at(base, "fifo"), 0644) != 0) {
        perror("setup");
        return 2;
    }
    make(at(base, "dir/inside"), "");
    realpath_attrs();
    wider_attrs("file", at(base, "Real File"));
    wider_attrs("dir", at(base, "dir"));
    wider_attrs("symlink", at(base, "link"));
    properties();
    setattrs();
    clones();
    renames();
    chflags_cases();
    misc();
    OUT("done %d", lines + 1);
    return 0;
}
