//! Raw datum glue: the only module of the extension that dereferences datum
//! pointers or allocates datums with palloc.
//!
//! Invariants it keeps:
//! - A [`DenseArg`] borrows from a detoasted datum. `pg_detoast_datum`
//!   returns either the argument itself (alive for the whole call) or a copy in
//!   the call's memory context, so the borrow never outlives the call.
//!   Detoasting always yields a 4-byte header, so the elements start 8 bytes in
//!   and are at least 4-byte aligned; `DenseRef::from_image` re-checks size
//!   and alignment and refuses, rather than reads, a corrupt datum.
//! - Every value returned to PostgreSQL ([`DenseOut`], [`SparseOut`], [`CStringOut`],
//!   [`ByteaOut`], [`BitOut`]) is palloc'd in CurrentMemoryContext and fully
//!   initialised (palloc0 plus header) before its pointer is handed over.
//! - Arrays and `StringInfo` buffers are read only within the bounds
//!   PostgreSQL reports for them.

use core::ffi::c_char;
use core::marker::PhantomData;
use core::ptr::NonNull;

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::{Datum, FromDatum};
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use ruvector_core::dense::DenseElement;
use ruvector_core::layout::{self, DenseRef};
use ruvector_core::sparse::{self, SparseRef};
use ruvector_core::toast::{self, VectorStorage};
use ruvector_core::{VectorData, VectorError};

use crate::error::OrRaise;

/// `SqlTranslatable` for a wrapper that is exactly one SQL type, both ways.
macro_rules! sql_type {
    ($ty:ty, $sql:literal) => {
        unsafe impl SqlTranslatable for $ty {
            const TYPE_IDENT: &'static str = concat!(module_path!(), "::", stringify!($ty));
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal($sql)));
        }
    };
}

/// `ArgAbi` through `FromDatum`, the way pgrx does it for its own types:
/// `arg_via_from_datum!(Type<'fcx, G>, G: Bound)`.
macro_rules! arg_via_from_datum {
    ($ty:ty $(, $g:ident $(: $bound:path)?)*) => {
        unsafe impl<'fcx $(, $g $(: $bound)?)*> ArgAbi<'fcx> for $ty {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("argument {index} must not be null"))
            }

            unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
                unsafe { arg.unbox_arg_using_from_datum() }.into()
            }
        }
    };
}

/// Detoast a varlena datum and view it as bytes (header included).
///
/// # Safety
/// `datum` must be a non-null varlena datum that stays valid for `'a`.
unsafe fn detoasted_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    unsafe {
        let p = pg_sys::pg_detoast_datum(datum.cast_mut_ptr::<pg_sys::varlena>());
        let size = pgrx::varlena::varsize_any(p);
        core::slice::from_raw_parts(p.cast::<u8>(), size)
    }
}

// ------------------------------------------------------ dense vector inputs

/// A dense vector argument (`ruvector` when `E = f32`, `halfvec` when
/// `E = f16`), borrowed in place: no copy of its elements is made.
pub struct DenseArg<'a, E> {
    data: &'a [E],
}

impl<E> Clone for DenseArg<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for DenseArg<'_, E> {}

impl<'a, E> DenseArg<'a, E> {
    #[inline]
    pub fn as_slice(&self) -> &'a [E] {
        self.data
    }
}

impl<E: Copy> VectorData for DenseArg<'_, E> {
    type Element = E;
    #[inline]
    fn elements(&self) -> &[E] {
        self.data
    }
}

impl<E: DenseElement> FromDatum for DenseArg<'_, E> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: PostgreSQL passes a valid datum of this type for the call's duration.
        let bytes = unsafe { detoasted_bytes(datum) };
        let view = DenseRef::<E>::from_image(bytes).or_raise();
        Some(DenseArg { data: view.as_slice() })
    }
}

arg_via_from_datum!(DenseArg<'fcx, E>, E: DenseElement);

unsafe impl<E: DenseElement> SqlTranslatable for DenseArg<'_, E> {
    const TYPE_IDENT: &'static str = E::SQL_NAME;
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(E::SQL_NAME));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Err(ReturnsError::Datum);
}

