//! darling-host on the real Darling (the live tier): the capture runner
//! and the job launcher, through the job server and through `darling
//! shell`, with output, status, stdin, timeouts and kill; nothing may be
//! left running inside. Skips (one line) without a working Darling.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use darling_host::{
    BuildDir, DarlingLauncher, DarlingRunner, Ended, HostError, Job, Launcher, Output, Runner,
    Running,
};
use e2e::live::LivePrefix;

fn runner(p: &LivePrefix) -> DarlingRunner {
    DarlingRunner {
        darling: e2e::live::darling_bin().unwrap(),
        prefix: p.prefix().to_path_buf(),
        scratch: p.scratch(),
    }
}

#[test]
fn runner_captures_stdin_output_status_and_signals() {
    let Some(p) = LivePrefix::new("host-capture") else {
        return;
    };
    let r = runner(&p);
    let o = r
        .run(
            &[
                "/bin/bash",
                "-c",
                "read x; echo \"$x it's\"; echo e >&2; exit 4",
            ],
            Some(b"hi\n"),
            Duration::from_secs(120),
        )
        .unwrap();
    assert_eq!(
        o,
        Output {
            code: 4,
            stdout: "hi it's\n".into(),
            stderr: "e\n".into()
        }
    );
    // `darling shell` itself would say 0 for a signal death.
    let o = r
        .run(
            &["/bin/bash", "-c", "kill -9 $$"],
            None,
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(o.code, 137, "{o:?}");
    assert_eq!(
        r.host_path("/Volumes/SystemRoot/etc/hostname"),
        Path::new("/etc/hostname")
    );
    assert_eq!(r.host_path("/usr/bin/x"), p.prefix().join("usr/bin/x"));
}

#[test]
fn runner_timeout_kills_what_it_started_inside() {
    let Some(p) = LivePrefix::new("host-timeout") else {
        return;
    };
    let r = runner(&p);
    // Start the prefix first, so the limit is spent on the command.
    let o = r.run(&["true"], None, Duration::from_secs(120)).unwrap();
    assert_eq!(o.code, 0, "{o:?}");
    let e = r
        .run(
            &["/bin/bash", "-c", "/bin/sleep 63 & /bin/sleep 63"],
            None,
            Duration::from_secs(3),
        )
        .unwrap_err();
    assert!(matches!(e, HostError::Timeout { .. }), "{e}");
    p.assert_gone("sleep 63");
}

fn drain(r: &mut Running) -> (String, Ended) {
    let (mut out, mut eof, mut buf) = (Vec::new(), false, [0u8; 4096]);
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "job never ended"
        );
        if let Some(e) = r.poll_end(eof).unwrap() {
            return (String::from_utf8_lossy(&out).into_owned(), e);
        }
        if eof {
            std::thread::sleep(Duration::from_millis(1));
        } else if r.wait_output(100).unwrap() {
            match r.read_some(&mut buf).unwrap() {
                Some(0) => eof = true,
                Some(n) => out.extend_from_slice(&buf[..n]),
                None => {}
            }
        }
    }
}

fn launcher_runs_and_kills(test: &str, served: bool) {
    let Some(p) = LivePrefix::new(test) else {
        return;
    };
    // The launcher refuses a prefix Darling has not set up yet.
    assert_eq!(p.shell("true").code, 0);
    let scratch = p.scratch();
    let l = DarlingLauncher {
        darling: e2e::live::darling_bin().unwrap().display().to_string(),
        prefix: p.prefix().to_path_buf(),
        build_base: scratch.clone(),
        server_dir: served.then(|| scratch.join("server")),
    };
    let job = |name: &str, script: &str| {
        let host = darling_host::job::create_build_dir(&scratch, name).unwrap();
        let mut env = BTreeMap::new();
        env.insert("greeting".to_string(), "hello there".to_string());
        Job {
            builder: "/bin/bash".into(),
            args: vec!["-c".into(), script.into()],
            env,
            dir: BuildDir {
                inside: l.inside_path(&host).unwrap(),
                host,
            },
        }
    };
    let j = job(
        "ok",
        "echo \"$greeting\"; echo \"$PWD\"; echo err >&2; exit 5",
    );
    let mut r = l.start(&j).unwrap();
    let (out, ended) = drain(&mut r);
    assert_eq!(ended, Ended::Exited(5), "{out}");
    assert_eq!(
        out,
        format!("hello there\n{}\nerr\n", j.dir.inside),
        "environment, directory or output wrong"
    );
    drop(r);
    assert!(
        !Path::new(&format!("{}.darling-nix", j.dir.host.display())).exists(),
        "job files left behind"
    );

    let mut r = l.start(&job("sig", "kill -TERM $$")).unwrap();
    assert_eq!(drain(&mut r).1, Ended::Signaled(15));
    drop(r);

    let mut r = l
        .start(&job("long", "echo started; /bin/sleep 64 & /bin/sleep 64"))
        .unwrap();
    let mut buf = [0u8; 64];
    let start = Instant::now();
    while !r.wait_output(100).unwrap() {
        assert!(start.elapsed() < Duration::from_secs(60), "never started");
    }
    assert_eq!(r.read_some(&mut buf).unwrap(), Some(8));
    r.kill();
    drop(r);
    p.assert_gone("sleep 64");
}

