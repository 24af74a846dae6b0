//! Darling's reports of what it does not implement, collected from any
//! text (they are printed on stdout, so they arrive glued to program
//! output), named, counted, categorised, reported and compared.
//!
//! Recognised messages:
//! `Unimplemented syscall (N)`, `Unimplemented mach trap (N)`,
//! `Unimplemented machdep trap (N)` and `Called unimplemented Mach trap: NAME`.
//! A trailing `_impl` on a trap's NAME is dropped (see [`trap_name`]).

#![warn(missing_docs)]

pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The name a `Called unimplemented Mach trap: NAME` is counted under:
/// NAME without a trailing `_impl`. Current Darling prints
/// `task_name_for_pid_impl` where older versions print `task_name_for_pid`;
/// both are one call.
pub fn trap_name(name: &str) -> &str {
    match name.strip_suffix("_impl") {
        Some(base) if !base.is_empty() => base,
        _ => name,
    }
}

/// Which message reported a call (in JSON: `bsd`, `mach`, `machdep`,
/// `mach-named`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `Unimplemented syscall (N)`: a BSD system call by XNU number.
    Bsd,
    /// `Unimplemented mach trap (N)`: a Mach trap by number.
    Mach,
    /// `Unimplemented machdep trap (N)`: a machine-dependent trap by number.
    Machdep,
    /// `Called unimplemented Mach trap: NAME`: a Mach trap by name.
    MachNamed,
}

/// One distinct unimplemented call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Which message reported it.
    pub kind: Kind,
    /// The number, except for `Called unimplemented Mach trap: NAME`.
    pub number: Option<u32>,
    /// The call's name: from [`table::BSD`] for a BSD syscall it lists,
    /// from the message for [`Kind::MachNamed`]; otherwise none.
    pub name: Option<String>,
    /// A coarse area: [`table::category`] of a named BSD syscall, else
    /// `unknown` (BSD), `mach` or `machdep`.
    pub category: String,
    /// How many times it was reported.
    pub count: u64,
}

impl Entry {
    /// What identifies it across reports. A named Mach trap is keyed by
    /// [`trap_name`], so reports that spelt it with `_impl` still match.
    pub fn key(&self) -> String {
        match (self.kind, self.number, &self.name) {
            (Kind::MachNamed, _, Some(n)) => format!("mach-named:{}", trap_name(n)),
            (k, Some(n), _) => format!(
                "{}:{n}",
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
            _ => "unknown".into(),
        }
    }

    /// How reports and comparisons name it: `renameatx_np (488)`,
    /// `syscall 999`, `mach trap 12`, `machdep trap 3` or the trap's name.
    pub fn label(&self) -> String {
        match (self.kind, self.number, &self.name) {
            (Kind::Bsd, Some(n), Some(name)) => format!("{name} ({n})"),
            (Kind::Bsd, Some(n), None) => format!("syscall {n}"),
            (Kind::Mach, Some(n), _) => format!("mach trap {n}"),
            (Kind::Machdep, Some(n), _) => format!("machdep trap {n}"),
            (_, _, Some(name)) => name.clone(),
            _ => "?".into(),
        }
    }
}

/// The report, with a stable JSON shape (`version` 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The JSON shape's version, 1.
    pub version: u32,
    /// What was scanned, as given to [`Collector::source`] (file names,
    /// `stdin`, a command).
    pub sources: Vec<String>,
    /// All occurrences.
    pub total: u64,
    /// Sorted by count (highest first), then key.
    pub entries: Vec<Entry>,
}

/// Counts the reports found in text fed to it, for a [`Report`].
#[derive(Default)]
pub struct Collector {
    counts: BTreeMap<(Kind, Option<u32>, Option<String>), u64>,
    sources: Vec<String>,
}

