//! Frame decode and encode: `Message::decode` of a typical `lvs_evt` frame,
//! `frame::reply` of an acknowledgement, `frame::broadcast` of a `state:patch`.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use livestate_bench::{EVENT_FRAME, TOPIC, patch_payload};
use livestate_protocol::livestate::Ack;
use livestate_protocol::{Message, Status, frame};
use std::hint::black_box;
use std::time::Duration;

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_lvs_evt", |b| {
        b.iter(|| Message::decode(black_box(EVENT_FRAME)).unwrap());
    });
    g.bench_function("encode_reply", |b| {
        b.iter(|| {
            frame::reply(
                Some("1"),
                Some(black_box("7")),
                TOPIC,
                Status::Ok,
                &Ack { version: 42 },
            )
        });
    });
    let payload = patch_payload();
    g.bench_function("encode_broadcast_patch", |b| {
        b.iter(|| frame::broadcast(TOPIC, "state:patch", black_box(&payload)));
    });
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
