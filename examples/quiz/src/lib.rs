//! A quiz a moderator runs, as live views attached to one shared key.
//!
//! - The typed channel `quiz:*` ([`QuizChannel`]) keeps a quiz per key ([`Quiz`]): the
//!   question being asked, the questions, whether it is paused, and what each participant
//!   answered. Its events: `answer {choice}` from participants (refused with a reason while
//!   paused, once the quiz is over, for a choice the question does not have, or a second
//!   time), and `pause`, `resume`, `next`, which the channel takes from the moderator only:
//!   its `authorize` verifies the join's moderator token, and anyone else is refused with a
//!   reason ("only the moderator may pause the quiz").
//! - `/` is a participant's page ([`ParticipantPage`]): the question, a button per choice,
//!   what they answered. It is attached to the key (`socket.attach`), so what the moderator
//!   does reaches every participant's page at once: a pause shows the "paused" banner, a
//!   `next` the next question. A reset of the quiz (the server API's reset, which runs the
//!   channel's `init` again) reaches each page's `handle_shared` as a `reset` change, and
//!   the page says "the moderator reset the quiz".
//! - `/moderator` is the moderator's page ([`ModeratorPage`]): pause or resume, next,
//!   reset, and the answers per participant. Its credential is the moderator key: open
//!   `/moderator?key=KEY` once, and a signed `quiz_moderator` cookie (HttpOnly) keeps the
//!   browser signed in. Without it the page shows the controls, and the channel refuses
//!   them with its reason.
//!
//! Participants are told apart by a random id signed into an HttpOnly `quiz_participant`
//! cookie that the first page load sets; the views' session carries the cookies' tokens
//! ([`QuizSession`]) and the channel verifies them, so a token nobody signed is nobody.
//!
//! The HTTP API is the moderator's too (its bearer token is the moderator key), and may
//! reset a quiz: `curl -X POST -H 'Authorization: Bearer KEY' -H 'Content-Type:
//! application/json' http://127.0.0.1:4018/api/state/quiz:main/reset`.
//!
//! The quiz is `?quiz=NAME` (default [`DEFAULT_QUIZ`]), the key `quiz:NAME`.
//!
//! Run it with `cargo run -p quiz` and open <http://127.0.0.1:4018/> (participants) and
//! <http://127.0.0.1:4018/moderator?key=let-me-moderate> (the development key; set
//! `QUIZ_MODERATOR_KEY` or `--moderator-key` for another).

