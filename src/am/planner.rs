//! A planner hook that keeps plans from computing distances nobody reads.
//!
//! For `SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10` PostgreSQL
//! puts `embedding <-> $1` into the index scan's target list as a junk sort
//! column and evaluates it for every row the scan returns, although the
//! index already returned the rows in that order and nothing above the scan
//! reads the column (the junk filter drops it before rows reach the client).
//! Each evaluation detoasts the row's vector (a TOAST fetch through the toast
//! table's index once a vector exceeds about 2 kB, e.g. 784 dimensions) and
//! computes a distance: for a 10-row query on 784-dimensional data that was
//! about a seventh of the query's time in the backend.
//!
//! After the standard planner (or an earlier hook) has made the plan, such
//! junk columns become NULL constants, when all of this holds, so that no
//! node can read them:
//! - the scan is an `IndexScan`, alone or under a `Limit` that counts rows
//!   (not `WITH TIES`, which compares sort keys), and that pair is the top of
//!   the plan, the top of a subplan (a sublink's subquery: the sublink reads
//!   only the non-junk columns), or the child of a nested loop, a plain
//!   aggregate (no grouping) or a subquery scan whose expressions do not
//!   refer to the column (a `LATERAL (... ORDER BY ... LIMIT k)` join, an
//!   `array_agg` over one);
//! - the scan's index is an `hnsw` or `ivfflat` index of this extension
//!   (recognised by its `amendscan` callback) and the scan has ORDER BY
//!   expressions;
//! - the target entry is equal to one of the scan's ORDER BY expressions and,
//!   at the top of the plan or of a subplan, is junk and a sort key
//!   (`ressortgroupref` set); under a node whose expressions were checked,
//!   any column that node does not refer to is unread (a subquery scan the
//!   planner removed leaves its child's columns labelled non-junk).
//!
//! Plans of any other shape (sorts, merges of partitions, grouping, row
//! locks, data-modifying statements) are left as they are. `EXPLAIN VERBOSE`
//! shows the constant. `ruvector.skip_unused_distances = off` turns it off.
//!
//! Unsafe: reads and edits the plan tree the planner just returned, in the
//! planner's memory context; the index is locked by the planner.
//!
//! Errors: planning raises ordinary errors (a literal that does not parse, a
//! dimension mismatch found while folding constants). The hook calls the
//! planner outside pgrx's guard, so such an error passes through unchanged
//! (a guard would catch it and raise it again, with a Rust backtrace in its
//! DETAIL when RUST_BACKTRACE is set); the hook's frame holds nothing to
//! drop, so PostgreSQL's longjmp may pass over it. Only the edit afterwards
//! runs under the guard.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

static SKIP_UNUSED_DISTANCES: GucSetting<bool> = GucSetting::<bool>::new(true);

/// The hook that was installed before ours (another extension's), called first.
static mut PREVIOUS_PLANNER: pg_sys::planner_hook_type = None;

