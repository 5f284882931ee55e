//! Encode-once fan-out: encode one `state:patch` frame with `frame::broadcast` and queue a
//! clone of it (a reference count) into 10, 1,000 and 10,000 outboxes with
//! `Outbox::try_push`. The outboxes are drained outside the measurement so they never fill.

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use livestate_bench::{TOPIC, patch_payload};
use livestate_core::outbox::Pushed;
use livestate_core::{Outbox, OutboxReceiver};
use livestate_protocol::frame;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Frames each outbox holds; drained every `DRAIN_EVERY` iterations.
const CAPACITY: usize = 64;
const DRAIN_EVERY: u64 = 32;

fn encode_once(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout_encode_once");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let payload = patch_payload();
    for n in [10usize, 1_000, 10_000] {
        let (outboxes, mut receivers): (Vec<Outbox>, Vec<OutboxReceiver>) =
            (0..n).map(|_| Outbox::new(CAPACITY, 1 << 20)).unzip();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("subscribers", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                for i in 0..iters {
                    let start = Instant::now();
                    let frame = frame::broadcast(TOPIC, "state:patch", black_box(&payload));
                    for o in &outboxes {
                        let pushed = o.try_push(frame.clone());
                        assert_eq!(pushed, Pushed::Queued, "an outbox filled up");
                    }
                    measured += start.elapsed();
                    if (i + 1) % DRAIN_EVERY == 0 {
                        drain(&mut receivers);
                    }
                }
                drain(&mut receivers);
                measured
            });
        });
    }
    g.finish();
}

fn drain(receivers: &mut [OutboxReceiver]) {
    for r in receivers {
        while r.try_recv().is_some() {}
    }
}

criterion_group!(benches, encode_once);
criterion_main!(benches);
