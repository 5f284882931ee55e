//! The encoder's wire format, pinned case by case (as upstream's diff_test.exs pins its
//! own), and change tracking counted: a slot whose assigns did not change is not computed.

use crate::{Assigns, Changed, Encoder, Raw, Rendered, html};
use serde_json::{Value, json};
use std::cell::Cell;

/// Counts how often a slot's expression runs.
fn seen<T>(count: &Cell<u32>, value: T) -> T {
    count.set(count.get() + 1);
    value
}

fn diff(encoder: &mut Encoder, rendered: Rendered<'_>) -> Value {
    Value::Object(encoder.diff(rendered).expect("renders"))
}

struct Card {
    title: String,
    likes: u32,
    open: bool,
}

fn card<'a>(assigns: Assigns<'a, Card>, count: &'a Cell<u32>) -> Rendered<'a> {
    html! {
        article {
            h2 { (seen(count, &@title)) }
            p { "likes: " (@likes) }
            @if @open { em { "open" } } @else { i { "closed" } }
        }
    }
}

#[test]
fn the_first_render_sends_statics_and_later_ones_only_changed_slots() {
    let count = Cell::new(0);
    let mut state = Card {
        title: "<Hi & bye>".into(),
        likes: 1,
        open: true,
    };
    let mut encoder = Encoder::new();
    let first = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::all()), &count),
    );
    assert_eq!(
        first,
        json!({
            "s": ["<article><h2>", "</h2><p>likes: ", "</p>", "</article>"],
            "0": "&lt;Hi &amp; bye&gt;",
            "1": "1",
            "2": {"s": 0, "r": 1},
            "p": {"0": ["<em>open</em>"]},
        })
    );
    assert_eq!(count.get(), 1);

    state.likes = 2;
    let next = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::of(["likes"])), &count),
    );
    assert_eq!(next, json!({"1": "2"}));
    assert_eq!(count.get(), 1, "the title's slot did not run");

    // the other branch: a template the client does not hold, sent with its statics
    state.open = false;
    let next = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::of(["open"])), &count),
    );
    assert_eq!(
        next,
        json!({"2": {"s": 0, "r": 1}, "p": {"0": ["<i>closed</i>"]}})
    );
    // nothing changed: nothing to send, nothing computed
    let next = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::none()), &count),
    );
    assert_eq!(next, json!({}));
    assert_eq!(count.get(), 1);
}

struct Pair {
    on: bool,
    x: String,
    y: String,
    n: u32,
}