use livestate::acl::{Acl, Permission, Permissions};
use livestate::axum::Router;
use livestate::axum::extract::{FromRequestParts, Query, Request};
use livestate::axum::http::header::{COOKIE, SET_COOKIE};
use livestate::axum::http::request::Parts;
use livestate::axum::http::{HeaderMap, HeaderValue};
use livestate::axum::middleware::{self, Next};
use livestate::axum::response::Response;
use livestate::token::Signer;
use livestate::view::live::{
    Flash, Live, LiveView, Params, Session, SharedChange, Socket, ViewError, Views,
};
use livestate::view::{Rendered, html};
use livestate::{
    Channel, ChannelError, Endpoint, EventContext, Hub, JoinContext, Reply, Settings, Ttl,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The quiz a page shows without `?quiz=`.
pub const DEFAULT_QUIZ: &str = "main";
/// The topic pattern of quizzes.
pub const TOPICS: &str = "quiz:*";
/// The cookie that holds a browser's signed participant id.
pub const PARTICIPANT_COOKIE: &str = "quiz_participant";
/// The cookie that holds a moderator's signed token.
pub const MODERATOR_COOKIE: &str = "quiz_moderator";
/// The session key (and socket assign) carrying the participant cookie's token.
pub const PARTICIPANT_TOKEN: &str = "participant_token";
/// The session key (and socket assign) carrying the moderator cookie's token.
pub const MODERATOR_TOKEN: &str = "moderator_token";
/// The join assign `authorize` sets: the verified participant id, or `null`.
pub const PARTICIPANT: &str = "participant";
/// The join assign `authorize` sets: whether the join is the moderator's.
pub const MODERATOR: &str = "moderator";
/// How long a quiz is kept after its last page left.
pub const QUIZ_TTL: Duration = Duration::from_secs(3600);
/// The longest quiz name.
pub const MAX_QUIZ_NAME: usize = 40;
/// How many change kinds a participant's page keeps ([`ParticipantPage::kinds`]).
pub const KINDS_KEPT: usize = 32;
/// The banner participants see while the quiz is paused.
pub const PAUSED: &str = "The quiz is paused";
/// What participants' pages say after a reset.
pub const RESET_NOTICE: &str = "the moderator reset the quiz";

const PARTICIPANT_SALT: &str = "quiz example participant";
const MODERATOR_SALT: &str = "quiz example moderator";
const PARTICIPANT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
const MODERATOR_MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// The development secret that signs the pages' tokens and the cookies. In production set
/// `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "quiz example: a development secret, not for production use";
/// The development moderator key.
pub const DEV_MODERATOR_KEY: &str = "let-me-moderate";
/// The pages the cookies are set by.
const PAGES: [&str; 2] = ["/", "/moderator"];

// ---------------------------------------------------------------------------------------
// Configuration and who is who

/// What the app is started with.
#[derive(Clone, Debug)]
pub struct QuizConfig {
    /// Signs the pages' tokens and the cookies.
    pub secret_key_base: String,
    /// The moderator's credential (`/moderator?key=...`, the HTTP API's bearer token).
    pub moderator_key: String,
}

impl QuizConfig {
    /// `SECRET_KEY_BASE` and `QUIZ_MODERATOR_KEY`, else the development ones.
    pub fn from_env() -> QuizConfig {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        QuizConfig {
            secret_key_base: var("SECRET_KEY_BASE", DEV_SECRET_KEY_BASE),
            moderator_key: var("QUIZ_MODERATOR_KEY", DEV_MODERATOR_KEY),
        }
    }

    /// The ids and tokens signed with this secret.
    pub fn ids(&self) -> Ids {
        Ids {
            signer: Signer::new(&self.secret_key_base),
        }
    }
}

/// Participant ids and moderator tokens, signed.
#[derive(Clone, Debug)]
pub struct Ids {
    signer: Signer,
}

impl Ids {
    /// A new participant id: 96 random bits, hex.
    pub fn new_id() -> String {
        let mut bytes = [0u8; 12];
        // without an OS generator the id is still unique enough for a demo: the time
        if getrandom::fill(&mut bytes).is_err() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            bytes.copy_from_slice(&now.to_le_bytes()[..12]);
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The signed token of participant `id`.
    pub fn participant_token(&self, id: &str) -> String {
        self.signer.sign(PARTICIPANT_SALT, &id)
    }

    /// The participant id of a token, if this secret signed it.
    pub fn participant(&self, token: &str) -> Option<String> {
        self.signer
            .verify(PARTICIPANT_SALT, token, PARTICIPANT_MAX_AGE)
            .ok()
    }

    /// A moderator's token.
    pub fn moderator_token(&self) -> String {
        self.signer.sign(MODERATOR_SALT, &true)
    }

    /// Whether `token` is a moderator's token this secret signed.
    pub fn is_moderator(&self, token: &str) -> bool {
        self.signer
            .verify::<bool>(MODERATOR_SALT, token, MODERATOR_MAX_AGE)
            .unwrap_or(false)
    }

    /// The session of participant `id`'s page, as [`QuizSession`] makes it.
    pub fn participant_session(&self, id: &str) -> Session {
        Session::from_iter([(
            PARTICIPANT_TOKEN.to_owned(),
            Value::String(self.participant_token(id)),
        )])
    }

    /// The session of the moderator's page (who is participant `id` too).
    pub fn moderator_session(&self, id: &str) -> Session {
        let mut session = self.participant_session(id);
        session.insert(
            MODERATOR_TOKEN.to_owned(),
            Value::String(self.moderator_token()),
        );
        session
    }

    /// The verified participant id and moderator flag of a session or socket's assigns.
    fn of(&self, assigns: &serde_json::Map<String, Value>) -> (Option<String>, bool) {
        let token = |name: &str| assigns.get(name).and_then(Value::as_str);
        let participant = token(PARTICIPANT_TOKEN).and_then(|t| self.participant(t));
        let moderator = token(MODERATOR_TOKEN).is_some_and(|t| self.is_moderator(t));
        (participant, moderator)
    }
}

/// Whether two strings are equal, in a time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Replace cookie `name` in the request's `Cookie` header, so that what reads the request
/// next (the session extractor) sees the new value.
fn replace_cookie(headers: &mut HeaderMap, name: &str, value: &str) {
    let mut pairs: Vec<String> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').is_none_or(|(k, _)| k != name))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("{name}={value}"));
    if let Ok(joined) = HeaderValue::from_str(&pairs.join("; ")) {
        headers.insert(COOKIE, joined);
    }
}

/// A page load: a participant cookie when it has no valid one, and the moderator's cookie
/// when its `?key=` is the moderator key. Each is set on the response and put into the
/// request for the page's session.
async fn identify(config: Arc<QuizConfig>, mut request: Request, next: Next) -> Response {
    if !PAGES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let ids = config.ids();
    let mut set = Vec::new();
    let known = cookie(request.headers(), PARTICIPANT_COOKIE).and_then(|t| ids.participant(t));
    if known.is_none() {
        let token = ids.participant_token(&Ids::new_id());
        replace_cookie(request.headers_mut(), PARTICIPANT_COOKIE, &token);
        let max_age = PARTICIPANT_MAX_AGE.as_secs();
        set.push(format!(
            "{PARTICIPANT_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
        ));
    }
    let query = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    if query
        .get("key")
        .is_some_and(|key| same(key, &config.moderator_key))
    {
        let token = ids.moderator_token();
        replace_cookie(request.headers_mut(), MODERATOR_COOKIE, &token);
        let max_age = MODERATOR_MAX_AGE.as_secs();
        set.push(format!(
            "{MODERATOR_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
        ));
    }
    let mut response = next.run(request).await;
    for cookie in set {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// The views' session: the cookies' tokens as they came (the channel verifies them).
#[derive(Debug, Serialize)]
pub struct QuizSession {
    #[serde(skip_serializing_if = "Option::is_none")]
    participant_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moderator_token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for QuizSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let token = |name| cookie(&parts.headers, name).map(str::to_owned);
        Ok(QuizSession {
            participant_token: token(PARTICIPANT_COOKIE),
            moderator_token: token(MODERATOR_COOKIE),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The channel

/// A question.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Question {
    /// What is asked.
    pub text: String,
    /// The choices, from 0.
    pub choices: Vec<String>,
}

/// The questions of a new quiz.
pub fn questions() -> Vec<Question> {
    let q = |text: &str, choices: [&str; 3]| Question {
        text: text.to_owned(),
        choices: choices.map(str::to_owned).to_vec(),
    };
    vec![
        q(
            "Which protocol does phx-live-state speak?",
            ["Phoenix Channels", "gRPC", "MQTT"],
        ),
        q(
            "What does a state:patch carry?",
            ["a JSON Patch", "the whole state", "HTML"],
        ),
        q(
            "Who may pause this quiz?",
            ["anyone", "the moderator", "nobody"],
        ),
    ]
}

/// The state of a `quiz:` key, as every page sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quiz {
    /// The question being asked, from 0; the number of questions once the quiz is over.
    pub question: usize,
    /// The questions.
    pub questions: Vec<Question>,
    /// Whether the moderator paused the quiz (no answers meanwhile).
    pub paused: bool,
    /// What each participant answered: participant id → question → choice (from 0).
    pub answers: BTreeMap<String, BTreeMap<usize, usize>>,
}

impl Quiz {
    /// A quiz at its first question.
    pub fn new(questions: Vec<Question>) -> Quiz {
        Quiz {
            question: 0,
            questions,
            paused: false,
            answers: BTreeMap::new(),
        }
    }

    /// The question being asked, unless the quiz is over.
    pub fn current(&self) -> Option<&Question> {
        self.questions.get(self.question)
    }

    /// Whether every question was asked.
    pub fn is_over(&self) -> bool {
        self.question >= self.questions.len()
    }

    /// What `participant` answered to the question being asked.
    pub fn answer_of(&self, participant: &str) -> Option<usize> {
        self.answers.get(participant)?.get(&self.question).copied()
    }
}

/// The channel behind `quiz:*`.
pub struct QuizChannel {
    ids: Ids,
    questions: Vec<Question>,
}

impl QuizChannel {
    /// Quizzes asking `questions`, tokens verified with `ids`.
    pub fn new(ids: Ids, questions: Vec<Question>) -> QuizChannel {
        QuizChannel { ids, questions }
    }
}

/// What pages send to a `quiz:` key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuizEvent {
    /// A participant's answer to the question being asked.
    Answer {
        /// The choice, from 0.
        choice: usize,
    },
    /// The moderator pauses the quiz.
    Pause {},
    /// The moderator resumes it.
    Resume {},
    /// The moderator moves to the next question (after the last: the quiz is over).
    Next {},
}

/// Refuses anyone but the moderator, naming what they may not do.
fn moderator_only(ctx: &EventContext, what: &str) -> Result<(), ChannelError> {
    match ctx.get(MODERATOR) {
        Some(Value::Bool(true)) => Ok(()),
        _ => Err(ChannelError::refused(format!(
            "only the moderator may {what}"
        ))),
    }
}

impl Channel for QuizChannel {
    type State = Quiz;
    type Event = QuizEvent;
    type Params = IgnoredAny;

    /// Shared by every page; the HTTP API (the moderator's, behind the moderator key) may
    /// read and reset.
    fn settings(&self) -> Settings {
        let public = Permissions::READ.with(Permission::Reset);
        Settings::shared().ttl(Ttl::After(QUIZ_TTL)).acl(Acl {
            group: Permissions::ALL,
            public,
        })
    }

    /// Who joins: the socket's tokens, verified. Both assigns are set on every join, so
    /// that no socket assign of the same name counts.
    async fn authorize(&self, _: &IgnoredAny, ctx: &mut JoinContext) -> Result<(), ChannelError> {
        let (participant, moderator) = self.ids.of(&ctx.socket);
        ctx.assign(PARTICIPANT, participant.map_or(Value::Null, Value::String));
        ctx.assign(MODERATOR, moderator);
        Ok(())
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Quiz, ChannelError> {
        Ok(Quiz::new(self.questions.clone()))
    }

    async fn handle_event(
        &self,
        event: QuizEvent,
        quiz: &mut Quiz,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            QuizEvent::Answer { choice } => {
                let Some(who) = ctx.get(PARTICIPANT).and_then(Value::as_str) else {
                    return Err(ChannelError::refused(
                        "answering needs a participant id: load the page again (with cookies on)",
                    ));
                };
                let number = quiz.question + 1;
                let Some(question) = quiz.current() else {
                    return Err(ChannelError::refused("the quiz is over"));
                };
                if quiz.paused {
                    return Err(ChannelError::refused("the quiz is paused"));
                }
                if choice >= question.choices.len() {
                    return Err(ChannelError::refused(format!(
                        "question {number} has no choice {choice}"
                    )));
                }
                if quiz.answer_of(who).is_some() {
                    return Err(ChannelError::refused(format!(
                        "you answered question {number} already"
                    )));
                }
                let at = quiz.question;
                quiz.answers
                    .entry(who.to_owned())
                    .or_default()
                    .insert(at, choice);
            }
            QuizEvent::Pause {} => {
                moderator_only(ctx, "pause the quiz")?;
                quiz.paused = true;
            }
            QuizEvent::Resume {} => {
                moderator_only(ctx, "resume the quiz")?;
                quiz.paused = false;
            }
            QuizEvent::Next {} => {
                moderator_only(ctx, "move to the next question")?;
                if quiz.is_over() {
                    return Err(ChannelError::refused("the quiz is over"));
                }
                quiz.question += 1;
            }
        }
        Ok(Reply::none())
    }
}

// ---------------------------------------------------------------------------------------
// The views

/// The quiz `?quiz=` names, checked: 1 to [`MAX_QUIZ_NAME`] letters, digits, `-` or `_`.
pub fn quiz_name(params: &Params) -> Result<String, ViewError> {
    let name = params
        .get("quiz")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_QUIZ);
    let fits = !name.is_empty()
        && name.len() <= MAX_QUIZ_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !fits {
        return Err(ViewError::new(format!(
            "a quiz's name is 1 to {MAX_QUIZ_NAME} letters, digits, - or _"
        )));
    }
    Ok(name.to_owned())
}

/// The key's state as a quiz (a new one before anybody started the key).
fn quiz_of(state: &Value, questions: &[Question]) -> Result<Quiz, ViewError> {
    if state.is_null() {
        return Ok(Quiz::new(questions.to_vec()));
    }
    Quiz::deserialize(state).map_err(|e| ViewError::new(format!("the quiz does not decode: {e}")))
}

/// A choice as the page shows it: A, B, C...
fn letter(choice: usize) -> String {
    u8::try_from(choice)
        .ok()
        .filter(|c| *c < 26)
        .map_or_else(|| choice.to_string(), |c| char::from(b'A' + c).to_string())
}

/// A participant's page.
#[derive(Clone, Debug)]
pub struct ParticipantPage {
    ids: Ids,
    questions: Vec<Question>,
    /// The quiz's name (`?quiz=`).
    pub name: String,
    /// Its key, `quiz:NAME`.
    pub key: String,
    /// This page's participant id, if its session has a valid one.
    pub me: Option<String>,
    /// The quiz as the key has it now.
    pub quiz: Quiz,
    /// What this participant answered to the question being asked.
    pub my_answer: Option<usize>,
    /// Whether the page shows [`RESET_NOTICE`].
    pub reset: bool,
    /// The kinds of the last [`KINDS_KEPT`] changes `handle_shared` saw, in order (`new`,
    /// `updated`, `deleted`, `reset`): what a test reads.
    pub kinds: Vec<String>,
}

impl ParticipantPage {
    /// The page, verifying tokens with `ids`; `questions` is what it shows before the key
    /// exists.
    pub fn new(ids: Ids, questions: Vec<Question>) -> ParticipantPage {
        ParticipantPage {
            ids,
            questions,
            name: String::new(),
            key: String::new(),
            me: None,
            quiz: Quiz::default(),
            my_answer: None,
            reset: false,
            kinds: Vec::new(),
        }
    }

    fn take(&mut self, state: &Value) -> Result<(), ViewError> {
        self.quiz = quiz_of(state, &self.questions)?;
        self.my_answer = self.me.as_deref().and_then(|me| self.quiz.answer_of(me));
        Ok(())
    }
}

/// What a participant's page sends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantEvent {
    /// A choice's button: `phx-click="answer" phx-value-choice="1"`.
    Answer {
        /// The choice, from 0, as the button's value (a string).
        choice: String,
    },
}

impl LiveView for ParticipantPage {
    type Event = ParticipantEvent;
    type Info = ();

    async fn mount(
        &mut self,
        params: &Params,
        session: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        self.name = quiz_name(params)?;
        self.key = format!("quiz:{}", self.name);
        self.me = self.ids.of(session).0;
        let state = socket.attach(&self.key).await?.clone();
        self.take(&state)?;
        socket.page_title(format!("Quiz {}", self.name));
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: ParticipantEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let ParticipantEvent::Answer { choice } = event;
        let choice: usize = choice
            .trim()
            .parse()
            .map_err(|_| ViewError::new(format!("{choice:?} is not a choice")))?;
        socket
            .send_event(&self.key, "answer", json!({"choice": choice}))
            .await?;
        socket.clear_flash(Some("error"));
        Ok(())
    }

    /// What the moderator (or anyone) changed: the page follows. A `reset` that is not a
    /// resync is the quiz started again.
    async fn handle_shared(
        &mut self,
        change: &SharedChange,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        if change.key != self.key {
            return Ok(());
        }
        let kind = serde_json::to_value(change.kind).unwrap_or(Value::Null);
        if self.kinds.len() == KINDS_KEPT {
            self.kinds.remove(0);
        }
        self.kinds
            .push(kind.as_str().unwrap_or_default().to_owned());
        let state = socket.shared().state(&change.key).clone();
        self.take(&state)?;
        match change.kind {
            // the key's init ran again (not the whole state sent again after a lag)
            livestate::api::ChangeKind::Reset if !change.resync => self.reset = true,
            // the quiz moved on: the notice has been read
            _ if change.path == "/question" => self.reset = false,
            _ => {}
        }
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: livestate::view::Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main id="quiz" {
                (flash(&@flash))
                h1 { "Quiz " (@name) }
                @if @reset { p id="reset" class="notice" role="status" { (RESET_NOTICE) } }
                @if @quiz.paused { p id="paused" class="banner" role="status" { (PAUSED) } }
                (question(&@quiz, @my_answer))
                p class="me" { "You are participant " code id="me" { (short(@me.as_deref())) } }
            }
        }
    }
}

/// The question being asked, with its choices as buttons; or the end.
fn question(quiz: &Quiz, mine: Option<usize>) -> Rendered<'_> {
    let number = quiz.question + 1;
    let of = quiz.questions.len();
    html! {
        @if let Some(q) = quiz.current() {
            h2 id="question" { "Question " (number) " of " (of) ": " (q.text.clone()) }
            div id="choices" {
                @for (i, choice) in q.choices.iter().enumerate() key (i) {
                    button id=(format!("choice-{i}")) class=(if mine == Some(i) { "chosen" } else { "" })
                        phx-click="answer" phx-value-choice=(i.to_string()) {
                        (letter(i)) ": " (choice.clone())
                    }
                }
            }
            p id="answer" {
                @if let Some(c) = mine { "Your answer: " (letter(c)) } @else { "Pick an answer." }
            }
        } @else {
            p id="over" { "The quiz is over. Thanks for playing!" }
        }
    }
}