// ----------------------------------------------------- dense vector outputs

/// A new dense vector datum in palloc'd memory, returned to PostgreSQL as is.
pub struct DenseOut<E> {
    ptr: NonNull<u8>,
    dims: usize,
    /// Set by `stored` when `ptr` became a compressed datum: no more writes.
    compressed: bool,
    _e: PhantomData<E>,
}

impl<E: DenseElement> DenseOut<E> {
    /// A zero-filled vector of `dims` elements (`dims` already validated).
    pub fn zeroed(dims: usize) -> Self {
        assert!(dims <= layout::MAX_DIM, "dimension count checked by callers");
        let size = layout::dense_size::<E>(dims);
        // SAFETY: palloc0 returns `size` zeroed, MAXALIGN'd bytes or raises ERROR.
        let ptr = unsafe { pg_sys::palloc0(size) }.cast::<u8>();
        let mut v = DenseOut {
            ptr: NonNull::new(ptr).expect("palloc never returns NULL"),
            dims,
            compressed: false,
            _e: PhantomData,
        };
        // SAFETY: the allocation is `size` bytes, which is what the header records.
        unsafe { pgrx::varlena::set_varsize_4b(ptr.cast(), size as i32) };
        layout::write_dense_header(v.image_mut(), dims);
        v
    }

    /// A vector holding a copy of `data`.
    pub fn from_slice(data: &[E]) -> Self {
        let mut v = Self::zeroed(data.len());
        v.data_mut().copy_from_slice(data);
        v
    }

    /// Build a vector by letting `fill` write its elements; `fill`'s error is raised.
    pub fn build(dims: usize, fill: impl FnOnce(&mut [E]) -> Result<(), VectorError>) -> Self {
        let mut v = Self::zeroed(dims);
        fill(v.data_mut()).or_raise();
        v
    }

    fn image_mut(&mut self) -> &mut [u8] {
        assert!(!self.compressed, "a stored (compressed) vector is not written again");
        // SAFETY: `ptr` owns dense_size::<E>(dims) initialised bytes.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), layout::dense_size::<E>(self.dims)) }
    }

    pub fn data_mut(&mut self) -> &mut [E] {
        let dims = self.dims;
        let body = &mut self.image_mut()[layout::DENSE_HEADER_BYTES..];
        // palloc memory is MAXALIGN'd and the header is 8 bytes, so this cannot fail.
        &mut bytemuck::cast_slice_mut::<u8, E>(body)[..dims]
    }
}

impl<E: DenseElement> DenseOut<E> {
    /// The value as it goes into a column: compressed if it is going into one
    /// (`typmod` given: a column's input, receive or typmod coercion; query
    /// constants have none and stay plain) and its `ToastStrategy` compresses
    /// (see ruvector_core::toast).
    pub fn stored(mut self, typmod: i32) -> Self {
        if typmod < 0 || self.compressed || !COMPRESS_VALUES.get() {
            return self;
        }
        let size = layout::dense_size::<E>(self.dims);
        let data: &[E] = self.data_mut();
        let storage = VectorStorage::decide(size, || toast::estimate_compressibility(data));
        if storage.strategy.compresses() {
            if let Some(c) = compress(self.ptr) {
                self.ptr = c;
                self.compressed = true;
            }
        }
        self
    }
}

unsafe impl<E> BoxRet for DenseOut<E> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.ptr.as_ptr())) }
    }
}

unsafe impl<E: DenseElement> SqlTranslatable for DenseOut<E> {
    const TYPE_IDENT: &'static str = E::SQL_NAME;
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Err(ArgumentError::NotValidAsArgument("DenseOut"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal(E::SQL_NAME)));
}

// ------------------------------------------------------------- sparsevec

/// A `sparsevec` argument, borrowed in place (indices and values arrays).
#[derive(Clone, Copy)]
pub struct SparseArg<'a>(SparseRef<'a>);