fn pair(assigns: Assigns<'_, Pair>) -> Rendered<'_> {
    html! {
        @if @on { p { (@x) } } @else { p { (@y) } }
        span { (@n) }
    }
}

#[test]
fn branches_with_the_same_statics_are_still_different_templates() {
    let mut state = Pair {
        on: true,
        x: "x".into(),
        y: "y".into(),
        n: 0,
    };
    let mut encoder = Encoder::new();
    diff(&mut encoder, pair(Assigns::new(&state, &Changed::all())));
    state.on = false;
    let next = diff(
        &mut encoder,
        pair(Assigns::new(&state, &Changed::of(["on"]))),
    );
    // sent whole, with `y`: keeping the slot of `x` would show the wrong text
    assert_eq!(next["0"]["1"], json!(null));
    assert_eq!(next["0"]["0"], "y");
    assert!(next["0"].get("s").is_some(), "{next}");
}

struct Maybe {
    name: Option<String>,
}

fn maybe(assigns: Assigns<'_, Maybe>) -> Rendered<'_> {
    html! {
        @if let Some(name) = &@name { b { (name) } } @else { "nobody" }
    }
}

#[test]
fn what_if_let_binds_is_computed_again_whenever_the_if_is() {
    let mut state = Maybe {
        name: Some("ada".into()),
    };
    let mut encoder = Encoder::new();
    diff(&mut encoder, maybe(Assigns::new(&state, &Changed::all())));
    state.name = Some("grace".into());
    let next = diff(
        &mut encoder,
        maybe(Assigns::new(&state, &Changed::of(["name"]))),
    );
    assert_eq!(next, json!({"0": {"0": "grace"}}));
}

#[derive(Hash)]
struct Row {
    id: u32,
    name: String,
    score: i64,
}

struct Table {
    rows: Vec<Row>,
    caption: String,
}

fn table<'a>(assigns: Assigns<'a, Table>, count: &'a Cell<u32>) -> Rendered<'a> {
    html! {
        table {
            caption { (@caption) }
            @for row in &@rows key (row.id) {
                tr id=(row.id) { td { (seen(count, &row.name)) } td { (row.score) } }
            }
        }
    }
}

fn rows(n: u32) -> Vec<Row> {
    (0..n)
        .map(|id| Row {
            id,
            name: format!("row {id}"),
            score: i64::from(id) * 10,
        })
        .collect()
}

#[test]
fn one_changed_row_of_a_hundred_is_a_small_diff_and_the_others_cost_nothing() {
    let count = Cell::new(0);
    let mut state = Table {
        rows: rows(100),
        caption: "scores".into(),
    };
    let mut encoder = Encoder::new();
    let first = diff(
        &mut encoder,
        table(Assigns::new(&state, &Changed::all()), &count),
    );
    assert_eq!(first["1"]["k"]["kc"], 100);
    assert_eq!(
        first["1"]["k"]["37"],
        json!({"0": "37", "1": "row 37", "2": "370"})
    );
    assert_eq!(count.get(), 100);

    state.rows[37].score = 371;
    let next = diff(
        &mut encoder,
        table(Assigns::new(&state, &Changed::of(["rows"])), &count),
    );
    assert_eq!(
        next,
        json!({"1": {"k": {"37": {"2": "371"}, "kc": 100}}}),
        "the row's slots ran again; only the one whose text changed is sent"
    );
    let bytes = serde_json::to_string(&next).unwrap().len();
    assert!(bytes <= 100, "{bytes} bytes: {next}");
    assert_eq!(count.get(), 101, "only the changed row ran again");

    // the caption alone: the list is not even looked at
    state.caption = "top".into();
    let next = diff(
        &mut encoder,
        table(Assigns::new(&state, &Changed::of(["caption"])), &count),
    );
    assert_eq!(next, json!({"0": "top"}));
    assert_eq!(count.get(), 101);
}

#[test]
fn keyed_lists_move_insert_delete_and_empty() {
    let count = Cell::new(0);
    let mut state = Table {
        rows: rows(3),
        caption: String::new(),
    };
    let mut encoder = Encoder::new();
    diff(
        &mut encoder,
        table(Assigns::new(&state, &Changed::all()), &count),
    );
    let changed = Changed::of(["rows"]);

    // [0, 1, 2] -> [2, 0, 1]: moves without changes
    state.rows.rotate_right(1);
    let next = diff(&mut encoder, table(Assigns::new(&state, &changed), &count));
    assert_eq!(
        next,
        json!({"1": {"k": {"0": 2, "1": 0, "2": 1, "kc": 3, "km": true}}})
    );

    // a moved row that also changed: [old index, diff]
    state.rows.swap(0, 1);
    state.rows[0].score = -1;
    let next = diff(&mut encoder, table(Assigns::new(&state, &changed), &count));
    assert_eq!(
        next,
        json!({"1": {"k": {"0": [1, {"2": "-1"}], "1": 0, "kc": 3, "km": true}}})
    );

    // an insert is sent whole; a delete shortens kc
    state.rows.insert(
        1,
        Row {
            id: 9,
            name: "new".into(),
            score: 0,
        },
    );
    state.rows.pop();
    let next = diff(&mut encoder, table(Assigns::new(&state, &changed), &count));
    assert_eq!(
        next,
        json!({"1": {"k": {"1": {"0": "9", "1": "new", "2": "0"}, "2": 1, "kc": 3, "km": true}}})
    );

    state.rows.clear();
    let next = diff(&mut encoder, table(Assigns::new(&state, &changed), &count));
    assert_eq!(next, json!({"1": {"k": {"kc": 0}}}));
}

struct Field {
    value: String,
    done: bool,
}

fn field(assigns: Assigns<'_, Field>) -> Rendered<'_> {
    html! {
        input type="text" name="title" value=(@value) phx-change="edit";
        input type="checkbox" checked[@done];
        (Raw("<hr>"))
    }
}

#[test]
fn attributes_are_escaped_and_boolean_ones_come_and_go() {
    let mut state = Field {
        value: "say \"hi\" <now>".into(),
        done: false,
    };
    let html = field(Assigns::new(&state, &Changed::all())).to_html();
    assert_eq!(
        html,
        "<input type=\"text\" name=\"title\" value=\"say &quot;hi&quot; &lt;now&gt;\" \
         phx-change=\"edit\"><input type=\"checkbox\"><hr>"
    );
    state.done = true;
    let html = field(Assigns::new(&state, &Changed::all())).to_html();
    assert!(html.contains("<input type=\"checkbox\" checked>"), "{html}");
}

struct Loud;

impl std::fmt::Display for Loud {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("cannot show this")
    }
}

struct Shown {
    loud: bool,
}

fn shown(assigns: Assigns<'_, Shown>) -> Rendered<'_> {
    html! {
        @if @loud { p { (Loud) } } @else { p { "quiet" } }
    }
}

#[test]
fn a_panicking_value_is_a_render_error_and_the_next_diff_is_whole() {
    let mut encoder = Encoder::new();
    let loud = Shown { loud: true };
    let e = encoder
        .diff(shown(Assigns::new(&loud, &Changed::all())))
        .unwrap_err();
    assert!(e.to_string().contains("cannot show this"), "{e}");
    let quiet = Shown { loud: false };
    let next = diff(
        &mut encoder,
        shown(Assigns::new(&quiet, &Changed::of(["loud"]))),
    );
    assert!(next.get("s").is_some(), "sent whole after an error: {next}");
}

#[test]
fn the_title_goes_with_the_first_diff_after_it_changed() {
    let state = Card {
        title: "t".into(),
        likes: 1,
        open: true,
    };
    let count = Cell::new(0);
    let mut encoder = Encoder::new();
    encoder.set_title("Inbox");
    let first = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::all()), &count),
    );
    assert_eq!(first["t"], "Inbox");
    encoder.set_title("Inbox");
    let same = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::none()), &count),
    );
    assert_eq!(same, json!({}), "an unchanged title is not sent again");
    encoder.set_title("Inbox (1)");
    let renamed = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::none()), &count),
    );
    assert_eq!(renamed, json!({"t": "Inbox (1)"}));
    encoder.reset();
    let rejoined = diff(
        &mut encoder,
        card(Assigns::new(&state, &Changed::all()), &count),
    );
    assert_eq!(
        rejoined["t"], "Inbox (1)",
        "a new join shows the title again"
    );
}

#[test]
fn text_in_a_template_is_escaped_as_values_are() {
    // html! escapes its literal text at compile time with its own copy of the rules (a
    // proc-macro crate cannot call the runtime's): the two must agree
    const TEXT: &str = r#"<a href="x">Tom & 'Jerry'</a>"#;
    let literal =
        html! { p title="<a href=\"x\">Tom & 'Jerry'</a>" { "<a href=\"x\">Tom & 'Jerry'</a>" } }
            .to_html();
    let escaped = crate::escape(TEXT);
    assert_eq!(literal, format!("<p title=\"{escaped}\">{escaped}</p>"));
}