/// The first 6 characters of an id (what pages show of it).
fn short(id: Option<&str>) -> String {
    id.map_or_else(|| "(none)".to_owned(), |id| id.chars().take(6).collect())
}

/// The hub, for views that call the server API (the moderator's reset). It is set once the
/// endpoint is built, which comes after the views.
#[derive(Clone, Default)]
pub struct HubHandle(Arc<OnceLock<Hub>>);

impl HubHandle {
    /// A handle of `hub`.
    pub fn of(hub: Hub) -> HubHandle {
        let handle = HubHandle::default();
        handle.set(hub);
        handle
    }

    /// Set the hub (once).
    pub fn set(&self, hub: Hub) {
        let _ = self.0.set(hub);
    }

    fn get(&self) -> Result<&Hub, ViewError> {
        self.0
            .get()
            .ok_or_else(|| ViewError::new("the quiz's engine is not started yet"))
    }
}

impl std::fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "HubHandle(set)"
        } else {
            "HubHandle(unset)"
        })
    }
}

/// One participant's answers, as the moderator's table shows them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Row {
    /// The participant's id, shortened.
    pub who: String,
    /// A cell per question: the choice's letter, or `–`.
    pub cells: Vec<String>,
}

/// The moderator's page.
#[derive(Clone, Debug)]
pub struct ModeratorPage {
    ids: Ids,
    hub: HubHandle,
    questions: Vec<Question>,
    /// The quiz's name (`?quiz=`).
    pub name: String,
    /// Its key.
    pub key: String,
    /// Whether the page's session has a valid moderator token.
    pub moderator: bool,
    /// The quiz as the key has it now.
    pub quiz: Quiz,
    /// How many chose each choice of the question being asked.
    pub counts: Vec<usize>,
    /// The answers per participant.
    pub rows: Vec<Row>,
}

