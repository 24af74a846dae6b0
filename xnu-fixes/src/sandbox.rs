//! libsandbox's entry points, safe to call: Darling's stubs write through
//! the error pointer without a NULL check, which crashes every build of
//! Nix 2.25+ (it passes NULL). These enforce **nothing**: there is no
//! sandbox in Darling. They report success so callers proceed, and set
//! `*errorbuf` to NULL when given one. Enforcement, where wanted, is
//! darling-nix's `sandbox-exec` (Landlock) around the whole build.

//!
//! Each is exported as `xnu_fixes_<name>`. With the `libsandbox-names`
//! feature (a default) they are also exported under libsandbox's own names,
//! for a Darling build that links them in place of libsandbox. The
//! interposing dylib is built without it: it must import libsandbox's
//! functions to replace them, and a definition of the same name in the
//! dylib would bind its own references instead.

use core::ffi::{c_char, c_int};

/// libsandbox's `sandbox_init(profile, flags, errorbuf)`: on Darwin it
/// puts the process under the sandbox profile `profile`, which `flags`
/// says is a built-in profile's name or the profile's source text.
///
/// Here it enforces nothing and ignores `profile` and `flags`: it returns
/// 0 (success) and, when `errorbuf` is not NULL, stores NULL in
/// `*errorbuf` (no error message). Darwin returns -1 and sets `*errorbuf`
/// on failure; this never fails.
///
/// # Safety
/// `errorbuf` may be NULL or must be writable.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_sandbox_init(
    _profile: *const c_char,
    _flags: u64,
    errorbuf: *mut *mut c_char,
) -> c_int {
    if !errorbuf.is_null() {
        // SAFETY: non-null, and writable by the caller's contract.
        unsafe { *errorbuf = core::ptr::null_mut() };
    }
    0
}

/// libsandbox's `sandbox_init_with_parameters`: `sandbox_init` with a
/// NULL-terminated list of key/value strings (`_parameters`) for the
/// profile. Ignored, like everything but `errorbuf`: behaves as
/// [`xnu_fixes_sandbox_init`] (returns 0, enforces nothing).
///
/// # Safety
/// `errorbuf` may be NULL or must be writable.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_sandbox_init_with_parameters(
    _profile: *const c_char,
    _flags: u64,
    _parameters: *const *const c_char,
    errorbuf: *mut *mut c_char,
) -> c_int {
    // SAFETY: the same contract for `errorbuf`.
    unsafe { xnu_fixes_sandbox_init(_profile, _flags, errorbuf) }
}

/// libsandbox's `sandbox_init_with_extensions`: `sandbox_init` with a
/// NULL-terminated list of sandbox extension tokens (`_extensions`).
/// Ignored: behaves as [`xnu_fixes_sandbox_init`] (returns 0, enforces
/// nothing).
///
/// # Safety
/// `errorbuf` may be NULL or must be writable.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_sandbox_init_with_extensions(
    _profile: *const c_char,
    _flags: u64,
    _extensions: *const *const c_char,
    errorbuf: *mut *mut c_char,
) -> c_int {
    // SAFETY: the same contract for `errorbuf`.
    unsafe { xnu_fixes_sandbox_init(_profile, _flags, errorbuf) }
}

/// libsandbox's `sandbox_free_error`: frees an error string a
/// `sandbox_init*` call returned. Does nothing: these functions never
/// allocate one, and NULL is accepted.
#[no_mangle]
pub extern "C" fn xnu_fixes_sandbox_free_error(_errorbuf: *mut c_char) {}

/// libsandbox's names for the functions above.
#[cfg(feature = "libsandbox-names")]
pub mod libsandbox_names {
    use super::*;

    /// [`xnu_fixes_sandbox_init`] under libsandbox's name: returns 0,
    /// enforces nothing.
    ///
    /// # Safety
    /// As [`xnu_fixes_sandbox_init`].
    #[no_mangle]
    pub unsafe extern "C" fn sandbox_init(
        profile: *const c_char,
        flags: u64,
        errorbuf: *mut *mut c_char,
    ) -> c_int {
        // SAFETY: the caller's contract is the callee's.
        unsafe { xnu_fixes_sandbox_init(profile, flags, errorbuf) }
    }

    /// [`xnu_fixes_sandbox_init_with_parameters`] under libsandbox's name:
    /// returns 0, enforces nothing.
    ///
    /// # Safety
    /// As [`xnu_fixes_sandbox_init`].
    #[no_mangle]
    pub unsafe extern "C" fn sandbox_init_with_parameters(
        profile: *const c_char,
        flags: u64,
        parameters: *const *const c_char,
        errorbuf: *mut *mut c_char,
    ) -> c_int {
        // SAFETY: the caller's contract is the callee's.
        unsafe { xnu_fixes_sandbox_init_with_parameters(profile, flags, parameters, errorbuf) }
    }

    /// [`xnu_fixes_sandbox_init_with_extensions`] under libsandbox's name:
    /// returns 0, enforces nothing.
    ///
    /// # Safety
    /// As [`xnu_fixes_sandbox_init`].
    #[no_mangle]
    pub unsafe extern "C" fn sandbox_init_with_extensions(
        profile: *const c_char,
        flags: u64,
        extensions: *const *const c_char,
        errorbuf: *mut *mut c_char,
    ) -> c_int {
        // SAFETY: the caller's contract is the callee's.
        unsafe { xnu_fixes_sandbox_init_with_extensions(profile, flags, extensions, errorbuf) }
    }

    /// [`xnu_fixes_sandbox_free_error`] under libsandbox's name (does
    /// nothing).
    #[no_mangle]
    pub extern "C" fn sandbox_free_error(errorbuf: *mut c_char) {
        xnu_fixes_sandbox_free_error(errorbuf)
    }
}

/// Whether this library's `sandbox_init*` functions enforce a policy: 0,
/// they never do. Not a libsandbox call: callers and tests ask it to
/// learn that no sandbox is in force.
#[no_mangle]
pub extern "C" fn xnu_fixes_sandbox_enforced() -> c_int {
    0
}