/// Register the setting and install the hook; called once from `_PG_init`.
pub fn init() {
    GucRegistry::define_bool_guc(
        c"ruvector.skip_unused_distances",
        c"Skips computing ORDER BY distances that an hnsw or ivfflat index scan already ordered by and nothing reads",
        c"When on, a query such as SELECT id ... ORDER BY v <-> q LIMIT k does not recompute v <-> q for each returned row.",
        &SKIP_UNUSED_DISTANCES,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: _PG_init runs once per backend, before any planning, on the
    // backend's only thread; chaining keeps earlier hooks working.
    unsafe {
        PREVIOUS_PLANNER = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(plan);
    }
}

unsafe extern "C-unwind" {
    /// The planner itself, called without pgrx's guard (see the module comment).
    #[link_name = "standard_planner"]
    fn standard_planner_unguarded(
        parse: *mut pg_sys::Query,
        query_string: *const core::ffi::c_char,
        cursor_options: core::ffi::c_int,
        bound_params: pg_sys::ParamListInfo,
    ) -> *mut pg_sys::PlannedStmt;
}

/// The hook. No `#[pg_guard]` and nothing to drop in this frame: an ERROR
/// in the planner longjmps over it untouched.
unsafe extern "C-unwind" fn plan(
    parse: *mut pg_sys::Query,
    query_string: *const core::ffi::c_char,
    cursor_options: core::ffi::c_int,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: the arguments are the planner's; the result is a complete plan.
    unsafe {
        let stmt = match PREVIOUS_PLANNER {
            Some(previous) => previous(parse, query_string, cursor_options, bound_params),
            None => standard_planner_unguarded(parse, query_string, cursor_options, bound_params),
        };
        after_planning(stmt);
        stmt
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn after_planning(stmt: *mut pg_sys::PlannedStmt) {
    if SKIP_UNUSED_DISTANCES.get() && !stmt.is_null() {
        // SAFETY: a complete plan, just made.
        unsafe {
            drop_unused_distances((*stmt).planTree, Readers::Client);
            visit_children_of((*stmt).planTree);
            for subplan in list_items::<pg_sys::Plan>((*stmt).subplans) {
                drop_unused_distances(subplan, Readers::Client);
                visit_children_of(subplan);
            }
        }
    }
}

/// Walk the tree under `node`: at each nested loop, plain aggregate and
/// subquery scan, drop the unused distances of its children, given which of
/// their columns the node's own expressions read.
///
/// # Safety
/// `node` is null or a finished plan tree.
unsafe fn visit_children_of(node: *mut pg_sys::Plan) {
    if node.is_null() {
        return;
    }
    unsafe {
        let tag = (*node).type_;
        let mut exprs: Vec<*mut pg_sys::Node> = vec![(*node).targetlist.cast(), (*node).qual.cast()];
        let mut children: Vec<(*mut pg_sys::Plan, i32)> = Vec::new();
        if tag == pg_sys::NodeTag::T_NestLoop {
            let join = node.cast::<pg_sys::NestLoop>();
            exprs.push((*join).join.joinqual.cast());
            for param in list_items::<pg_sys::NestLoopParam>((*join).nestParams) {
                exprs.push((*param).paramval.cast());
            }
            children.push(((*node).lefttree, pg_sys::OUTER_VAR));
            children.push(((*node).righttree, pg_sys::INNER_VAR));
        } else if tag == pg_sys::NodeTag::T_Agg {
            let agg = node.cast::<pg_sys::Agg>();
            if (*agg).aggstrategy == pg_sys::AggStrategy::AGG_PLAIN
                && (*agg).numCols == 0
                && (*agg).groupingSets.is_null()
            {
                children.push(((*node).lefttree, pg_sys::OUTER_VAR));
            }
        } else if tag == pg_sys::NodeTag::T_SubqueryScan {
            let scan = node.cast::<pg_sys::SubqueryScan>();
            children.push(((*scan).subplan, (*scan).scan.scanrelid as i32));
        }
        for (child, varno) in children {
            if let Some(read) = columns_read(&exprs, varno) {
                drop_unused_distances(child, Readers::Parent(&read));
            }
        }
        visit_children_of((*node).lefttree);
        visit_children_of((*node).righttree);
        match tag {
            pg_sys::NodeTag::T_SubqueryScan => visit_children_of((*node.cast::<pg_sys::SubqueryScan>()).subplan),
            pg_sys::NodeTag::T_Append => {
                for child in list_items::<pg_sys::Plan>((*node.cast::<pg_sys::Append>()).appendplans) {
                    visit_children_of(child);
                }
            }
            pg_sys::NodeTag::T_MergeAppend => {
                for child in list_items::<pg_sys::Plan>((*node.cast::<pg_sys::MergeAppend>()).mergeplans) {
                    visit_children_of(child);
                }
            }
            _ => {}
        }
    }
}

/// The attribute numbers of Vars with `varno` in `exprs` (aggregates,
/// window functions and placeholders looked into); `None` when a whole-row
/// Var (attribute 0: `SELECT s FROM (...) s`, `row_to_json(s)`) reads every
/// column.
///
/// # Safety
/// `exprs` are null or expression trees.
unsafe fn columns_read(exprs: &[*mut pg_sys::Node], varno: i32) -> Option<Vec<pg_sys::AttrNumber>> {
    let flags =
        (pg_sys::PVC_RECURSE_AGGREGATES | pg_sys::PVC_RECURSE_WINDOWFUNCS | pg_sys::PVC_RECURSE_PLACEHOLDERS) as i32;
    let mut read = Vec::new();
    for &e in exprs.iter().filter(|e| !e.is_null()) {
        // SAFETY: a plan's expression tree; the list is palloc'd in the planner's context.
        for var in unsafe { list_items::<pg_sys::Var>(pg_sys::pull_var_clause(e, flags)) } {
            // SAFETY: pull_var_clause returns Vars.
            let var = unsafe { &*var };
            if var.varno == varno {
                if var.varattno <= 0 {
                    return None;
                }
                read.push(var.varattno);
            }
        }
    }
    Some(read)
}

/// Who reads the output columns of a plan node.
enum Readers<'a> {
    /// The client or a sublink: the non-junk columns.
    Client,
    /// A parent node whose expressions read these columns (and no others).
    Parent(&'a [pg_sys::AttrNumber]),
}

/// Replace the ORDER BY distances of `top` (see the module comment) that
/// nothing reads (`top`'s output columns are those of the scan).
///
/// # Safety
/// `top` is null or a finished plan tree.
unsafe fn drop_unused_distances(top: *mut pg_sys::Plan, readers: Readers) {
    unsafe {
        let mut node = top;
        if is_a(node, pg_sys::NodeTag::T_Limit) {
            if (*node.cast::<pg_sys::Limit>()).limitOption != pg_sys::LimitOption::LIMIT_OPTION_COUNT {
                return;
            }
            node = (*node).lefttree;
        }
        if !is_a(node, pg_sys::NodeTag::T_IndexScan) {
            return;
        }
        let scan = node.cast::<pg_sys::IndexScan>();
        let order_by = (*scan).indexorderbyorig;
        if order_by.is_null() || !is_our_index((*scan).indexid) {
            return;
        }
        for entry in list_items::<pg_sys::TargetEntry>((*node).targetlist) {
            let expr = (*entry).expr.cast::<pg_sys::Node>();
            let unread = match readers {
                Readers::Client => (*entry).resjunk && (*entry).ressortgroupref != 0,
                Readers::Parent(read) => !read.contains(&(*entry).resno),
            };
            if unread && list_items::<pg_sys::Node>(order_by).any(|o| pg_sys::equal(o.cast(), expr.cast())) {
                let null = pg_sys::makeNullConst(
                    pg_sys::exprType(expr),
                    pg_sys::exprTypmod(expr),
                    pg_sys::exprCollation(expr),
                );
                (*entry).expr = null.cast();
            }
        }
    }
}

/// Whether `node` is a non-null node with tag `tag`.
unsafe fn is_a(node: *mut pg_sys::Plan, tag: pg_sys::NodeTag) -> bool {
    // SAFETY: a non-null plan node starts with its tag.
    !node.is_null() && unsafe { (*node).type_ } == tag
}

/// Whether index `oid` belongs to one of this extension's access methods.
unsafe fn is_our_index(oid: pg_sys::Oid) -> bool {
    unsafe {
        let rel = pg_sys::RelationIdGetRelation(oid);
        if rel.is_null() {
            return false;
        }
        let am = (*rel).rd_indam;
        let ours = !am.is_null()
            && (*am).amendscan.map(|f| f as *const () as usize)
                == Some(super::callbacks::amendscan as *const () as usize);
        pg_sys::RelationClose(rel);
        ours
    }
}

/// The pointer elements of `list` (NIL = empty) as `*mut T`.
unsafe fn list_items<T>(list: *mut pg_sys::List) -> impl Iterator<Item = *mut T> {
    // SAFETY: a non-NIL List holds `length` cells; pointer lists use ptr_value.
    let cells: &[pg_sys::ListCell] = if list.is_null() {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts((*list).elements, (*list).length as usize) }
    };
    cells.iter().map(|c| unsafe { c.ptr_value.cast::<T>() })
}