impl<'a> SparseArg<'a> {
    #[inline]
    pub fn get(&self) -> SparseRef<'a> {
        self.0
    }
}

impl FromDatum for SparseArg<'_> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: PostgreSQL passes a valid sparsevec datum for the call's duration.
        let bytes = unsafe { detoasted_bytes(datum) };
        Some(SparseArg(SparseRef::from_image(bytes).or_raise()))
    }
}

arg_via_from_datum!(SparseArg<'fcx>);
sql_type!(SparseArg<'_>, "sparsevec");

/// A new `sparsevec` datum in palloc'd memory, copied from a validated value.
pub struct SparseOut(NonNull<u8>);

impl SparseOut {
    pub fn new(v: SparseRef<'_>) -> Self {
        let size = sparse::sparse_size(v.nnz());
        // SAFETY: palloc0 returns `size` zeroed bytes or raises ERROR; the
        // header records that size and write_image fills the rest.
        unsafe {
            let p = pg_sys::palloc0(size).cast::<u8>();
            pgrx::varlena::set_varsize_4b(p.cast(), size as i32);
            sparse::write_image(core::slice::from_raw_parts_mut(p, size), v);
            SparseOut(NonNull::new_unchecked(p))
        }
    }
}

impl SparseOut {
    /// As `DenseOut::stored` (compressibility judged on the values).
    pub fn stored(self, typmod: i32) -> Self {
        if typmod < 0 || !COMPRESS_VALUES.get() {
            return self;
        }
        // SAFETY: self.0 is a complete, uncompressed sparsevec made by `new`.
        let image = unsafe { core::slice::from_raw_parts(self.0.as_ptr(), varsize(self.0)) };
        let Ok(v) = SparseRef::from_image(image) else { return self };
        let storage = VectorStorage::decide(image.len(), || toast::estimate_compressibility(v.values));
        match storage.strategy.compresses().then(|| compress(self.0)).flatten() {
            Some(c) => SparseOut(c),
            None => self,
        }
    }
}

unsafe impl BoxRet for SparseOut {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0.as_ptr())) }
    }
}

sql_type!(SparseOut, "sparsevec");

// ----------------------------------------------------------------- TOAST

/// `ruvector.compress_values`: whether values stored into a column are
/// compressed when their strategy says so (with `default_toast_compression`).
pub static COMPRESS_VALUES: pgrx::GucSetting<bool> = pgrx::GucSetting::<bool>::new(true);

/// Register `ruvector.compress_values`; called once from `_PG_init`.
pub fn init() {
    pgrx::GucRegistry::define_bool_guc(
        c"ruvector.compress_values",
        c"Compresses mostly-zero and quantized vectors stored into a column (ruvector_storage_info shows how a value is stored)",
        c"Uses default_toast_compression (pglz or lz4). Off: values are stored as sent, as pgvector stores them.",
        &COMPRESS_VALUES,
        pgrx::GucContext::Userset,
        pgrx::GucFlags::default(),
    );
}

unsafe extern "C-unwind" {
    /// PostgreSQL's column-value compression (access/toast_internals.h): a
    /// new palloc'd compressed varlena, or a null pointer when compressing
    /// does not pay.
    fn toast_compress_datum(value: pg_sys::Datum, cmethod: c_char) -> pg_sys::Datum;
    /// The `default_toast_compression` setting ('p' pglz, 'l' lz4).
    static default_toast_compression: core::ffi::c_int;
}

/// The bytes of a plain (4-byte header) varlena.
fn varsize(ptr: NonNull<u8>) -> usize {
    // SAFETY: callers pass a varlena this module made (4-byte header).
    unsafe { pgrx::varlena::varsize_4b(ptr.as_ptr().cast()) }
}

