//! The verbs that change the virtual container: `apfs addVolume`,
//! `apfs deleteVolume`, `mount`, `unmount`, `enableOwnership`.

use super::*;
/// Volume names: printable, no `/` or `:` (they name a directory under /Volumes).
pub(super) fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 255
        && !n.contains(['/', ':', '\0', prefixfs::NOT_UTF8])
        && !n.chars().any(char::is_control)
}

pub(super) fn valid_mount_point(p: &str) -> bool {
    p.starts_with('/')
        && p != "/"
        && !p.split('/').any(|c| c == "..")
        && !p.contains(['\0', prefixfs::NOT_UTF8])
}

pub(super) fn add_volume(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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
    // The mount point directory is made after the record is written; a
    // place outside the prefix is refused before either.
    let host = match mount.as_deref().map(|m| store.host_inside(m)).transpose() {
        Ok(h) => h,
        Err(e) => {
            writeln!(io.err, "Error: {e}")?;
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
            // Reported on from the start: the shell installer aborts when
            // `info -plist /nix` says false (the Rust installers would
            // call enableOwnership, which stays accepted).
            ownership: true,
        };
        st.volumes.push(vol.clone());
        vol
    });
    let vol = match r {
        Ok(v) => v,
        Err(e) => {
            writeln!(io.err, "Error: {e}")?;
            return Ok(1);
        }
    };
    if let Some(h) = &host {
        let _ = std::fs::create_dir_all(h);
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

pub(super) fn delete_volume(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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

pub(super) fn set_mount(store: &Store, io: &mut Io, v: &Vol, mount_point: &str) -> io::Result<i32> {
    let dev = v.device.clone();
    let mp = mount_point.to_string();
    match store.update(|st| {
        if let Some(x) = st.volumes.iter_mut().find(|x| x.device == dev) {
            x.mount_point = mp;
        }
    }) {
        Ok(()) => Ok(0),
        Err(e) => {
            writeln!(io.err, "Error: {e}")?;
            Ok(1)
        }
    }
}

pub(super) fn mount(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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
        let made = store
            .host_inside(&at)
            .map_err(|e| e.to_string())
            .and_then(|h| std::fs::create_dir_all(h).map_err(|e| e.to_string()));
        if let Err(e) = made {
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

pub(super) fn unmount(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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

pub(super) fn enable_ownership(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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
        }) {
            writeln!(io.err, "Error: {e}")?;
            return Ok(1);
        }
    }
    writeln!(io.out, "File system user/group ownership enabled")?;
    Ok(0)
}
