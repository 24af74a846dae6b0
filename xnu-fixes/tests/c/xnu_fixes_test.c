/* Calls the xnu-fixes handlers from C the way Darling's syscall table
 * would, with Darwin's structure layouts declared by hand. Run in a scratch
 * directory; prints "ok <n>" and exits 0, or names the failed check. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xnu_fixes.h"

/* Darwin's types as a 64-bit process sees them. */
typedef struct { int32_t attr_dataoffset; uint32_t attr_length; } darwin_attrreference_t;
typedef struct { uint32_t fid_objno; uint32_t fid_generation; } darwin_fsobj_id_t;
#define ATTR_CMN_NAME 0x1u
#define ATTR_CMN_DEVID 0x2u
#define ATTR_CMN_OBJTYPE 0x8u
#define ATTR_CMN_OBJID 0x20u
#define ATTR_CMN_MODTIME 0x400u
#define ATTR_CMN_ACCTIME 0x1000u
#define ATTR_CMN_FLAGS 0x40000u
#define FSOPT_NOFOLLOW 0x1u
#define DARWIN_AT_FDCWD (-2)

static int checks;
#define CHECK(cond) do { checks++; if (!(cond)) { fprintf(stderr, "FAILED line %d: %s\n", __LINE__, #cond); exit(1); } } while (0)

static void write_file(const char *p, const char *s) {
    FILE *f = fopen(p, "w");
    if (!f) { perror(p); exit(2); }
    fputs(s, f);
    fclose(f);
}

static void test_realpath_shape(void) {
    /* The buffer Libc's realpath passes: 0x41C bytes, these four attributes. */
    struct __attribute__((packed)) {
        uint32_t length;
        darwin_attrreference_t name;
        int32_t dev;
        uint32_t obj_type;
        darwin_fsobj_id_t obj_id;
        char buf[1024];
    } attrs;
    struct xnu_attrlist al = { 5, 0, ATTR_CMN_NAME | ATTR_CMN_DEVID | ATTR_CMN_OBJTYPE | ATTR_CMN_OBJID, 0, 0, 0, 0 };
    write_file("Real File", "x");
    CHECK(sizeof(attrs) == 0x41C);
    CHECK(xnu_fixes_getattrlist("Real File", &al, &attrs, sizeof attrs, FSOPT_NOFOLLOW) == 0);
    struct stat st;
    CHECK(lstat("Real File", &st) == 0);
    const char *name = (const char *)&attrs.name + attrs.name.attr_dataoffset;
    CHECK(strcmp(name, "Real File") == 0);
    CHECK(attrs.name.attr_length == strlen("Real File") + 1);
    CHECK(attrs.obj_type == 1); /* VREG */
    CHECK(attrs.obj_id.fid_objno == (uint32_t)st.st_ino);
    CHECK((uint32_t)attrs.dev == (uint32_t)st.st_dev); /* as stat reports it */
    CHECK(attrs.length == 4 + 8 + 4 + 4 + 8 + 12);
    /* An attribute it cannot answer: EINVAL, so realpath would use lstat. */
    struct xnu_attrlist bad = al;
    bad.commonattr |= 0x00800000u; /* ATTR_CMN_UUID */
    CHECK(xnu_fixes_getattrlist("Real File", &bad, &attrs, sizeof attrs, FSOPT_NOFOLLOW) == -22);
}

static void test_utimensat_shape(void) {
    /* Libc's utimensat: setattrlistat(MODTIME|ACCTIME), buffer MODTIME then ACCTIME. */
    struct { int64_t mtime_s, mtime_ns, atime_s, atime_ns; } t = { 1, 0, 12345, 6 };
    struct xnu_attrlist al = { 5, 0, ATTR_CMN_MODTIME | ATTR_CMN_ACCTIME, 0, 0, 0, 0 };
    write_file("timed", "");
    CHECK(xnu_fixes_setattrlistat(DARWIN_AT_FDCWD, "timed", &al, &t, sizeof t, 0) == 0);
    struct stat st;
    CHECK(stat("timed", &st) == 0);
    CHECK(st.st_mtime == 1 && st.st_atime == 12345 && st.st_atim.tv_nsec == 6);
}

static void test_lchflags_shape(void) {
    /* Libc's lchflags on a symlink: setattrlist(FLAGS, &flags, 4, NOFOLLOW). */
    uint32_t flags = 0;
    struct xnu_attrlist al = { 5, 0, ATTR_CMN_FLAGS, 0, 0, 0, 0 };
    CHECK(symlink("timed", "link") == 0);
    CHECK(xnu_fixes_setattrlist("link", &al, &flags, sizeof flags, FSOPT_NOFOLLOW) == 0);
    CHECK(xnu_fixes_chflags("timed", 0) == 0);
}

static void test_rename_and_clone(void) {
    write_file("a", "A");
    write_file("b", "B");
    CHECK(xnu_fixes_renamex_np("a", "b", XNU_RENAME_EXCL) == -17);
    CHECK(xnu_fixes_renameatx_np(DARWIN_AT_FDCWD, "a", DARWIN_AT_FDCWD, "b", XNU_RENAME_SWAP) == 0);
    char c = 0;
    int fd = open("a", O_RDONLY);
    CHECK(fd >= 0 && read(fd, &c, 1) == 1 && c == 'B');
    close(fd);
    CHECK(xnu_fixes_renamex_np("a", "b", XNU_RENAME_SWAP | XNU_RENAME_EXCL) == -22);
    /* The scratch directory is not a reflink filesystem: ENOTSUP, nothing made. */
    long r = xnu_fixes_clonefileat(DARWIN_AT_FDCWD, "a", DARWIN_AT_FDCWD, "a2", 0);
    CHECK(r == -45 || r == 0);
    if (r == -45) CHECK(access("a2", F_OK) != 0);
    CHECK(xnu_fixes_clonefileat(DARWIN_AT_FDCWD, "a", DARWIN_AT_FDCWD, "b", 0) == -17 || r == -45);
}

static void test_entropy_sandbox_errno(void) {
    unsigned char buf[300];
    memset(buf, 0, sizeof buf);
    CHECK(xnu_fixes_getentropy(buf, 257) == -22);
    CHECK(xnu_fixes_getentropy(buf, 256) == 0);
    int nonzero = 0;
    for (int i = 0; i < 256; i++) nonzero |= buf[i];
    CHECK(nonzero);
    CHECK(sandbox_init_with_parameters("(version 1)(allow default)", 0, NULL, NULL) == 0);
    char *err = (char *)1;
    CHECK(sandbox_init("(version 1)", 0, &err) == 0 && err == NULL);
    sandbox_free_error(err);
    CHECK(xnu_fixes_sandbox_enforced() == 0);
    CHECK(xnu_fixes_errno_linux_to_darwin(95) == 45);
    CHECK(xnu_fixes_errno_linux_to_darwin_socket(95) == 102);
    CHECK(xnu_fixes_errno_linux_to_darwin(ENAMETOOLONG) == 63);
}

int main(void) {
    test_realpath_shape();
    test_utimensat_shape();
    test_lchflags_shape();
    test_rename_and_clone();
    test_entropy_sandbox_errno();
    printf("ok %d\n", checks);
    return 0;
}
