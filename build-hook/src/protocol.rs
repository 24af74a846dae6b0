//! The build-hook conversation with Nix (Nix 2.0 to 2.35, Lix up to 2.93):
//! a settings block, then `try` requests answered with one reply line each,
//! and after an accept the input closure and the wanted outputs.

use std::fmt;
use std::io::Read;

use crate::wire::{Result, WireError, WireReader, WireWriter};

/// Nix's settings as sent to the hook. Values can be secrets
/// (`access-tokens`, `secret-key-files`), so `Debug` never shows them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings {
    entries: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("count", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// A block holding `pairs` in order, as if Nix had sent them (for tests
    /// and for driving a hook; the hook itself uses [`read_settings`]).
    pub fn from_pairs<K: Into<String>, V: Into<Vec<u8>>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Settings {
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of a setting as text (lossy for the rare non-UTF-8 value).
    pub fn get(&self, name: &str) -> Option<String> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// A non-negative integer setting; absent or unparsable gives `None`.
    pub fn get_u64(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// A boolean setting: `true` or `false`, surrounding whitespace
    /// ignored; absent or any other text gives `None`.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.get(name)?.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// How many entries Nix sent, a repeated name counted each time.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether Nix sent no settings (also when its input ended before the
    /// block).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Re-encodes the block exactly as Nix sent it (for a forwarded hook).
    pub fn encode(&self, w: &mut WireWriter) {
        for (k, v) in &self.entries {
            w.u64(1).str(k).bytes(v);
        }
        w.u64(0);
    }
}

/// Reads the settings block: `(1, name, value)*` then `0`. Input that
/// ends before the first byte is an empty block (Nix had nothing to ask).
pub fn read_settings<R: Read>(r: &mut WireReader<R>) -> Result<Settings> {
    let mut entries = Vec::new();
    let Some(mut tag) = r.read_u64_or_eof("the settings block")? else {
        return Ok(Settings { entries });
    };
    loop {
        match tag {
            0 => return Ok(Settings { entries }),
            1 => {
                let name = r.read_string("a setting name")?;
                let value = r.read_bytes("a setting value")?;
                entries.push((name, value));
            }
            other => return Err(WireError::BadTag { tag: other }),
        }
        tag = r.read_u64("the settings block")?;
    }
}

/// One `try`: may the hook build this derivation?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryRequest {
    /// Nix has a free local build slot (so a decline means a local build).
    pub am_willing: bool,
    /// The system the derivation must be built on, e.g. `x86_64-darwin`.
    pub system: String,
    /// The derivation's store path, in the store's logical directory
    /// (`/nix/store/…-name.drv`).
    pub drv_path: String,
    /// The system features the derivation requires: its
    /// `requiredSystemFeatures`, plus `ca-derivations` when its outputs
    /// are content-addressed.
    pub required_features: Vec<String>,
}

impl TryRequest {
    /// Writes the request as Nix sends it, for a forwarded hook: the word
    /// `try`, `am_willing` as 0 or 1, the system, the derivation path and
    /// the feature list.
    pub fn encode(&self, w: &mut WireWriter) {
        w.str("try")
            .u64(self.am_willing as u64)
            .str(&self.system)
            .str(&self.drv_path)
            .strings(&self.required_features);
    }
}

/// One message from Nix after the settings block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A derivation Nix asks the hook to take; answer with one [`Reply`].
    Try(TryRequest),
    /// Nix closed stdin or sent another word: it is done with this hook.
    End,
}

/// Reads the next request. The end of input, or any word but `try`, is
/// [`Request::End`]; a `try` cut short or malformed is an error.
pub fn read_request<R: Read>(r: &mut WireReader<R>) -> Result<Request> {
    let Some(len) = r.read_u64_or_eof("a request")? else {
        return Ok(Request::End);
    };
    let word = r.read_body(len, "a request")?;
    if word != b"try" {
        return Ok(Request::End);
    }
    let am_willing = r.read_u64("amWilling")? != 0;
    let system = r.read_string("the needed system")?;
    let drv_path = r.read_string("the derivation path")?;
    let required_features = r.read_strings("the required features")?;
    Ok(Request::Try(TryRequest {
        am_willing,
        system,
        drv_path,
        required_features,
    }))
}

/// What Nix sends after `# accept`: the realised input closure and the
/// names of the outputs that are not valid yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInputs {
    /// Store paths of the derivation's input closure, all valid in the
    /// store. Outputs are scanned for references to these (and to the
    /// outputs themselves).
    pub inputs: Vec<String>,
    /// Names of the outputs Nix wants (`out`, `dev`, …). Direct mode
    /// builds only when these are all the derivation's outputs.
    pub wanted_outputs: Vec<String>,
}

