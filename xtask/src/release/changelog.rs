//! `CHANGELOG.md` in the Keep a Changelog format: releasing the Unreleased section.

use anyhow::{bail, Result};

const UNRELEASED: &str = "## [Unreleased]";

/// Moves the body of `## [Unreleased]` under a new `## [version] - date` heading,
/// leaving an empty Unreleased section above it, and updates the compare links
/// at the bottom when there are some.
pub(crate) fn release(text: &str, version: &str, date: &str) -> Result<String> {
    let Some(start) = text.find(UNRELEASED) else {
        bail!("CHANGELOG.md has no `{UNRELEASED}` heading");
    };
    let body_start = start + UNRELEASED.len();
    // The section ends at the next heading, or at the link definitions that
    // close the file when it is the last one.
    let rest = &text[body_start..];
    let body_end = [rest.find("\n## "), link_definitions(rest)]
        .into_iter()
        .flatten()
        .min()
        .map_or(text.len(), |i| body_start + i + 1);
    let body = text[body_start..body_end].trim();
    if body.is_empty() {
        bail!("the Unreleased section of CHANGELOG.md is empty: nothing to release");
    }
    if text.contains(&format!("## [{version}]")) {
        bail!("CHANGELOG.md already has a section for {version}");
    }
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..start]);
    out.push_str(&format!(
        "{UNRELEASED}\n\n## [{version}] - {date}\n\n{body}\n\n"
    ));
    out.push_str(&text[body_end..]);
    Ok(update_links(&out, version))
}

/// Where the first `[name]: url` line of `text` starts (at its newline).
fn link_definitions(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let is_link =
            line.starts_with('[') && line.find("]: ").is_some_and(|i| !line[1..i].contains(']'));
        if is_link && offset > 0 {
            return Some(offset - 1);
        }
        offset += line.len();
    }
    None
}

/// `[Unreleased]: <repo>/compare/vOLD...HEAD` becomes a compare from the new tag,
/// and the new version gets its own link.
fn update_links(text: &str, version: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(url) = line.strip_prefix("[Unreleased]: ") {
            if let Some((repo, range)) = url.split_once("/compare/") {
                let previous = range.split("...").next().unwrap_or("");
                lines.push(format!("[Unreleased]: {repo}/compare/v{version}...HEAD"));
                lines.push(format!(
                    "[{version}]: {repo}/compare/{previous}...v{version}"
                ));
                continue;
            }
            if let Some(repo) = url.strip_suffix("/commits/HEAD") {
                lines.push(format!("[Unreleased]: {repo}/compare/v{version}...HEAD"));
                lines.push(format!("[{version}]: {repo}/releases/tag/v{version}"));
                continue;
            }
        }
        lines.push(line.to_owned());
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LOG: &str = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\n- a thing\n\n## [0.1.0] - 2026-01-01\n\n### Added\n\n- the start\n\n[Unreleased]: https://example.com/r/compare/v0.1.0...HEAD\n[0.1.0]: https://example.com/r/releases/tag/v0.1.0\n";

    #[test]
    fn a_last_section_stops_at_the_link_definitions() {
        let log = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- first\n\n[Unreleased]: https://example.com/r/commits/HEAD\n";
        let out = release(log, "0.2.0", "2026-11-24").unwrap();
        assert_eq!(
            out,
            "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-11-24\n\n### Added\n\n- first\n\n\
             [Unreleased]: https://example.com/r/compare/v0.2.0...HEAD\n\
             [0.2.0]: https://example.com/r/releases/tag/v0.2.0\n"
        );
    }

    #[test]
    fn unreleased_moves_under_the_new_version() {
        let out = release(LOG, "0.2.0", "2026-11-24").unwrap();
        assert!(out.contains(
            "## [Unreleased]\n\n## [0.2.0] - 2026-11-24\n\n### Added\n\n- a thing\n\n## [0.1.0] - 2026-01-01"
        ));
        assert!(out.contains("[Unreleased]: https://example.com/r/compare/v0.2.0...HEAD\n"));
        assert!(out.contains("[0.2.0]: https://example.com/r/compare/v0.1.0...v0.2.0\n"));
        assert!(out.contains("[0.1.0]: https://example.com/r/releases/tag/v0.1.0\n"));
        // Nothing left to release a second time.
        assert!(release(&out, "0.3.0", "2026-11-25").is_err());
    }

    #[test]
    fn first_release_gets_a_tag_link() {
        let log = "# Changelog\n\n## [Unreleased]\n\n- first\n\n[Unreleased]: https://example.com/r/commits/HEAD\n";
        let out = release(log, "0.1.0", "2026-11-24").unwrap();
        assert!(out.contains("## [0.1.0] - 2026-11-24\n\n- first\n\n[Unreleased]"));
        assert!(out.contains("[Unreleased]: https://example.com/r/compare/v0.1.0...HEAD\n"));
        assert!(out.contains("[0.1.0]: https://example.com/r/releases/tag/v0.1.0\n"));
    }

    #[test]
    fn missing_or_duplicate_sections_are_refused() {
        assert!(release("# Changelog\n", "0.2.0", "d").is_err());
        assert!(release(LOG, "0.1.0", "d").is_err());
    }
}
