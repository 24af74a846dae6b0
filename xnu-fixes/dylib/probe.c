/* xnu-fixes-probe: whether libxnu_fixes.dylib answers inside this process.
 * getentropy() of 257 bytes is the cheapest call where the answers differ:
 * xnu-fixes refuses it (EINVAL, macOS's limit is 256 bytes), Darling's own
 * libSystem fills the buffer. Prints one line; exit 0 when interposed, 1
 * when not. nix-verify runs it with DYLD_INSERT_LIBRARIES set. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int getentropy(void *, size_t);

int main(void) {
    unsigned char buf[257];
    errno = 0;
    int rc = getentropy(buf, sizeof buf);
    if (rc == -1 && errno == EINVAL) {
        printf("xnu-fixes: interposed\n");
        return 0;
    }
    printf("xnu-fixes: not interposed (getentropy(257) returned %d, errno %d)\n", rc, rc == 0 ? 0 : errno);
    return 1;
}
