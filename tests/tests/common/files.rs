//! Local test data: deterministic contents, trees, tree comparison, and a
//! progress recorder.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;

use neuro_sdk::storage::progress::{
    DeleteProgress, FileProgress, ProgressEvent, RecursiveFileProgress, StorageProgressComplete,
    StorageProgressDelete, StorageProgressEnterDir, StorageProgressFail, StorageProgressLeaveDir,
    StorageProgressStart, StorageProgressStep,
};

/// A fast xorshift generator for incompressible-looking test data.
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Prng {
        Prng(
            seed.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                | 1,
        )
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// Deterministic content of `len` bytes.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; len];
    Prng::new(seed).fill(&mut data);
    data
}

/// Writes `len` deterministic bytes to `path` without holding them in memory
/// (every block is really written: no sparse file).
pub fn write_big_file(path: &Path, len: u64, seed: u64) {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut prng = Prng::new(seed);
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        prng.fill(&mut block[..n]);
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
}

/// Whether two files have the same bytes, read side by side in blocks.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    if fa.metadata().unwrap().len() != fb.metadata().unwrap().len() {
        return false;
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut fa, &mut ba);
        let m = read_full(&mut fb, &mut bb);
        if n != m || ba[..n] != bb[..m] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).unwrap() {
            0 => break,
            n => filled += n,
        }
    }
    filled
}

/// An entry of a local tree: a directory or a file with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
}

/// Every entry under `root`, by `/`-separated relative path.
pub fn read_tree(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Node>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let rel = format!("{prefix}{name}");
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                out.insert(rel.clone(), Node::Dir);
                walk(&path, &format!("{rel}/"), out);
            } else {
                out.insert(rel, Node::File(std::fs::read(&path).unwrap()));
            }
        }
    }
    walk(root, "", &mut out);
    out
}

/// Records every progress event in order.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<ProgressEvent>>,
    pub deleted: Mutex<Vec<StorageProgressDelete>>,
}

impl Recorder {
    pub fn take(&self) -> Vec<ProgressEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }

    fn push(&self, event: ProgressEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl FileProgress for Recorder {
    fn start(&self, e: &StorageProgressStart) {
        self.push(ProgressEvent::Start(e.clone()));
    }
    fn step(&self, e: &StorageProgressStep) {
        self.push(ProgressEvent::Step(e.clone()));
    }
    fn complete(&self, e: &StorageProgressComplete) {
        self.push(ProgressEvent::Complete(e.clone()));
    }
}

impl RecursiveFileProgress for Recorder {
    fn enter(&self, e: &StorageProgressEnterDir) {
        self.push(ProgressEvent::Enter(e.clone()));
    }
    fn leave(&self, e: &StorageProgressLeaveDir) {
        self.push(ProgressEvent::Leave(e.clone()));
    }
    fn fail(&self, e: &StorageProgressFail) {
        self.push(ProgressEvent::Fail(e.clone()));
    }
}

impl DeleteProgress for Recorder {
    fn delete(&self, e: &StorageProgressDelete) {
        self.deleted.lock().unwrap().push(e.clone());
    }
}
