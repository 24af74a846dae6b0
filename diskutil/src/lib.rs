//! `diskutil` for Darling prefixes. The Nix installers ask it about `/` and
//! `/nix` and, in the Rust installers, create and mount an APFS "Nix Store"
//! volume. `/` is answered from the prefix (statvfs where the numbers are
//! real); other volumes live in a small virtual APFS container (see
//! [`state`]). Output is XML plist with `-plist`, text otherwise.

#![warn(missing_docs)]

pub mod state;

use std::io::{self, Write};

use plist::{Dictionary, Value};
use prefixfs::Prefix;
use state::{
    State, Store, Volume, CONTAINER, PHYSICAL_STORE, ROOT_DEVICE, ROOT_NAME, WHOLE_PHYSICAL,
};

/// The two streams [`run`] answers on. [`main`] hands it in-memory buffers
/// and copies them to the real stdout and stderr only after `run` has
/// returned, so an answer is never printed for a change that failed to
/// commit halfway.
pub struct Io<'a> {
    /// diskutil's stdout: the answers, text or XML plist, including the
    /// error plist of a target not found in `-plist` mode.
    pub out: &'a mut dyn Write,
    /// diskutil's stderr: usage lines and refusals.
    pub err: &'a mut dyn Write,
}

const VERBS: &str = "Disk Utility Tool\nUtility to manage local disks and volumes\nMost commands require an administrator or root user\n\n\
Usage:  diskutil [quiet] <verb> <options>, where <verb> is as follows:\n\n\
     list                 (List the partitions of a disk)\n\
     info[rmation]        (Get information on a specific disk or partition)\n\
     mount                (Mount a single volume)\n\
     unmount | umount     (Unmount a single volume)\n\
     eject                (Eject a disk)\n\
     enableOwnership      (Exact on-disk User/Group IDs on a volume)\n\
     apfs <verb> ...      (list, addVolume, deleteVolume, listCryptoUsers)\n\n\
diskutil <verb> with no options will provide help on that verb\n";

fn plist_out(io: &mut Io, v: &Value) -> io::Result<()> {
    let mut buf = Vec::new();
    v.to_writer_xml(&mut buf).map_err(io::Error::other)?;
    io.out.write_all(&buf)?;
    if !buf.ends_with(b"\n") {
        io.out.write_all(b"\n")?;
    }
    Ok(())
}

/// A dictionary from (key, value) pairs, keys sorted as CF writes them.
fn dict(mut pairs: Vec<(&str, Value)>) -> Value {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut d = Dictionary::new();
    for (k, v) in pairs {
        d.insert(k.to_string(), v);
    }
    Value::Dictionary(d)
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn u(v: u64) -> Value {
    Value::Integer(v.into())
}

/// A volume as diskutil sees it: the root volume or a virtual one.
#[derive(Debug, Clone)]
struct Vol {
    device: String,
    name: String,
    uuid: String,
    mount_point: String,
    ownership: bool,
    case_sensitive: bool,
    is_root: bool,
}

fn volumes(st: &State) -> Vec<Vol> {
    let mut v = vec![Vol {
        device: ROOT_DEVICE.into(),
        name: ROOT_NAME.into(),
        uuid: st.root_uuid.clone(),
        mount_point: "/".into(),
        ownership: true,
        case_sensitive: false,
        is_root: true,
    }];
    v.extend(st.volumes.iter().map(|x: &Volume| Vol {
        device: x.device.clone(),
        name: x.name.clone(),
        uuid: x.uuid.clone(),
        mount_point: x.mount_point.clone(),
        ownership: x.ownership,
        case_sensitive: x.case_sensitive,
        is_root: false,
    }));
    v
}

/// What `info`, `mount`, `unmount` and friends accept: a device
/// (`disk1s7`, `/dev/disk1s7`), a mount point, a volume name or a UUID.
/// Older macOS also resolves a path inside a volume to that volume.
fn resolve(store: &Store, st: &State, target: &str) -> Option<Vol> {
    let vols = volumes(st);
    let dev = target.strip_prefix("/dev/").unwrap_or(target);
    if let Some(v) = vols
        .iter()
        .find(|v| v.device == dev || v.uuid.eq_ignore_ascii_case(target) || v.name == target)
    {
        return Some(v.clone());
    }
    if target.starts_with('/') {
        let t = target.trim_end_matches('/');
        let t = if t.is_empty() { "/" } else { t };
        if let Some(v) = vols
            .iter()
            .filter(|v| !v.mount_point.is_empty())
            .find(|v| v.mount_point == t)
        {
            return Some(v.clone());
        }
        // A path inside the prefix belongs to the volume mounted deepest above it.
        if store.host(t).exists() {
            return vols
                .iter()
                .filter(|v| {
                    !v.mount_point.is_empty()
                        && (v.mount_point == "/" || t.starts_with(&format!("{}/", v.mount_point)))
                })
                .max_by_key(|v| v.mount_point.len())
                .cloned();
        }
    }
    None
}

mod change;
mod query;
use change::*;
use query::*;

/// The tool's entry point: its whole argv (bytes). Answers are buffered
/// and written once the state change (if any) is committed; our own state
/// files failing to read or write is a sysexits code, not one of
/// diskutil's answers.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    use prefixfs::sysexits::{EX_IOERR, EX_UNAVAILABLE};
    let args = prefixfs::text_args(args.into_iter().skip(1));
    let prefix = match Prefix::resolve() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("diskutil: {e}");
            return EX_UNAVAILABLE;
        }
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = match run(
        prefix,
        &args,
        &mut Io {
            out: &mut out,
            err: &mut err,
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "diskutil: {e}");
            EX_IOERR
        }
    };
    let _ = io::stdout().write_all(&out);
    let _ = io::stderr().write_all(&err);
    code
}

