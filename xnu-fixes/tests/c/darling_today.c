/* What an unpatched Darling answers for the calls xnu-fixes replaces: the
 * same requests as live_suite.c, made through Darling's own libSystem
 * (its syscall table, not our handlers). One line per call:
 * "<case> rc=<return> errno=<errno or 0>".
 *
 * usage: darling_today <dir>            the file calls, in <dir>
 *        darling_today --sandbox-null   sandbox_init with a NULL errorbuf
 *        darling_today --sandbox-buf    the same with an errorbuf
 *        darling_today --ulock          the ulock calls (rc as returned:
 *                                       under ULF_NO_ERRNO minus the errno)
 *        darling_today --unfair-lock    os_unfair_lock: a lock held by one
 *                                       thread, tried by another; and four
 *                                       threads counting under one lock
 *        darling_today --nofile         fork after lowering the soft
 *                                       RLIMIT_NOFILE to 64, as zig does
 *                                       (to 10240) at start-up
 * Run with DYLD_INSERT_LIBRARIES=libxnu_fixes.dylib, the same program
 * shows what xnu-fixes answers instead. */
#include <dlfcn.h>
#include <errno.h>
#include <os/lock.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/attr.h>
#include <sys/clonefile.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int __ulock_wait(uint32_t, void *, uint64_t, uint32_t);
int __ulock_wait2(uint32_t, void *, uint64_t, uint64_t, uint64_t);
int __ulock_wake(uint32_t, void *, uint64_t);
#define UL_COMPARE_AND_WAIT 1u
#define ULF_NO_ERRNO 0x01000000u

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

static volatile uint32_t word;
static volatile int timed_out_rc = -999;

/* A 1 ms wait on a word nobody changes: it must end in about 1 ms. */
static void *wait_1ms(void *arg) {
    (void)arg;
    timed_out_rc = __ulock_wait(UL_COMPARE_AND_WAIT | ULF_NO_ERRNO, (void *)&word, 0, 1000);
    return NULL;
}

static void ulock_cases(void) {
    CASE("ulock_wait2 value-differs", __ulock_wait2(UL_COMPARE_AND_WAIT | ULF_NO_ERRNO, (void *)&word, 1, 0, 0));
    CASE("ulock_wait no-errno-null", __ulock_wait(UL_COMPARE_AND_WAIT | ULF_NO_ERRNO, NULL, 0, 0));
    CASE("ulock_wake no-waiter", __ulock_wake(UL_COMPARE_AND_WAIT | ULF_NO_ERRNO, (void *)&word, 0));
    pthread_t t;
    if (pthread_create(&t, NULL, wait_1ms, NULL) != 0) _exit(2);
    for (int i = 0; i < 300 && timed_out_rc == -999; i++) usleep(10000);
    /* -999: still waiting after 3 s (the process ends with it). */
    printf("ulock_wait timeout-1ms rc=%d errno=0\n", timed_out_rc);
}

static os_unfair_lock unfair = OS_UNFAIR_LOCK_INIT;
static volatile long counted;
#define COUNTERS 4
#define COUNTS 100000

static void *try_held(void *arg) {
    (void)arg;
    int got = os_unfair_lock_trylock(&unfair);
    if (got) os_unfair_lock_unlock(&unfair);
    printf("os_unfair_lock trylock-held rc=%d errno=0\n", got);
    return NULL;
}

static void *count(void *arg) {
    (void)arg;
    for (int i = 0; i < COUNTS; i++) {
        os_unfair_lock_lock(&unfair);
        long c = counted;
        counted = c + 1;
        os_unfair_lock_unlock(&unfair);
    }
    return NULL;
}

static void unfair_lock_cases(void) {
    pthread_t t[COUNTERS];
    os_unfair_lock_lock(&unfair);
    if (pthread_create(&t[0], NULL, try_held, NULL) != 0) _exit(2);
    pthread_join(t[0], NULL);
    os_unfair_lock_unlock(&unfair);
    for (int i = 0; i < COUNTERS; i++)
        if (pthread_create(&t[i], NULL, count, NULL) != 0) _exit(2);
    for (int i = 0; i < COUNTERS; i++) pthread_join(t[i], NULL);
    printf("os_unfair_lock counted=%ld of %d\n", counted, COUNTERS * COUNTS);
}

/* Lower the soft open-file limit under Darling's darlingserver sockets,
 * then fork: the child must run and exit 0 within 20 s. */
static void nofile_case(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(2);
    printf("nofile start soft=%llu\n", (unsigned long long)rl.rlim_cur);
    rl.rlim_cur = 64;
    CASE("setrlimit nofile-64", setrlimit(RLIMIT_NOFILE, &rl));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("fork-after-nofile failed errno=%d\n", errno);
        return;
    }
    if (pid == 0) _exit(0);
    int status = 0;
    for (int i = 0; i < 2000; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(status)) printf("fork-after-nofile child=exited:%d\n", WEXITSTATUS(status));
            else printf("fork-after-nofile child=signal:%d\n", WTERMSIG(status));
            return;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    printf("fork-after-nofile child=hung\n");
}

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
    if (strcmp(argv[1], "--ulock") == 0) {
        ulock_cases();
        return 0;
    }
    if (strcmp(argv[1], "--unfair-lock") == 0) {
        unfair_lock_cases();
        return 0;
    }
    if (strcmp(argv[1], "--nofile") == 0) {
        nofile_case();
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
