//! The cost of a change: an explicit operation and its patch (`Doc::set` or
//! `Doc::increment`, then `Doc::take_patch`) on states of 10, 1,000 and 100,000 entries,
//! the structural-diff fallback (`Doc::replace_all` with one entry changed, then
//! `take_patch`) on the same sizes, and a small `put` under the default state limits on
//! states of 10 KiB, 1 MiB and 10 MiB as JSON beside the same put followed by re-encoding
//! the state (what measuring the size without incremental accounting would cost).

#![allow(missing_docs)]

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use livestate_bench::{state, state_with_one_change};
use livestate_core::{Doc, StateLimits};
use serde_json::json;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 3] = [10, 1_000, 100_000];

fn explicit(c: &mut Criterion) {
    let mut g = c.benchmark_group("explicit_op");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let mut doc = Doc::new(state(n));
        let mut i = 0u64;
        g.bench_with_input(BenchmarkId::new("set", n), &n, |b, _| {
            b.iter(|| {
                i += 1;
                doc.set(black_box("/k5"), json!(i)).unwrap();
                doc.take_patch()
            });
        });
        let mut doc = Doc::new(state(n));
        g.bench_with_input(BenchmarkId::new("increment", n), &n, |b, _| {
            b.iter(|| {
                doc.increment(black_box("/k5"), 1).unwrap();
                doc.take_patch()
            });
        });
    }
    g.finish();
}

fn diff_fallback(c: &mut Criterion) {
    let mut g = c.benchmark_group("diff_fallback");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(20);
    for n in SIZES {
        let before = state(n);
        let after = state_with_one_change(n);
        g.bench_with_input(BenchmarkId::new("replace_all", n), &n, |b, _| {
            b.iter_batched(
                || (Doc::new(before.clone()), after.clone()),
                |(mut doc, new)| {
                    doc.replace_all(new).unwrap();
                    let patch = doc.take_patch();
                    // the document is dropped outside the measurement
                    (doc, patch)
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

/// An object of 100-byte strings, about `bytes` long as JSON.
fn state_of_bytes(bytes: usize) -> serde_json::Value {
    let entries = bytes / 112;
    let map: serde_json::Map<String, serde_json::Value> = (0..entries)
        .map(|i| (format!("k{i:07}"), json!("x".repeat(100))))
        .collect();
    serde_json::Value::Object(map)
}

fn state_size(c: &mut Criterion) {
    let mut g = c.benchmark_group("state_size");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(20);
    for (label, bytes) in [("10KiB", 10 << 10), ("1MiB", 1 << 20), ("10MiB", 10 << 20)] {
        let mut doc = Doc::with_limits(state_of_bytes(bytes), StateLimits::default());
        assert!(doc.limit_error().is_none());
        let mut i = 0u64;
        g.bench_with_input(BenchmarkId::new("put", label), &label, |b, _| {
            b.iter(|| {
                i += 1;
                doc.set(black_box("/k0000005"), json!(format!("v{i}")))
                    .unwrap();
                (doc.encoded_len(), doc.take_patch())
            });
        });
        g.bench_with_input(BenchmarkId::new("put_reencode", label), &label, |b, _| {
            b.iter(|| {
                i += 1;
                doc.set(black_box("/k0000005"), json!(format!("v{i}")))
                    .unwrap();
                let len = serde_json::to_vec(doc.value()).unwrap().len();
                (len, doc.take_patch())
            });
        });
    }
    g.finish();
}

criterion_group!(benches, explicit, diff_fallback, state_size);
criterion_main!(benches);
