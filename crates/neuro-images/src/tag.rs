//! [`Tag`]: one tag of an image and its size.

/// A tag of an image in the registry (`Tag` of the reference).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    /// The tag.
    pub name: String,
    /// The sum of the sizes of the image's layers, in bytes (the config blob
    /// is not counted), if known.
    pub size: Option<u64>,
}
