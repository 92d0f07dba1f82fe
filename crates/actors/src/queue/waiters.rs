//! Who waits on a queue, and the wake-ups a change owes them.

use std::sync::Condvar;

use tokio::sync::Notify;

/// Counts of waiters of one side, by kind: waking a kind costs a system call even
/// when nobody waits, so only kinds with waiters are woken.
#[derive(Default)]
pub(super) struct Waiters {
    /// Plain threads, on a condition variable.
    pub(super) threads: usize,
    /// Async tasks, on a `Notify`.
    pub(super) tasks: usize,
}

impl Waiters {
    /// The wake-ups these waiters are owed.
    pub(super) fn owed(&self) -> Wakes {
        Wakes {
            threads: self.threads > 0,
            tasks: self.tasks > 0,
        }
    }
}

/// Wake-ups owed after a change, made once the lock is released: a thread woken while
/// the lock is held would preempt the holder only to block on the lock again.
#[must_use]
#[derive(Default)]
pub(super) struct Wakes {
    /// Whether to wake the waiting threads.
    pub(super) threads: bool,
    /// Whether to wake the waiting tasks.
    pub(super) tasks: bool,
}

impl Wakes {
    /// Wakes the owed kinds of waiters of one side.
    pub(super) fn wake(self, threads: &Condvar, tasks: &Notify) {
        if self.threads {
            threads.notify_all();
        }
        if self.tasks {
            tasks.notify_waiters();
        }
    }
}
