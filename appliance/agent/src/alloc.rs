//! The agent's allocator: the system's, except that large blocks are
//! page-aligned. A `pwrite`'s payload is decoded into a `Vec` of its own, and
//! page alignment lets it go to the disk with `O_DIRECT` straight from there
//! (see `ops::writes::pwrite`) instead of through one more emulated copy.
//!
//! Must not: change small allocations (they stay exactly the system's), or
//! hand `dealloc`/`realloc` a layout other than the one a block was made with.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this big are page-aligned.
const LARGE: usize = 64 << 10;
pub const PAGE: usize = 4096;

pub struct PageAligned;

/// The layout a block of layout `l` really gets: the same for every call
/// about that block, since it depends on its size and alignment only.
fn real(l: Layout) -> Layout {
    if l.size() >= LARGE && l.align() < PAGE {
        Layout::from_size_align(l.size(), PAGE).unwrap_or(l)
    } else {
        l
    }
}

// SAFETY: every call forwards to `System` with the layout `real` gives for
// the block, so each block is freed or resized with the layout it was
// allocated with; `real` never lowers the alignment the caller asked for.
unsafe impl GlobalAlloc for PageAligned {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: `real(l)` has `l`'s non-zero size (the caller's contract).
        unsafe { System.alloc(real(l)) }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(real(l)) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `alloc` with `l`, so from `System` with `real(l)`.
        unsafe { System.dealloc(p, real(l)) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let old = real(l);
        let Ok(asked) = Layout::from_size_align(new_size, l.align()) else {
            return std::ptr::null_mut();
        };
        let new = real(asked);
        if old.align() == new.align() {
            // `System` keeps an alignment above malloc's own by moving the block.
            // SAFETY: `p` is `System`'s with layout `old`; `new_size` is
            // non-zero and fits `isize` rounded to `old.align()` (checked by
            // `from_size_align` above).
            return unsafe { System.realloc(p, old, new_size) };
        }
        // Crossing the size threshold changes the alignment: move the block.
        // SAFETY: `new` has the non-zero `new_size`.
        let q = unsafe { System.alloc(new) };
        if !q.is_null() {
            // SAFETY: `p` holds `l.size()` bytes and `q` `new_size`, distinct
            // blocks; `p` is then freed with the layout it was made with.
            unsafe {
                std::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                System.dealloc(p, old);
            }
        }
        q
    }
}

/// Keeps freed large blocks for reuse instead of returning them to the
/// kernel. By default glibc maps each large block afresh (or trims the heap
/// right after it is freed), so every 1 MiB request payload faulted in 256
/// new pages the guest kernel zeroed first: under TCG that was ~3 ms of the
/// ~10 ms a 1 MiB write spent in the appliance. Blocks up to 32 MiB (glibc's
/// largest mmap threshold) now come from the heap, which keeps up to 64 MiB
/// free at its top.
pub fn keep_large_blocks() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only tunes the allocator; called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}
