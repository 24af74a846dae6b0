/*
 * xnu-fixes: syscall translations Darling lacks (darling-nix).
 *
 * Every xnu_fixes_* handler returns a value >= 0 on success or minus a
 * Darwin errno on failure, like Darling's own sys_* handlers, so it can sit
 * directly in __bsd_syscall_table. Paths are Darwin (prefix) paths; the
 * library translates absolute ones through xnu_fixes_translate_path().
 * File descriptor arguments use Darwin's AT_FDCWD (-2).
 *
 * The library needs exactly these symbols from its host:
 *   __linux_syscall, xnu_fixes_translate_path, memcpy, memset, bcmp
 * (memmove/memcmp may also be referenced by some compilers; the Mach-O
 * build for Darling also references __bzero, which LLVM emits for zeroing
 * memsets on Darwin).
 */
#ifndef XNU_FIXES_H
#define XNU_FIXES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hooks the host provides ------------------------------------------- */

/* A raw Linux syscall; returns the kernel's value (negative Linux errno).
 * Same signature as Darling's (src/common/base.c). */
int __linux_syscall(int nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* Translate an absolute Darwin path into a NUL-terminated host path in
 * out[out_size]; follow says whether a final symlink is followed (Darling:
 * vchroot_expand with or without VCHROOT_FOLLOW). Returns 0 or a negative
 * Linux errno. */
long xnu_fixes_translate_path(const char *path, char *out, size_t out_size, int follow);

/* ---- errno --------------------------------------------------------------- */

/* Linux errno (positive) to Darwin errno. Linux 95 becomes ENOTSUP (45) for
 * file-system calls, EOPNOTSUPP (102) with the _socket variant. Linux-only
 * codes map to the closest Darwin code. */
int xnu_fixes_errno_linux_to_darwin(int linux_errno);
int xnu_fixes_errno_linux_to_darwin_socket(int linux_errno);

/* ---- renameatx_np (BSD 488) ---------------------------------------------- */

#define XNU_RENAME_SECLUDE 0x1 /* ENOTSUP: no Linux equivalent */
#define XNU_RENAME_SWAP    0x2 /* renameat2 RENAME_EXCHANGE */
#define XNU_RENAME_EXCL    0x4 /* renameat2 RENAME_NOREPLACE */

/* Unknown flag bits, or SWAP with EXCL: EINVAL. A filesystem that cannot do
 * the flag: ENOTSUP (callers then fall back). */
long xnu_fixes_renameatx_np(int fromfd, const char *from, int tofd, const char *to, unsigned int flags);
long xnu_fixes_renamex_np(const char *from, const char *to, unsigned int flags);

/* ---- clonefileat (462) / fclonefileat (517) ------------------------------ */

#define XNU_CLONE_NOFOLLOW    0x1
#define XNU_CLONE_NOOWNERCOPY 0x2

/* Regular files: a copy-on-write clone (FICLONE) keeping mode, times and (for
 * root, without NOOWNERCOPY) owner; ENOTSUP where the filesystem cannot
 * reflink, EXDEV across filesystems, EEXIST if dst exists, EINVAL for other
 * flag bits or special files. Symlinks (with NOFOLLOW) are recreated.
 * Directories: ENOTSUP (callers copy the tree). */
long xnu_fixes_clonefileat(int src_dirfd, const char *src, int dst_dirfd, const char *dst, uint32_t flags);
long xnu_fixes_fclonefileat(int srcfd, int dst_dirfd, const char *dst, uint32_t flags);

/* ---- getattrlist (220) / fgetattrlist (228) / getattrlistat (476) -------- */

struct xnu_attrlist {
    uint16_t bitmapcount; /* must be 5 */
    uint16_t reserved;
    uint32_t commonattr, volattr, dirattr, fileattr, forkattr;
};

/* Answered: common NAME DEVID FSID OBJTYPE OBJTAG OBJID OBJPERMANENTID
 * PAROBJID SCRIPT CRTIME MODTIME CHGTIME ACCTIME BKUPTIME FNDRINFO OWNERID
 * GRPID ACCESSMASK FLAGS USERACCESS FILEID PARENTID RETURNED_ATTRS; all six
 * directory attributes; file LINKCOUNT TOTALSIZE ALLOCSIZE IOBLOCKSIZE
 * DEVTYPE DATALENGTH DATAALLOCSIZE RSRCLENGTH RSRCALLOCSIZE. Anything else,
 * any volume or fork attribute, or bitmapcount != 5: EINVAL (so Libc's
 * realpath falls back to lstat). Options: FSOPT_NOFOLLOW,
 * FSOPT_REPORT_FULLSIZE, FSOPT_PACK_INVAL_ATTRS (needs RETURNED_ATTRS).
 * A buffer shorter than 4 bytes: ERANGE; otherwise truncated silently. */
long xnu_fixes_getattrlist(const char *path, const struct xnu_attrlist *alist, void *buf, size_t size, unsigned long options);
long xnu_fixes_fgetattrlist(int fd, const struct xnu_attrlist *alist, void *buf, size_t size, unsigned long options);
long xnu_fixes_getattrlistat(int fd, const char *path, const struct xnu_attrlist *alist, void *buf, size_t size, unsigned long options);

/* ---- setattrlist (221) / fsetattrlist (229) / setattrlistat (524) -------- */

/* Applied: MODTIME, ACCTIME, FNDRINFO (xattr user.com.apple.FinderInfo; all
 * zero removes it), OWNERID, GRPID, ACCESSMASK, FLAGS. Accepted and ignored:
 * SCRIPT, CRTIME, CHGTIME, BKUPTIME, ADDEDTIME. ENOTSUP: EXTENDED_SECURITY,
 * UUID, GRPUUID, DATA_PROTECT_FLAGS, a mode on a symlink. Bits outside the
 * set masks, or a short buffer: EINVAL; size > 8192: ENOMEM. */
long xnu_fixes_setattrlist(const char *path, const struct xnu_attrlist *alist, const void *buf, size_t size, unsigned long options);
long xnu_fixes_fsetattrlist(int fd, const struct xnu_attrlist *alist, const void *buf, size_t size, unsigned long options);
long xnu_fixes_setattrlistat(int fd, const char *path, const struct xnu_attrlist *alist, const void *buf, size_t size, unsigned long options);

/* ---- chflags (34) / fchflags (35) ---------------------------------------- */

/* 0 always succeeds (clears what Linux can clear). UF_NODUMP, SF_IMMUTABLE
 * and SF_APPEND map to Linux inode flags; any other flag: ENOTSUP. */
long xnu_fixes_chflags(const char *path, int flags);
long xnu_fixes_fchflags(int fd, int flags);

/* ---- getentropy (500) ---------------------------------------------------- */

/* At most 256 bytes (EINVAL beyond); fills all of buf or fails with the
 * real error. */
long xnu_fixes_getentropy(void *buf, size_t size);

/* ---- __ulock_wait (515), __ulock_wake (516), __ulock_wait2 (544) ---------- */

/* On Linux futexes (private for operations 1 and 2, as Darling's own), with
 * XNU's results: a wait returns 1 when woken or when the value already
 * differed; a wake returns 0, or -ENOENT when nobody waited. Timeouts are
 * microseconds for wait, nanoseconds for wait2, 0 = none. The 64-bit
 * operations, unknown flags and NULL give -EINVAL. The caller applies
 * ULF_NO_ERRNO (0x01000000): minus the errno as is, or -1 and errno. */
long xnu_fixes_ulock_wait(uint32_t operation, void *addr, uint64_t value, uint32_t timeout_us);
long xnu_fixes_ulock_wait2(uint32_t operation, void *addr, uint64_t value, uint64_t timeout_ns, uint64_t value2);
long xnu_fixes_ulock_wake(uint32_t operation, void *addr, uint64_t wake_value);

/* ---- setrlimit(RLIMIT_NOFILE) floor -------------------------------------- */

/* Darling numbers its per-thread darlingserver sockets down from the soft
 * open-file limit at start; a lower limit breaks the next fork. Rewrites
 * *limits (Darwin struct rlimit: two uint64_t) so the soft NOFILE limit stays
 * at least floor (the hard one too); returns 1 when it changed them. Other
 * resources and raises are left alone. */
struct rlimit;
int xnu_fixes_rlimit_keep_floor(int resource, struct rlimit *limits, uint64_t floor);

/* ---- libsandbox ----------------------------------------------------------- */

/* These enforce NO policy (Darling has no sandbox): they return 0 and set
 * *errorbuf to NULL when errorbuf is not NULL, so Nix 2.25+ does not crash.
 * xnu_fixes_sandbox_enforced() returns 0 to say so. Exported as
 * xnu_fixes_sandbox_*, and under libsandbox's names unless the archive is
 * built without the `libsandbox-names` feature (the interposing dylib). */
int xnu_fixes_sandbox_init(const char *profile, uint64_t flags, char **errorbuf);
int xnu_fixes_sandbox_init_with_parameters(const char *profile, uint64_t flags, const char *const parameters[], char **errorbuf);
int xnu_fixes_sandbox_init_with_extensions(const char *profile, uint64_t flags, const char *const extensions[], char **errorbuf);
void xnu_fixes_sandbox_free_error(char *errorbuf);
int sandbox_init(const char *profile, uint64_t flags, char **errorbuf);
int sandbox_init_with_parameters(const char *profile, uint64_t flags, const char *const parameters[], char **errorbuf);
int sandbox_init_with_extensions(const char *profile, uint64_t flags, const char *const extensions[], char **errorbuf);
void sandbox_free_error(char *errorbuf);
int xnu_fixes_sandbox_enforced(void);

#ifdef __cplusplus
}
#endif
#endif
