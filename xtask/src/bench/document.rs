//! `docs/benchmarks.md` as a set of per-scenario entries.
//!
//! Every scenario owns one row of the results table and one section below it.
//! Running a subset of scenarios rewrites only their entries: the others keep
//! their numbers together with the date, machine and load they were measured
//! under, so people benchmarking different subsystems can record their numbers
//! independently.

use std::fmt::Write as _;

/// The heading of the results table.
const RESULTS: &str = "## Results";
/// The heading of the per-scenario sections.
const SCENARIOS: &str = "## Scenarios";

/// One scenario's row (a complete table line) and section (its `###` block).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) row: String,
    pub(crate) section: String,
}

/// The entries of a benchmarks document, in the order they are written.
#[derive(Debug, Default)]
pub(crate) struct Document {
    entries: Vec<Entry>,
}

impl Document {
    /// Reads the entries of an existing document written with `header` as its
    /// table header. Rows under another header (an older layout) are dropped,
    /// and so is a row without its section or a section without its row: the
    /// scenario is simply measured again.
    pub(crate) fn parse(text: &str, header: &str) -> (Self, Vec<String>) {
        let mut dropped = Vec::new();
        let results = block(text, RESULTS);
        let mut table = results.lines().filter(|l| l.starts_with('|'));
        let rows: Vec<(String, String)> = if table.next().map(str::trim) == Some(header.trim()) {
            table
                .skip(1)
                .filter_map(|line| Some((row_name(line)?, line.trim_end().to_owned())))
                .collect()
        } else {
            dropped.extend(table.skip(1).filter_map(row_name));
            Vec::new()
        };
        let sections = sections(block(text, SCENARIOS));
        let mut entries = Vec::new();
        for (name, row) in rows {
            match sections.iter().find(|(n, _)| *n == name) {
                Some((_, section)) => entries.push(Entry {
                    name,
                    row,
                    section: section.clone(),
                }),
                None => dropped.push(name),
            }
        }
        for (name, _) in &sections {
            if !entries.iter().any(|e| &e.name == name) && !dropped.contains(name) {
                dropped.push(name.clone());
            }
        }
        (Self { entries }, dropped)
    }

    /// Replaces the entry of the same scenario, or adds it.
    pub(crate) fn upsert(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.name == entry.name) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// Orders the entries as `order` lists the scenarios; scenarios it does not
    /// name (no longer registered) keep their relative order at the end.
    pub(crate) fn sort_by_registration(&mut self, order: &[String]) {
        let rank = |name: &str| order.iter().position(|n| n == name).unwrap_or(order.len());
        self.entries.sort_by_key(|e| rank(&e.name));
    }

    /// The names of the scenarios the document holds, in order.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// The whole document: `intro`, the table under `header`, the sections.
    pub(crate) fn render(&self, intro: &str, header: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "{}\n", intro.trim_end());
        let _ = writeln!(md, "{RESULTS}\n");
        let _ = writeln!(md, "{}", header.trim_end());
        let columns = header.matches('|').count().saturating_sub(1);
        let _ = writeln!(md, "|{}", "---|".repeat(columns));
        for entry in &self.entries {
            let _ = writeln!(md, "{}", entry.row);
        }
        let _ = writeln!(md, "\n{SCENARIOS}");
        for entry in &self.entries {
            let _ = write!(md, "\n{}\n", entry.section.trim_end());
        }
        md
    }
}

/// The text between `heading` (a `## ` line) and the next `## ` heading.
fn block<'a>(text: &'a str, heading: &str) -> &'a str {
    let Some(start) = text
        .match_indices(heading)
        .find(|(i, _)| *i == 0 || text[..*i].ends_with('\n'))
        .map(|(i, h)| i + h.len())
    else {
        return "";
    };
    let rest = &text[start..];
    match rest.find("\n## ") {
        Some(end) => &rest[..end],
        None => rest,
    }
}

/// The `### `name`` blocks of the scenarios part, each with its name.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("### ") {
            out.push((unquote(title), format!("{line}\n")));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    for (_, body) in &mut out {
        let trimmed = body.trim_end().len();
        body.truncate(trimmed);
        body.push('\n');
    }
    out
}

/// The scenario named by a table row (its first cell).
fn row_name(line: &str) -> Option<String> {
    let name = unquote(line.trim().trim_start_matches('|').split('|').next()?);
    (!name.is_empty() && !name.starts_with("---")).then_some(name)
}

fn unquote(cell: &str) -> String {
    cell.trim().trim_matches('`').trim().to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEADER: &str = "| scenario | date | Rust (s) |";

    fn entry(name: &str, secs: &str) -> Entry {
        Entry {
            name: name.into(),
            row: format!("| `{name}` | 2026-11-24 12:00 | {secs} |"),
            section: format!("### `{name}`\n\nAbout {name}.\n\n- Rust runs (s): {secs}\n"),
        }
    }

    #[test]
    fn rewriting_one_scenario_keeps_the_others() {
        let mut doc = Document::default();
        doc.upsert(entry("ls-cold", "0.0042"));
        doc.upsert(entry("jobs-list", "0.5000"));
        let first = doc.render("# Benchmarks\n\nIntro.", HEADER);

        let (mut again, dropped) = Document::parse(&first, HEADER);
        assert!(dropped.is_empty(), "{dropped:?}");
        assert_eq!(again.names(), ["ls-cold", "jobs-list"]);
        again.upsert(entry("jobs-list", "0.2500"));
        again.upsert(entry("disk-write", "1.0000"));
        again.sort_by_registration(&["disk-write".into(), "ls-cold".into()]);
        let second = again.render("# Benchmarks\n\nIntro.", HEADER);

        let (parsed, _) = Document::parse(&second, HEADER);
        assert_eq!(parsed.names(), ["disk-write", "ls-cold", "jobs-list"]);
        assert_eq!(parsed.entries[1], entry("ls-cold", "0.0042"));
        assert_eq!(parsed.entries[2], entry("jobs-list", "0.2500"));
        assert!(second.contains("| `ls-cold` | 2026-11-24 12:00 | 0.0042 |"));
        assert!(!second.contains("0.5000"));
        // Rendering what was parsed changes nothing.
        assert_eq!(parsed.render("# Benchmarks\n\nIntro.", HEADER), second);
    }

    #[test]
    fn rows_under_an_older_header_are_dropped_by_name() {
        let old = "# Benchmarks\n\n## Machine\n\n- date: x\n\n## Results\n\n\
                   | scenario | Rust (s) |\n|---|---|\n| ls-cold | 0.0042 |\n\n\
                   ## Scenarios\n\n- `ls-cold`: about.\n";
        let (doc, dropped) = Document::parse(old, HEADER);
        assert!(doc.names().is_empty());
        assert_eq!(dropped, ["ls-cold"]);
    }

    #[test]
    fn an_empty_or_missing_document_has_no_entries() {
        let (doc, dropped) = Document::parse("", HEADER);
        assert!(doc.names().is_empty() && dropped.is_empty());
    }
}
