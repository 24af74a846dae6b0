//! Real macOS programs from the package registries (PyPI macOS wheels, npm
//! darwin-x64 packages), each with a real task to run inside Darling: the
//! corpus docs/compatibility.md reports on. Archives are fetched once with
//! the registries' own clients (pip, npm) into a cache directory
//! (`$DARLING_NIX_CORPUS_DIR`, default `<target>/corpus`) and unpacked there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where a program comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// `pip download --platform macosx_11_0_x86_64` of `name==version`.
    PyPi,
    /// `npm pack name@version`.
    Npm,
}

/// One program and its task.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Row name in the table.
    pub name: &'static str,
    pub source: Source,
    pub package: &'static str,
    pub version: &'static str,
    /// The Mach-O program inside the unpacked archive.
    pub binary: &'static str,
    /// What the task does, for the table.
    pub task: &'static str,
    /// A bash script run inside Darling in a scratch directory, with `$BIN`
    /// the program (a Mac path). Files it needs are written by
    /// [`Program::setup`].
    pub script: &'static str,
    /// What the script's output must contain when the task worked.
    pub expect: &'static str,
}

const HELLO_C: &str =
    "#include <stdio.h>\nint main(void) { printf(\"hello from zig cc\\n\"); return 0; }\n";
const HELLO_CXX: &str = "#include <iostream>\n#include <thread>\n#include <vector>\nint main() {\n  std::vector<std::thread> ts; int n[4] = {0};\n  for (int i = 0; i < 4; i++) ts.emplace_back([&n, i] { n[i] = i + 1; });\n  for (auto &t : ts) t.join();\n  std::cout << \"threads summed \" << n[0] + n[1] + n[2] + n[3] << std::endl;\n}\n";

/// The corpus: zig cc and zig c++ (the goal), and five more.
pub const CORPUS: &[Program] = &[
    Program {
        name: "zig cc",
        source: Source::PyPi,
        package: "ziglang",
        version: "0.12.0",
        binary: "ziglang/zig",
        task: "compile and link hello.c, run the result",
        script: "\"$BIN\" cc hello.c -o hello && ./hello",
        expect: "hello from zig cc",
    },
    Program {
        name: "zig c++",
        source: Source::PyPi,
        package: "ziglang",
        version: "0.12.0",
        binary: "ziglang/zig",
        task: "compile and link a C++ program with libc++ and std::thread, run it",
        script: "\"$BIN\" c++ threads.cpp -o threads && ./threads",
        expect: "threads summed 10",
    },
    Program {
        name: "ruff",
        source: Source::PyPi,
        package: "ruff",
        version: "0.8.4",
        binary: "ruff-0.8.4.data/scripts/ruff",
        task: "lint a Python file with an unused import",
        script: "\"$BIN\" check --no-cache --select F401 bad.py; true",
        expect: "F401",
    },
    Program {
        name: "uv",
        source: Source::PyPi,
        package: "uv",
        version: "0.5.11",
        binary: "uv-0.5.11.data/scripts/uv",
        task: "create a project for Python 3.12 (uv init), offline",
        script: "\"$BIN\" init --offline --no-workspace --no-readme --no-pin-python --vcs none --app --python 3.12 proj && cat proj/pyproject.toml",
        expect: "[project]",
    },
    Program {
        name: "ninja",
        source: Source::PyPi,
        package: "ninja",
        version: "1.11.1.3",
        binary: "ninja-1.11.1.3.data/scripts/ninja",
        task: "run a two-step build.ninja",
        script: "\"$BIN\" -C proj && cat proj/out2",
        expect: "built twice",
    },
    Program {
        name: "cmake",
        source: Source::PyPi,
        package: "cmake",
        version: "3.31.2",
        binary: "cmake/data/bin/cmake",
        task: "run a CMake script (string and math)",
        script: "\"$BIN\" -P script.cmake 2>&1",
        expect: "cmake says 42",
    },
    Program {
        name: "esbuild",
        source: Source::Npm,
        package: "@esbuild/darwin-x64",
        version: "0.24.2",
        binary: "package/bin/esbuild",
        task: "bundle and minify a JavaScript module",
        script: "\"$BIN\" --bundle --minify entry.js",
        expect: "esbuild-ok",
    },
];

impl Program {
    /// Writes the files the task needs into `dir`.
    pub fn setup(&self, dir: &Path) -> std::io::Result<()> {
        fs::create_dir_all(dir)?;
        match self.name {
            "zig cc" => fs::write(dir.join("hello.c"), HELLO_C),
            "zig c++" => fs::write(dir.join("threads.cpp"), HELLO_CXX),
            "ruff" => fs::write(dir.join("bad.py"), "import os\nprint('hi')\n"),
            "ninja" => {
                fs::create_dir_all(dir.join("proj"))?;
                fs::write(
                    dir.join("proj/build.ninja"),
                    "rule w\n  command = echo built > $out\nrule a\n  command = cat $in > $out && echo twice >> $out && tr '\\n' ' ' < $out > $out.t && mv $out.t $out\nbuild out1: w\nbuild out2: a out1\n",
                )
            }
            "cmake" => fs::write(
                dir.join("script.cmake"),
                "math(EXPR n \"6 * 7\")\nstring(TOLOWER \"CMAKE SAYS\" s)\nmessage(\"${s} ${n}\")\n",
            ),
            "esbuild" => {
                fs::write(dir.join("lib.js"), "export const word = 'esbuild-ok';\n")?;
                fs::write(
                    dir.join("entry.js"),
                    "import { word } from './lib.js';\nconsole.log(word);\n",
                )
            }
            _ => Ok(()),
        }
    }