impl ModeratorPage {
    /// The page, verifying tokens with `ids`, resetting through `hub`'s server API.
    pub fn new(ids: Ids, hub: HubHandle, questions: Vec<Question>) -> ModeratorPage {
        ModeratorPage {
            ids,
            hub,
            questions,
            name: String::new(),
            key: String::new(),
            moderator: false,
            quiz: Quiz::default(),
            counts: Vec::new(),
            rows: Vec::new(),
        }
    }

    fn take(&mut self, state: &Value) -> Result<(), ViewError> {
        self.quiz = quiz_of(state, &self.questions)?;
        let choices = self.quiz.current().map_or(0, |q| q.choices.len());
        self.counts = vec![0; choices];
        for answers in self.quiz.answers.values() {
            if let Some(count) = answers
                .get(&self.quiz.question)
                .and_then(|c| self.counts.get_mut(*c))
            {
                *count += 1;
            }
        }
        let asked = self.quiz.questions.len();
        self.rows = self
            .quiz
            .answers
            .iter()
            .map(|(who, answers)| Row {
                who: short(Some(who)),
                cells: (0..asked)
                    .map(|q| {
                        answers
                            .get(&q)
                            .map_or_else(|| "–".to_owned(), |c| letter(*c))
                    })
                    .collect(),
            })
            .collect();
        Ok(())
    }
}

