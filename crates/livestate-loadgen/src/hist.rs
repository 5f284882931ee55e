//! [`Histogram`]: an HDR-style log-linear histogram of durations in nanoseconds.
//!
//! Values below 128 ns are counted exactly; above, each power of two is split into 64
//! buckets, so a reported percentile is within 1.6 % of the true value. Recording is an
//! index computation and an increment; histograms of many tasks merge by adding counts.
//!
//! ```
//! use livestate_loadgen::Histogram;
//! let mut h = Histogram::new();
//! for v in 1..=1000 {
//!     h.record(v * 1000);
//! }
//! assert_eq!(h.count(), 1000);
//! let p50 = h.percentile(50.0);
//! assert!((495_000..=510_000).contains(&p50), "{p50}");
//! assert_eq!(h.max(), 1_000_000);
//! ```

/// Sub-buckets per power of two, as bits.
const SUB_BITS: u32 = 6;
/// Sub-buckets per power of two.
const SUB: u64 = 1 << SUB_BITS;
/// Values at or above this (about 4.9 hours in ns) are counted as this.
const CAP: u64 = 1 << 44;

/// A log-linear histogram of `u64` values (nanoseconds, by convention).
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

fn index(v: u64) -> usize {
    let v = v.min(CAP);
    if v < 2 * SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    ((u64::from(shift) << SUB_BITS) + (v >> shift)) as usize
}

/// The highest value counted in bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let shift = (i >> SUB_BITS) - 1;
    let sub = (i & (SUB - 1)) + SUB;
    ((sub + 1) << shift) - 1
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; index(CAP) + 1],
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Count one value.
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Add every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value counted (exact), 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value below which `p` percent of the counted values lie (the highest value of
    /// the bucket that holds that rank, clamped to the exact minimum and maximum); 0 when
    /// empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut prev_upper = None;
        for i in 0..index(CAP) {
            let hi = upper(i);
            if let Some(p) = prev_upper {
                assert!(hi > p, "bucket {i}");
                assert_eq!(index(p + 1), i, "bucket {i} starts after the previous one");
            }
            assert_eq!(index(hi), i);
            prev_upper = Some(hi);
        }
        for v in [0, 1, 127, 128, 129, 1000, 123_456_789, CAP - 1] {
            let hi = upper(index(v));
            assert!(
                hi >= v && (hi - v) as f64 <= v as f64 / 60.0 + 1.0,
                "{v} -> {hi}"
            );
        }
    }

    #[test]
    fn percentiles_of_known_values() {
        let mut h = Histogram::new();
        assert_eq!(h.percentile(99.0), 0);
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.percentile(50.0), 50);
        assert_eq!(h.percentile(99.0), 99);
        assert_eq!(h.percentile(100.0), 100);
        let mut other = Histogram::new();
        other.record(1_000_000);
        h.merge(&other);
        assert_eq!(h.count(), 101);
        assert_eq!(h.max(), 1_000_000);
        assert_eq!(h.percentile(100.0), 1_000_000);
    }
}