/// Runs `diskutil ARGS`; returns the exit status.
pub fn run(prefix: Prefix, args: &[String], io: &mut Io) -> io::Result<i32> {
    let store = Store::new(prefix);
    // State files that lead out of the prefix (a planted link): a prefix we
    // cannot use, refused before anything is read or written.
    if let Err(e) = store.check_inside() {
        writeln!(io.err, "diskutil: {e}")?;
        return Ok(match e {
            prefixfs::PrefixError::Io { .. } => prefixfs::sysexits::EX_IOERR,
            _ => prefixfs::sysexits::EX_UNAVAILABLE,
        });
    }
    let args: Vec<String> = match args.first().map(String::as_str) {
        Some("quiet") => args[1..].to_vec(),
        _ => args.to_vec(),
    };
    let Some(verb) = args.first() else {
        write!(io.out, "{VERBS}")?;
        return Ok(0);
    };
    let rest = &args[1..];
    match verb.as_str() {
        "info" | "information" => info(&store, io, rest),
        "list" => list(&store, io, rest),
        "mount" => mount(&store, io, rest),
        "unmount" | "umount" => unmount(&store, io, rest),
        "enableOwnership" => enable_ownership(&store, io, rest),
        "eject" => match rest {
            [t] => {
                let st = store.load()?;
                match resolve(&store, &st, t) {
                    Some(v) => {
                        writeln!(
                            io.err,
                            "Unable to eject {}: it is part of the system container",
                            v.device
                        )?;
                        Ok(1)
                    }
                    None => not_found(io, false, t),
                }
            }
            _ => {
                writeln!(
                    io.err,
                    "Usage:  diskutil eject <MountPoint|DiskIdentifier|DeviceNode>"
                )?;
                Ok(1)
            }
        },
        "apfs" => match rest.first().map(String::as_str) {
            Some("list") => apfs_list(&store, io, &rest[1..]),
            Some("addVolume") => add_volume(&store, io, &rest[1..]),
            Some("deleteVolume") => delete_volume(&store, io, &rest[1..]),
            Some("listCryptoUsers") => {
                if rest.iter().any(|a| a == "-plist") {
                    plist_out(io, &dict(vec![("Users", Value::Array(vec![]))]))?;
                } else {
                    writeln!(io.out, "No cryptographic users for disk")?;
                }
                Ok(0)
            }
            Some(v @ ("encryptVolume" | "unlockVolume" | "decryptVolume")) => {
                writeln!(
                    io.err,
                    "diskutil apfs {v}: encryption is not supported in a Darling prefix"
                )?;
                Ok(1)
            }
            Some(v) => {
                writeln!(io.err, "diskutil: did not recognize APFS verb \"{v}\"; type \"diskutil apfs\" for a list")?;
                Ok(1)
            }
            None => {
                writeln!(io.out, "Usage:  diskutil [quiet] ap[fs] <verb> <options>\n  list, addVolume, deleteVolume, listCryptoUsers")?;
                Ok(0)
            }
        },
        other => {
            writeln!(
                io.err,
                "diskutil: did not recognize verb \"{other}\"; type \"diskutil\" for a list"
            )?;
            Ok(1)
        }
    }
}
