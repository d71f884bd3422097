//! The shared vector cache without the preload: its arena in one dynamic
//! shared memory segment (PostgreSQL's DSM), made by the first backend whose
//! search needs it and pinned, so it lasts until the server stops; every
//! other backend finds it through a small file in the data directory,
//! `pg_dynshmem/ruvector_pg.cache` (a directory PostgreSQL keeps for shared
//! memory and pg_basebackup leaves out), and maps it once for its lifetime.
//!
//! The file holds one line: `<PgStartTime> <handle> <bytes>`, or
//! `<PgStartTime> none` when the segment could not be made (then nobody
//! tries again until the server restarts, and searches keep a cache per
//! backend).
//!
//! Invariants:
//! - The file is read, the segment attached or made and the file written
//!   under an exclusive lock on the file (flock), so a server start has one
//!   segment. No PostgreSQL lock is held while waiting for it, and the wait
//!   is at most one other backend's attach or make.
//! - A segment of an earlier server start is never used: its line names
//!   another start time. A crash restart keeps the start time but destroys
//!   every segment, so `dsm_attach` of the old handle returns NULL and a new
//!   one is made; a handle reused meanwhile by another segment is refused
//!   unless its length is the recorded one and it holds a formatted arena.
//! - Made only with `dynamic_shared_memory_type = posix` and when /dev/shm
//!   has room for it and a quarter more (statvfs): making it allocates the
//!   whole segment at once (posix_fallocate), and running out would be an
//!   ERROR in the middle of a search.
//! - A backend attaches at most once and pins its mapping, so the words
//!   handed out stay mapped until the process exits ('static).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::sync::atomic::AtomicU64;

use pgrx::pg_sys;

/// This backend's mapping of the arena (null until attached) and its words.
static mut WORDS: *const AtomicU64 = std::ptr::null();
static mut WORD_COUNT: usize = 0;
/// Whether this backend already looked and found that none can be had.
static mut GAVE_UP: bool = false;

/// The arena's words, if this backend attached to them.
pub fn attached() -> Option<&'static [AtomicU64]> {
    // SAFETY: WORDS is null or points at WORD_COUNT words of a segment whose
    // mapping this backend pinned (mapped until exit); set once.
    unsafe { (!WORDS.is_null()).then(|| std::slice::from_raw_parts(WORDS, WORD_COUNT)) }
}

/// The arena's words: attached to if this server start has a segment, else,
/// with `make = Some(bytes)`, a new segment of `bytes` formatted by
/// `format` (which returns whether it could). None if there is none.
pub fn attach_or_make(
    make: Option<usize>,
    format: impl FnOnce(&'static [AtomicU64]) -> bool,
) -> Option<&'static [AtomicU64]> {
    if let Some(words) = attached() {
        return Some(words);
    }
    // SAFETY: this process's own flag.
    if unsafe { GAVE_UP } {
        return None;
    }
    let (mut file, start) = open_locked(make.is_some())?;
    let mut line = String::new();
    file.read_to_string(&mut line).ok()?;
    match parse(&line, start) {
        Recorded::None => {
            // SAFETY: as above.
            unsafe { GAVE_UP = true };
            return None;
        }
        Recorded::Segment(handle, bytes) => {
            if let Some(words) = attach(handle, bytes) {
                return Some(words);
            }
        }
        Recorded::Nothing => {}
    }
    let bytes = make?;
    let made = make_segment(bytes, format);
    let record = match made {
        Some((handle, _)) => format!("{start} {handle} {bytes}\n"),
        None => format!("{start} none\n"),
    };
    // a failed write only means the next backend tries again
    let _ = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(record.as_bytes()));
    if made.is_none() {
        // SAFETY: as above.
        unsafe { GAVE_UP = true };
    }
    made.map(|(_, words)| words)
}

/// What the file says about this server start.
enum Recorded {
    Nothing,
    None,
    Segment(u32, usize),
}

