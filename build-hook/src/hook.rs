//! The hook's main loop: read settings, answer `try` requests, and after an
//! accept either build in Darling or relay to the forwarded hook.

use std::fs::File;
use std::io::{self, BufReader};

use crate::build::{self, DirectBuild, EXIT_HOOK_ERROR, EXIT_OK};
use crate::config::{Config, ConfigError};
use crate::decide::{classify, Verdict};
use crate::forward::Forwarder;
use crate::log::{self, Log};
use crate::protocol::{self, Reply, Request};
use crate::runner;
use crate::slots;
use crate::wire::WireReader;

fn send(reply: &Reply, l: &Log) -> Result<(), i32> {
    log::reply(&reply.to_line()).map_err(|e| {
        l.error(&format!(
            "darling-nix build-hook: writing a reply to Nix: {e}"
        ));
        EXIT_HOOK_ERROR
    })
}

/// Runs the protocol on stdin/stderr; returns the exit status.
pub fn run(cfg: Result<Config, ConfigError>, verbosity: u8) -> i32 {
    match answer(cfg, verbosity) {
        Ok(code) | Err(code) => code,
    }
}

/// The protocol: `Ok` with the status to exit with when it ended as it
/// should, `Err` with the status when a reply could not be written.
fn answer(cfg: Result<Config, ConfigError>, verbosity: u8) -> Result<i32, i32> {
    runner::cloexec_inherited_fds();
    build::install_sigterm_handler();
    let l = Log::new(verbosity);
    let stdin = io::stdin();
    let mut r = WireReader::new(BufReader::new(stdin.lock()));
    let settings = match protocol::read_settings(&mut r) {
        Ok(s) => s,
        Err(e) => {
            l.error(&format!(
                "darling-nix build-hook: bad settings block from Nix: {e}"
            ));
            return Ok(EXIT_HOOK_ERROR);
        }
    };
    let cfg = cfg.and_then(|c| c.validate().map(|_| c));
    if let Err(e) = &cfg {
        l.error(&format!(
            "darling-nix build-hook: configuration error, declining every build: {e}"
        ));
    }
    let mut forward: Option<Forwarder> = None;
    let mut forward_off = false;
    loop {
        let req = match protocol::read_request(&mut r) {
            Ok(Request::End) => return Ok(EXIT_OK),
            Ok(Request::Try(t)) => t,
            Err(e) => {
                l.error(&format!(
                    "darling-nix build-hook: bad request from Nix: {e}"
                ));
                return Ok(EXIT_HOOK_ERROR);
            }
        };
        let Ok(cfg) = &cfg else {
            send(&Reply::Decline, &l)?;
            continue;
        };
        match classify(cfg, &req) {
            Verdict::Ours => match slots::admit(&cfg.state_dir, cfg.max_jobs, cfg.queue_depth()) {
                Ok(admission @ (slots::Admission::Run(_) | slots::Admission::Wait(_))) => {
                    send(&Reply::Accept(cfg.label.clone()), &l)?;
                    drop(forward.take());
                    return Ok(accepted(
                        cfg,
                        &settings,
                        &req.drv_path,
                        &mut r,
                        l,
                        admission,
                    ));
                }
                Ok(slots::Admission::Full) => {
                    send(&Reply::Postpone, &l)?;
                }
                Err(e) => {
                    l.error(&format!(
                        "darling-nix build-hook: cannot use build slots in {}: {e}; declining",
                        cfg.state_dir.display()
                    ));
                    send(&Reply::Decline, &l)?;
                }
            },
            Verdict::NotOurs(why) => {
                if cfg.forward.is_empty() || forward_off {
                    l.msg(
                        log::CHATTY,
                        &format!("darling-nix: declining '{}': {why}", req.drv_path),
                    );
                    send(&Reply::Decline, &l)?;
                    continue;
                }
                match ask_forward(&mut forward, cfg, verbosity, &settings, &req, &l) {
                    Ok(Reply::Accept(label)) => {
                        send(&Reply::Accept(label), &l)?;
                        let inputs = match protocol::read_build_inputs(&mut r) {
                            Ok(i) => i,
                            Err(e) => {
                                l.error(&format!(
                                    "darling-nix build-hook: bad build inputs from Nix: {e}"
                                ));
                                return Ok(EXIT_HOOK_ERROR);
                            }
                        };
                        let fwd = forward.take().expect("asked above");
                        return Ok(fwd
                            .complete(&inputs, &mut io::stderr())
                            .unwrap_or_else(|e| {
                                l.error(&format!("darling-nix build-hook: forwarded hook: {e}"));
                                EXIT_HOOK_ERROR
                            }));
                    }
                    Ok(Reply::DeclinePermanently) => {
                        // Passing this on would stop Nix asking us about
                        // darwin builds too.
                        forward_off = true;
                        drop(forward.take());
                        send(&Reply::Decline, &l)?;
                    }
                    Ok(reply) => {
                        send(&reply, &l)?;
                    }
                    Err(e) => {
                        l.error(&format!("darling-nix build-hook: forwarded hook `{}`: {e}; no longer forwarding", cfg.forward.join(" ")));
                        forward_off = true;
                        drop(forward.take());
                        send(&Reply::Decline, &l)?;
                    }
                }
            }
        }
    }
}

