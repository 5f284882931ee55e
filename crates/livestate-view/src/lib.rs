//! Live views' templates: [`html!`] splits a template at compile time into statics and
//! slots, a render computes only the slots whose assigns changed, and [`Encoder`] turns a
//! render into the diff the stock `phoenix_live_view` client (1.1 and 1.2) merges.
//!
//! ```
//! use livestate_view::{Assigns, Changed, Encoder, Rendered, html};
//!
//! struct Thermostat { celsius: i32, mode: &'static str }
//!
//! fn render<'a>(assigns: Assigns<'a, Thermostat>) -> Rendered<'a> {
//!     html! {
//!         div class="thermostat" {
//!             p { "It is " (@celsius) " °C" }
//!             button phx-click="inc" { "+" }
//!             @if @mode == "eco" { span { "eco" } }
//!         }
//!     }
//! }
//!
//! let mut state = Thermostat { celsius: 19, mode: "eco" };
//! let mut encoder = Encoder::new();
//! // the join: statics and every slot
//! let first = encoder.diff(render(Assigns::new(&state, &Changed::all()))).unwrap();
//! assert_eq!(first["0"], "19");
//! // a change: only the slot that reads `celsius`
//! state.celsius = 20;
//! let next = encoder.diff(render(Assigns::new(&state, &Changed::of(["celsius"])))).unwrap();
//! assert_eq!(serde_json::Value::Object(next), serde_json::json!({"0": "20"}));
//! ```
//!
//! # A list
//!
//! The README's example (a test keeps the two the same):
//!
//! ```
//! use livestate_view::{Assigns, Changed, Encoder, Rendered, html};
//! use serde_json::json;
//!
//! struct Board { caption: String, rows: Vec<Row> }
//! #[derive(Hash)]
//! struct Row { id: u32, name: String, score: u32 }
//!
//! fn board(assigns: Assigns<'_, Board>) -> Rendered<'_> {
//!     html! {
//!         table class="board" {
//!             caption { (@caption) }
//!             @for row in &@rows key (row.id) {
//!                 tr { td { (row.name) } td { (row.score) } }
//!             }
//!         }
//!     }
//! }
//!
//! let row = |id, name: &str| Row { id, name: name.into(), score: 0 };
//! let mut state = Board { caption: "Scores".into(), rows: vec![row(1, "ada"), row(2, "bo")] };
//! let mut encoder = Encoder::new();
//! // the join: statics and every slot
//! let join = encoder.diff(board(Assigns::new(&state, &Changed::all())))?;
//! assert_eq!(join["1"]["k"]["kc"], 2);
//! // a slot outside the list: the list is not visited
//! state.caption = "Final".into();
//! let diff = encoder.diff(board(Assigns::new(&state, &Changed::of(["caption"]))))?;
//! assert_eq!(json!(diff), json!({"0": "Final"}));
//! // one field of one row: that field alone
//! state.rows[1].score = 7;
//! let diff = encoder.diff(board(Assigns::new(&state, &Changed::of(["rows"]))))?;
//! assert_eq!(json!(diff), json!({"1": {"k": {"1": {"1": "7"}, "kc": 2}}}));
//! // a row moved to the front: its old index, and km
//! state.rows.swap(0, 1);
//! let diff = encoder.diff(board(Assigns::new(&state, &Changed::of(["rows"]))))?;
//! assert_eq!(json!(diff), json!({"1": {"k": {"0": 1, "1": 0, "kc": 2, "km": true}}}));
//! # Ok::<(), livestate_view::RenderError>(())
//! ```
//!
//! # The template syntax
//!
//! ```text
//! h1 class="title" { "Hello, " (@name) "!" }        element, attribute, text, a slot
//! input type="checkbox" checked[@done];             a void element; a boolean attribute
//! button phx-click="inc" disabled[@busy] { "+" }    phx-* bindings are plain attributes
//! a href=(@url) { (Raw(&@html)) }                   a dynamic attribute; raw HTML
//! @if @on { b { "on" } } @else { i { "off" } }      conditionals, `@else @if`, `@if let`
//! @for row in &@rows key (row.id) { li { (row.name) } }   a keyed list
//! (card(&@title, html! { p { "body" } }))           a component: a fn returning a Rendered
//! ```
//!
//! - Text and slot values are HTML-escaped; [`Raw`] marks HTML shown as it is.
//! - `@name` reads the assign `name` of the `assigns` in scope (an [`Assigns`]); a slot is
//!   computed again only when an assign it reads changed. A template that reads no assign
//!   (a component's body, given its values as arguments) computes every slot whenever it
//!   renders; its caller renders it again only when the caller's slot changed.
//! - `@for` needs a key; an entry renders again when its item's hash (`Hash`) changed or
//!   an assign it reads changed, and otherwise costs nothing; of an entry that renders
//!   again, only the slots whose text changed are sent. Inside `@for`, values from
//!   outside the template are used by reference (or copied).
//! - The branches of `@if let` compute every slot whenever the `@if` renders (what `let`
//!   binds is not an assign).
//!
//! Modules: `rendered` (what a render produces), `escape`, `diff` (the encoder), [`form`]
//! (form values decoded as Plug does), `js` ([`Js`] commands for bindings).

// `html!` names this crate `::livestate_view`, here as in an application
#[cfg(test)]
extern crate self as livestate_view;

mod diff;
mod escape;
pub mod form;
mod js;
pub mod live;
mod rendered;

pub use diff::{Encoder, RenderError};
pub use js::Js;
pub use rendered::{
    Assigns, Changed, Entry, IntoSlot, List, Raw, Rendered, Slot, Slots, Statics, escape, hash,
    key, text,
};

/// A template, compiled into statics and tracked slots: see the [crate docs](crate).
pub use livestate_view_macros::html;

/// `html!` for code that reaches this crate by another path (the `livestate` façade's
/// `html!` calls it).
#[doc(hidden)]
pub use livestate_view_macros::html_in;

/// A panic's message.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a template panicked".to_owned())
}

#[cfg(test)]
mod tests;
