//! Job scripts: what runs inside the prefix under Darling's `/bin/bash`.
//!
//! A command is never passed on `darling shell`'s command line (it re-quotes
//! its arguments and reports a signal death as exit 0). Instead a script
//! names every file by its path as seen inside, sends the command's streams
//! to files or a FIFO, and writes the exit status to a file.
//!
//! The scripts use only bash builtins, so they work in a prefix without
//! Darling's `cli` component (which is what provides `/usr/bin/env`).

use std::collections::BTreeMap;

use crate::sh_quote;

/// Where a job's streams and bookkeeping go (paths as seen inside).
#[derive(Debug, Clone, Default)]
pub struct Streams<'a> {
    /// Standard input (`/dev/null` when `None`).
    pub stdin: Option<&'a str>,
    /// Standard output.
    pub stdout: &'a str,
    /// Standard error; `None` sends it to standard output.
    pub stderr: Option<&'a str>,
    /// The exit status (a decimal number and a newline).
    pub status: &'a str,
    /// The job's process group inside, written before anything else, so the
    /// host can find and kill the job (see [`crate::procs`]).
    pub pgrp: Option<&'a str>,
}

/// A command to run inside.
#[derive(Debug, Clone, Default)]
pub struct Command<'a> {
    /// The program and its arguments, each quoted for the shell; the
    /// program is a path inside or a command on the PATH inside.
    pub argv: Vec<&'a str>,
    /// Directory to run in.
    pub cwd: Option<&'a str>,
    /// When set, the command gets exactly this environment.
    pub env: Option<&'a BTreeMap<String, String>>,
}

/// Bash (builtins only) that starts the running script over, with its
/// arguments, under an empty environment (`exec -c`) when the environment
/// it was started with holds a name the shell cannot unset: an exported
/// function (`BASH_FUNC_f%%`) or a name that is not an identifier
/// (`odd-name`, `X.Y`). Bash passes those on to every command it runs.
/// Reads `/proc/self/environ`; without it, does nothing.
macro_rules! fresh_env {
    () => {
        r#"__dn_odd=
{ while IFS= read -r -d '' __dn_e; do
    case ${__dn_e%%=*} in ''|[0-9]*|*[!A-Za-z0-9_]*) __dn_odd=1; break ;; esac
  done; } 2>/dev/null </proc/self/environ
if [ -n "$__dn_odd" ] && [ -f "$0" ]; then exec -c "${BASH:-/bin/bash}" "$0" "$@"; fi
unset __dn_odd __dn_e
"#
    };
}
pub(crate) use fresh_env;

/// Bash (builtins only) that runs the script again, with its arguments, as
/// the leader of a new process group when this shell does not lead one,
/// and exits with its status. Reads `/proc/self/stat`; without it, or when
/// bash is not running a script file (`-c`, another shell), does nothing.
macro_rules! own_group {
    () => {
        r#"__dn_g=
{ read -r _ _ _ _ __dn_g _; } 2>/dev/null </proc/self/stat
if [ -n "$__dn_g" ] && [ "$__dn_g" != "$$" ] && [ "${BASH_SOURCE-}" = "$0" ]; then
  set -m; "${BASH:-/bin/bash}" "$0" "$@" & wait $!; exit $?
fi
unset __dn_g
"#
    };
}

/// Bash that unsets every exported variable and every function (one fork,
/// for `$(...)`).
macro_rules! unset_all {
    () => {
        "for __dn_v in $(compgen -e; compgen -A function); do unset -v \"$__dn_v\"; unset -f \"$__dn_v\"; done\nunset __dn_v\n"
    };
}
pub(crate) use unset_all;

