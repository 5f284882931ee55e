//! A signup form validated as it is typed, as Phoenix's forms are: `phx-change="validate"`
//! checks the fields on every change, `phx-submit="save"` signs the user up. A field's
//! error is shown only once the user has used that field: the client sends a field it has
//! not focused yet as `user[_unused_email]` besides `user[email]` (what Phoenix's
//! `used_input?` reads), and a submit sends every field as used. The page also shows the
//! changed input (`_target`) and the users signed up so far; a submit that does not
//! validate shows its errors as a message on the page, as does anything else the view
//! refuses (`handle_refusal`).
//!
//! Run it with `cargo run -p signup` and open <http://127.0.0.1:4011/>.

use livestate::Endpoint;
use livestate::view::live::{Flash, Live, LiveView, Socket, ViewError, Views};
use livestate::view::{Assigns, Rendered, html};
use serde::Deserialize;

/// The longest name accepted, in characters.
pub const MAX_NAME: usize = 40;

/// The development secret that signs the pages' tokens. In production set
/// `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "signup example: a development secret, not for production";

/// One input of the form: what it holds, what is wrong with it, and whether the user has
/// used it (only then is its error shown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Field {
    /// The input's value, as typed.
    pub value: String,
    /// What is wrong with the value, if anything.
    pub error: Option<String>,
    /// Whether the user has used the input (focused it, or submitted the form).
    pub used: bool,
}

impl Field {
    /// The error to show: none for an input the user has not used yet.
    pub fn shown_error(&self) -> Option<&str> {
        self.error.as_deref().filter(|_| self.used)
    }
}

/// Someone who signed up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct User {
    /// Their name.
    pub name: String,
    /// Their email.
    pub email: String,
}

/// The view: the form's two fields, the input the last change came from, and the users.
#[derive(Clone, Debug, Default)]
pub struct Signup {
    /// `user[name]`.
    pub name: Field,
    /// `user[email]`.
    pub email: Field,
    /// The name of the input the last change came from (`user[email]`).
    pub target: String,
    /// Who signed up, oldest first.
    pub users: Vec<User>,
}

/// The form's fields as the client sends them: `user[name]=...&user[email]=...`, decoded
/// into `{"user": {"name": ..., "email": ...}}`.
#[derive(Debug, Deserialize)]
pub struct UserParams {
    /// `user[name]`.
    #[serde(default)]
    pub name: String,
    /// `user[email]`.
    #[serde(default)]
    pub email: String,
    /// Present when the user has not used the name input yet.
    #[serde(rename = "_unused_name")]
    pub unused_name: Option<String>,
    /// Present when the user has not used the email input yet.
    #[serde(rename = "_unused_email")]
    pub unused_email: Option<String>,
}

/// What the page sends.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// `phx-change`: the whole form, and the input that changed.
    Validate {
        /// The fields.
        user: UserParams,
        /// The changed input's name as a list of its parts: `["user", "email"]`.
        #[serde(rename = "_target", default)]
        target: Vec<String>,
    },
    /// `phx-submit`: the whole form.
    Save {
        /// The fields.
        user: UserParams,
    },
}

/// What is wrong with a name.
fn name_error(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        Some("name can't be blank".into())
    } else if name.chars().count() > MAX_NAME {
        Some(format!("name is longer than {MAX_NAME} characters"))
    } else {
        None
    }
}

/// What is wrong with an email, given who signed up already.
fn email_error(email: &str, users: &[User]) -> Option<String> {
    let email = email.trim();
    let looks_right = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.contains(char::is_whitespace);
    if email.is_empty() {
        Some("email can't be blank".into())
    } else if !looks_right {
        Some("email needs an @ with something on each side".into())
    } else if users.iter().any(|u| u.email.eq_ignore_ascii_case(email)) {
        Some(format!("{email} has signed up already"))
    } else {
        None
    }
}

/// `["user", "email"]` back into the input's name, `user[email]`.
fn input_name(parts: &[String]) -> String {
    match parts.split_first() {
        Some((first, rest)) => rest
            .iter()
            .fold(first.clone(), |name, part| name + "[" + part + "]"),
        None => String::new(),
    }
}

impl Signup {
    /// Take the form's values and check them. `submitted`: every field counts as used.
    fn check(&mut self, user: UserParams, submitted: bool) {
        // an input is used unless the client sent `_unused_NAME` for it (`used_input?`)
        self.name = Field {
            error: name_error(&user.name),
            used: submitted || user.unused_name.is_none(),
            value: user.name,
        };
        self.email = Field {
            error: email_error(&user.email, &self.users),
            used: submitted || user.unused_email.is_none(),
            value: user.email,
        };
    }
}

impl LiveView for Signup {
    type Event = Event;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: Event,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            Event::Validate { user, target } => {
                self.check(user, false);
                self.target = input_name(&target);
            }
            Event::Save { user } => {
                self.check(user, true);
                let errors: Vec<&str> = [&self.name.error, &self.email.error]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                if !errors.is_empty() {
                    let message = format!("not signed up: {}", errors.join("; "));
                    socket.put_flash("error", message);
                    return Ok(());
                }
                let user = User {
                    name: self.name.value.trim().to_owned(),
                    email: self.email.value.trim().to_owned(),
                };
                socket.clear_flash(Some("error"));
                socket.put_flash("info", format!("welcome {}", user.name));
                self.users.push(user);
                // an empty form for the next one (see the form's id in `render`)
                self.name = Field::default();
                self.email = Field::default();
                self.target.clear();
            }
        }
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        // show it on the page; the client gets the page's diff instead of an error reply
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main id="signup" {
                (flash(&@flash))
                h1 { "Sign up" }
                // The form's id changes with each signup: the client then builds a new form
                // with new inputs (empty, and unused again) instead of patching the old one.
                // Its inputs have no id: an id would make the client keep the old input.
                form id=(format!("signup-form-{}", @users.len())) phx-change="validate" phx-submit="save" {
                    p {
                        label {
                            "Name "
                            input type="text" name="user[name]" value=(@name.value) autocomplete="off";
                        }
                        @if let Some(error) = @name.shown_error() {
                            span id="name-error" class="error" { " " (error) }
                        }
                    }
                    p {
                        label {
                            "Email "
                            input type="text" name="user[email]" value=(@email.value) autocomplete="off";
                        }
                        @if let Some(error) = @email.shown_error() {
                            span id="email-error" class="error" { " " (error) }
                        }
                    }
                    button id="save" type="submit" { "Sign up" }
                }
                p { "last changed: " code id="target" { (@target) } }
                h2 { span id="user-count" { (@users.len()) } " signed up" }
                ul id="users" {
                    @for user in &@users key (user.email) {
                        li { (user.name) " <" (user.email) ">" }
                    }
                }
            }
        }
    }
}

/// The flash messages, each a paragraph that clears it when clicked (`lv:clear-flash` is
/// handled by the runtime, not by the view).
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
.error { color: #b00; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; color: inherit; }
.flash.info { background: #dfd; }
</style>";

/// The views: the signup form at `/`.
pub fn views() -> Views {
    let secret = std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEV_SECRET_KEY_BASE.into());
    Views::builder(secret)
        .head(STYLE)
        .live("/", Signup::default())
        .build()
}

/// livestate's routes with the signup page and its `/live` socket.
pub fn endpoint() -> Endpoint {
    Endpoint::builder().views(views()).build()
}
