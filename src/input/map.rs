//! Regular files read in place: mapped into memory, so that their bytes are not copied out of
//! the kernel's cache (the copy was about 6% of a run's CPU samples), and safe when the file
//! is truncated while mapped.
//!
//! Touching a mapped page past the end of a file that shrank raises SIGBUS, which would kill
//! the process. One handler, installed with the first mapping, puts a page of zeros in place
//! of a page that faulted inside a live mapping and marks that mapping cut: the records there
//! then read as invalid (and are reported), and the framer reports the truncation. A fault
//! anywhere else goes to the handler that was installed before (the standard library's, which
//! tells a stack overflow) or, without one, to the default action, exactly as without gcorr's.
//!
//! Pages are mapped a chunk at a time as the framer reaches them, and dropped once their
//! batch is parsed, so a mapped file costs no more memory than a read one.

use std::fs::File;
use std::ops::Range;
use std::os::unix::io::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Mappings live at once, at most: a file not mapped for want of a slot is read instead.
const SLOTS: usize = 32;

/// A live mapping's address range, for the handler: `start == 0` is a free slot.
struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    cut: AtomicBool,
}

static LIVE: [Slot; SLOTS] = [const {
    Slot {
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        cut: AtomicBool::new(false),
    }
}; SLOTS];

/// The page size, and the action SIGBUS had before ours: both set before the handler is.
static PAGE: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
/// Whether the handler is in place.
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// A whole regular file, mapped read-only.
pub struct Map {
    ptr: *mut libc::c_void,
    len: usize,
    page: usize,
    slot: usize,
    file: File,
}

// SAFETY: the mapping is read-only and owned by this value; any thread may read it.
unsafe impl Send for Map {}
// SAFETY: as above: shared references only read.
unsafe impl Sync for Map {}