fn number_after(text: &str, at: usize) -> Option<(u32, usize)> {
    let rest = &text[at..];
    let rest_trim = rest.strip_prefix('(')?;
    let digits: String = rest_trim
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    if digits.is_empty() || !rest_trim[digits.len()..].starts_with(')') {
        return None;
    }
    Some((digits.parse().ok()?, at + 1 + digits.len() + 1))
}

impl Collector {
    /// A collector that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the name of an input scanned, for [`Report::sources`].
    pub fn source(&mut self, name: &str) {
        self.sources.push(name.to_string());
    }

    /// Scans text for every report, wherever it sits in a line.
    pub fn feed(&mut self, text: &str) {
        const PATS: &[(&str, Kind)] = &[
            ("Unimplemented syscall ", Kind::Bsd),
            ("Unimplemented mach trap ", Kind::Mach),
            ("Unimplemented machdep trap ", Kind::Machdep),
        ];
        let mut i = 0;
        while i < text.len() {
            let Some(off) = text[i..].find("nimplemented") else {
                break;
            };
            let start = i + off;
            let begin = start.saturating_sub(1);
            let mut advanced = false;
            for (pat, kind) in PATS {
                if text.get(begin..).is_some_and(|t| t.starts_with(pat)) {
                    if let Some((n, end)) = number_after(text, begin + pat.len()) {
                        *self.counts.entry((*kind, Some(n), None)).or_default() += 1;
                        i = end;
                        advanced = true;
                    }
                    break;
                }
            }
            if !advanced {
                const NAMED: &str = "Called unimplemented Mach trap: ";
                if start >= 8 && text.get(start - 8..).is_some_and(|t| t.starts_with(NAMED)) {
                    let from = start - 8 + NAMED.len();
                    let name: String = text[from..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        let key = trap_name(&name).to_string();
                        *self
                            .counts
                            .entry((Kind::MachNamed, None, Some(key)))
                            .or_default() += 1;
                        i = from + name.len();
                        continue;
                    }
                }
                i = start + "nimplemented".len();
            }
        }
    }

    /// The report of everything fed so far.
    pub fn report(&self) -> Report {
        let mut entries: Vec<Entry> = self
            .counts
            .iter()
            .map(|((kind, number, name), count)| {
                let (name, category) = match (kind, number, name) {
                    (Kind::Bsd, Some(n), _) => {
                        let name = table::bsd_name(*n);
                        (
                            name.map(str::to_string),
                            name.map(table::category).unwrap_or("unknown").to_string(),
                        )
                    }
                    (Kind::Mach | Kind::MachNamed, _, n) => (n.clone(), "mach".into()),
                    (Kind::Machdep, _, _) => (None, "machdep".into()),
                    _ => (None, "unknown".into()),
                };
                Entry {
                    kind: *kind,
                    number: *number,
                    name,
                    category,
                    count: *count,
                }
            })
            .collect();
        entries.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key().cmp(&b.key())));
        Report {
            version: 1,
            sources: self.sources.clone(),
            total: entries.iter().map(|e| e.count).sum(),
            entries,
        }
    }
}

impl Report {
    /// The report as a Markdown document: a table of calls, then totals
    /// by category.
    pub fn markdown(&self) -> String {
        let mut s = String::from("# Unimplemented calls in Darling\n\n");
        if self.entries.is_empty() {
            s.push_str("None found.\n");
            return s;
        }
        s.push_str(&format!(
            "{} occurrences of {} distinct calls",
            self.total,
            self.entries.len()
        ));
        if !self.sources.is_empty() {
            s.push_str(&format!(" in {}", self.sources.join(", ")));
        }
        s.push_str(".\n\n| call | kind | category | count |\n|---|---|---|---|\n");
        for e in &self.entries {
            let kind = match e.kind {
                Kind::Bsd => "BSD syscall",
                Kind::Mach | Kind::MachNamed => "Mach trap",
                Kind::Machdep => "machdep trap",
            };
            s.push_str(&format!(
                "| {} | {kind} | {} | {} |\n",
                e.label(),
                e.category,
                e.count
            ));
        }
        let mut by_cat: BTreeMap<&str, u64> = BTreeMap::new();
        for e in &self.entries {
            *by_cat.entry(&e.category).or_default() += e.count;
        }
        s.push_str("\n## By category\n\n");
        for (c, n) in by_cat {
            s.push_str(&format!("- {c}: {n}\n"));
        }
        s
    }
}

