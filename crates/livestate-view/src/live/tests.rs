//! What the runtime adds to the templates: which assigns count as changed after a
//! callback, temporary assigns, flash, and failures kept to the view.

use super::testing::{TestError, ViewTest};
use super::{Live, LiveView, Socket, ViewError};
use crate::{Assigns, Rendered, html};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Clone, Default)]
struct Two {
    a: u32,
    b: u32,
    /// Shown once, then dropped.
    log: Vec<String>,
    /// How often the slot of `b` was computed.
    b_renders: Arc<AtomicU32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum TwoEvent {
    /// Change both, but say only `a` changed.
    Narrow {},
    /// Change both and say nothing.
    Both {},
    Log {
        line: String,
    },
    Broken {},
}

fn counted(count: &AtomicU32, value: u32) -> u32 {
    count.fetch_add(1, Ordering::Relaxed);
    value
}

impl LiveView for Two {
    type Event = TwoEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: TwoEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            TwoEvent::Narrow {} => {
                self.a += 1;
                self.b += 1;
                socket.changed(["a"]);
            }
            TwoEvent::Both {} => {
                self.a += 1;
                self.b += 1;
            }
            TwoEvent::Log { line } => self.log.push(line),
            TwoEvent::Broken {} => self.a = u32::MAX,
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            p { (@a) }
            p { (counted(&@b_renders, @b)) }
            ul id="log" phx-update="append" {
                @for line in &@log key (line) { li id=(line) { (line) } }
            }
            @if @a == u32::MAX { (Broken) }
        }
    }

    fn clear_temporary(&mut self) {
        self.log.clear();
    }
}

/// A value whose `Display` panics.
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("cannot show this")
    }
}

#[tokio::test]
async fn only_the_named_assigns_render_again_and_unnamed_means_all() -> Result<(), TestError> {
    let view = Two::default();
    let b_renders = view.b_renders.clone();
    let mut test = ViewTest::new(view).mount("/").await?;
    assert_eq!(b_renders.load(Ordering::Relaxed), 1);
    // narrowed: the slot of b is not computed (and its change not sent)
    let step = test.click("narrow", json!({})).await?;
    assert_eq!(Value::Object(step.diff), json!({"0": "1"}));
    assert_eq!(b_renders.load(Ordering::Relaxed), 1);
    // not narrowed: every slot computed, only changed texts sent
    let step = test.click("both", json!({})).await?;
    assert_eq!(Value::Object(step.diff), json!({"0": "2", "1": "2"}));
    assert_eq!(b_renders.load(Ordering::Relaxed), 2);
    Ok(())
}

#[tokio::test]
async fn temporary_assigns_are_sent_once_then_dropped() -> Result<(), TestError> {
    let mut test = ViewTest::new(Two::default()).mount("/").await?;
    let step = test.click("log", json!({"line": "one"})).await?;
    assert_eq!(step.diff["2"]["k"]["kc"], 1, "{:?}", step.diff);
    // dropped from memory after the render
    assert!(test.view().log.is_empty());
    let step = test.click("log", json!({"line": "two"})).await?;
    assert_eq!(step.diff["2"]["k"]["0"]["0"], "two", "{:?}", step.diff);
    Ok(())
}

#[tokio::test]
async fn a_template_that_panics_is_a_crash_of_that_render() -> Result<(), TestError> {
    let mut test = ViewTest::new(Two::default()).mount("/").await?;
    let crashed = test.click("broken", json!({})).await.unwrap_err();
    assert_eq!(
        crashed,
        TestError::Crashed("the view could not render: cannot show this".into())
    );
    Ok(())
}

/// Shows what it refuses as a flash message.
#[derive(Clone, Default)]
struct Shows;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ShowsEvent {
    Fail {},
}

impl LiveView for Shows {
    type Event = ShowsEvent;
    type Info = ();

    async fn handle_event(&mut self, _: ShowsEvent, _: &mut Socket<Self>) -> Result<(), ViewError> {
        Err(ViewError::new("no"))
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! { p { (@flash.get("error").unwrap_or_default()) } }
    }
}

#[tokio::test]
async fn a_view_may_show_what_it_refuses_on_the_page() -> Result<(), TestError> {
    let mut test = ViewTest::new(Shows).mount("/").await?;
    let step = test.click("fail", json!({})).await?;
    assert_eq!(Value::Object(step.diff), json!({"0": "no"}));
    let step = test.click("nope", json!({})).await?;
    assert_eq!(
        Value::Object(step.diff),
        json!({"0": "unknown event &quot;nope&quot;"})
    );
    // the default answers with the error
    let mut two = ViewTest::new(Two::default()).mount("/").await?;
    let refused = two.click("nope", json!({})).await.unwrap_err();
    assert_eq!(refused, TestError::Refused("unknown event \"nope\"".into()));
    Ok(())
}
