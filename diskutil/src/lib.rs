//! `diskutil` for Darling prefixes. The Nix installers ask it about `/` and
//! `/nix` and, in the Rust installers, create and mount an APFS "Nix Store"
//! volume. `/` is answered from the prefix (statvfs where the numbers are
//! real); other volumes live in a small virtual APFS container (see
//! [`state`]). Output is XML plist with `-plist`, text otherwise.

pub mod state;

use std::io::{self, Write};

use plist::{Dictionary, Value};
use prefixfs::Prefix;
use state::{
    State, Store, Volume, CONTAINER, PHYSICAL_STORE, ROOT_DEVICE, ROOT_NAME, WHOLE_PHYSICAL,
};

pub struct Io<'a> {
    pub out: &'a mut dyn Write,
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

fn info_value(store: &Store, v: &Vol) -> Value {
    let space_at = if v.mount_point.is_empty() {
        store.host("/")
    } else {
        store.host(&v.mount_point)
    };
    let (total, free, used) = state::space(&space_at);
    let fs_name = if v.case_sensitive {
        "Case-sensitive APFS"
    } else {
        "APFS"
    };
    let fs_type = if v.case_sensitive { "apfsx" } else { "apfs" };
    dict(vec![
        ("APFSContainerReference", s(CONTAINER)),
        (
            "APFSPhysicalStores",
            Value::Array(vec![dict(vec![("APFSPhysicalStore", s(PHYSICAL_STORE))])]),
        ),
        ("APFSVolumeGroupID", s(&v.uuid)),
        ("Bootable", Value::Boolean(v.is_root)),
        ("BusProtocol", s("Virtual")),
        ("CanBeMadeBootable", Value::Boolean(false)),
        ("CapacityInUse", u(used)),
        ("Content", s("41504653-0000-11AA-AA11-00306543ECAC")),
        ("DeviceBlockSize", u(4096)),
        ("DeviceIdentifier", s(&v.device)),
        ("DeviceNode", s(&format!("/dev/{}", v.device))),
        ("Ejectable", Value::Boolean(false)),
        ("Encryption", Value::Boolean(false)),
        ("FileVault", Value::Boolean(false)),
        ("FilesystemName", s(fs_name)),
        ("FilesystemType", s(fs_type)),
        ("FilesystemUserVisibleName", s(fs_name)),
        ("FreeSpace", u(free)),
        ("GlobalPermissionsEnabled", Value::Boolean(v.ownership)),
        ("Internal", Value::Boolean(true)),
        ("Locked", Value::Boolean(false)),
        ("MountPoint", s(&v.mount_point)),
        ("OSInternalMedia", Value::Boolean(true)),
        ("ParentWholeDisk", s(CONTAINER)),
        ("Removable", Value::Boolean(false)),
        ("RemovableMedia", Value::Boolean(false)),
        ("Size", u(total)),
        ("SolidState", Value::Boolean(true)),
        ("TotalSize", u(total)),
        ("VirtualOrPhysical", s("Virtual")),
        ("VolumeName", s(&v.name)),
        ("VolumeUUID", s(&v.uuid)),
        ("WholeDisk", Value::Boolean(false)),
        ("Writable", Value::Boolean(!v.mount_point.is_empty())),
        ("WritableVolume", Value::Boolean(!v.mount_point.is_empty())),
    ])
}

fn not_found(io: &mut Io, plist_mode: bool, target: &str) -> io::Result<i32> {
    let msg = format!("Could not find disk: {target}");
    if plist_mode {
        plist_out(
            io,
            &dict(vec![
                ("Error", Value::Boolean(true)),
                ("ErrorMessage", s(&msg)),
                ("ExitCode", u(1)),
            ]),
        )?;
    } else {
        writeln!(io.err, "{msg}")?;
    }
    Ok(1)
}

