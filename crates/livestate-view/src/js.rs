//! [`Js`]: commands for `phx-click` (and every other binding) that the stock client runs
//! in the browser, as LiveView's `Phoenix.LiveView.JS` builds them: a JSON list of
//! `[kind, args]` written into the attribute.
//!
//! ```
//! use livestate_view::Js;
//!
//! let js = Js::new().push("inc").hide("#menu").add_class("#count", "bump");
//! assert_eq!(
//!     js.to_string(),
//!     r##"[["push",{"event":"inc"}],["hide",{"time":200,"to":"#menu","transition":[[],[],[]]}],["add_class",{"names":["bump"],"time":200,"to":"#count","transition":[[],[],[]]}]]"##
//! );
//! ```
//!
//! In a template, `button phx-click=(Js::new().push("inc")) { "+" }`: the value is escaped
//! into the attribute, and the browser hands the client the JSON.

use serde_json::{Map, Value, json};
use std::fmt;

/// A list of client-side commands, built one call at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Js {
    ops: Vec<Value>,
}

/// The default transition time of LiveView's JS commands, in milliseconds.
const TIME_MS: u64 = 200;

impl Js {
    /// No commands yet.
    pub fn new() -> Js {
        Js::default()
    }

    fn op(mut self, kind: &str, args: Map<String, Value>) -> Js {
        self.ops.push(json!([kind, Value::Object(args)]));
        self
    }

    fn args(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Map<String, Value> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// With a transition (none) and its time, as LiveView writes them.
    fn animated(
        to: &str,
        extra: impl IntoIterator<Item = (&'static str, Value)>,
    ) -> Map<String, Value> {
        let mut args = Js::args([
            ("to", Value::from(to)),
            ("time", Value::from(TIME_MS)),
            ("transition", json!([[], [], []])),
        ]);
        args.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        args
    }

    /// Send the event `event` to the view (`handle_event`).
    pub fn push(self, event: &str) -> Js {
        self.op("push", Js::args([("event", Value::from(event))]))
    }

    /// Send `event` with `value` (an object: merged with the element's `phx-value-*`).
    pub fn push_value(self, event: &str, value: Value) -> Js {
        self.op(
            "push",
            Js::args([("event", Value::from(event)), ("value", value)]),
        )
    }

    /// Navigate to another view of the live session, without a page load.
    pub fn navigate(self, href: &str) -> Js {
        self.op("navigate", Js::args([("href", Value::from(href))]))
    }

    /// Patch this view's URL (its `handle_params`), without a page load.
    pub fn patch(self, href: &str) -> Js {
        self.op("patch", Js::args([("href", Value::from(href))]))
    }

    /// Show the elements `to` selects.
    pub fn show(self, to: &str) -> Js {
        self.op("show", Js::animated(to, []))
    }

    /// Hide the elements `to` selects.
    pub fn hide(self, to: &str) -> Js {
        self.op("hide", Js::animated(to, []))
    }

    /// Show or hide the elements `to` selects (its transitions are `ins` and `outs`).
    pub fn toggle(self, to: &str) -> Js {
        let args = Js::args([
            ("to", Value::from(to)),
            ("time", Value::from(TIME_MS)),
            ("ins", json!([[], [], []])),
            ("outs", json!([[], [], []])),
        ]);
        self.op("toggle", args)
    }

    /// Add the space-separated `classes` to the elements `to` selects.
    pub fn add_class(self, to: &str, classes: &str) -> Js {
        let names = Value::from(classes.split_whitespace().collect::<Vec<_>>());
        self.op("add_class", Js::animated(to, [("names", names)]))
    }

    /// Remove the space-separated `classes` from the elements `to` selects.
    pub fn remove_class(self, to: &str, classes: &str) -> Js {
        let names = Value::from(classes.split_whitespace().collect::<Vec<_>>());
        self.op("remove_class", Js::animated(to, [("names", names)]))
    }

    /// Set the attribute `name` to `value` on the elements `to` selects.
    pub fn set_attribute(self, to: &str, name: &str, value: &str) -> Js {
        self.op(
            "set_attr",
            Js::args([("to", Value::from(to)), ("attr", json!([name, value]))]),
        )
    }

    /// Remove the attribute `name` from the elements `to` selects.
    pub fn remove_attribute(self, to: &str, name: &str) -> Js {
        self.op(
            "remove_attr",
            Js::args([("to", Value::from(to)), ("attr", Value::from(name))]),
        )
    }

    /// Dispatch the DOM event `event` on the elements `to` selects.
    pub fn dispatch(self, to: &str, event: &str) -> Js {
        self.op(
            "dispatch",
            Js::args([("to", Value::from(to)), ("event", Value::from(event))]),
        )
    }

    /// Focus the first element `to` selects.
    pub fn focus(self, to: &str) -> Js {
        self.op("focus", Js::args([("to", Value::from(to))]))
    }
}

impl fmt::Display for Js {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(&self.ops).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(js: &Js) -> Value {
        serde_json::from_str(&js.to_string()).unwrap()
    }

    #[test]
    fn every_command_has_the_clients_shape() {
        let js = Js::new()
            .push_value("select", json!({"id": 7}))
            .navigate("/rooms/2")
            .patch("/?page=2")
            .show("#a")
            .toggle("#b")
            .remove_class("#c", "x  y")
            .set_attribute("#d", "aria-expanded", "true")
            .remove_attribute("#d", "hidden")
            .dispatch("#e", "copy")
            .focus("#f");
        assert_eq!(
            ops(&js),
            json!([
                ["push", {"event": "select", "value": {"id": 7}}],
                ["navigate", {"href": "/rooms/2"}],
                ["patch", {"href": "/?page=2"}],
                ["show", {"to": "#a", "time": 200, "transition": [[], [], []]}],
                ["toggle", {"to": "#b", "time": 200, "ins": [[], [], []], "outs": [[], [], []]}],
                ["remove_class", {"to": "#c", "names": ["x", "y"], "time": 200, "transition": [[], [], []]}],
                ["set_attr", {"to": "#d", "attr": ["aria-expanded", "true"]}],
                ["remove_attr", {"to": "#d", "attr": "hidden"}],
                ["dispatch", {"to": "#e", "event": "copy"}],
                ["focus", {"to": "#f"}],
            ])
        );
    }

    #[test]
    fn in_an_attribute_the_json_is_escaped() {
        let html =
            crate::html! { button phx-click=(Js::new().push("say \"hi\"")) { "+" } }.to_html();
        assert_eq!(
            html,
            r#"<button phx-click="[[&quot;push&quot;,{&quot;event&quot;:&quot;say \&quot;hi\&quot;&quot;}]]">+</button>"#
        );
    }
}
