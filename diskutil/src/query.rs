//! The verbs that only read: `info`, `list`, `apfs list`.

use super::*;
pub(super) fn info_value(store: &Store, v: &Vol) -> Value {
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

pub(super) fn not_found(io: &mut Io, plist_mode: bool, target: &str) -> io::Result<i32> {
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

pub(super) fn info(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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

pub(super) fn apfs_list(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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

pub(super) fn list(store: &Store, io: &mut Io, args: &[String]) -> io::Result<i32> {
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