/// The varlena at `ptr` compressed as PostgreSQL compresses column values
/// (`default_toast_compression`), if that saves space.
fn compress(ptr: NonNull<u8>) -> Option<NonNull<u8>> {
    // SAFETY: `ptr` is a complete, uncompressed palloc'd varlena with a
    // 4-byte header; the call is guarded (an ERROR inside becomes a Rust
    // unwind to our function's guard) and allocates in CurrentMemoryContext.
    unsafe {
        let method = default_toast_compression as c_char;
        let d = pg_sys::ffi::pg_guard_ffi_boundary(|| toast_compress_datum(pg_sys::Datum::from(ptr.as_ptr()), method));
        NonNull::new(d.cast_mut_ptr::<u8>())
    }
}

/// What a vector datum is as PostgreSQL holds it, before detoasting: its
/// bytes as stored, and whether it is compressed or out of line (for
/// `ruvector_storage_info`).
pub struct StoredForm {
    pub stored_bytes: usize,
    pub compressed: bool,
    pub external: bool,
}

/// The stored form of datum `d` (a non-null varlena argument of the call).
pub fn stored_form(d: pg_sys::Datum) -> StoredForm {
    let p = d.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: a non-null varlena datum PostgreSQL passed to this call;
    // toast_raw_datum_size/toast_datum_size read only its header (and, for
    // an external pointer, the pointer's own fields).
    unsafe {
        let external = pgrx::varlena::varatt_is_1b_e(p);
        let on_disk = external && pgrx::varlena::vartag_external(p) == pg_sys::vartag_external::VARTAG_ONDISK as u8;
        let compressed = if on_disk {
            let mut ptr: pg_sys::varatt_external = core::mem::zeroed();
            let data = pgrx::varlena::vardata_1b_e(p).cast::<u8>();
            core::ptr::copy_nonoverlapping(
                data,
                (&raw mut ptr).cast::<u8>(),
                core::mem::size_of::<pg_sys::varatt_external>(),
            );
            // compressed out of line: the stored size is below the raw size
            ((ptr.va_extinfo & ((1 << 30) - 1)) as i32) < ptr.va_rawsize - pg_sys::VARHDRSZ as i32
        } else {
            pgrx::varlena::varatt_is_4b_c(p)
        };
        StoredForm { stored_bytes: pg_sys::toast_datum_size(d), compressed, external }
    }
}

/// A copy of datum `d`'s bytes if it is a pointer to a value stored out of
/// line (TOAST on disk): the pointer, not the value (18 bytes). The copy
/// stays readable as a datum after the heap buffer it came from is released
/// (`ExternalPointer::datum`), and detoasting it fetches the value, as long
/// as the row is not vacuumed away: callers hold a lock that keeps VACUUM
/// out (an index build's).
pub fn toast_pointer(d: pg_sys::Datum) -> Option<ExternalPointer> {
    let p = d.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: a non-null varlena datum; the checks read its first two bytes
    // (a pointer's header and tag), then its own VARSIZE_EXTERNAL bytes.
    unsafe {
        let on_disk = pgrx::varlena::varatt_is_1b_e(p)
            && pgrx::varlena::vartag_external(p) == pg_sys::vartag_external::VARTAG_ONDISK as u8;
        on_disk.then(|| {
            let len = pgrx::varlena::varsize_external(p);
            ExternalPointer(core::slice::from_raw_parts(p.cast::<u8>(), len).to_vec())
        })
    }
}

/// The bytes of an on-disk TOAST pointer (`toast_pointer`).
pub struct ExternalPointer(Vec<u8>);