fn info(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let (plist_mode, rest): (bool, Vec<&String>) = (
        args.iter().any(|a| a == "-plist"),
        args.iter().filter(|a| *a != "-plist").collect(),
    );
    let [target] = rest.as_slice() else {
        writeln!(io.err, "Usage:  diskutil info[rmation] [-plist] <MountPoint|DiskIdentifier|DeviceNode|VolumeName|UUID>")?;
        return Ok(1);
    };
    let st = store.load()?;
    let Some(v) = resolve(store, &st, target) else {
        return not_found(io, plist_mode, target);
    };
    let val = info_value(store, &v);
    if plist_mode {
        plist_out(io, &val)?;
    } else {
        let d = val.as_dictionary().expect("dict");
        let get = |k: &str| match d.get(k) {
            Some(Value::String(x)) => x.clone(),
            Some(Value::Boolean(b)) => {
                if *b {
                    "Yes".into()
                } else {
                    "No".into()
                }
            }
            Some(Value::Integer(i)) => format!("{} Bytes", i.as_unsigned().unwrap_or(0)),
            _ => String::new(),
        };
        for (label, key) in [
            ("Device Identifier", "DeviceIdentifier"),
            ("Device Node", "DeviceNode"),
            ("Whole", "WholeDisk"),
            ("Part of Whole", "ParentWholeDisk"),
            ("Volume Name", "VolumeName"),
            ("Mounted", "MountPoint"),
            ("File System Personality", "FilesystemType"),
            ("Name (User Visible)", "FilesystemName"),
            ("Owners", "GlobalPermissionsEnabled"),
            ("Volume UUID", "VolumeUUID"),
            ("Container Total Space", "TotalSize"),
            ("Container Free Space", "FreeSpace"),
            ("Volume Used Space", "CapacityInUse"),
            ("FileVault", "FileVault"),
            ("Solid State", "SolidState"),
            ("Virtual", "VirtualOrPhysical"),
        ] {
            let mut value = get(key);
            if key == "MountPoint" {
                value = if value.is_empty() {
                    "No".into()
                } else {
                    format!("Yes ({value})")
                };
            }
            writeln!(io.out, "   {:<33}{value}", format!("{label}:"))?;
        }
    }
    Ok(0)
}

fn apfs_list(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let st = store.load()?;
    let (total, free, _) = state::space(&store.host("/"));
    let vols: Vec<Value> = volumes(&st)
        .iter()
        .map(|v| {
            let used = if v.is_root {
                state::space(&store.host("/")).2
            } else {
                0
            };
            dict(vec![
                ("APFSVolumeUUID", s(&v.uuid)),
                ("CapacityInUse", u(used)),
                ("CapacityQuota", u(0)),
                ("CapacityReserve", u(0)),
                ("CryptoMigrationOn", Value::Boolean(false)),
                ("DeviceIdentifier", s(&v.device)),
                ("Encryption", Value::Boolean(false)),
                ("FileVault", Value::Boolean(false)),
                ("Locked", Value::Boolean(false)),
                ("Name", s(&v.name)),
                (
                    "Roles",
                    Value::Array(if v.is_root { vec![s("System")] } else { vec![] }),
                ),
            ])
        })
        .collect();
    let container = dict(vec![
        ("APFSContainerUUID", s(&st.container_uuid)),
        ("CapacityCeiling", u(total)),
        ("CapacityFree", u(free)),
        ("ContainerReference", s(CONTAINER)),
        ("DesignatedPhysicalStore", s(PHYSICAL_STORE)),
        ("Fusion", Value::Boolean(false)),
        (
            "PhysicalStores",
            Value::Array(vec![dict(vec![
                ("DeviceIdentifier", s(PHYSICAL_STORE)),
                ("DiskUUID", s(&st.disk_uuid)),
                ("Size", u(total)),
            ])]),
        ),
        ("Volumes", Value::Array(vols.clone())),
    ]);
    if args.iter().any(|a| a == "-plist") {
        plist_out(
            io,
            &dict(vec![("Containers", Value::Array(vec![container]))]),
        )?;
    } else {
        writeln!(
            io.out,
            "APFS Container (1 found)\n|\n+-- Container {CONTAINER} {}",
            st.container_uuid
        )?;
        writeln!(io.out, "    Capacity Ceiling (Size):   {total} B")?;
        for v in volumes(&st) {
            writeln!(
                io.out,
                "    +-> Volume {} {}\n        Name: {}\n        Mount Point: {}",
                v.device,
                v.uuid,
                v.name,
                if v.mount_point.is_empty() {
                    "Not Mounted"
                } else {
                    &v.mount_point
                }
            )?;
        }
    }
    Ok(0)
}