/// What the moderator's page sends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeratorEvent {
    /// Pause the quiz.
    Pause {},
    /// Resume it.
    Resume {},
    /// The next question.
    Next {},
    /// Start again: the server API's reset (the channel's `init` runs again).
    Reset {},
}

impl LiveView for ModeratorPage {
    type Event = ModeratorEvent;
    type Info = ();

    async fn mount(
        &mut self,
        params: &Params,
        session: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        self.name = quiz_name(params)?;
        self.key = format!("quiz:{}", self.name);
        self.moderator = self.ids.of(session).1;
        let state = socket.attach(&self.key).await?.clone();
        self.take(&state)?;
        socket.page_title(format!("Quiz {}: moderator", self.name));
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: ModeratorEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        // the channel decides who may pause, resume and move on (its `authorize` verified
        // this page's moderator token); a refusal's reason is shown (`handle_refusal`)
        let (name, done) = match event {
            ModeratorEvent::Pause {} => ("pause", "the quiz is paused"),
            ModeratorEvent::Resume {} => ("resume", "the quiz goes on"),
            ModeratorEvent::Next {} => ("next", "the next question is asked"),
            ModeratorEvent::Reset {} => {
                // a reset is the server API's: the key's `init` runs again, and every
                // attached page gets it as a `reset` change
                if !self.moderator {
                    return Err(ViewError::new("only the moderator may reset the quiz"));
                }
                let hub = self.hub.get()?;
                hub.api()
                    .reset(&self.key)
                    .await
                    .map_err(|e| ViewError::new(e.to_string()))?;
                socket.clear_flash(Some("error"));
                socket.put_flash("info", "the quiz starts again");
                return Ok(());
            }
        };
        socket.send_event(&self.key, name, json!({})).await?;
        socket.clear_flash(Some("error"));
        socket.put_flash("info", done);
        Ok(())
    }

