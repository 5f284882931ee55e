//! A live view's render+diff (`html!`, then `Encoder::diff`) on a board of 10, 100, 1,000
//! and 10,000 keyed rows, after the join: when only the caption (a slot outside the list)
//! changed, and when one field of one row (row 37 of 100, the same share of the others)
//! changed. The diffs' payload sizes are written to `target/criterion/view_bytes.json`.

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use livestate_bench::view::{board_of, changed_row, joined, payload_bytes, render_diff};
use livestate_view::Changed;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

fn view(c: &mut Criterion) {
    let mut g = c.benchmark_group("view");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let mut bytes = serde_json::Map::new();
    for n in SIZES {
        let mut board = board_of(n);
        let mut encoder = joined(&board);
        let caption = Changed::of(["caption"]);
        let mut i = 0u64;
        let mut size = 0;
        g.bench_with_input(BenchmarkId::new("outside_slot", n), &n, |b, _| {
            b.iter(|| {
                i += 1;
                board.caption = format!("round {}", i % 10);
                let diff = render_diff(&mut encoder, black_box(&board), &caption);
                size = diff.len();
                diff
            });
        });
        assert_eq!(size, 1, "only the caption changed");
        let caption_bytes = diff_bytes(&mut encoder, &mut board, &caption, |b| {
            b.caption = "final".to_owned();
        });

        let rows = Changed::of(["rows"]);
        let row = changed_row(n);
        g.bench_with_input(BenchmarkId::new("one_row", n), &n, |b, _| {
            b.iter(|| {
                board.rows[row].score += 1;
                render_diff(&mut encoder, black_box(&board), &rows)
            });
        });
        let row_bytes = diff_bytes(&mut encoder, &mut board, &rows, |b| {
            b.rows[row].score += 1;
        });
        bytes.insert(
            n.to_string(),
            json!({"outside_slot": caption_bytes, "one_row": row_bytes, "row": row}),
        );
    }
    g.finish();
    write_bytes(Value::Object(bytes));
}

/// The payload size of the diff after `change`.
fn diff_bytes(
    encoder: &mut livestate_view::Encoder,
    board: &mut livestate_bench::view::Board,
    changed: &Changed,
    change: impl FnOnce(&mut livestate_bench::view::Board),
) -> usize {
    change(board);
    payload_bytes(&render_diff(encoder, board, changed))
}

/// Beside criterion's own results, where `benches/report.py` reads them.
fn write_bytes(bytes: Value) {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        std::path::PathBuf::from,
    );
    let dir = target.join("criterion");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("view_bytes.json"), bytes.to_string());
    }
    println!("view diff bytes: {bytes}");
}

criterion_group!(benches, view);
criterion_main!(benches);