impl ExternalPointer {
    /// The pointer as a datum, valid while `self` is.
    pub fn datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.0.as_ptr())
    }

    /// The value's OID in its TOAST table (`va_valueid`): values stored one
    /// after another have increasing OIDs, and their chunks follow one
    /// another in the TOAST table, so reading values in this order reads
    /// that table forward.
    pub fn value_id(&self) -> u32 {
        // varattrib_1b_e's two header bytes, then varatt_external's
        // va_rawsize and va_extinfo (4 bytes each) before va_valueid
        const AT: usize = 2 + 4 + 4;
        self.0.get(AT..AT + 4).map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// The storage `ruvector_core::toast` chooses for vector datum `d` of SQL
/// type `type_name` (`ruvector`, `halfvec` or `sparsevec`), by its detoasted
/// size and elements.
pub fn vector_storage(d: pg_sys::Datum, type_name: &str) -> VectorStorage {
    // SAFETY: a non-null datum of that type, passed to this call; the
    // detoasted copy lives in the call's memory context.
    let image = unsafe { detoasted_bytes(d) };
    let size = image.len();
    let estimate = |c: Result<f32, ruvector_core::VectorError>| c.or_raise();
    match type_name {
        "halfvec" => VectorStorage::decide(size, || {
            estimate(DenseRef::<half::f16>::from_image(image).map(|v| toast::estimate_compressibility(v.as_slice())))
        }),
        "sparsevec" => VectorStorage::decide(size, || {
            estimate(SparseRef::from_image(image).map(|v| toast::estimate_compressibility(v.values)))
        }),
        _ => VectorStorage::decide(size, || {
            estimate(DenseRef::<f32>::from_image(image).map(|v| toast::estimate_compressibility(v.as_slice())))
        }),
    }
}

// ------------------------------------------------------------------- bit

/// A `bit(n)` argument (PostgreSQL's VarBit): the bit count and the bytes,
/// borrowed in place.
#[derive(Clone, Copy)]
pub struct BitArg<'a> {
    pub bits: usize,
    pub bytes: &'a [u8],
}

impl FromDatum for BitArg<'_> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: PostgreSQL passes a valid bit datum for the call's duration.
        let image = unsafe { detoasted_bytes(datum) };
        // VarBit: header, int32 bit_len, then ceil(bit_len / 8) bytes.
        let bits = image.get(4..8).map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(-1);
        let bytes = usize::try_from(bits).ok().and_then(|n| image.get(8..8 + n.div_ceil(8)));
        match bytes {
            Some(bytes) => Some(BitArg { bits: bits as usize, bytes }),
            None => crate::error::raise_kind(ruvector_core::ErrorKind::DataException, "corrupt bit value"),
        }
    }
}

arg_via_from_datum!(BitArg<'fcx>);
sql_type!(BitArg<'_>, "bit");

// -------------------------------------------------------------- regclass

/// A `regclass` argument: a relation's OID.
#[derive(Clone, Copy)]
pub struct RegClass(pub pg_sys::Oid);

impl FromDatum for RegClass {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        (!is_null).then(|| RegClass(pg_sys::Oid::from(datum.value() as u32)))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for RegClass {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

sql_type!(RegClass, "regclass");

// ------------------------------------------------------------ other outputs

/// A palloc'd, NUL-terminated C string (an output function's result).
pub struct CStringOut(NonNull<c_char>);

impl CStringOut {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        debug_assert!(!bytes.contains(&0));
        // SAFETY: palloc returns len + 1 writable bytes or raises ERROR.
        unsafe {
            let p = pg_sys::palloc(bytes.len() + 1).cast::<u8>();
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
            CStringOut(NonNull::new_unchecked(p.cast()))
        }
    }
}

unsafe impl BoxRet for CStringOut {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0.as_ptr())) }
    }
}

sql_type!(CStringOut, "cstring");

/// A palloc'd varlena whose payload the caller fills: `bytea`, or `bit` with its bit count.
pub struct VarlenaOut<const BIT: bool> {
    ptr: NonNull<u8>,
    header: usize,
    len: usize,
}

pub type ByteaOut = VarlenaOut<false>;
pub type BitOut = VarlenaOut<true>;

impl<const BIT: bool> VarlenaOut<BIT> {
    fn alloc(header: usize, len: usize) -> Self {
        let size = header + len;
        // SAFETY: palloc0 returns `size` zeroed bytes; the header records that size.
        unsafe {
            let p = pg_sys::palloc0(size).cast::<u8>();
            pgrx::varlena::set_varsize_4b(p.cast(), size as i32);
            VarlenaOut { ptr: NonNull::new_unchecked(p), header, len }
        }
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        // SAFETY: the allocation is header + len bytes.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(self.header), self.len) }
    }
}

