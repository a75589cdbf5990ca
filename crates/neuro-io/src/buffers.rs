//! Recycled buffers for streamed file bodies.
//!
//! A file streamed in blocks of a MiB or so, each in a new allocation, costs
//! more in memory management than in copying: the allocator hands blocks that
//! big straight to the kernel and takes them back when they are freed, so
//! every page of every block is faulted in and zeroed again. A
//! [`BufferPool`] keeps a few blocks: [`BufferPool::freeze`] turns a block
//! into [`Bytes`] that give it back to the pool when the last clone is
//! dropped (by the socket once it is sent, say), and [`BufferPool::take`]
//! hands it out again.
//!
//! ```
//! use neuro_io::buffers::BufferPool;
//!
//! let pool = BufferPool::new(4096, 2);
//! let mut block = pool.take();
//! block.extend_from_slice(b"read from a file");
//! let bytes = pool.freeze(block);
//! assert_eq!(&bytes[..], b"read from a file");
//! drop(bytes); // the block is back in the pool ...
//! assert!(pool.take().capacity() >= 4096); // ... and handed out again, empty
//! ```

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// A few blocks of `size` bytes, recycled (see the [module docs](self)).
/// Clones share the blocks.
#[derive(Debug, Clone)]
pub struct BufferPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
    size: usize,
    keep: usize,
}

impl BufferPool {
    /// A pool of blocks of `size` bytes that keeps at most `keep` free ones
    /// (blocks beyond that are freed as usual).
    pub fn new(size: usize, keep: usize) -> Self {
        Self {
            free: Arc::default(),
            size,
            keep,
        }
    }

    /// An empty block with room for at least the pool's size: a recycled one
    /// when there is one, a new one otherwise.
    pub fn take(&self) -> Vec<u8> {
        let recycled = self.free.lock().ok().and_then(|mut free| free.pop());
        recycled.unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    /// The filled `block` as [`Bytes`]; the block returns to the pool when
    /// the last clone of them is dropped.
    pub fn freeze(&self, block: Vec<u8>) -> Bytes {
        Bytes::from_owner(Recycled {
            block,
            pool: self.clone(),
        })
    }

    fn give_back(&self, mut block: Vec<u8>) {
        if block.capacity() < self.size {
            return;
        }
        block.clear();
        // A poisoned lock only means the block is freed instead.
        if let Ok(mut free) = self.free.lock() {
            if free.len() < self.keep {
                free.push(block);
            }
        }
    }
}

/// A block lent out as [`Bytes`].
struct Recycled {
    block: Vec<u8>,
    pool: BufferPool,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.block
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.block));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_block_comes_back_once_every_clone_is_dropped() {
        let pool = BufferPool::new(64, 4);
        let mut block = pool.take();
        block.extend_from_slice(&[7; 64]);
        let address = block.as_ptr();
        let bytes = pool.freeze(block);
        let slice = bytes.slice(8..16);
        drop(bytes);
        // Still lent out through `slice`: a new block.
        let fresh = pool.take();
        assert_ne!(fresh.as_ptr(), address);
        drop(fresh);
        assert_eq!(&slice[..], &[7; 8]);
        drop(slice);
        let again = pool.take();
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
        assert!(again.capacity() >= 64);
    }

    #[test]
    fn at_most_keep_blocks_are_kept() {
        let pool = BufferPool::new(16, 1);
        let first = pool.freeze(pool.take());
        let second = pool.freeze(pool.take());
        drop(first);
        drop(second);
        assert_eq!(pool.free.lock().unwrap().len(), 1);
    }

    #[test]
    fn smaller_blocks_are_not_kept() {
        let pool = BufferPool::new(1024, 4);
        drop(pool.freeze(b"tiny".to_vec()));
        assert!(pool.free.lock().unwrap().is_empty());
    }
}