fn is_identifier(k: &str) -> bool {
    let mut c = k.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Builds the script. Exit status 125 means the job could not enter its
/// directory (as `env -C` and Nix's own setup use).
pub fn render(cmd: &Command, io: &Streams) -> String {
    let q = |s: &str| sh_quote(s);
    let mut s = String::from("# written by darling-nix; runs inside Darling under /bin/bash\n");
    // Darling re-raises a signal that ends a process to its whole process
    // group (kill(0, ...)). Under `darling shell` this shell shares its group
    // with the session's own shells, which a builder's death would then end
    // before the status is written: run the script again in a group of its
    // own (as the job server runs each job), and wait for it.
    s.push_str(own_group!());
    // A job server empties its environment once, at start, and says so in
    // `__dn_clean` (its pid, `$$` in the job's subshell too, which no
    // inherited variable can know); `$(...)` costs a fork in Darling.
    let clean = "if [ \"${__dn_clean-}\" != \"$$\" ]; then\n";
    if cmd.env.is_some() {
        s.push_str(clean);
        s.push_str(fresh_env!());
        s.push_str("fi\n");
    }
    // A job server runs jobs with job control on; the job itself must keep
    // its children in its own process group so that one kill takes them all.
    s.push_str("set +m\nexec 3<&-\n");
    if let Some(p) = io.pgrp {
        // Field 5 of stat is the process group; read by the shell itself.
        s.push_str(&format!(
            "read -r _ _ _ _ __dn_pgrp _ </proc/self/stat && echo \"$__dn_pgrp\" >{}\n",
            q(p)
        ));
    }
    let stderr = match io.stderr {
        Some(e) => format!("2>{}", q(e)),
        None => "2>&1".into(),
    };
    s.push_str(&format!(
        "exec <{} >{} {stderr}\n",
        q(io.stdin.unwrap_or("/dev/null")),
        q(io.stdout)
    ));
    if let Some(dir) = cmd.cwd {
        s.push_str(&format!(
            "cd {} || {{ echo 125 >{}; exit 125; }}\n",
            q(dir),
            q(io.status)
        ));
    }
    let words: Vec<String> = cmd.argv.iter().map(|a| q(a)).collect();
    // This shell waits for the command to write its status. Darling's
    // signal emulation re-raises a signal that ends a process to the whole
    // process group (kill(0, ...)), this shell included: survive it (a
    // trapped signal is reset to the default in the command, an ignored one
    // would not be), the fatal ones too, so a crashing builder still gets
    // its status written.
    s.push_str("trap : HUP INT QUIT ALRM TERM USR1 USR2 ABRT BUS FPE ILL SEGV SYS TRAP\n");
    match cmd.env {
        None => s.push_str(&words.join(" ")),
        Some(env) if env.keys().all(|k| is_identifier(k)) => {
            // Empty the environment (functions too) with builtins only,
            // then export the job's variables; the command is run directly
            // by this shell.
            s.push_str(clean);
            s.push_str(unset_all!());
            s.push_str("fi\nunset __dn_pgrp\n");
            for (k, v) in env {
                s.push_str(&format!("export {k}={}\n", q(v)));
            }
            s.push_str(&words.join(" "));
        }
        Some(env) => {
            // A variable name the shell cannot export (Nix allows any):
            // only `env -i` can pass it, which needs Darling's cli component.
            s.push_str("/usr/bin/env -i");
            for (k, v) in env {
                s.push_str(" \\\n  ");
                s.push_str(&q(&format!("{k}={v}")));
            }
            s.push_str(" \\\n  ");
            s.push_str(&words.join(" "));
        }
    }
    s.push('\n');
    s.push_str(&format!("echo $? >{}\n", q(io.status)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::process::CommandExt;

    /// Runs a script with the host's bash, standing in for Darling's.
    fn bash(script: &str) {
        let st = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// A job's stdout, status and process-group files in `d`.
    fn files(d: &tempfile::TempDir) -> [String; 3] {
        ["out", "status", "pgrp"].map(|n| d.path().join(n).display().to_string())
    }

    /// Streams writing to [`files`].
    fn streams(f: &[String; 3]) -> Streams<'_> {
        Streams {
            stdout: &f[0],
            status: &f[1],
            pgrp: Some(&f[2]),
            ..Default::default()
        }
    }

    #[test]
    fn env_is_exactly_the_jobs_and_odd_names_use_env_i() {
        let d = tempfile::tempdir().unwrap();
        let f = files(&d);
        let [out, status, pg] = f.clone();
        let io = streams(&f);
        let mut env = BTreeMap::new();
        env.insert("a".to_string(), "it's".to_string());
        let cmd = Command {
            argv: vec!["/bin/sh", "-c", "echo \"$a\"; env | wc -l; exit 4"],
            cwd: Some("/"),
            env: Some(&env),
        };
        bash(&render(&cmd, &io));
        let text = fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("it's"));
        // `a` plus what sh itself sets (PWD, SHLVL, _ at most).
        let n: usize = lines.next().unwrap().trim().parse().unwrap();
        assert!(n <= 4, "{text}");
        assert_eq!(fs::read_to_string(&status).unwrap(), "4\n");
        // The shell runs in the group it inherited from this test (field 5,
        // not a neighbouring field of /proc/self/stat).
        let pgrp: i32 = fs::read_to_string(&pg).unwrap().trim().parse().unwrap();
        assert_eq!(pgrp, nix::unistd::getpgrp().as_raw());

        env.insert("odd-name".to_string(), "x".to_string());
        let cmd = Command {
            argv: vec!["/usr/bin/env"],
            cwd: None,
            env: Some(&env),
        };
        let script = render(&cmd, &io);
        assert!(script.contains("/usr/bin/env -i"), "{script}");
        if std::path::Path::new("/usr/bin/env").exists() {
            bash(&script);
            let text = fs::read_to_string(&out).unwrap();
            assert_eq!(text, "a=it's\nodd-name=x\n");
        }
    }

    /// The `darling shell` route: a script file run by a bash that does not
    /// lead its own process group runs again in a group of its own, so a
    /// command's death re-raised to its group (Darling's kill(0, ...))
    /// reaches neither the caller nor its shells; the status still comes
    /// back, and `bash -c` (no file) is left as it is.
    #[test]
    fn a_script_file_runs_in_a_process_group_of_its_own() {
        let d = tempfile::tempdir().unwrap();
        let f = files(&d);
        let [out, status, pg] = f.clone();
        let io = streams(&f);
        // The command ends by a signal sent to its whole group, as Darling
        // re-raises one.
        let cmd = Command {
            argv: vec!["/bin/sh", "-c", "echo dying; kill -TERM 0; sleep 5"],
            cwd: None,
            env: None,
        };
        let file = d.path().join("job.sh");
        fs::write(&file, render(&cmd, &io)).unwrap();
        // A caller leading a group of its own (not this test's), with bash
        // a member of it, as under shellspawn.
        let caller = std::process::Command::new("sh")
            .args([
                "-c",
                "bash \"$0\"; echo survived",
                &file.display().to_string(),
            ])
            .process_group(0)
            .output()
            .unwrap();
        assert!(caller.status.success(), "{caller:?}");
        assert_eq!(String::from_utf8_lossy(&caller.stdout), "survived\n");
        // (and bash's own "Terminated" after it)
        let text = fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("dying\n"), "{text}");
        assert_eq!(fs::read_to_string(&status).unwrap(), "143\n");
        let pgrp: i32 = fs::read_to_string(&pg).unwrap().trim().parse().unwrap();
        assert_ne!(
            pgrp,
            nix::unistd::getpgrp().as_raw(),
            "still in the caller's group"
        );
    }

    /// The environment a command got, as the kernel handed it over.
    fn environ(file: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read(file)
            .unwrap()
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        v.sort();
        v
    }

    /// The `darling shell` route: the script, a file run by bash, starts in
    /// whatever environment Darling gave it. Neither an exported function,
    /// nor a name bash cannot unset, nor a `__dn_clean` claiming a job
    /// server cleaned up reaches the command.
    #[test]
    fn names_bash_cannot_unset_do_not_reach_the_command() {
        let d = tempfile::tempdir().unwrap();
        let f = files(&d);
        let [out, status, _] = f.clone();
        let io = streams(&f);
        let env = BTreeMap::from([
            ("a".to_string(), "it's".to_string()),
            ("b".to_string(), "x=y".to_string()),
        ]);
        let cmd = Command {
            argv: vec!["/bin/cat", "/proc/self/environ"],
            cwd: Some("/"),
            env: Some(&env),
        };
        let script = d.path().join("job.sh");
        fs::write(&script, render(&cmd, &io)).unwrap();
        let dirty = [
            ("BASH_FUNC_f%%", "() {  echo exported function\n}"),
            ("odd-name", "1"),
            ("X.Y", "2"),
            ("LEAK", "3"),
            ("__dn_clean", "1"),
        ];
        // Each alone, then all together.
        let cases = dirty.iter().map(|kv| vec![*kv]).chain([dirty.to_vec()]);
        for given in cases {
            let st = std::process::Command::new("bash")
                .arg(&script)
                .env_clear()
                .envs(given.iter().copied())
                .status()
                .unwrap();
            assert!(st.success(), "{given:?}");
            // Bash itself sets `_` to the command's path.
            assert_eq!(
                environ(std::path::Path::new(&out)),
                ["_=/bin/cat", "a=it's", "b=x=y"],
                "{given:?}"
            );
            assert_eq!(fs::read_to_string(&status).unwrap(), "0\n");
        }
    }

    #[test]
    fn a_missing_directory_is_status_125() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out").display().to_string();
        let status = d.path().join("status").display().to_string();
        let io = Streams {
            stdout: &out,
            status: &status,
            ..Default::default()
        };
        let cmd = Command {
            argv: vec!["true"],
            cwd: Some("/nonexistent/dir"),
            env: None,
        };
        let st = std::process::Command::new("bash")
            .arg("-c")
            .arg(render(&cmd, &io))
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(125));
        assert_eq!(fs::read_to_string(&status).unwrap(), "125\n");
    }
}
