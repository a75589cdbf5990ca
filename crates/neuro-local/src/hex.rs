//! Lowercase hex text of bytes: content digests of the registry, ETags of
//! bucket objects.

use std::fmt::Write as _;

/// `bytes` as lowercase hex, two digits per byte.
///
/// ```
/// assert_eq!(neuro_local::hex::lower_hex(&[0x00, 0x7f, 0xab]), "007fab");
/// assert_eq!(neuro_local::hex::lower_hex(&[]), "");
/// ```
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing into a `String` cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}