/// Reads what Nix sends after `# accept`: the input paths, then the wanted
/// output names, each a list of strings.
pub fn read_build_inputs<R: Read>(r: &mut WireReader<R>) -> Result<BuildInputs> {
    let inputs = r.read_strings("the input paths")?;
    let wanted_outputs = r.read_strings("the wanted outputs")?;
    Ok(BuildInputs {
        inputs,
        wanted_outputs,
    })
}

impl BuildInputs {
    /// Writes them as Nix sends them, for a forwarded hook that accepted.
    pub fn encode(&self, w: &mut WireWriter) {
        w.strings(&self.inputs).strings(&self.wanted_outputs);
    }
}

/// The hook's answer to a `try`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `# decline`: not this derivation. Nix builds it itself if it can,
    /// and goes on asking the hook about others.
    Decline,
    /// `# decline-permanently`: Nix stops asking this hook process. This
    /// hook only reads it from a forwarded hook and sends `# decline`
    /// instead, so that Nix keeps asking about darwin builds.
    DeclinePermanently,
    /// `# postpone`: try again later. Sent when every slot and queue place
    /// is busy (or passed on from a forwarded hook); Nix asks again after
    /// `build-poll-interval` seconds.
    Postpone,
    /// Followed immediately by a label line that Nix only displays.
    Accept(String),
}

impl Reply {
    /// The exact bytes to write, in one write: Nix reads the label as the
    /// next raw line, so nothing may come between the two lines.
    pub fn to_line(&self) -> String {
        match self {
            Reply::Decline => "# decline\n".into(),
            Reply::DeclinePermanently => "# decline-permanently\n".into(),
            Reply::Postpone => "# postpone\n".into(),
            Reply::Accept(label) => {
                let label: String = label.chars().filter(|c| *c != '\n').collect();
                format!("# accept\n{label}\n")
            }
        }
    }

    /// Parses a reply line (without the newline) from another hook; the
    /// accept label is read separately.
    pub fn parse_word(line: &str) -> Option<Reply> {
        match line.strip_prefix("# ")? {
            "decline" => Some(Reply::Decline),
            "decline-permanently" => Some(Reply::DeclinePermanently),
            "postpone" => Some(Reply::Postpone),
            "accept" => Some(Reply::Accept(String::new())),
            _ => None,
        }
    }
}

/// The verbosity Nix passes as the last argument (0 error ... 7 vomit).
pub fn parse_verbosity(arg: &str) -> Option<u8> {
    arg.parse::<u8>().ok().filter(|v| *v <= 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_bytes(req: &TryRequest) -> Vec<u8> {
        let mut w = WireWriter::new();
        req.encode(&mut w);
        w.buf
    }

    #[test]
    fn settings_then_try_then_end() {
        let s = Settings::from_pairs([("max-jobs", "2"), ("store", "/tmp/s")]);
        let mut w = WireWriter::new();
        s.encode(&mut w);
        let t = TryRequest {
            am_willing: true,
            system: "x86_64-darwin".into(),
            drv_path: "/nix/store/abc-x.drv".into(),
            required_features: vec!["big-parallel".into()],
        };
        w.buf.extend(try_bytes(&t));
        let mut r = WireReader::new(&w.buf[..]);
        let got = read_settings(&mut r).unwrap();
        assert_eq!(got, s);
        assert_eq!(got.get_u64("max-jobs"), Some(2));
        assert_eq!(read_request(&mut r).unwrap(), Request::Try(t));
        assert_eq!(read_request(&mut r).unwrap(), Request::End);
    }

    #[test]
    fn another_word_ends_the_conversation() {
        let mut w = WireWriter::new();
        w.str("bye");
        assert_eq!(
            read_request(&mut WireReader::new(&w.buf[..])).unwrap(),
            Request::End
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let s = Settings::from_pairs([("access-tokens", "github.com=SECRET")]);
        assert!(!format!("{s:?}").contains("SECRET"));
    }

    #[test]
    fn accept_is_two_lines_and_label_cannot_inject_lines() {
        assert_eq!(
            Reply::Accept("darling".into()).to_line(),
            "# accept\ndarling\n"
        );
        assert_eq!(Reply::Accept("a\nb".into()).to_line(), "# accept\nab\n");
        assert_eq!(Reply::parse_word("# postpone"), Some(Reply::Postpone));
        assert_eq!(Reply::parse_word("# bogus"), None);
        assert_eq!(parse_verbosity("3"), Some(3));
        assert_eq!(parse_verbosity("9"), None);
    }
}
