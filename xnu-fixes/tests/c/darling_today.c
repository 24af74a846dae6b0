/* What an unpatched Darling answers for the calls xnu-fixes replaces: the
 * same requests as live_suite.c, made through Darling's own libSystem
 * (its syscall table, not our handlers). One line per call:
 * "<case> rc=<return> errno=<errno or 0>".
 *
 * usage: darling_today <dir>            the file calls, in <dir>
 *        darling_today --sandbox-null   sandbox_init with a NULL errorbuf
 *        darling_today --sandbox-buf    the same with an errorbuf */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/attr.h>
#include <sys/clonefile.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Found at run time: macOS re-exports libsandbox through libSystem, but
 * whether a Darling does is what this program should report, not a reason
 * for dyld to refuse to start it. */
typedef int (*sandbox_init_fn)(const char *profile, uint64_t flags, char **errorbuf);

static sandbox_init_fn find_sandbox_init(void) {
    static const char *libs[] = {"/usr/lib/libsandbox.1.dylib", "/usr/lib/system/libsystem_sandbox.dylib"};
    void *f = dlsym(RTLD_DEFAULT, "sandbox_init");
    for (unsigned i = 0; f == NULL && i < sizeof libs / sizeof *libs; i++) {
        void *h = dlopen(libs[i], RTLD_LAZY);
        if (h != NULL) f = dlsym(h, "sandbox_init");
    }
    if (f == NULL) {
        printf("sandbox_init not found\n");
        _exit(3);
    }
    return (sandbox_init_fn)f;
}

#define CASE(name, call) do { \
        errno = 0; \
        long r_ = (long)(call); \
        printf("%s rc=%ld errno=%d\n", name, r_, r_ < 0 ? errno : 0); \
        fflush(stdout); \
    } while (0)

static void make(const char *p, const char *s) {
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, s, strlen(s)) < 0) _exit(2);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    if (strcmp(argv[1], "--sandbox-null") == 0) {
        CASE("sandbox_init null-errorbuf", find_sandbox_init()("(version 1)(allow default)", 0, NULL));
        return 0;
    }
    if (strcmp(argv[1], "--sandbox-buf") == 0) {
        char *err = NULL;
        CASE("sandbox_init errorbuf", find_sandbox_init()("(version 1)(allow default)", 0, &err));
        return 0;
    }
    if (chdir(argv[1]) != 0) return 2;
    make("a", "A");
    make("b", "B");
    if (symlink("a", "ln") != 0) return 2;
    CASE("renamex_np swap", renamex_np("a", "b", RENAME_SWAP));
    CASE("renamex_np excl", renamex_np("a", "b", RENAME_EXCL));
    CASE("clonefile", clonefile("a", "a2", 0));
    struct attrlist al = {ATTR_BIT_MAP_COUNT, 0, ATTR_CMN_NAME | ATTR_CMN_DEVID | ATTR_CMN_OBJTYPE | ATTR_CMN_OBJID, 0, 0, 0, 0};
    char buf[0x41c];
    CASE("getattrlist realpath-attrs", getattrlist("a", &al, buf, sizeof buf, FSOPT_NOFOLLOW));
    uint32_t flags = 0;
    struct attrlist fl = {ATTR_BIT_MAP_COUNT, 0, ATTR_CMN_FLAGS, 0, 0, 0, 0};
    CASE("setattrlist flags-0-nofollow", setattrlist("ln", &fl, &flags, sizeof flags, FSOPT_NOFOLLOW));
    CASE("chflags 0", chflags("a", 0));
    unsigned char rnd[300];
    CASE("getentropy 257", getentropy(rnd, 257));
    printf("done\n");
    return 0;
}
