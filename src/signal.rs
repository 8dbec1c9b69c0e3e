//! SIGINT and SIGTERM, for the whole process: one handler, installed once at start, that only
//! records the signal. Each phase looks at it where it can stop cleanly: reading ends its
//! input early, enrichment stops sending, writing stops and removes its temporary file. A
//! second signal before the first was acted on ends the process at once (the default action),
//! so a phase blocked on a silent input or a stalled pipe never holds the person hostage.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal received and not yet acted on (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

/// A signal that stops a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, a service manager).
    Terminate,
}

impl Signal {
    fn from_raw(sig: i32) -> Option<Signal> {
        match sig {
            libc::SIGINT => Some(Signal::Interrupt),
            libc::SIGTERM => Some(Signal::Terminate),
            _ => None,
        }
    }

    /// The shell's convention: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe calls here: an atomic swap, signal(2), raise(3).
    if PENDING.swap(sig, Ordering::SeqCst) != 0 {
        // SAFETY: restoring the default action and re-raising are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// Installs the handler for SIGINT and SIGTERM. Interrupted system calls are restarted, so
/// no reader or writer sees a spurious error.
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// The signal received and not yet acted on, if any.
pub fn pending() -> Option<Signal> {
    Signal::from_raw(PENDING.load(Ordering::SeqCst))
}

/// The signal received, if any, now acted on: the next one is waited for again (a phase that
/// ended early on the first signal lets the run go on to write what it knows).
pub fn take() -> Option<Signal> {
    Signal::from_raw(PENDING.swap(0, Ordering::SeqCst))
}

/// The error a phase returns when a signal stopped it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Stopped(pub Signal);
