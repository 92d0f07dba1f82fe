//! A flare: a file descriptor that is readable exactly while it is raised, so that
//! `select`/`poll` loops (and Python's `selectors`) can wait on a queue.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An eventfd used as a level: raised means a counter above zero (readable),
/// lowered means zero. Callers serialise `raise`/`lower` under the lock of the
/// structure the flare mirrors, so the level never disagrees with that structure.
#[derive(Debug)]
pub(crate) struct Flare {
    fd: OwnedFd,
}

impl Flare {
    /// A lowered flare.
    pub(crate) fn new() -> io::Result<Flare> {
        // SAFETY: eventfd has no memory-safety preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
        Ok(Flare {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Makes the descriptor readable. Only called on a lowered flare.
    pub(crate) fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own descriptor. A full counter
        // (EAGAIN) cannot happen because we only raise a lowered flare.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Makes the descriptor unreadable again. Only called on a raised flare.
    pub(crate) fn lower(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own nonblocking descriptor;
        // EAGAIN (already lowered) is harmless.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }

    /// The descriptor to wait on.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    #[test]
    fn readable_exactly_while_raised() {
        let flare = Flare::new().unwrap();
        assert!(!readable(flare.fd()));
        flare.raise();
        assert!(readable(flare.fd()));
        flare.lower();
        assert!(!readable(flare.fd()));
    }
}
