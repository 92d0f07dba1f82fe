//! Shared Python `str` objects for short strings received again and again (table keys,
//! record fields, event names, enum-like values).
//!
//! Building a `str` costs an allocation, a UTF-8 scan and, once it is a dict key, a hash
//! (and later a deallocation); a cached one costs a comparison and a reference count,
//! and keeps its hash. Sharing is safe because `str` objects are immutable.
//!
//! The cache is keyed by the bytes themselves, so a hit is always the very same text.
//! It is small and two-way set-associative (least recently used way replaced), and
//! process-wide behind a mutex that a conversion takes once with `try_lock`: a
//! conversion that finds it taken (another thread, or a conversion re-entered from
//! Python code it called) simply builds its strings afresh.

use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::PyString;

/// Strings longer than this are built afresh: they repeat less and cost more to compare.
pub const MAX_CACHED_LEN: usize = 32;

/// Number of sets, a power of two; each holds two strings.
const SETS: usize = 256;

/// A string padded with zeros to [`MAX_CACHED_LEN`] bytes, as words; with its length
/// it identifies the string (padding alone cannot, since text may contain zeros).
type Padded = [u64; MAX_CACHED_LEN / 8];

/// One cached string.
struct Entry {
    len: usize,
    bytes: Padded,
    text: Option<Py<PyString>>,
}

impl Entry {
    const EMPTY: Entry = Entry {
        len: 0,
        bytes: [0; MAX_CACHED_LEN / 8],
        text: None,
    };

    fn holds(&self, len: usize, bytes: &Padded) -> bool {
        self.text.is_some() && self.len == len && self.bytes == *bytes
    }
}

/// The cached strings: way 0 of each set holds the more recently used one.
pub struct StrCache {
    sets: [[Entry; 2]; SETS],
}

static CACHE: Mutex<StrCache> = Mutex::new(StrCache {
    sets: [const { [Entry::EMPTY, Entry::EMPTY] }; SETS],
});

/// The process-wide cache, unless another conversion holds it right now.
pub fn try_lock() -> Option<MutexGuard<'static, StrCache>> {
    // A panic while holding the lock cannot leave a wrong entry behind (entries are
    // replaced whole), so a poisoned cache is still sound.
    match CACHE.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

fn pad(bytes: &[u8]) -> Padded {
    let mut raw = [0u8; MAX_CACHED_LEN];
    raw[..bytes.len()].copy_from_slice(bytes);
    let mut words = [0u64; MAX_CACHED_LEN / 8];
    for (word, chunk) in words.iter_mut().zip(raw.chunks_exact(8)) {
        *word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
    }
    words
}

/// The set of a padded string (a multiplicative hash of its words and length).
fn set_of(len: usize, words: &Padded) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = len as u64;
    for word in words {
        h = (h.rotate_left(5) ^ word).wrapping_mul(K);
    }
    (h >> 40) as usize & (SETS - 1)
}

impl StrCache {
    /// The `str` for `bytes` (at most [`MAX_CACHED_LEN`] of them), shared when cached;
    /// `None` if they are not UTF-8.
    pub fn get<'py>(&mut self, py: Python<'py>, bytes: &[u8]) -> Option<Bound<'py, PyString>> {
        debug_assert!(bytes.len() <= MAX_CACHED_LEN);
        let words = pad(bytes);
        let len = bytes.len();
        let set = &mut self.sets[set_of(len, &words)];
        if set[0].holds(len, &words) {
            return set[0].text.as_ref().map(|text| text.bind(py).clone());
        }
        if set[1].holds(len, &words) {
            set.swap(0, 1);
            return set[0].text.as_ref().map(|text| text.bind(py).clone());
        }
        let text = PyString::new(py, std::str::from_utf8(bytes).ok()?);
        set.swap(0, 1);
        set[0] = Entry {
            len,
            bytes: words,
            text: Some(text.clone().unbind()),
        };
        Some(text)
    }
}
