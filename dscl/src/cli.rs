//! dscl's argv grammar, parsed by hand: clap cannot express options that are
//! only options before the datasource, or commands with an optional dash.

/// Version shown in the usage banner (the real one prints its build's SDK
/// version; nothing parses it).
const VERSION: &str = "11.0";

use prefixfs::sysexits::{EX_UNAVAILABLE, EX_USAGE};

/// The global options, recognised only before the datasource as the real
/// dscl does (after it, `-plist` is an ordinary argument). `-u`, `-P`, `-f`
/// and `-p` are accepted and ignored: the local node needs no credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-raw`: print attribute names in full, with their
    /// `dsAttrTypeStandard:` prefix, instead of stripping it.
    pub raw: bool,
    /// `-plist`: print records as CF-style XML plists (full attribute names,
    /// each value list an array of strings) instead of `Key: value` text.
    pub plist: bool,
    /// `-url`: percent-encode attribute values in text output; every byte
    /// other than ASCII letters, digits and `-_.~/:` becomes `%XX`.
    pub url: bool,
    /// `-q`: accepted for compatibility; it changes nothing here, since the
    /// interactive prompt it would silence is not implemented.
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    ReadAll,
    List,
    Create,
    Delete,
    Append,
    Merge,
    Change,
    ChangeIndex,
    Search,
    /// Known to the real dscl but outside what a Darling prefix needs.
    Unsupported,
}

/// One parsed command line that names a command to run: everything the
/// command needs except the prefix, which it resolves itself.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The options given before the datasource.
    pub opts: Options,
    /// The command as typed, without its leading dash (used in messages).
    pub cmd: String,
    /// The operation the command word (or one of its aliases) selects.
    pub op: Op,
    /// The command's arguments, path first. With the `localhost` or
    /// `localonly` datasource the path has its `/Local/Default` or `/Search`
    /// node stripped; a path naming any other node is made unresolvable, so
    /// that it fails as `Invalid Path`.
    pub args: Vec<String>,
    /// The basename of `argv[0]` (`dscl` when argv is empty), the prefix of
    /// our own error messages.
    pub myname: String,
}

pub(crate) enum Parsed {
    Run(Invocation),
    Exit {
        code: i32,
        stdout: String,
        stderr: String,
    },
}

pub(crate) fn usage(myname: &str) -> String {
    let mut u =
        format!("dscl (v{VERSION})\nusage: {myname} [options] [<datasource> [<command>]]\n");
    u.push_str(concat!(
        "datasource:\n",
        "    localhost    (default)                                    or\n",
        "    localonly    (activates a DirectoryService daemon process   \n",
        "                  with Local node only - daemon quits after use \n",
        "    <hostname>   (requires DS proxy support, >= DS-158)       or\n",
        "    <nodename>   (Directory Service style node name)          or\n",
        "    <domainname> (NetInfo style domain name)\n",
        "options:\n",
        "    -u <user>      authenticate as user (required when using DS Proxy)\n",
        "    -P <password>  authentication password\n",
        "    -p             prompt for password\n",
        "    -f <filepath>  targeted file path for DS daemon running in localonly mode\n",
        "                   (example: /Volumes/Build100/var/db/dslocal/nodes/Default) \n",
        "                   (NOTE: Nodename to use is fixed at /Local/Target) \n",
        "    -raw           don't strip off prefix from DS constants\n",
        "    -plist         print out record(s) or attribute(s) in XML plist format\n",
        "    -url           print record attribute values in URL-style encoding\n",
        "    -q             quiet - no interactive prompt\n",
        "commands:\n",
        "    -read      <path> [<key>...]\n",
        "    -readall   <path> [<key>...]\n",
        "    -readpl    <path> <key> <plist path>\n",
        "    -readpli   <path> <key> <value index> <plist path>\n",
        "    -create    <record path> [<key> [<val>...]]\n",
        "    -createpl  <record path> <key> <plist path> <val1> [<val2>...]\n",
        "    -createpli <record path> <key> <value index> <plist path> <val1> [<val2>...]\n",
        "    -delete    <path> [<key> [<val>...]]\n",
        "    -deletepl  <record path> <key> <plist path> [<val>...]\n",
        "    -deletepli <record path> <key> <value index> <plist path> [<val>...]\n",
        "    -list      <path> [<key>]\n",
        "    -append    <record path> <key> <val>...\n",
        "    -merge     <record path> <key> <val>...\n",
        "    -change    <record path> <key> <old value> <new value>\n",
        "    -changei   <record path> <key> <value index> <new value>\n",
        "    -diff      <first path> <second path>\n",
        "    -search    <path> <key> <val>\n",
        "    -auth      [<user> [<password>]]\n",
        "    -authonly  [<user> [<password>]]\n",
        "    -passwd    <user path> [<new password> | <old password> <new password>]\n",
    ));
    u
}

/// Map a command word to its operation and minimum argument count.
fn lookup(cmd: &str) -> Option<(Op, usize)> {
    Some(match cmd {
        "read" | "cat" | "." => (Op::Read, 1),
        "readall" => (Op::ReadAll, 1),
        "list" | "ls" => (Op::List, 1),
        "create" | "createprop" | "mk" => (Op::Create, 1),
        "delete" | "destroy" | "destroyprop" | "rm" => (Op::Delete, 1),
        "append" => (Op::Append, 3),
        "merge" => (Op::Merge, 3),
        "change" => (Op::Change, 4),
        "changei" => (Op::ChangeIndex, 4),
        "search" => (Op::Search, 3),
        "readpl" | "deletepl" => (Op::Unsupported, 3),
        "readpli" | "createpl" | "deletepli" => (Op::Unsupported, 4),
        "createpli" => (Op::Unsupported, 5),
        "diff" => (Op::Unsupported, 2),
        "cd" | "auth" | "su" | "authonly" => (Op::Unsupported, if cmd == "cd" { 1 } else { 0 }),
        "pushd" | "pd" | "popd" | "passwd" => (Op::Unsupported, 0),
        _ => return None,
    })
}

