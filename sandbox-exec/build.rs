//! Links the unwinder (libgcc_eh) into sandbox-exec instead of loading
//! libgcc_s.so at every start, as gcc's `-static-libgcc` does for C
//! programs. With `panic = "abort"` std only uses it for backtraces, and
//! loading one more shared library cost about 0.1 ms per call here, on a
//! path Nix takes once per build (bench/tools.sh). The archive comes after
//! std's objects and before std's `-lgcc_s`, so `--as-needed` drops the
//! latter.
fn main() {
    println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
}