    async fn handle_shared(
        &mut self,
        change: &SharedChange,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        if change.key == self.key {
            let state = socket.shared().state(&change.key).clone();
            self.take(&state)?;
        }
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.clear_flash(Some("info"));
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: livestate::view::Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main id="moderator" {
                (flash(&@flash))
                h1 { "Quiz " (@name) ": moderator" }
                @if !@moderator {
                    p id="not-moderator" class="notice" {
                        "You are not signed in as the moderator (open this page with ?key=THE-KEY): the quiz refuses your controls."
                    }
                }
                @if @quiz.paused { p id="paused" class="banner" role="status" { (PAUSED) } }
                @if let Some(q) = @quiz.current() {
                    h2 id="question" { "Question " (@quiz.question + 1) " of " (@quiz.questions.len()) ": " (q.text.clone()) }
                    ul id="counts" {
                        @for (i, choice) in q.choices.iter().enumerate() key (i) {
                            li id=(format!("count-{i}")) { (letter(i)) ": " (choice.clone()) " — " (@counts.get(i).copied().unwrap_or(0)) }
                        }
                    }
                } @else {
                    p id="over" { "The quiz is over." }
                }
                p id="controls" {
                    @if @quiz.paused {
                        button id="resume" phx-click="resume" { "Resume" }
                    } @else {
                        button id="pause" phx-click="pause" { "Pause" }
                    }
                    " "
                    button id="next" phx-click="next" { "Next question" }
                    " "
                    button id="reset" phx-click="reset" { "Reset" }
                }
                h2 { "Answers per participant" }
                table id="answers" {
                    tr { th { "participant" } @for (i, _) in @quiz.questions.iter().enumerate() key (i) { th { "Q" (i + 1) } } }
                    @for row in &@rows key (row.who.clone()) {
                        tr id=(format!("row-{}", row.who)) {
                            td { code { (row.who.clone()) } }
                            @for (i, cell) in row.cells.iter().enumerate() key (i) { td { (cell.clone()) } }
                        }
                    }
                }
                p { a href=(format!("/?quiz={}", @name)) { "The participants' page" } }
            }
        }
    }
}

