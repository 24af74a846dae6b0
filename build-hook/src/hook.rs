//! The hook's main loop: read settings, answer `try` requests, and after an
//! accept either build in Darling or relay to the forwarded hook.

use std::fs::File;
use std::io::{self, BufReader};

use crate::build::{self, DirectBuild};
use crate::config::Config;
use crate::decide::{classify, Verdict};
use crate::error::{Error, Result, EXIT_OK};
use crate::forward::Forwarder;
use crate::log::{self, Log};
use crate::protocol::{self, Reply, Request};
use crate::runner;
use crate::slots;
use crate::wire::WireReader;

fn send(reply: &Reply) -> Result<()> {
    log::reply(&reply.to_line()).map_err(Error::io("writing a reply to Nix"))
}

/// Runs the protocol on stdin/stderr; returns the exit status.
pub fn run(cfg: Result<Config>, verbosity: u8) -> i32 {
    let l = Log::new(verbosity);
    match answer(cfg, verbosity, &l) {
        Ok(code) => code,
        Err(e) => {
            l.error(&format!("darling-nix build-hook: {e}"));
            e.exit_code()
        }
    }
}

/// The protocol, to its end: the status to exit with (the build's, or the
/// forwarded hook's), or why the conversation with Nix broke off.
fn answer(cfg: Result<Config>, verbosity: u8, l: &Log) -> Result<i32> {
    runner::cloexec_inherited_fds();
    build::install_sigterm_handler();
    let stdin = io::stdin();
    let mut r = WireReader::new(BufReader::new(stdin.lock()));
    let settings = protocol::read_settings(&mut r).map_err(Error::from_nix("settings block"))?;
    let cfg = cfg.and_then(|c| c.validate().map(|_| c));
    if let Err(e) = &cfg {
        l.error(&format!(
            "darling-nix build-hook: configuration error, declining every build: {e}"
        ));
    }
    let mut forward: Option<Forwarder> = None;
    let mut forward_off = false;
    loop {
        let req = match protocol::read_request(&mut r).map_err(Error::from_nix("request"))? {
            Request::End => return Ok(EXIT_OK),
            Request::Try(t) => t,
        };
        let Ok(cfg) = &cfg else {
            send(&Reply::Decline)?;
            continue;
        };
        match classify(cfg, &req) {
            Verdict::Ours => match slots::admit(&cfg.state_dir, cfg.max_jobs, cfg.queue_depth()) {
                Ok(admission @ (slots::Admission::Run(_) | slots::Admission::Wait(_))) => {
                    send(&Reply::Accept(cfg.label.clone()))?;
                    drop(forward.take());
                    return accepted(cfg, &settings, &req.drv_path, &mut r, l, admission);
                }
                Ok(slots::Admission::Full) => {
                    send(&Reply::Postpone)?;
                }
                Err(e) => {
                    l.error(&format!(
                        "darling-nix build-hook: cannot use build slots in {}: {e}; declining",
                        cfg.state_dir.display()
                    ));
                    send(&Reply::Decline)?;
                }
            },
            Verdict::NotOurs(why) => {
                if cfg.forward.is_empty() || forward_off {
                    l.msg(
                        log::CHATTY,
                        &format!("darling-nix: declining '{}': {why}", req.drv_path),
                    );
                    send(&Reply::Decline)?;
                    continue;
                }
                match ask_forward(&mut forward, cfg, verbosity, &settings, &req) {
                    Ok(Reply::Accept(label)) => {
                        send(&Reply::Accept(label))?;
                        let inputs = protocol::read_build_inputs(&mut r)
                            .map_err(Error::from_nix("build inputs"))?;
                        let fwd = forward.take().expect("asked above");
                        return fwd
                            .complete(&inputs, &mut io::stderr())
                            .map_err(Error::io("forwarded hook"));
                    }
                    Ok(Reply::DeclinePermanently) => {
                        // Passing this on would stop Nix asking us about
                        // darwin builds too.
                        forward_off = true;
                        drop(forward.take());
                        send(&Reply::Decline)?;
                    }
                    Ok(reply) => {
                        send(&reply)?;
                    }
                    Err(e) => {
                        l.error(&format!("darling-nix build-hook: forwarded hook `{}`: {e}; no longer forwarding", cfg.forward.join(" ")));
                        forward_off = true;
                        drop(forward.take());
                        send(&Reply::Decline)?;
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
) -> io::Result<Reply> {
    if forward.is_none() {
        *forward = Some(Forwarder::start(&cfg.forward, verbosity, settings)?);
    }
    forward
        .as_mut()
        .expect("just set")
        .ask(req, &mut io::stderr())
}

/// After an accept: reads what Nix sends, waits for a slot if admitted to
/// the queue, and runs the build; the status is the build's.
fn accepted<R: io::Read>(
    cfg: &Config,
    settings: &protocol::Settings,
    drv_path: &str,
    r: &mut WireReader<R>,
    l: &Log,
    admission: slots::Admission,
) -> Result<i32> {
    let inputs = protocol::read_build_inputs(r).map_err(Error::from_nix("build inputs"))?;
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
            slots::wait_for_slot(&cfg.state_dir, cfg.max_jobs, ticket, &stop)
                .map_err(Error::io(format!(
                    "waiting for a build slot in {}",
                    cfg.state_dir.display()
                )))?
                .ok_or_else(|| {
                    Error::Interrupted(format!(
                        "'{drv_path}' was interrupted waiting for a build slot"
                    ))
                })?
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
        log: *l,
    }
    .run(&mut build_log);
    drop(slot);
    Ok(code)
}