/// What changed between an earlier report and this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Calls that are unimplemented now and were not before: regressions.
    pub new: Vec<String>,
    /// Calls no longer reported.
    pub gone: Vec<String>,
    /// Calls in both whose count changed: (label, before, now).
    pub changed: Vec<(String, u64, u64)>,
}

/// What changed from `old` to `new`, matching entries by [`Entry::key`]
/// and naming them by [`Entry::label`].
pub fn compare(old: &Report, new: &Report) -> Comparison {
    let o: BTreeMap<String, &Entry> = old.entries.iter().map(|e| (e.key(), e)).collect();
    let n: BTreeMap<String, &Entry> = new.entries.iter().map(|e| (e.key(), e)).collect();
    Comparison {
        new: n
            .iter()
            .filter(|(k, _)| !o.contains_key(*k))
            .map(|(_, e)| e.label())
            .collect(),
        gone: o
            .iter()
            .filter(|(k, _)| !n.contains_key(*k))
            .map(|(_, e)| e.label())
            .collect(),
        changed: n
            .iter()
            .filter_map(|(k, e)| {
                o.get(k)
                    .filter(|oe| oe.count != e.count)
                    .map(|oe| (e.label(), oe.count, e.count))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_reports_glued_to_output() {
        let mut c = Collector::new();
        c.feed("hello worldUnimplemented syscall (488)\nmv: cannot move\nUnimplemented syscall (488)\n");
        c.feed("xUnimplemented mach trap (12)yUnimplemented machdep trap (3)\n");
        c.feed("Called unimplemented Mach trap: task_name_for_pid\nUnimplemented syscall (oops)\nUnimplemented syscall 5\n");
        let r = c.report();
        assert_eq!(r.total, 5);
        assert_eq!(r.entries[0].label(), "renameatx_np (488)");
        assert_eq!(r.entries[0].count, 2);
        assert_eq!(r.entries[0].category, "file system");
        assert!(r.entries.iter().any(|e| e.label() == "task_name_for_pid"));
        assert!(r.entries.iter().any(|e| e.label() == "machdep trap 3"));
    }

    #[test]
    fn impl_suffix_of_named_traps_is_one_call() {
        let mut c = Collector::new();
        c.feed("Called unimplemented Mach trap: task_name_for_pid_impl\n");
        c.feed("Called unimplemented Mach trap: task_name_for_pid\n");
        let r = c.report();
        assert_eq!(r.entries.len(), 1, "{r:?}");
        assert_eq!(r.entries[0].label(), "task_name_for_pid");
        assert_eq!(r.entries[0].count, 2);
        assert_eq!(trap_name("_impl"), "_impl");

        // Across versions: an older report and a newer one are the same call,
        // even when a report was written with the `_impl` spelling.
        let mut old = Collector::new();
        old.feed("Called unimplemented Mach trap: task_name_for_pid\n");
        let mut new = Collector::new();
        new.feed("Called unimplemented Mach trap: task_name_for_pid_impl\n");
        let cmp = compare(&old.report(), &new.report());
        assert!(cmp.new.is_empty() && cmp.gone.is_empty(), "{cmp:?}");
        let mut spelt = new.report();
        spelt.entries[0].name = Some("task_name_for_pid_impl".into());
        let cmp = compare(&old.report(), &spelt);
        assert!(cmp.new.is_empty() && cmp.gone.is_empty(), "{cmp:?}");
    }
}