fn list(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let st = store.load()?;
    let (total, _, _) = state::space(&store.host("/"));
    let vols = volumes(&st);
    let apfs_vols: Vec<Value> = vols
        .iter()
        .map(|v| {
            dict(vec![
                (
                    "CapacityInUse",
                    u(if v.is_root {
                        state::space(&store.host("/")).2
                    } else {
                        0
                    }),
                ),
                ("DeviceIdentifier", s(&v.device)),
                ("DiskUUID", s(&v.uuid)),
                ("MountPoint", s(&v.mount_point)),
                ("OSInternal", Value::Boolean(true)),
                ("Size", u(total)),
                ("VolumeName", s(&v.name)),
                ("VolumeUUID", s(&v.uuid)),
            ])
        })
        .collect();
    let virtual_only = args.iter().any(|a| a == "virtual");
    let physical_only = args.iter().any(|a| a == "physical");
    let mut all = Vec::new();
    if !virtual_only {
        all.push(dict(vec![
            ("Content", s("GUID_partition_scheme")),
            ("DeviceIdentifier", s(WHOLE_PHYSICAL)),
            ("OSInternal", Value::Boolean(true)),
            (
                "Partitions",
                Value::Array(vec![dict(vec![
                    ("Content", s("Apple_APFS")),
                    ("DeviceIdentifier", s(PHYSICAL_STORE)),
                    ("DiskUUID", s(&st.disk_uuid)),
                    ("Size", u(total)),
                ])]),
            ),
            ("Size", u(total)),
        ]));
    }
    if !physical_only {
        all.push(dict(vec![
            (
                "APFSPhysicalStores",
                Value::Array(vec![dict(vec![("DeviceIdentifier", s(PHYSICAL_STORE))])]),
            ),
            ("APFSVolumes", Value::Array(apfs_vols)),
            ("Content", s("")),
            ("DeviceIdentifier", s(CONTAINER)),
            ("OSInternal", Value::Boolean(true)),
            ("Size", u(total)),
        ]));
    }
    let whole: Vec<Value> = all
        .iter()
        .filter_map(|d| d.as_dictionary()?.get("DeviceIdentifier").cloned())
        .collect();
    let mut alldisks = Vec::new();
    if !virtual_only {
        alldisks.extend([s(WHOLE_PHYSICAL), s(PHYSICAL_STORE)]);
    }
    if !physical_only {
        alldisks.push(s(CONTAINER));
        alldisks.extend(vols.iter().map(|v| s(&v.device)));
    }
    if args.iter().any(|a| a == "-plist") {
        plist_out(
            io,
            &dict(vec![
                ("AllDisks", Value::Array(alldisks)),
                ("AllDisksAndPartitions", Value::Array(all)),
                (
                    "VolumesFromDisks",
                    Value::Array(if physical_only {
                        vec![]
                    } else {
                        vols.iter().map(|v| s(&v.name)).collect()
                    }),
                ),
                ("WholeDisks", Value::Array(whole)),
            ]),
        )?;
    } else {
        if !virtual_only {
            writeln!(io.out, "/dev/{WHOLE_PHYSICAL} (internal, physical):\n   #:                       TYPE NAME                    SIZE       IDENTIFIER\n   0:      GUID_partition_scheme                        {total:>10} B  {WHOLE_PHYSICAL}\n   1:                 Apple_APFS Container {CONTAINER}      {total:>10} B  {PHYSICAL_STORE}\n")?;
        }
        if !physical_only {
            writeln!(io.out, "/dev/{CONTAINER} (synthesized):\n   #:                       TYPE NAME                    SIZE       IDENTIFIER\n   0:      APFS Container Scheme -                      {total:>10} B  {CONTAINER}\n                                 Physical Store {PHYSICAL_STORE}")?;
            for (i, v) in vols.iter().enumerate() {
                writeln!(
                    io.out,
                    "   {}:                APFS Volume {:<23} {:>10}    {}",
                    i + 1,
                    v.name,
                    "-",
                    v.device
                )?;
            }
        }
    }
    Ok(0)
}

/// Volume names: printable, no `/` or `:` (they name a directory under /Volumes).
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 255
        && !n.contains(['/', ':', '\0', prefixfs::NOT_UTF8])
        && !n.chars().any(char::is_control)
}

