//! The thermostat of the Phoenix LiveView docs, as a live view: the temperature asked for,
//! `-` and `+` buttons and presets (`phx-click`), a comfort/eco mode shown with `@if`, and
//! a clock that a timer moves every second (`send_after` in `mount`, re-armed in
//! `handle_info`). The timer's callback names what it changed (`socket.changed`), so each
//! tick computes and sends the clock's slot alone. What the view refuses (a temperature out
//! of range, a preset that is not a number, an unknown event) is shown on the page as a
//! flash message (`handle_refusal`).
//!
//! Run it with `cargo run -p thermostat` and open <http://127.0.0.1:4010/>.

use livestate::Endpoint;
use livestate::view::live::{Flash, Live, LiveView, Params, Session, Socket, ViewError, Views};
use livestate::view::{Assigns, Rendered, html};
use serde::Deserialize;
use std::time::Duration;

/// The lowest temperature one may ask for.
pub const MIN_CELSIUS: i32 = 10;
/// The highest temperature one may ask for.
pub const MAX_CELSIUS: i32 = 30;
/// In eco mode the heating stops at this temperature, whatever was asked for.
pub const ECO_MAX_CELSIUS: i32 = 18;
/// How often the clock moves.
pub const TICK: Duration = Duration::from_secs(1);

/// The development secret that signs the pages' tokens. In production set
/// `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "thermostat example: a development secret, not for production";

/// Comfort heats to the temperature asked for; eco to [`ECO_MAX_CELSIUS`] at most.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Heat to the temperature asked for.
    #[default]
    Comfort,
    /// Heat to [`ECO_MAX_CELSIUS`] at most.
    Eco,
}

/// The view: its fields are its state, and what the template reads as `@celsius`,
/// `@mode`, `@seconds`.
#[derive(Clone, Debug)]
pub struct Thermostat {
    /// The temperature asked for, in °C.
    pub celsius: i32,
    /// Comfort or eco.
    pub mode: Mode,
    /// Seconds since the page connected: the clock the timer moves.
    pub seconds: u64,
}

impl Default for Thermostat {
    fn default() -> Thermostat {
        Thermostat {
            celsius: 21,
            mode: Mode::Comfort,
            seconds: 0,
        }
    }
}

/// What the page sends: the event's name picks the variant (`phx-click="inc"` is
/// `Inc`), its value is the variant's content.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// `-`: one degree less.
    Dec {},
    /// `+`: one degree more.
    Inc {},
    /// A preset: `phx-click="set" phx-value-celsius="18"` (values come as strings).
    Set {
        /// The temperature, as the button's `phx-value-celsius` has it.
        celsius: String,
    },
    /// Switch between comfort and eco.
    ToggleMode {},
}

/// The timer's message to the view (its [`LiveView::Info`]).
#[derive(Debug)]
pub struct Tick;

/// `celsius` if it is a temperature one may ask for, else why not.
fn in_range(celsius: i32) -> Result<i32, ViewError> {
    if celsius > MAX_CELSIUS {
        Err(ViewError::new(format!(
            "the thermostat goes no higher than {MAX_CELSIUS} °C"
        )))
    } else if celsius < MIN_CELSIUS {
        Err(ViewError::new(format!(
            "the thermostat goes no lower than {MIN_CELSIUS} °C"
        )))
    } else {
        Ok(celsius)
    }
}

/// The temperature the heating aims at. A function of the assigns rather than a method of
/// the view, so that the template's `(heating_to(@celsius, @mode))` names the two
/// assigns its slot depends on.
pub fn heating_to(celsius: i32, mode: Mode) -> i32 {
    match mode {
        Mode::Comfort => celsius,
        Mode::Eco => celsius.min(ECO_MAX_CELSIUS),
    }
}

/// The clock: minutes and seconds (`3:07`).
pub fn clock(seconds: u64) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

impl LiveView for Thermostat {
    type Event = Event;
    type Info = Tick;

