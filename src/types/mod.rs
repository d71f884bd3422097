//! SQL glue for the vector types. The dense types share one generic
//! implementation ([`dense`]) and one macro that declares their SQL functions
//! under pgvector's names; each type's module instantiates it.

/// Declare the btree comparison functions of a type (`$lt` … `$cmp` are the
/// SQL names) over `$compare`, a total order on two `$Arg`s.
macro_rules! comparison_functions {
    ($p:ident, $Arg:ty, $compare:path, {
        lt: $lt:tt, le: $le:tt, eq: $eq:tt, ne: $ne:tt, ge: $ge:tt, gt: $gt:tt, cmp: $cmp:tt $(,)?
    }) => {
        paste::paste! {
            #[pg_extern(immutable, strict, parallel_safe, name = $lt)]
            fn [<$p _lt>](a: $Arg, b: $Arg) -> bool { $compare(a, b).is_lt() }
            #[pg_extern(immutable, strict, parallel_safe, name = $le)]
            fn [<$p _le>](a: $Arg, b: $Arg) -> bool { $compare(a, b).is_le() }
            #[pg_extern(immutable, strict, parallel_safe, name = $eq)]
            fn [<$p _eq>](a: $Arg, b: $Arg) -> bool { $compare(a, b).is_eq() }
            #[pg_extern(immutable, strict, parallel_safe, name = $ne)]
            fn [<$p _ne>](a: $Arg, b: $Arg) -> bool { $compare(a, b).is_ne() }
            #[pg_extern(immutable, strict, parallel_safe, name = $ge)]
            fn [<$p _ge>](a: $Arg, b: $Arg) -> bool { $compare(a, b).is_ge() }
            #[pg_extern(immutable, strict, parallel_safe, name = $gt)]
            fn [<$p _gt>](a: $Arg, b: $Arg) -> bool { $compare(a, b).is_gt() }
            #[pg_extern(immutable, strict, parallel_safe, name = $cmp)]
            fn [<$p _cmp>](a: $Arg, b: $Arg) -> i32 { $compare(a, b) as i32 }
        }
    };
}

#[macro_use]
mod dense;
mod bit;
mod halfvec;
mod ruvector;
mod sparsevec;