fn valid_mount_point(p: &str) -> bool {
    p.starts_with('/')
        && p != "/"
        && !p.split('/').any(|c| c == "..")
        && !p.contains(['\0', prefixfs::NOT_UTF8])
}

fn add_volume(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let usage = "Usage:  diskutil apfs addVolume <ContainerRef> <FileSystemFormat> <NewVolumeName>\n        [-nomount | -mountpoint <MountPoint>]\n";
    if args.len() < 3 {
        write!(io.err, "{usage}")?;
        return Ok(1);
    }
    let container = args[0].strip_prefix("/dev/").unwrap_or(&args[0]);
    if container != CONTAINER {
        writeln!(io.err, "Could not find disk: {}", args[0])?;
        return Ok(1);
    }
    let case_sensitive = match args[1].as_str() {
        "APFS" | "apfs" => false,
        "Case-sensitive APFS" | "APFSX" | "apfsx" => true,
        other => {
            writeln!(io.err, "Unrecognized file system personality \"{other}\"")?;
            return Ok(1);
        }
    };
    let name = args[2].clone();
    if !valid_name(&name) {
        writeln!(io.err, "The volume name \"{name}\" is not valid")?;
        return Ok(1);
    }
    let mount = match args.get(3).map(String::as_str) {
        None => Some(format!("/Volumes/{name}")),
        Some("-nomount") => None,
        Some("-mountpoint") | Some("-mountPoint") => match args.get(4) {
            Some(p) if valid_mount_point(p) => Some(p.clone()),
            _ => {
                write!(io.err, "{usage}")?;
                return Ok(1);
            }
        },
        Some(_) => {
            write!(io.err, "{usage}")?;
            return Ok(1);
        }
    };
    let r = store.update(|st| {
        let used: Vec<u32> = st
            .volumes
            .iter()
            .filter_map(|v| v.device.strip_prefix("disk1s")?.parse().ok())
            .collect();
        let n = (7..).find(|n| !used.contains(n)).expect("a free slice");
        let vol = Volume {
            device: format!("disk1s{n}"),
            name: name.clone(),
            uuid: state::new_uuid(),
            case_sensitive,
            mount_point: mount.clone().unwrap_or_default(),
            ownership: false,
        };
        st.volumes.push(vol.clone());
        Ok(vol)
    });
    let vol = match r {
        Ok(v) => v,
        Err(e) => {
            writeln!(io.err, "Error: {e}")?;
            return Ok(1);
        }
    };
    if let Some(m) = &mount {
        let _ = std::fs::create_dir_all(store.host(m));
    }
    writeln!(
        io.out,
        "Will export new APFS Volume \"{name}\" from APFS Container Reference {CONTAINER}"
    )?;
    writeln!(io.out, "Started APFS operation on {CONTAINER}")?;
    writeln!(
        io.out,
        "Preparing to add APFS Volume to APFS Container {CONTAINER}"
    )?;
    writeln!(io.out, "Creating APFS Volume")?;
    writeln!(io.out, "Created new APFS Volume {}", vol.device)?;
    if mount.is_some() {
        writeln!(io.out, "Mounting APFS Volume")?;
        writeln!(io.out, "Setting volume permissions")?;
    }
    writeln!(io.out, "Disk from APFS operation: {}", vol.device)?;
    writeln!(io.out, "Finished APFS operation on {CONTAINER}")?;
    Ok(0)
}

fn delete_volume(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let Some(target) = args.first() else {
        writeln!(
            io.err,
            "Usage:  diskutil apfs deleteVolume <VolumeDevice|VolumeUUID|VolumeName|MountPoint>"
        )?;
        return Ok(1);
    };
    let st = store.load()?;
    let Some(v) = resolve(store, &st, target) else {
        return not_found(io, false, target);
    };
    if v.is_root {
        writeln!(io.err, "Error: -69888: A system volume cannot be deleted")?;
        return Ok(1);
    }
    let dev = v.device.clone();
    if let Err(e) = store.update(|st| {
        st.volumes.retain(|x| x.device != dev);
        Ok(())
    }) {
        writeln!(io.err, "Error: {e}")?;
        return Ok(1);
    }
    writeln!(io.out, "Started APFS operation")?;
    writeln!(io.out, "Deleting APFS Volume from its APFS Container")?;
    if !v.mount_point.is_empty() {
        writeln!(io.out, "Unmounting {}", v.device)?;
    }
    writeln!(io.out, "Deleting Volume")?;
    writeln!(io.out, "Removing any Preboot and Recovery Directories")?;
    writeln!(io.out, "Finished APFS operation")?;
    Ok(0)
}