#[test]
fn launcher_through_the_job_server() {
    launcher_runs_and_kills("host-served", true);
}

#[test]
fn launcher_through_darling_shell() {
    launcher_runs_and_kills("host-shell", false);
}

/// Whichever of our tools finds a prefix stopped starts it, and the
/// container must not join that caller's process group: a kill of the group
/// would take the container down, and Darling re-raises a fatal signal to
/// a Mach-O process's whole group (once it reached cargo from here).
#[test]
fn a_stopped_prefix_starts_in_a_session_of_its_own() {
    use darling_host::boot::{ensure_running, server_pid, Boot};
    use nix::unistd::{getpgid, getsid};
    let Some(p) = LivePrefix::new("host-boot") else {
        return;
    };
    let darling = e2e::live::darling_bin().unwrap();
    let limit = Duration::from_secs(120);
    assert_eq!(server_pid(p.prefix()), None);
    for round in 0..2 {
        assert_eq!(
            ensure_running(&darling, p.prefix(), limit).unwrap(),
            Boot::Started,
            "round {round}"
        );
        let server = nix::unistd::Pid::from_raw(server_pid(p.prefix()).expect("started"));
        assert_ne!(getpgid(Some(server)).unwrap(), getpgid(None).unwrap());
        assert_ne!(getsid(Some(server)).unwrap(), getsid(None).unwrap());
        assert_eq!(
            ensure_running(&darling, p.prefix(), limit).unwrap(),
            Boot::Running
        );
        assert_eq!(p.shell("echo inside").stdout, "inside\n");
        // Stopped, it is found stopped and started afresh.
        p.shutdown();
        assert_eq!(server_pid(p.prefix()), None, "round {round}");
    }
}

/// A job whose `darling shell` found the prefix stopped used to start the
/// container in the job's own process group, and killing the job (a time
/// limit, an interrupted build) then killed the whole container.
#[test]
fn killing_the_job_that_found_the_prefix_stopped_leaves_the_container_running() {
    use darling_host::boot::server_pid;
    let Some(p) = LivePrefix::new("host-jobboot") else {
        return;
    };
    // Darling sets the prefix up; then it is stopped.
    assert_eq!(p.shell("true").code, 0);
    p.shutdown();
    assert_eq!(server_pid(p.prefix()), None);
    let scratch = p.scratch();
    let l = DarlingLauncher {
        darling: e2e::live::darling_bin().unwrap().display().to_string(),
        prefix: p.prefix().to_path_buf(),
        build_base: scratch.clone(),
        server_dir: None,
    };
    let host = darling_host::job::create_build_dir(&scratch, "boot").unwrap();
    let job = Job {
        builder: "/bin/bash".into(),
        args: vec!["-c".into(), "echo started; /bin/sleep 65".into()],
        env: BTreeMap::new(),
        dir: BuildDir {
            inside: l.inside_path(&host).unwrap(),
            host,
        },
    };
    let mut r = l.start(&job).unwrap();
    let server = server_pid(p.prefix()).expect("the launcher started the prefix");
    let start = Instant::now();
    while !r.wait_output(100).unwrap() {
        assert!(start.elapsed() < Duration::from_secs(60), "never started");
    }
    r.kill();
    drop(r);
    p.assert_gone("sleep 65");
    assert_eq!(
        server_pid(p.prefix()),
        Some(server),
        "the container died with the job"
    );
    assert_eq!(p.shell("echo still").stdout, "still\n");
}