    /// The archive's file name pattern start, to find it in the cache.
    fn archive_prefix(&self) -> String {
        match self.source {
            Source::PyPi => format!("{}-{}-", self.package, self.version),
            Source::Npm => {
                let base = self.package.trim_start_matches('@').replace('/', "-");
                format!("{base}-{}.", self.version)
            }
        }
    }
}

/// The cache directory.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("DARLING_NIX_CORPUS_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => crate::bin_dir()
            .parent()
            .map(|t| t.join("corpus"))
            .expect("target dir"),
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The program's archive, downloaded into `cache` unless it is there.
pub fn fetch(p: &Program, cache: &Path) -> Result<PathBuf, String> {
    let dir = cache.join("archives");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let find = || -> Option<PathBuf> {
        fs::read_dir(&dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&p.archive_prefix()))
            })
    };
    if let Some(f) = find() {
        return Ok(f);
    }
    match p.source {
        Source::PyPi => run(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "--disable-pip-version-check",
                ])
                .args([
                    "--platform",
                    "macosx_11_0_x86_64",
                    "--only-binary=:all:",
                    "-d",
                ])
                .arg(&dir)
                .arg(format!("{}=={}", p.package, p.version)),
            &format!("pip download {}=={}", p.package, p.version),
        )?,
        Source::Npm => run(
            Command::new("npm")
                .args(["pack", "-s", "--pack-destination"])
                .arg(&dir)
                .arg(format!("{}@{}", p.package, p.version))
                .current_dir(&dir),
            &format!("npm pack {}@{}", p.package, p.version),
        )?,
    }
    find().ok_or_else(|| format!("{} {}: no archive after download", p.package, p.version))
}

/// Unpacks `archive` (wheel or npm tarball) under `cache/unpacked`; returns
/// the program's path and keeps its mode executable.
pub fn unpack(p: &Program, archive: &Path, cache: &Path) -> Result<PathBuf, String> {
    let name = archive.file_name().and_then(|n| n.to_str()).unwrap_or("x");
    let dest = cache.join("unpacked").join(name);
    let bin = dest.join(p.binary);
    if !bin.exists() {
        let tmp = cache.join("unpacked").join(format!("{name}.tmp"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        if name.ends_with(".whl") {
            run(
                Command::new("python3")
                    .args(["-m", "zipfile", "-e"])
                    .arg(archive)
                    .arg(&tmp),
                "unzip",
            )?;
        } else {
            run(
                Command::new("tar")
                    .arg("xzf")
                    .arg(archive)
                    .arg("-C")
                    .arg(&tmp),
                "tar",
            )?;
        }
        let _ = fs::remove_dir_all(&dest);
        fs::rename(&tmp, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    if !bin.exists() {
        return Err(format!("{} is not in {}", p.binary, archive.display()));
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok(bin)
}

/// What the file's header says: `x86_64` for a 64-bit x86_64 Mach-O,
/// `universal (x86_64, ...)` for a fat file with an x86_64 slice, else Err.
pub fn macho_kind(path: &Path) -> Result<String, String> {
    let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let u32_at = |i: usize, be: bool| -> Option<u32> {
        let b: [u8; 4] = data.get(i..i + 4)?.try_into().ok()?;
        Some(if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    const X86_64: u32 = 0x0100_0007;
    const ARM64: u32 = 0x0100_000c;
    let arch = |c: u32| match c {
        X86_64 => "x86_64".to_string(),
        ARM64 => "arm64".to_string(),
        other => format!("cpu {other:#x}"),
    };
    match u32_at(0, false) {
        Some(0xfeed_facf) => match u32_at(4, false) {
            Some(X86_64) => Ok("x86_64".into()),
            Some(c) => Err(format!("a Mach-O for {}", arch(c))),
            None => Err("truncated".into()),
        },
        _ if u32_at(0, true) == Some(0xcafe_babe) => {
            let n = u32_at(4, true).ok_or("truncated")? as usize;
            let archs: Vec<String> = (0..n.min(16))
                .filter_map(|i| u32_at(8 + i * 20, true).map(arch))
                .collect();
            if archs.iter().any(|a| a == "x86_64") {
                Ok(format!("universal ({})", archs.join(", ")))
            } else {
                Err(format!(
                    "a universal file without x86_64 ({})",
                    archs.join(", ")
                ))
            }
        }
        _ => Err(format!("{} is not Mach-O", path.display())),
    }
}
