//! Limits that keep decoding hostile input cheap: a nesting depth limit for [`Data`]
//! and a budget for preallocating sequences.
//!
//! Both are tracked per thread because serde's `Deserialize` has no room for context,
//! and because postcard drops the message of custom errors: when a value is refused
//! for nesting too deep, a flag records it so the codec can report
//! [`WireError::TooDeep`](crate::WireError::TooDeep) instead of a generic
//! "malformed frame".
//!
//! [`Data`]: crate::Data

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

/// How many containers may nest inside each other in one [`Data`](crate::Data) value,
/// counting the outermost one: a vector of vectors of counts nests 2 levels. Values
/// nesting deeper are refused both when encoding and when decoding, so decoding
/// recursion stays far from the end of any thread's stack.
pub const MAX_DEPTH: usize = 128;

thread_local! {
    /// Set when a value was refused for nesting deeper than [`MAX_DEPTH`].
    static DEPTH_EXCEEDED: Cell<bool> = const { Cell::new(false) };
    /// How many sequence elements decoding may still reserve room for up front.
    static PREALLOC_BUDGET: Cell<usize> = const { Cell::new(0) };
}

/// Records that a value nested too deep; returns the error message serde needs.
pub(crate) fn flag_too_deep() -> TooDeep {
    DEPTH_EXCEEDED.with(|flag| flag.set(true));
    TooDeep
}

/// Whether a value was refused for nesting too deep since the last call; clears the
/// flag.
pub(crate) fn take_too_deep() -> bool {
    DEPTH_EXCEEDED.with(|flag| flag.replace(false))
}

/// The message of the serde error raised for a value nesting too deep.
pub(crate) struct TooDeep;

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "value nests deeper than {MAX_DEPTH} levels")
    }
}

/// While alive, lets sequence decoding reserve room for as many elements in total as
/// the frame body has bytes. Every encoded element takes at least one byte, so
/// honest input always gets exact preallocation, while a lying length prefix inside a
/// frame cannot make decoding allocate more than the frame's size warrants.
/// Outside a scope nothing is preallocated.
pub(crate) struct PreallocScope {
    previous: usize,
}

impl PreallocScope {
    /// Opens a scope for decoding a body of `body_len` bytes.
    pub(crate) fn new(body_len: usize) -> Self {
        let previous = PREALLOC_BUDGET.with(|budget| budget.replace(body_len));
        PreallocScope { previous }
    }
}

impl Drop for PreallocScope {
    fn drop(&mut self) {
        PREALLOC_BUDGET.with(|budget| budget.set(self.previous));
    }
}

/// The capacity to reserve for a sequence announcing `hint` elements, taken from the
/// thread's budget.
pub(crate) fn reserve_capacity(hint: Option<usize>) -> usize {
    let wanted = hint.unwrap_or(0);
    PREALLOC_BUDGET.with(|budget| {
        let granted = wanted.min(budget.get());
        budget.set(budget.get() - granted);
        granted
    })
}

/// Deserializes a `Vec<T>` preallocating within the thread's budget
/// (`#[serde(deserialize_with = "limits::budgeted_vec")]`).
pub(crate) fn budgeted_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct VecVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for VecVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::with_capacity(reserve_capacity(seq.size_hint()));
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }
    }

    deserializer.deserialize_seq(VecVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_shared_by_all_sequences_and_restored() {
        assert_eq!(reserve_capacity(Some(10)), 0, "no scope, no preallocation");
        {
            let _outer = PreallocScope::new(100);
            assert_eq!(reserve_capacity(Some(60)), 60);
            {
                let _inner = PreallocScope::new(5);
                assert_eq!(reserve_capacity(Some(60)), 5);
            }
            assert_eq!(reserve_capacity(Some(usize::MAX)), 40);
            assert_eq!(reserve_capacity(None), 0);
        }
        assert_eq!(reserve_capacity(Some(10)), 0);
    }

    #[test]
    fn too_deep_flag_is_taken_once() {
        assert!(!take_too_deep());
        let _ = flag_too_deep();
        assert!(take_too_deep());
        assert!(!take_too_deep());
    }
}