fn parse(line: &str, start: i64) -> Recorded {
    let mut parts = line.split_whitespace();
    if parts.next().and_then(|s| s.parse::<i64>().ok()) != Some(start) {
        return Recorded::Nothing;
    }
    match (parts.next(), parts.next().and_then(|b| b.parse::<usize>().ok())) {
        (Some("none"), _) => Recorded::None,
        (Some(h), Some(bytes)) => h.parse::<u32>().map_or(Recorded::Nothing, |h| Recorded::Segment(h, bytes)),
        _ => Recorded::Nothing,
    }
}

/// The file, locked (released when it is dropped), and this server's start
/// time; without `create`, None if there is no file.
fn open_locked(create: bool) -> Option<(File, i64)> {
    // SAFETY: DataDir and PgStartTime are set before any backend runs and
    // never change in it.
    let (dir, start) = unsafe {
        if pg_sys::DataDir.is_null() {
            return None;
        }
        (std::ffi::CStr::from_ptr(pg_sys::DataDir).to_str().ok()?.to_owned(), pg_sys::PgStartTime)
    };
    let path = format!("{dir}/pg_dynshmem/ruvector_pg.cache");
    let file = OpenOptions::new().read(true).write(true).create(create).truncate(false).open(path).ok()?;
    file.lock().ok()?;
    Some((file, start))
}

/// Attach to segment `handle` if it exists and is `bytes` long, and keep it
/// mapped for this backend's lifetime.
fn attach(handle: u32, bytes: usize) -> Option<&'static [AtomicU64]> {
    // SAFETY: dsm_attach returns NULL for a handle with no segment; a
    // segment is detached again unless it is the arena's length and its
    // mapping is 8-byte aligned (it is page-aligned); pinning the mapping
    // keeps the address valid until exit. This backend attaches at most
    // once (WORDS is set before it could try again).
    unsafe {
        let seg = pg_sys::dsm_attach(handle);
        if seg.is_null() {
            return None;
        }
        let addr = pg_sys::dsm_segment_address(seg).cast::<AtomicU64>();
        if pg_sys::dsm_segment_map_length(seg) < bytes || !(addr as usize).is_multiple_of(64) {
            pg_sys::dsm_detach(seg);
            return None;
        }
        pg_sys::dsm_pin_mapping(seg);
        WORDS = addr;
        WORD_COUNT = bytes / 8;
        attached()
    }
}

/// Make, format and pin a segment of `bytes`; its handle and words.
fn make_segment(
    bytes: usize,
    format: impl FnOnce(&'static [AtomicU64]) -> bool,
) -> Option<(u32, &'static [AtomicU64])> {
    // SAFETY: the setting is read-only here; statvfs gets a valid C string
    // and a zeroed struct to fill; dsm_create with
    // DSM_CREATE_NULL_IF_MAXSEGMENTS returns NULL rather than raising when
    // no slot is free; the new mapping is page-aligned and zero-filled (a
    // new tmpfs file), and `format` writes the arena's header before any
    // other backend can find the handle (the file is written after it,
    // under the lock).
    unsafe {
        if pg_sys::dynamic_shared_memory_type != pg_sys::DSM_IMPL_POSIX as i32 {
            return None;
        }
        let mut fs: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c"/dev/shm".as_ptr(), &mut fs) != 0 {
            return None;
        }
        let free = (fs.f_bavail as u128) * (fs.f_frsize as u128);
        if free < (bytes as u128) * 5 / 4 {
            return None;
        }
        let seg = pg_sys::dsm_create(bytes, pg_sys::DSM_CREATE_NULL_IF_MAXSEGMENTS as i32);
        if seg.is_null() {
            return None;
        }
        let addr = pg_sys::dsm_segment_address(seg).cast::<AtomicU64>();
        if !(addr as usize).is_multiple_of(64) {
            pg_sys::dsm_detach(seg);
            return None;
        }
        let words = std::slice::from_raw_parts(addr, bytes / 8);
        if !format(words) {
            pg_sys::dsm_detach(seg);
            return None;
        }
        pg_sys::dsm_pin_segment(seg);
        pg_sys::dsm_pin_mapping(seg);
        WORDS = addr;
        WORD_COUNT = bytes / 8;
        Some((pg_sys::dsm_segment_handle(seg), words))
    }
}