impl ByteaOut {
    pub fn new(len: usize) -> Self {
        Self::alloc(pg_sys::VARHDRSZ, len)
    }
}

impl BitOut {
    /// A `bit(bits)` value, all zeros; the caller sets bits MSB-first.
    pub fn new(bits: usize) -> Self {
        let v = Self::alloc(pg_sys::VARHDRSZ + 4, bits.div_ceil(8));
        // SAFETY: bytes 4..8 of the allocation are VarBit's bit_len field.
        unsafe { varbit_len_field(v.ptr.as_ptr()).write_unaligned(bits as i32) };
        v
    }
}

/// The `bit_len` field of a VarBit, which follows the varlena header.
unsafe fn varbit_len_field(p: *mut u8) -> *mut i32 {
    unsafe { p.add(pg_sys::VARHDRSZ).cast::<i32>() }
}

unsafe impl<const BIT: bool> BoxRet for VarlenaOut<BIT> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.ptr.as_ptr())) }
    }
}

sql_type!(ByteaOut, "bytea");
sql_type!(BitOut, "bit");

// ------------------------------------------------------------- recv buffers

/// The `internal` argument of a receive function: a `StringInfo` whose unread
/// part (from `cursor`) is the value's wire form.
pub struct RecvBuffer<'a> {
    buf: NonNull<pg_sys::StringInfoData>,
    _call: PhantomData<&'a mut ()>,
}

impl RecvBuffer<'_> {
    pub fn remaining(&self) -> &[u8] {
        // SAFETY: PostgreSQL's StringInfo holds `len` valid bytes and 0 <= cursor <= len.
        unsafe {
            let b = self.buf.as_ref();
            let start = b.cursor.clamp(0, b.len) as usize;
            core::slice::from_raw_parts(b.data.cast::<u8>().add(start), (b.len as usize).saturating_sub(start))
        }
    }

    /// Mark `n` bytes (at most what remains) as read.
    pub fn advance(&mut self, n: usize) {
        let n = n.min(self.remaining().len());
        // SAFETY: as above; the cursor stays within len.
        unsafe { self.buf.as_mut().cursor += n as i32 };
    }
}

impl FromDatum for RecvBuffer<'_> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        let p = datum.cast_mut_ptr::<pg_sys::StringInfoData>();
        if is_null || p.is_null() {
            return None;
        }
        Some(RecvBuffer { buf: NonNull::new(p)?, _call: PhantomData })
    }
}