impl Map {
    /// Maps the first `len` bytes of `file`; `None` when it cannot be (empty, no free slot,
    /// no handler, the system refused), and the file is read instead.
    pub fn new(file: File, len: u64) -> Option<Map> {
        let len = usize::try_from(len).ok().filter(|&l| l > 0)?;
        let page = install()?;
        let slot = LIVE.iter().position(|s| {
            s.end
                .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        // SAFETY: a fresh read-only private mapping of a file this value owns; nothing aliases it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            LIVE[slot].end.store(0, Ordering::Release);
            return None;
        }
        let s = &LIVE[slot];
        s.cut.store(false, Ordering::Relaxed);
        s.end.store(ptr as usize + len, Ordering::Release);
        s.start.store(ptr as usize, Ordering::Release);
        Some(Map {
            ptr,
            len,
            page,
            slot,
            file,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes mapped readable for as long as `self` lives; a page that faults
        // is replaced by zeros (see the module), so every byte stays readable.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    /// Maps the pages of `range` in at once (fewer faults than touching them one by one).
    pub fn populate(&self, range: Range<usize>) {
        #[cfg(target_os = "linux")]
        if let Some((at, len)) = self.pages(range, true) {
            // SAFETY: advice on pages of this mapping. An error (an old kernel, a cut file)
            // changes nothing: the pages fault in when touched.
            unsafe { libc::madvise(at, len, libc::MADV_POPULATE_READ) };
        }
    }

    /// Unmaps the pages wholly inside `range` from this process (they stay in the kernel's
    /// cache, and read the same if touched again).
    pub fn release(&self, range: Range<usize>) {
        if let Some((at, len)) = self.pages(range, false) {
            // SAFETY: advice on pages of this mapping; a private read-only file mapping reads
            // the file again after MADV_DONTNEED, so no content is lost.
            unsafe { libc::madvise(at, len, libc::MADV_DONTNEED) };
        }
    }

    /// What went wrong with the file while it was mapped, if anything: it shrank below the
    /// mapping, or a page of it could not be read (and reads as zeros).
    pub fn damage(&self) -> Option<String> {
        let now = self.file.metadata().map(|m| m.len()).ok();
        match now {
            Some(n) if n < self.len as u64 => Some(format!(
                "the file shrank to {n} bytes while it was read ({} when it was opened)",
                self.len
            )),
            _ if LIVE[self.slot].cut.load(Ordering::Relaxed) => Some(
                "part of the file could not be read (cut and grown again, or a device error): \
                 read as zeros"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// The whole pages of `range` (`outward`: every page it touches).
    fn pages(&self, range: Range<usize>, outward: bool) -> Option<(*mut libc::c_void, usize)> {
        let mask = self.page - 1;
        let end = range.end.min(self.len);
        let (start, end) = if outward {
            (range.start & !mask, (end + mask) & !mask)
        } else {
            let end = if end == self.len { end + mask } else { end };
            ((range.start + mask) & !mask, end & !mask)
        };
        // SAFETY: start is within the mapping (offsets below len, rounded to its pages).
        (start < end).then(|| (unsafe { self.ptr.add(start) }, end - start))
    }
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map").field("len", &self.len).finish()
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        let s = &LIVE[self.slot];
        s.start.store(0, Ordering::Release);
        // SAFETY: the mapping made in `new`; no borrow of it outlives `self`.
        unsafe { libc::munmap(self.ptr, self.len) };
        s.end.store(0, Ordering::Release);
    }
}

/// Installs the SIGBUS handler once; the page size, or `None` when it could not be installed.
fn install() -> Option<usize> {
    let installed = *INSTALLED.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        match usize::try_from(page) {
            Ok(p) if p.is_power_of_two() => PAGE.store(p, Ordering::Relaxed),
            _ => return false,
        }
        // SAFETY: zeroed sigactions are valid; the first call only queries, the second
        // installs a handler that is async-signal-safe (below) and finds PAGE and PREVIOUS set.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                return false;
            }
            let _ = PREVIOUS.set(previous);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus
                as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) == 0
        }
    });
    installed.then(|| PAGE.load(Ordering::Relaxed))
}

/// Only async-signal-safe work: atomic loads and stores, mmap(2), sigaction(2), and the
/// previous handler.
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let page = PAGE.load(Ordering::Relaxed);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    for s in &LIVE {
        let start = s.start.load(Ordering::Acquire);
        if start != 0 && (start..s.end.load(Ordering::Acquire)).contains(&addr) {
            let at = addr & !(page - 1);
            // SAFETY: replaces one page of a live mapping of ours with zeros; the mapping's
            // owner unmaps the whole range, this page included, when it is dropped.
            let zeros = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if zeros != libc::MAP_FAILED {
                s.cut.store(true, Ordering::Relaxed);
                return;
            }
        }
    }
    let Some(previous) = PREVIOUS.get() else {
        return;
    };
    let handler = previous.sa_sigaction;
    // SAFETY: the previous action, as the kernel would have run it; for the default action,
    // restoring it and returning faults again, which then ends the process as it would have.
    unsafe {
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut());
        } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_cut_while_mapped_reads_as_zeros_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.ndjson");
        let page = 1 << 16;
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![b'x'; page * 3]).unwrap();
        drop(f);
        let map = Map::new(File::open(&path).unwrap(), (page * 3) as u64).unwrap();
        assert_eq!(map.damage(), None);
        assert!(map.bytes().iter().all(|&b| b == b'x'));
        map.release(0..page * 3);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(page as u64)
            .unwrap();
        let bytes = map.bytes();
        assert!(bytes[..page].iter().all(|&b| b == b'x'));
        assert!(
            bytes[page..].iter().all(|&b| b == 0),
            "past the cut: zeros, no crash"
        );
        let said = map.damage().expect("the cut is told");
        assert!(
            said.starts_with(&format!("the file shrank to {page} bytes")),
            "{said}"
        );
        // Grown back to its length, the file still says a page could not be read.
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len((page * 3) as u64)
            .unwrap();
        assert!(
            map.damage()
                .expect("still told")
                .starts_with("part of the file could not be read")
        );
    }

    #[test]
    fn pages_are_rounded_inward_to_release_and_outward_to_populate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'a'; 10_000]).unwrap();
        let map = Map::new(File::open(&path).unwrap(), 10_000).unwrap();
        let p = map.page;
        let base = map.ptr as usize;
        let span = |r: Option<(*mut libc::c_void, usize)>| r.map(|(a, l)| (a as usize - base, l));
        assert_eq!(span(map.pages(1..p + 1, false)), None);
        assert_eq!(span(map.pages(0..2 * p, false)), Some((0, 2 * p)));
        assert_eq!(span(map.pages(1..p + 1, true)), Some((0, 2 * p)));
        // The last, partial page goes with the end of the file.
        assert_eq!(
            span(map.pages(p..10_000, false)),
            Some((p, 10_000_usize.div_ceil(p) * p - p))
        );
    }
}
