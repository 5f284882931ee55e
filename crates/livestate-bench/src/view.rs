//! The live-view benchmark's input: a scoreboard, a caption above a keyed list of rows,
//! rendered through `html!` and diffed by the `Encoder` as a view would be.

use livestate_view::{Assigns, Changed, Encoder, Rendered, html};
use serde_json::{Map, Value};

/// One row of the board; its hash tells the list whether it changed.
#[derive(Debug, Clone, Hash)]
pub struct Row {
    /// The row's key.
    pub id: u32,
    /// A name, rendered escaped.
    pub name: String,
    /// The field the benchmark changes.
    pub score: u32,
}

/// The view's assigns.
#[derive(Debug, Clone)]
pub struct Board {
    /// A slot outside the list.
    pub caption: String,
    /// The keyed list.
    pub rows: Vec<Row>,
}

/// The template.
pub fn board(assigns: Assigns<'_, Board>) -> Rendered<'_> {
    html! {
        table class="board" {
            caption { (@caption) }
            @for row in &@rows key (row.id) {
                tr id=(format_args!("row-{}", row.id)) {
                    td class="name" { (row.name) }
                    td class="score" { (row.score) }
                }
            }
        }
    }
}

/// A board of `rows` rows.
pub fn board_of(rows: usize) -> Board {
    Board {
        caption: "Scores".to_owned(),
        rows: (0..rows as u32)
            .map(|id| Row {
                id,
                name: format!("player {id}"),
                score: id * 10,
            })
            .collect(),
    }
}

/// A view of `board`: its encoder after the join (which sent everything).
pub fn joined(board: &Board) -> Encoder {
    let mut encoder = Encoder::new();
    encoder
        .diff(self::board(Assigns::new(board, &Changed::all())))
        .expect("the board renders");
    encoder
}

/// Render and diff after `changed`; the diff's payload (the JSON the client merges).
pub fn render_diff(encoder: &mut Encoder, board: &Board, changed: &Changed) -> Map<String, Value> {
    encoder
        .diff(self::board(Assigns::new(board, changed)))
        .expect("the board renders")
}

/// The size of a diff's payload, the JSON the client merges.
pub fn payload_bytes(diff: &Map<String, Value>) -> usize {
    serde_json::to_string(diff).map_or(0, |json| json.len())
}

/// The row the benchmark changes: row 37 of 100, and the same share of other sizes.
pub fn changed_row(rows: usize) -> usize {
    rows * 37 / 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_row_is_the_same_few_bytes_whatever_the_size() {
        let mut sizes = Vec::new();
        for rows in [10, 100, 1_000, 10_000] {
            let mut board = board_of(rows);
            let mut encoder = joined(&board);
            let row = changed_row(rows);
            board.rows[row].score += 1;
            let diff = render_diff(&mut encoder, &board, &Changed::of(["rows"]));
            // only the changed row's score: {"1":{"k":{"37":{"2":"371"},"kc":100}}}
            let entry = &diff["1"]["k"][row.to_string()];
            assert_eq!(
                entry,
                &serde_json::json!({"2": board.rows[row].score.to_string()})
            );
            sizes.push(payload_bytes(&diff));
        }
        assert!(sizes[1] <= 100, "row 37 of 100: {} bytes", sizes[1]);
        // the row's index, the count and the score grow a digit per tenfold, nothing else
        assert!(sizes[3] - sizes[0] <= 9, "{sizes:?}");
    }

    #[test]
    fn a_slot_outside_the_list_does_not_visit_the_list() {
        let mut board = board_of(1_000);
        let mut encoder = joined(&board);
        board.caption = "Final <scores>".to_owned();
        let diff = render_diff(&mut encoder, &board, &Changed::of(["caption"]));
        assert_eq!(
            Value::Object(diff),
            serde_json::json!({"0": "Final &lt;scores&gt;"})
        );
    }
}