arg_via_from_datum!(RecvBuffer<'fcx>);
sql_type!(RecvBuffer<'_>, "internal");

// ------------------------------------------------------------------- arrays

/// Which SQL array type an [`ArrayArg`] is declared as.
pub trait ArraySql {
    const SQL: &'static str;
}

macro_rules! array_sql {
    ($name:ident, $sql:literal) => {
        pub struct $name;
        impl ArraySql for $name {
            const SQL: &'static str = $sql;
        }
    };
}
array_sql!(Int4Array, "integer[]");
array_sql!(Float4Array, "real[]");
array_sql!(Float8Array, "double precision[]");
array_sql!(NumericArray, "numeric[]");
array_sql!(CStringArray, "cstring[]");

/// An array argument, detoasted, read with PostgreSQL's own array routines.
pub struct ArrayArg<'a, M> {
    arr: NonNull<pg_sys::ArrayType>,
    _m: PhantomData<(&'a (), M)>,
}

impl<M> ArrayArg<'_, M> {
    pub fn ndim(&self) -> i32 {
        // SAFETY: a detoasted ArrayType header is always readable.
        unsafe { self.arr.as_ref().ndim }
    }

    pub fn elem_type(&self) -> pg_sys::Oid {
        // SAFETY: as above.
        unsafe { self.arr.as_ref().elemtype }
    }

    pub fn has_nulls(&self) -> bool {
        // SAFETY: array_contains_nulls only reads the array.
        unsafe { pg_sys::array_contains_nulls(self.arr.as_ptr()) }
    }

    /// All elements as datums (nulls, if any, come back as zero datums;
    /// callers check `has_nulls` first).
    pub fn datums(&self) -> Vec<pg_sys::Datum> {
        // SAFETY: deconstruct_array palloc's `n` datums and sets `n`; pass-by-reference
        // datums point into the array, which outlives this call.
        unsafe {
            let elem = self.elem_type();
            let (mut len, mut byval, mut align) = (0i16, false, 0 as c_char);
            pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
            let mut elems: *mut pg_sys::Datum = core::ptr::null_mut();
            let mut n: i32 = 0;
            pg_sys::deconstruct_array(
                self.arr.as_ptr(),
                elem,
                len as i32,
                byval,
                align,
                &mut elems,
                core::ptr::null_mut(),
                &mut n,
            );
            let out = core::slice::from_raw_parts(elems, n.max(0) as usize).to_vec();
            pg_sys::pfree(elems.cast());
            out
        }
    }

    /// Integer type modifiers, as `typmod_in` functions receive them (cstring[]).
    pub fn integer_typmods(&self) -> Vec<i32> {
        // SAFETY: ArrayGetIntegerTypmods validates the array (raising ERROR on
        // junk) and returns `n` palloc'd ints.
        unsafe {
            let mut n: i32 = 0;
            let p = pg_sys::ArrayGetIntegerTypmods(self.arr.as_ptr(), &mut n);
            core::slice::from_raw_parts(p, n.max(0) as usize).to_vec()
        }
    }
}

impl ArrayArg<'_, Float8Array> {
    /// The elements of a one-dimensional `double precision[]` with at least
    /// one element and no NULLs, borrowed where they lie (the shape of an
    /// `avg` state); `None` for any other array.
    pub fn float8_vector(&self) -> Option<&[f64]> {
        // SAFETY: a detoasted array with a 4-byte header: for one dimension
        // and no null bitmap (dataoffset 0) the dimension is the int32 at
        // byte 16 and the data starts MAXALIGN(16 + 8) = 24 bytes in, 8-byte
        // aligned like the palloc'd or in-tuple ('d'-aligned) array itself.
        unsafe {
            let a = self.arr.as_ref();
            if a.ndim != 1 || a.dataoffset != 0 || a.elemtype != pg_sys::FLOAT8OID {
                return None;
            }
            let base = self.arr.as_ptr() as *const u8;
            let n = (base.add(16) as *const i32).read();
            if n < 1 {
                return None;
            }
            let data = base.add(24) as *const f64;
            data.is_aligned().then(|| core::slice::from_raw_parts(data, n as usize))
        }
    }
}

impl<M> FromDatum for ArrayArg<'_, M> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: a non-null array datum; detoasting gives a plain ArrayType.
        let p = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr::<pg_sys::varlena>()) };
        Some(ArrayArg { arr: NonNull::new(p.cast())?, _m: PhantomData })
    }
}

arg_via_from_datum!(ArrayArg<'fcx, M>, M);

unsafe impl<M: ArraySql> SqlTranslatable for ArrayArg<'_, M> {
    const TYPE_IDENT: &'static str = M::SQL;
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(M::SQL));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Err(ReturnsError::Datum);
}

unsafe extern "C-unwind" {
    /// PostgreSQL's own fmgr entry point (pgrx wraps it as a Rust fn, which
    /// DirectFunctionCall cannot take).
    #[link_name = "numeric_float4"]
    fn numeric_float4_fmgr(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
}

/// Convert one numeric datum to float4 with PostgreSQL's `numeric_float4`.
pub fn numeric_datum_to_f32(d: pg_sys::Datum) -> f32 {
    // SAFETY: `d` is a numeric datum from an array of numeric; numeric_float4
    // raises ERROR itself for values out of float4's range.
    let r = unsafe { pg_sys::DirectFunctionCall1Coll(Some(numeric_float4_fmgr), pg_sys::InvalidOid, d) };
    f32::from_bits(r.value() as u32)
}
