//! JS hooks: client code that talks to a live view.
//!
//! - The `Viewport` hook reports the browser window's size with
//!   `this.pushEvent("viewport", {width, height}, reply => ...)` when it mounts and when the
//!   window is resized; the view keeps it (and shows it), and answers with `socket.reply`:
//!   what kind of screen that is, which the hook writes into the page.
//! - The `Highlighter` hook listens with `this.handleEvent("highlight", ...)`: a button's
//!   event makes the server `socket.push_event("highlight", {id, name})`, and the hook marks
//!   that planet and says which one it was.
//! - What the view refuses (a report that does not fit, an event it does not know) is shown
//!   in its flash.
//!
//! The hooks' JavaScript is in the page's head ([`HOOKS`]), where the client finds it in
//! `window.livestateHooks`.
//!
//! Run it with `cargo run -p hooks` and open <http://127.0.0.1:4014/>.

use livestate::Endpoint;
use livestate::view::live::{Flash, Live, LiveView, Socket, ViewError, Views};
use livestate::view::{Assigns, Rendered, html};
use serde::Deserialize;
use serde_json::json;

/// The secret the pages' tokens are signed with when `SECRET_KEY_BASE` is unset: fine for
/// development, public for everyone else. Set `SECRET_KEY_BASE` (32 bytes or more, the
/// same on every node and across restarts) in production.
const DEVELOPMENT_SECRET_KEY_BASE: &str =
    "the hooks example's development secret key base: not for production";

/// The hooks, for every page's head: the client reads `window.livestateHooks`.
///
/// A hook writes only into elements the server leaves alone (`phx-update="ignore"`), and
/// marks the planet with `this.js().addClass`, which the next patch keeps: anything else
/// a hook changes in server-rendered markup is undone by the next diff.
pub const HOOKS: &str = r#"<script>
window.livestateHooks = {
  // Tells the server how big the window is, and shows what the server replied.
  Viewport: {
    mounted() {
      this.report = () => {
        const size = { width: window.innerWidth, height: window.innerHeight };
        this.pushEvent("viewport", size, (reply) => {
          // a report the view refused gets no reply (the view's flash says why)
          if (reply && reply.kind) {
            this.el.textContent = `The server says: a ${reply.kind} screen (report ${reply.reports}).`;
          }
        });
      };
      this.report();
      window.addEventListener("resize", this.report);
    },
    destroyed() {
      window.removeEventListener("resize", this.report);
    },
  },
  // Marks the planet the server names in a "highlight" event.
  Highlighter: {
    mounted() {
      this.handleEvent("highlight", ({ id, name }) => {
        for (const el of this.el.querySelectorAll(".highlight")) this.js().removeClass(el, "highlight");
        const planet = document.getElementById(id);
        if (planet) this.js().addClass(planet, "highlight");
        document.getElementById("highlighted").textContent = `The hook highlighted ${name}.`;
      });
    },
  },
};
</script>
<style>
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }
.highlight { background: #ff0; font-weight: bold; }
#flash p { padding: .5em; cursor: pointer; }
.flash-error { background: #fdd; }
</style>"#;

/// The planets the highlighter goes through.
pub const PLANETS: &[&str] = &[
    "Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune",
];

/// The view at `/`, served by livestate's endpoint.
pub fn endpoint() -> Endpoint {
    let secret =
        std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEVELOPMENT_SECRET_KEY_BASE.to_owned());
    let views = Views::builder(secret)
        .head(HOOKS)
        .live("/", HookDemo::default())
        .build();
    Endpoint::builder().views(views).build()
}

/// The flash messages, each cleared by a click (`lv:clear-flash`, handled by the runtime).
fn flash(flash: &Flash) -> Rendered<'_> {
    html! {
        div id="flash" {
            @for (kind, message) in flash.iter() key (kind) {
                p class=(format!("flash-{kind}")) role="alert" title="click to close"
                    phx-click="lv:clear-flash" phx-value-key=(kind) { (message) }
            }
        }
    }
}

/// A window's size, as the `Viewport` hook reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Screen {
    /// In CSS pixels.
    pub width: u32,
    /// In CSS pixels.
    pub height: u32,
}

impl Screen {
    /// What kind of screen this is.
    pub fn kind(self) -> &'static str {
        match self.width {
            0..600 => "phone",
            600..1024 => "tablet",
            _ => "desktop",
        }
    }
}

/// The page: what the hooks reported and what the server pushed to them.
#[derive(Clone, Default)]
pub struct HookDemo {
    /// The last size the `Viewport` hook reported.
    screen: Option<Screen>,
    /// How many reports came.
    reports: u32,
    /// The planet highlighted last (an index of [`PLANETS`]).
    highlighted: Option<usize>,
}

/// The page's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    /// The `Viewport` hook's `pushEvent("viewport", {width, height})`.
    Viewport(Screen),
    /// The button: highlight the next planet (pushes `highlight` to the `Highlighter`).
    HighlightNext {},
}

impl LiveView for HookDemo {
    type Event = HookEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: HookEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            HookEvent::Viewport(screen) => {
                if screen.width == 0 || screen.height == 0 {
                    return Err(ViewError::new(format!(
                        "A window of {} × {} pixels shows nothing.",
                        screen.width, screen.height
                    )));
                }
                self.screen = Some(screen);
                self.reports += 1;
                // the hook's reply callback gets this
                socket.reply(json!({"kind": screen.kind(), "reports": self.reports}));
            }
            HookEvent::HighlightNext {} => {
                let next = self.highlighted.map_or(0, |i| (i + 1) % PLANETS.len());
                self.highlighted = Some(next);
                // every hook's handleEvent("highlight", ...) gets this
                let id = format!("planet-{next}");
                socket.push_event("highlight", json!({"id": id, "name": PLANETS[next]}));
            }
        }
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                (flash(&@flash))
                h1 { "Hooks" }
                h2 { "Your window" }
                // the hook writes the server's reply in here: the server renders it once
                p id="viewport" phx-hook="Viewport" phx-update="ignore" { "Waiting for the hook…" }
                p id="screen" {
                    @if let Some(screen) = @screen {
                        "The server knows: " (screen.width) " × " (screen.height) " pixels, "
                        (@reports) " report(s)."
                    } @else {
                        "The server knows nothing of your window yet."
                    }
                }
                h2 { "Planets" }
                div id="highlighter" phx-hook="Highlighter" {
                    ul id="planets" {
                        @for (i, name) in PLANETS.iter().enumerate() key (i) {
                            li id=(format!("planet-{i}")) { (name) }
                        }
                    }
                    p id="highlighted" phx-update="ignore" { "The hook highlighted nothing yet." }
                }
                button id="highlight-next" phx-click="highlight_next" { "Highlight the next planet" }
            }
        }
    }
}
