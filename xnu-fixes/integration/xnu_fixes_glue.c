/* darling-nix: the path hook xnu-fixes needs, over Darling's vchroot.
 * darling-xnu.patch adds it to darling-xnu (814a90c) as
 *   darling/src/libsystem_kernel/emulation/linux/darling_nix/xnu_fixes_glue.c
 * Written for darling-nix; no Darling code. */
#include <stddef.h>
#include "vchroot_expand.h" /* emulation/linux is on the include path */

#define LINUX_ENAMETOOLONG 36

long xnu_fixes_translate_path(const char *path, char *out, size_t out_size, int follow)
{
	struct vchroot_expand_args args;
	size_t n = 0;

	/* The emulation is built -fno-builtin and freestanding: copy by hand. */
	while (path[n] != '\0') {
		if (n + 1 >= sizeof(args.path))
			return -LINUX_ENAMETOOLONG;
		args.path[n] = path[n];
		n++;
	}
	args.path[n] = '\0';
	args.flags = follow ? VCHROOT_FOLLOW : 0;
	args.dfd = -100; /* Linux AT_FDCWD; only absolute paths come here */

	int r = vchroot_expand(&args);
	if (r < 0)
		return r; /* already a negative Linux errno */

	for (n = 0; args.path[n] != '\0'; n++) {
		if (n + 1 >= out_size)
			return -LINUX_ENAMETOOLONG;
		out[n] = args.path[n];
	}
	out[n] = '\0';
	return 0;
}