fn ask_forward(
    forward: &mut Option<Forwarder>,
    cfg: &Config,
    verbosity: u8,
    settings: &protocol::Settings,
    req: &protocol::TryRequest,
    _l: &Log,
) -> io::Result<Reply> {
    if forward.is_none() {
        *forward = Some(Forwarder::start(&cfg.forward, verbosity, settings)?);
    }
    forward
        .as_mut()
        .expect("just set")
        .ask(req, &mut io::stderr())
}

fn accepted<R: io::Read>(
    cfg: &Config,
    settings: &protocol::Settings,
    drv_path: &str,
    r: &mut WireReader<R>,
    l: Log,
    admission: slots::Admission,
) -> i32 {
    let inputs = match protocol::read_build_inputs(r) {
        Ok(i) => i,
        Err(e) => {
            l.error(&format!(
                "darling-nix build-hook: bad build inputs from Nix: {e}"
            ));
            return EXIT_HOOK_ERROR;
        }
    };
    // fd 5 is build-remote's SSH-error trick; we have no use for it.
    drop(runner::inherited_fd(5));
    let mut build_log: Box<dyn io::Write> = match runner::inherited_fd(4) {
        Some(fd) => Box::new(File::from(fd)),
        None => Box::new(io::sink()),
    };
    let slot = match admission {
        slots::Admission::Run(slot) => slot,
        slots::Admission::Wait(ticket) => {
            l.talk(&format!(
                "darling-nix: '{drv_path}' is waiting for a free build slot"
            ));
            let stop = || build::TERMINATED.load(std::sync::atomic::Ordering::SeqCst);
            match slots::wait_for_slot(&cfg.state_dir, cfg.max_jobs, ticket, &stop) {
                Ok(Some(slot)) => slot,
                Ok(None) => return EXIT_HOOK_ERROR,
                Err(e) => {
                    l.error(&format!(
                        "darling-nix build-hook: waiting for a build slot in {}: {e}",
                        cfg.state_dir.display()
                    ));
                    return EXIT_HOOK_ERROR;
                }
            }
        }
        slots::Admission::Full => unreachable!("only admitted builds are accepted"),
    };
    l.talk(&format!(
        "darling-nix: building '{drv_path}' in slot {}",
        slot.index
    ));
    let runner = runner::from_config(cfg);
    let code = DirectBuild {
        cfg,
        settings,
        drv_path,
        inputs: &inputs,
        runner: runner.as_ref(),
        log: l,
    }
    .run(&mut build_log);
    drop(slot);
    code
}