fn set_mount(store: &Store, io: &mut Io, v: &Vol, mount_point: &str) -> io::Result<i32> {
    let dev = v.device.clone();
    let mp = mount_point.to_string();
    match store.update(|st| {
        if let Some(x) = st.volumes.iter_mut().find(|x| x.device == dev) {
            x.mount_point = mp;
        }
        Ok(())
    }) {
        Ok(()) => Ok(0),
        Err(e) => {
            writeln!(io.err, "Error: {e}")?;
            Ok(1)
        }
    }
}

fn mount(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let (mp, target) = match args {
        [flag, p, t] if flag.eq_ignore_ascii_case("-mountPoint") => (Some(p.clone()), t),
        [t] => (None, t),
        _ => {
            writeln!(io.err, "Usage:  diskutil mount [readOnly] [-mountPoint Path] <MountPoint|DiskIdentifier|DeviceNode|VolumeName|UUID>")?;
            return Ok(1);
        }
    };
    let st = store.load()?;
    let Some(v) = resolve(store, &st, target) else {
        return not_found(io, false, target);
    };
    if !v.is_root {
        let at = mp.unwrap_or_else(|| {
            if v.mount_point.is_empty() {
                format!("/Volumes/{}", v.name)
            } else {
                v.mount_point.clone()
            }
        });
        if !valid_mount_point(&at) {
            writeln!(
                io.err,
                "Volume on {} failed to mount: invalid mount point {at}",
                v.device
            )?;
            return Ok(1);
        }
        if let Err(e) = std::fs::create_dir_all(store.host(&at)) {
            writeln!(io.err, "Volume on {} failed to mount: {e}", v.device)?;
            return Ok(1);
        }
        if set_mount(store, io, &v, &at)? != 0 {
            return Ok(1);
        }
    }
    writeln!(io.out, "Volume {} on {} mounted", v.name, v.device)?;
    Ok(0)
}

fn unmount(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let (force, target) = match args {
        [f, t] if f == "force" => (true, t),
        [t] => (false, t),
        _ => {
            writeln!(io.err, "Usage:  diskutil unmount [force] <MountPoint|DiskIdentifier|DeviceNode|VolumeName|UUID>")?;
            return Ok(1);
        }
    };
    let st = store.load()?;
    let Some(v) = resolve(store, &st, target) else {
        return not_found(io, false, target);
    };
    if v.is_root {
        writeln!(
            io.err,
            "Unmount of {} failed: at least one volume could not be unmounted",
            v.device
        )?;
        return Ok(1);
    }
    if v.mount_point.is_empty() {
        writeln!(io.err, "Volume {} on {} is not mounted", v.name, v.device)?;
        return Ok(1);
    }
    if set_mount(store, io, &v, "")? != 0 {
        return Ok(1);
    }
    writeln!(
        io.out,
        "Volume {} on {} {}",
        v.name,
        v.device,
        if force {
            "force-unmounted"
        } else {
            "unmounted"
        }
    )?;
    Ok(0)
}

fn enable_ownership(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
    let [target] = args else {
        writeln!(io.err, "Usage:  diskutil enableOwnership <MountPoint|DiskIdentifier|DeviceNode|VolumeName|UUID>")?;
        return Ok(1);
    };
    let st = store.load()?;
    let Some(v) = resolve(store, &st, target) else {
        return not_found(io, false, target);
    };
    if !v.is_root {
        let dev = v.device.clone();
        if let Err(e) = store.update(|st| {
            if let Some(x) = st.volumes.iter_mut().find(|x| x.device == dev) {
                x.ownership = true;
            }
            Ok(())
        }) {
            writeln!(io.err, "Error: {e}")?;
            return Ok(1);
        }
    }
    writeln!(io.out, "File system user/group ownership enabled")?;
    Ok(0)
}

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
