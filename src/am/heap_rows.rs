//! The table side of `ruvector_index_check`: the heap TIDs of the rows a
//! build of an index would index now. The same heap scan as CREATE INDEX
//! (`table_index_build_scan`: the index's expressions and partial-index
//! predicate applied, a HOT chain reported by its root TID, live and
//! recently dead rows), each row's key columns handed to the access
//! method's own rule for what it indexes (a NULL or a zero vector under
//! cosine is not indexed). The caller holds the table in SHARE mode, so no
//! insert is half done.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::index::Tid;

use crate::am::callbacks::{self, RowMemory};
use crate::am::storage::tid_of;

/// Whether the check compares the index with its table: not during
/// recovery, where SHARE mode cannot be had.
pub fn compares_table() -> bool {
    // SAFETY: reads shared recovery state.
    !unsafe { pg_sys::RecoveryInProgress() }
}

/// The lock a check holds on the index's table: SHARE (writers wait), or
/// ACCESS SHARE during recovery.
pub fn table_lock() -> pg_sys::LOCKMODE {
    if compares_table() {
        pg_sys::ShareLock as pg_sys::LOCKMODE
    } else {
        pg_sys::AccessShareLock as pg_sys::LOCKMODE
    }
}

/// Whether the row at this heap TID with these key-column values is one
/// the index holds (the rule may also compare the index's copy of it with
/// the values, raising an ERROR if they differ); called inside a row memory
/// context (see `RowMemory`).
type Rule<'a> = dyn FnMut(Tid, *const pg_sys::Datum, *const bool) -> bool + 'a;

struct State<'a> {
    rule: &'a mut Rule<'a>,
    memory: RowMemory,
    tids: Vec<Tid>,
}

/// The heap-scan callback: guarded, so an ERROR or panic in it becomes an
/// ERROR raised from the check's frame instead of unwinding through the C
/// scan.
#[pg_guard]
unsafe extern "C-unwind" fn row_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut core::ffi::c_void,
) {
    // SAFETY: PostgreSQL passes our state (which `indexed_rows` keeps alive
    // through the scan), a valid TID and the index's key columns.
    let (state, tid) = unsafe { (&mut *(state as *mut State), tid_of(&*tid)) };
    let rule = &mut state.rule;
    if state.memory.read(|| rule(tid, values, isnull)) {
        state.tids.push(tid);
    }
}

/// The heap TIDs of the rows of `heap` that `index` should hold, by `rule`
/// (given the key columns' values and nulls, as aminsert gets them).
///
/// # Safety
/// `heap` and `index` are open, the table locked in SHARE mode or stronger.
pub unsafe fn indexed_rows<'a>(heap: pg_sys::Relation, index: pg_sys::Relation, rule: &'a mut Rule<'a>) -> Vec<Tid> {
    let mut state = State { rule, memory: RowMemory::new(), tids: Vec::new() };
    // SAFETY: the caller's relations; the state outlives the scan and the
    // callback treats its argument as a State.
    unsafe {
        let info = pg_sys::BuildIndexInfo(index);
        callbacks::scan_heap(heap, index, info, Some(row_callback), &mut state);
    }
    state.tids
}

/// The first of `table_rows` that `held` (heap TIDs as `tid_key`s) lacks,
/// and how many it lacks: what both checks report.
pub fn first_missing<V>(table_rows: &[Tid], held: &std::collections::HashMap<u64, V>) -> Option<(Tid, usize)> {
    let mut missing = table_rows.iter().filter(|t| !held.contains_key(&crate::am::storage::tid_key(**t)));
    let first = *missing.next()?;
    Some((first, missing.count() + 1))
}
