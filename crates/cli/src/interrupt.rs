//! Ctrl-C and SIGTERM as a flag the tools poll between short waits, so they can
//! flush and shut their endpoint down instead of dying mid-write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set once SIGINT or SIGTERM arrived.
#[derive(Clone)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Installs the process-wide handler. Call once, at start-up.
    pub fn install() -> Interrupt {
        let flag = Arc::new(AtomicBool::new(false));
        let for_handler = flag.clone();
        // Failing here means a handler exists already: the flag then never fires, and
        // the default action (terminate) stays in force, which is still correct.
        let _ = ctrlc::set_handler(move || for_handler.store(true, Ordering::SeqCst));
        Interrupt(flag)
    }

    /// A flag no signal sets (for in-process use such as the harness).
    pub fn never() -> Interrupt {
        Interrupt(Arc::new(AtomicBool::new(false)))
    }

    /// Whether a signal arrived.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