/// The flash messages, each a paragraph that clears it when clicked.
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

/// A little style for the pages.
const STYLE: &str = "<style>
body { font-family: sans-serif; margin: 2rem; }
.banner { padding: 0.7rem; background: #fc6; font-weight: bold; }
.notice { padding: 0.5rem; background: #def; }
#choices button { display: block; margin: 0.3rem 0; min-width: 16rem; text-align: left; }
#choices button.chosen { outline: 3px solid #48c; }
#answers td, #answers th { padding: 0.2rem 0.6rem; border-bottom: 1px solid #ddd; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; }
.flash.info { background: #dfd; }
</style>";

// ---------------------------------------------------------------------------------------
// The app

/// livestate's routes with `quiz:*` routed to [`QuizChannel`], the participants' view at
/// `/` and the moderator's at `/moderator`; the HTTP API's token is the moderator key.
pub fn endpoint_with(config: &QuizConfig) -> Endpoint {
    let ids = config.ids();
    let hub = HubHandle::default();
    let views = Views::builder(&config.secret_key_base)
        .head(STYLE)
        .live("/", ParticipantPage::new(ids.clone(), questions()))
        .live(
            "/moderator",
            ModeratorPage::new(ids.clone(), hub.clone(), questions()),
        )
        .build();
    let live = Endpoint::builder()
        .channel(TOPICS, QuizChannel::new(ids, questions()))
        .api_token(config.moderator_key.clone())
        .views(views)
        .view_session::<QuizSession>()
        .build();
    hub.set(live.hub().clone());
    live
}

/// [`endpoint_with`] the configuration of the environment.
pub fn endpoint() -> Endpoint {
    endpoint_with(&QuizConfig::from_env())
}

/// The whole app: the views' pages and `/live` socket, livestate's routes, and the cookies
/// set on page loads.
pub fn app(live: &Endpoint, config: &QuizConfig) -> Router {
    let config = Arc::new(config.clone());
    live.router()
        .merge(live.views_router())
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            identify(config.clone(), request, next)
        }))
}
