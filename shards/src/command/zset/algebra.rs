//! The arithmetic of ZUNION, ZINTER and ZDIFF, as Redis'
//! `zunionInterDiffGenericCommand` does it, on members already read: pure
//! functions, so the order of floating-point operations (which decides
//! the last bit of a SUM) is visible and tested.
//!
//! Inputs are processed smallest first (Redis sorts them by cardinality;
//! this sort is stable, so equal sizes keep their argument order). A
//! member's score is `weight * score`, with `0 * inf` (NaN) taken as 0;
//! SUM also takes `inf + -inf` as 0. Results are in sorted-set order.

use std::collections::HashMap;

use super::access::Scored;

/// AGGREGATE SUM | MIN | MAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Add the weighted scores (the default).
    Sum,
    /// Keep the lowest.
    Min,
    /// Keep the highest.
    Max,
}

/// `zunionInterAggregate`: folds `value` into `target`.
pub fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// A member's first weighted score: NaN (`0 * inf`) becomes 0.
pub fn weighted(score: f64, weight: f64) -> f64 {
    let s = weight * score;
    if s.is_nan() {
        0.0
    } else {
        s
    }
}

/// The union of `inputs` (members, weight), given in processing order.
pub fn union(inputs: Vec<(Vec<Scored>, f64)>, how: Aggregate) -> Vec<Scored> {
    let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
    for (members, weight) in inputs {
        for (m, s) in members {
            let s = weighted(s, weight);
            match acc.get_mut(&m) {
                Some(t) => aggregate(t, s, how),
                None => {
                    acc.insert(m, s);
                }
            }
        }
    }
    let mut out: Vec<Scored> = acc.into_iter().collect();
    sort(&mut out);
    out
}

/// Puts members in sorted-set order: score (-0 equal to +0), then bytes.
pub fn sort(items: &mut [Scored]) {
    items.sort_by(|(ma, sa), (mb, sb)| {
        sa.partial_cmp(sb)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| ma.cmp(mb))
    });
}

/// Indices of `lens` in processing order: by length, stable.
pub fn by_cardinality(lens: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| lens[i]);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(&str, f64)]) -> Vec<Scored> {
        items
            .iter()
            .map(|(m, s)| (m.as_bytes().to_vec(), *s))
            .collect()
    }

    #[test]
    fn sums_treat_nan_as_zero() {
        let mut t = f64::INFINITY;
        aggregate(&mut t, f64::NEG_INFINITY, Aggregate::Sum);
        assert_eq!(t, 0.0);
        assert_eq!(weighted(f64::INFINITY, 0.0), 0.0);
        // MIN/MAX keep the target when the value is NaN.
        let mut t = 1.0;
        aggregate(&mut t, f64::NAN, Aggregate::Min);
        assert_eq!(t, 1.0);
    }

    #[test]
    fn union_aggregates_and_orders_like_a_zset() {
        let a = set(&[("a", 1.0), ("b", 2.0)]);
        let b = set(&[("b", 3.0), ("c", 0.5)]);
        let sum = union(vec![(a.clone(), 1.0), (b.clone(), 2.0)], Aggregate::Sum);
        assert_eq!(sum, set(&[("a", 1.0), ("c", 1.0), ("b", 8.0)]));
        let max = union(vec![(a, 1.0), (b, 1.0)], Aggregate::Max);
        assert_eq!(max, set(&[("c", 0.5), ("a", 1.0), ("b", 3.0)]));
    }

    #[test]
    fn cardinality_order_is_stable() {
        assert_eq!(by_cardinality(&[3, 1, 3, 0, 1]), vec![3, 1, 4, 0, 2]);
    }
}
