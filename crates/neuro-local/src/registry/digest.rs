//! Content digests (`sha256:<64 hex>`), the only algorithm the registry stores.

use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::hex::lower_hex;

/// A `sha256:<hex>` content digest, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// The prefix of every digest this registry accepts.
pub const SHA256: &str = "sha256:";

impl Digest {
    /// Parses `sha256:` followed by 64 lowercase hex digits; `None` otherwise.
    ///
    /// ```
    /// use neuro_local::registry::digest::Digest;
    /// let d = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
    /// assert_eq!(d.hex().len(), 64);
    /// assert!(Digest::parse("sha256:xyz").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Digest> {
        let hex = text.strip_prefix(SHA256)?;
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Digest(text.to_owned()))
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        let mut hasher = Hasher::new();
        hasher.update(data);
        hasher.finish()
    }

    /// The digest of the file at `path`, read in 1 MiB blocks (blocking).
    pub fn of_file(path: &Path) -> std::io::Result<Digest> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                return Ok(hasher.finish());
            }
            hasher.update(&buf[..n]);
        }
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.0[SHA256.len()..]
    }

    /// The full text, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An incremental SHA-256.
pub struct Hasher(ring::digest::Context);

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    /// A new hasher.
    pub fn new() -> Self {
        Hasher(ring::digest::Context::new(&ring::digest::SHA256))
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything added.
    pub fn finish(self) -> Digest {
        let sum = self.0.finish();
        Digest(format!("{SHA256}{}", lower_hex(sum.as_ref())))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_is_the_known_one() {
        assert_eq!(
            Digest::of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_refuses_other_algorithms_and_case() {
        assert!(Digest::parse(&format!("sha512:{}", "a".repeat(64))).is_none());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(Digest::parse(&format!("sha256:{}", "a".repeat(63))).is_none());
    }
}
