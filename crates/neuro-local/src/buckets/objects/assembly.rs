//! Where the parts of multipart uploads are written, and what is known of
//! the parts written so far.
//!
//! Clients cut an object into parts of one size (the last one shorter), so
//! part `n` of `len` bytes most likely starts at byte `(n - 1) * len` of the
//! object. Such a part is written there, in one assembly file per upload,
//! as long as that range overlaps no other part written or being written
//! there; completion then only has to rename the assembly file into place
//! (after appending a last part kept apart), instead of copying every byte
//! again. A part that does not fit (a second upload of the same number,
//! an overlapping range, an unknown length) is written to its own file as
//! `s3s-fs` keeps them, and completion copies what is not in place.
//!
//! What is known lives in memory: after a restart only parts in their own
//! files can be completed (the assembly files are temporary files, removed
//! on start-up).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Mutex;

use uuid::Uuid;

/// Where a part's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    /// In the upload's assembly file, from this offset.
    Assembly { offset: u64 },
    /// In its own part file, of this inode (so a file replaced since is
    /// known as such).
    File { inode: u64 },
}

/// A part written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Its length.
    pub len: u64,
    /// The MD5 of its bytes.
    pub md5: [u8; 16],
    /// Where its bytes are.
    pub placed: Placed,
}

/// Where a part about to be written goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// Into the assembly file, over this range (reserved until
    /// [`Uploads::written`] or [`Uploads::release`]).
    Assembly(Range<u64>),
    /// Into its own file.
    File,
}

#[derive(Default)]
struct Upload {
    parts: BTreeMap<i32, Part>,
    /// Assembly ranges being written, by part number.
    writing: HashMap<i32, Range<u64>>,
}

impl Upload {
    /// Whether `range` is free of every other part in the assembly file.
    fn free(&self, range: &Range<u64>) -> bool {
        let overlaps = |other: &Range<u64>| other.start < range.end && range.start < other.end;
        let written = self.parts.values().filter_map(|p| match p.placed {
            Placed::Assembly { offset } => Some(offset..offset + p.len),
            Placed::File { .. } => None,
        });
        !written
            .chain(self.writing.values().cloned())
            .any(|r| overlaps(&r))
    }
}

/// The parts of every multipart upload in progress.
#[derive(Default)]
pub struct Uploads {
    uploads: Mutex<HashMap<Uuid, Upload>>,
}

impl Uploads {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Uuid, Upload>) -> T) -> T {
        let mut uploads = self
            .uploads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut uploads)
    }

    /// Decides where part `number` (of `len` bytes, when known) of `upload`
    /// is written, reserving its range of the assembly file.
    pub fn reserve(&self, upload: Uuid, number: i32, len: Option<u64>) -> Place {
        let range = len.filter(|len| *len > 0).and_then(|len| {
            let index = u64::try_from(number).ok()?.checked_sub(1)?;
            let start = index.checked_mul(len)?;
            Some(start..start.checked_add(len)?)
        });
        let Some(range) = range else {
            return Place::File;
        };
        self.with(|uploads| {
            let state = uploads.entry(upload).or_default();
            let fresh = !state.parts.contains_key(&number) && !state.writing.contains_key(&number);
            if fresh && state.free(&range) {
                state.writing.insert(number, range.clone());
                Place::Assembly(range)
            } else {
                Place::File
            }
        })
    }

    /// Frees the range reserved for part `number` of `upload` (its write
    /// failed).
    pub fn release(&self, upload: Uuid, number: i32) {
        self.with(|uploads| {
            if let Some(state) = uploads.get_mut(&upload) {
                state.writing.remove(&number);
            }
        });
    }

    /// Records part `number` of `upload` as written.
    pub fn written(&self, upload: Uuid, number: i32, part: Part) {
        self.with(|uploads| {
            let state = uploads.entry(upload).or_default();
            state.writing.remove(&number);
            state.parts.insert(number, part);
        });
    }

    /// Forgets part `number` of `upload` (written elsewhere since).
    pub fn discard(&self, upload: Uuid, number: i32) {
        self.with(|uploads| {
            if let Some(state) = uploads.get_mut(&upload) {
                state.parts.remove(&number);
            }
        });
    }

    /// Part `number` of `upload`, if written here.
    pub fn get(&self, upload: Uuid, number: i32) -> Option<Part> {
        self.with(|uploads| uploads.get(&upload)?.parts.get(&number).copied())
    }

    /// The parts of `upload` in its assembly file, by number.
    pub fn assembled(&self, upload: Uuid) -> Vec<(i32, Part)> {
        self.with(|uploads| {
            uploads.get(&upload).map_or_else(Vec::new, |state| {
                let parts = state.parts.iter();
                parts
                    .filter(|(_, p)| matches!(p.placed, Placed::Assembly { .. }))
                    .map(|(n, p)| (*n, *p))
                    .collect()
            })
        })
    }

    /// Forgets `upload` (completed or aborted).
    pub fn forget(&self, upload: Uuid) {
        self.with(|uploads| uploads.remove(&upload));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn assembly(offset: u64, len: u64) -> Part {
        Part {
            len,
            md5: [0; 16],
            placed: Placed::Assembly { offset },
        }
    }

    #[test]
    fn parts_of_one_size_go_in_place_in_any_order() {
        let uploads = Uploads::default();
        let id = Uuid::new_v4();
        for number in [2, 1, 4, 3] {
            let place = uploads.reserve(id, number, Some(16 * MIB));
            let start = (number as u64 - 1) * 16 * MIB;
            assert_eq!(place, Place::Assembly(start..start + 16 * MIB));
        }
        for number in 1..=4 {
            let start = (number as u64 - 1) * 16 * MIB;
            uploads.written(id, number, assembly(start, 16 * MIB));
        }
        assert_eq!(uploads.assembled(id).len(), 4);
    }

    #[test]
    fn overlapping_repeated_and_unknown_parts_get_their_own_files() {
        let uploads = Uploads::default();
        let id = Uuid::new_v4();
        assert!(matches!(
            uploads.reserve(id, 1, Some(16 * MIB)),
            Place::Assembly(_)
        ));
        // The same number again while it is written, and once written.
        assert_eq!(uploads.reserve(id, 1, Some(16 * MIB)), Place::File);
        uploads.written(id, 1, assembly(0, 16 * MIB));
        assert_eq!(uploads.reserve(id, 1, Some(16 * MIB)), Place::File);
        // A short last part would start inside part 1.
        assert_eq!(uploads.reserve(id, 2, Some(3 * MIB)), Place::File);
        assert_eq!(uploads.reserve(id, 3, None), Place::File);
        assert_eq!(uploads.reserve(id, 0, Some(MIB)), Place::File);
        // A failed write frees its range.
        let other = Uuid::new_v4();
        assert!(matches!(
            uploads.reserve(other, 2, Some(MIB)),
            Place::Assembly(_)
        ));
        uploads.release(other, 2);
        assert!(matches!(
            uploads.reserve(other, 2, Some(MIB)),
            Place::Assembly(_)
        ));
        uploads.forget(id);
        assert_eq!(uploads.get(id, 1), None);
    }
}
