//! A scan's conditions on an index's filter column (an hnsw index on
//! `(embedding, column)`): the `WHERE` clauses on that column PostgreSQL
//! hands the index as scan keys, evaluated on each element's stored key so
//! that elements whose rows cannot match are walked through but never
//! returned (docs/filtered-search.md).
//!
//! Invariant: a `KeyFilter` matches a key exactly when every condition the
//! scan keys stated holds for it; a NULL or absent key matches no condition
//! (the operators are strict).

/// The filter column's value an element holds (an index on
/// `(embedding, column)`). Rows with the same vector share an element only
/// when their keys are equal too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FilterKey {
    /// The index has no filter column.
    #[default]
    Absent,
    /// The row's filter column is NULL.
    Null,
    Value(i64),
}

/// One scan key: `column <op> value`, or `column = ANY(values)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Less(i64),
    LessEqual(i64),
    Equal(i64),
    GreaterEqual(i64),
    Greater(i64),
    /// Sorted, without duplicates.
    AnyOf(Vec<i64>),
    /// A NULL comparison value: nothing matches.
    Never,
}

impl Condition {
    /// `column <strategy> value` for btree's strategy numbers 1 to 5
    /// (`<`, `<=`, `=`, `>=`, `>`); None for any other number.
    pub fn from_strategy(strategy: u16, value: i64) -> Option<Self> {
        Some(match strategy {
            1 => Condition::Less(value),
            2 => Condition::LessEqual(value),
            3 => Condition::Equal(value),
            4 => Condition::GreaterEqual(value),
            5 => Condition::Greater(value),
            _ => return None,
        })
    }

    /// `column = ANY(values)`.
    pub fn any_of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        values.dedup();
        Condition::AnyOf(values)
    }

    fn holds(&self, v: i64) -> bool {
        match self {
            Condition::Less(x) => v < *x,
            Condition::LessEqual(x) => v <= *x,
            Condition::Equal(x) => v == *x,
            Condition::GreaterEqual(x) => v >= *x,
            Condition::Greater(x) => v > *x,
            Condition::AnyOf(xs) => xs.binary_search(&v).is_ok(),
            Condition::Never => false,
        }
    }
}

/// The conjunction of a scan's conditions on the filter column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyFilter {
    conditions: Vec<Condition>,
}

impl KeyFilter {
    pub fn new(conditions: Vec<Condition>) -> Self {
        KeyFilter { conditions }
    }

    /// Whether the scan has no condition (every key matches).
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    pub fn matches(&self, key: FilterKey) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        match key {
            FilterKey::Value(v) => self.conditions.iter().all(|c| c.holds(v)),
            FilterKey::Null | FilterKey::Absent => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strategies_are_btree_numbers() {
        let v = FilterKey::Value;
        let f = |s, x| KeyFilter::new(vec![Condition::from_strategy(s, x).unwrap()]);
        assert!(f(1, 5).matches(v(4)) && !f(1, 5).matches(v(5)));
        assert!(f(2, 5).matches(v(5)) && !f(2, 5).matches(v(6)));
        assert!(f(3, 5).matches(v(5)) && !f(3, 5).matches(v(4)));
        assert!(f(4, 5).matches(v(5)) && !f(4, 5).matches(v(4)));
        assert!(f(5, 5).matches(v(6)) && !f(5, 5).matches(v(5)));
        assert!(Condition::from_strategy(0, 1).is_none() && Condition::from_strategy(6, 1).is_none());
    }

    #[test]
    fn nulls_match_only_an_empty_filter() {
        let any = KeyFilter::new(vec![Condition::GreaterEqual(i64::MIN)]);
        assert!(!any.matches(FilterKey::Null) && !any.matches(FilterKey::Absent));
        assert!(KeyFilter::default().matches(FilterKey::Null));
        assert!(!KeyFilter::new(vec![Condition::Never]).matches(FilterKey::Value(0)));
    }

    proptest! {
        #[test]
        fn a_filter_is_the_conjunction_of_its_conditions(
            lo in -20i64..20, hi in -20i64..20, set in proptest::collection::vec(-20i64..20, 0..8), v in -25i64..25,
        ) {
            let f = KeyFilter::new(vec![Condition::Greater(lo), Condition::LessEqual(hi), Condition::any_of(set.clone())]);
            prop_assert_eq!(f.matches(FilterKey::Value(v)), v > lo && v <= hi && set.contains(&v));
        }
    }
}