pub(crate) fn parse(args: &[String]) -> Parsed {
    let myname = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_else(|| "dscl".into());
    let mut opts = Options::default();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "-q" => opts.quiet = true,
            "-raw" => opts.raw = true,
            "-plist" => opts.plist = true,
            "-url" => opts.url = true,
            "-p" | "-t" | "-H" => {}
            // Credentials are irrelevant for the local node; skip their value.
            "-P" | "-u" | "-f" => i += 1,
            _ => break,
        }
        i += 1;
    }
    if i >= args.len() {
        return Parsed::Exit {
            code: EX_USAGE,
            stdout: String::new(),
            stderr: format!("{myname}: interactive mode is not supported here; give a datasource and a command\n"),
        };
    }
    let datasource = args[i].as_str();
    if !matches!(
        datasource,
        "." | "/Local/Default" | "/Search" | "localhost" | "localonly"
    ) {
        return Parsed::Exit {
            code: EX_UNAVAILABLE,
            stdout: format!("Data source ({datasource}) is not valid.\n"),
            stderr: String::new(),
        };
    }
    i += 1;
    if i >= args.len() {
        return Parsed::Exit {
            code: EX_USAGE,
            stdout: String::new(),
            stderr: format!("{myname}: interactive mode is not supported here; give a command\n"),
        };
    }
    let word = args[i].strip_prefix('-').unwrap_or(&args[i]).to_string();
    let rest: Vec<String> = args[i + 1..].to_vec();
    if word == "help" {
        return Parsed::Exit {
            code: 0,
            stdout: String::new(),
            stderr: usage(&myname),
        };
    }
    let Some((op, min)) = lookup(&word) else {
        // The real dscl prints its usage and succeeds on an unknown command.
        return Parsed::Exit {
            code: 0,
            stdout: String::new(),
            stderr: usage(&myname),
        };
    };
    if rest.len() < min {
        return Parsed::Exit {
            code: EX_USAGE,
            stdout: String::new(),
            stderr: format!(
                "Too few parameters for {word} operation\n{}",
                usage(&myname)
            ),
        };
    }
    let args = if datasource == "localhost" || datasource == "localonly" {
        // Paths are then node-qualified: /Local/Default/Users/x.
        rest.into_iter()
            .enumerate()
            .map(|(k, a)| if k == 0 { strip_node(&a) } else { a })
            .collect()
    } else {
        rest
    };
    Parsed::Run(Invocation {
        opts,
        cmd: word,
        op,
        args,
        myname,
    })
}

fn strip_node(path: &str) -> String {
    for node in ["/Local/Default", "/Search"] {
        if let Some(rest) = path.strip_prefix(node) {
            if rest.is_empty() || rest.starts_with('/') {
                return if rest.is_empty() {
                    "/".into()
                } else {
                    rest.into()
                };
            }
        }
    }
    // Anything else does not name the local node.
    format!("/\u{0}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        std::iter::once("dscl")
            .chain(s.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn options_only_before_datasource() {
        let Parsed::Run(inv) = parse(&argv(&["-plist", ".", "-read", "/Groups/nixbld"])) else {
            panic!()
        };
        assert!(inv.opts.plist);
        assert_eq!(inv.op, Op::Read);
        let Parsed::Run(inv) = parse(&argv(&[".", "-read", "-plist"])) else {
            panic!()
        };
        assert!(!inv.opts.plist);
        assert_eq!(inv.args, ["-plist"]);
    }

    #[test]
    fn dashless_and_aliases() {
        for (w, op) in [
            ("create", Op::Create),
            ("cat", Op::Read),
            ("ls", Op::List),
            ("rm", Op::Delete),
            ("-mk", Op::Create),
        ] {
            let Parsed::Run(inv) = parse(&argv(&[".", w, "/Users/x"])) else {
                panic!("{w}")
            };
            assert_eq!(inv.op, op, "{w}");
        }
    }

    #[test]
    fn too_few_parameters() {
        let Parsed::Exit { code, stderr, .. } = parse(&argv(&[".", "-append", "/Users/x", "k"]))
        else {
            panic!()
        };
        assert_eq!(code, 64);
        assert!(stderr.starts_with("Too few parameters for append operation\ndscl (v"));
    }

    #[test]
    fn bad_datasource() {
        let Parsed::Exit { code, stdout, .. } = parse(&argv(&["/LDAPv3/x", "-list", "/Users"]))
        else {
            panic!()
        };
        assert_eq!(
            (code, stdout.as_str()),
            (69, "Data source (/LDAPv3/x) is not valid.\n")
        );
    }

    #[test]
    fn localhost_paths_name_the_node() {
        let Parsed::Run(inv) = parse(&argv(&["localhost", "-read", "/Local/Default/Users/root"]))
        else {
            panic!()
        };
        assert_eq!(inv.args, ["/Users/root"]);
    }
}