    async fn mount(
        &mut self,
        _: &Params,
        _: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        socket.page_title("Thermostat");
        // the first GET's render is not connected: no timer for a page that may never join
        if socket.connected() {
            socket.send_after(Tick, TICK);
        }
        Ok(())
    }

    async fn handle_event(&mut self, event: Event, _: &mut Socket<Self>) -> Result<(), ViewError> {
        match event {
            Event::Dec {} => self.celsius = in_range(self.celsius - 1)?,
            Event::Inc {} => self.celsius = in_range(self.celsius + 1)?,
            Event::Set { celsius } => {
                let asked: i32 = celsius
                    .trim()
                    .parse()
                    .map_err(|_| ViewError::new(format!("{celsius:?} is not a temperature")))?;
                self.celsius = in_range(asked)?;
            }
            Event::ToggleMode {} => {
                self.mode = match self.mode {
                    Mode::Comfort => Mode::Eco,
                    Mode::Eco => Mode::Comfort,
                }
            }
        }
        Ok(())
    }

    async fn handle_info(&mut self, _: Tick, socket: &mut Socket<Self>) -> Result<(), ViewError> {
        self.seconds += 1;
        socket.send_after(Tick, TICK);
        // Only the clock changed: the render computes the slots that read `@seconds` and
        // nothing else. Without this line every slot would be computed (and still only the
        // clock sent, as the others' texts did not change).
        socket.changed(["seconds"]);
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        // show it on the page; the client gets the page's diff instead of an error reply
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main id="thermostat" {
                (flash(&@flash))
                h1 { "Thermostat" }
                p class="temperature" { span id="celsius" { (@celsius) } " °C" }
                p {
                    button id="dec" phx-click="dec" { "-" }
                    button id="inc" phx-click="inc" { "+" }
                }
                p {
                    "presets: "
                    button id="night" phx-click="set" phx-value-celsius="17" { "night 17 °C" }
                    button id="day" phx-click="set" phx-value-celsius="21" { "day 21 °C" }
                }
                p {
                    "mode: "
                    @if @mode == Mode::Eco {
                        strong id="mode" { "eco" }
                    } @else {
                        strong id="mode" { "comfort" }
                    }
                    " "
                    button id="toggle-mode" phx-click="toggle_mode" { "switch" }
                }
                @if @mode == Mode::Eco {
                    p id="eco-note" { "eco: the heating stops at " (ECO_MAX_CELSIUS) " °C" }
                }
                p { "heating to " span id="heating-to" { (heating_to(@celsius, @mode)) } " °C" }
                // `@connected` is false in the first GET's render, before the timer runs
                @if @connected {
                    p { "connected for " span id="clock" { (clock(@seconds)) } }
                } @else {
                    p { "connecting…" }
                }
            }
        }
    }
}

/// The flash messages, each a button-like paragraph that clears it when clicked
/// (`lv:clear-flash` is handled by the runtime, not by the view).
fn flash(flash: &Flash) -> Rendered<'_> {
    html! {
        div id="flash" {
            @for (kind, message) in flash.iter() key (kind) {
                p id=(format!("flash-{kind}")) class=(format!("flash {kind}")) role="alert"
                    phx-click="lv:clear-flash" phx-value-key=(kind) title="click to dismiss" {
                    (message)
                }
            }
        }
    }
}

/// A little style for the page.
const STYLE: &str = "<style>
body { font-family: sans-serif; margin: 2rem; }
.temperature { font-size: 3rem; margin: 0.5rem 0; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; }
.flash.info { background: #dfd; }
</style>";

/// The views: the thermostat at `/`.
pub fn views() -> Views {
    let secret = std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEV_SECRET_KEY_BASE.into());
    Views::builder(secret)
        .head(STYLE)
        .live("/", Thermostat::default())
        .build()
}

/// livestate's routes with the thermostat's page and its `/live` socket.
pub fn endpoint() -> Endpoint {
    Endpoint::builder().views(views()).build()
}
