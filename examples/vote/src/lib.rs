//! A live vote with running totals, on one shared key seen by two kinds of page.
//!
//! - The typed channel `vote:*` ([`VoteChannel`]) keeps a poll per key: its question, its
//!   options, the running totals and who voted. `vote {option}` counts once per voter and is
//!   refused with a reason otherwise (a second vote, an option the poll does not have, a
//!   page without a voter id).
//! - `/` is a live view ([`VotePage`]) attached to the key (`socket.attach`): it votes
//!   through the channel (`socket.send_event`, as the key's group, under its rules), and
//!   every change of the key, whoever made it, re-renders its bars (`handle_shared`).
//! - `/plain` is a page of the stock LiveState client, `phx-live-state` (`/livestate.js`,
//!   as `examples/todo`'s page), joined to the same key: it shows the same totals and votes
//!   through the same channel. Both pages see one state.
//!
//! Who votes: a random voter id, signed (`livestate::token`) into an HttpOnly `voter`
//! cookie that the first page load sets. The live view's session carries the cookie's
//! token ([`VoterSession`]), the `/socket` connect callback carries it for the
//! phx-live-state page, and the channel's `authorize` verifies it and assigns the voter id
//! to the join: a token nobody signed votes as nobody. The same browser is the same voter
//! on both pages.
//!
//! The poll is `?poll=NAME` (default [`DEFAULT_POLL`]): `/?poll=team` and
//! `/plain?poll=team` share the key `vote:team`.
//!
//! Run it with `cargo run -p vote` and open <http://127.0.0.1:4019/> and
//! <http://127.0.0.1:4019/plain>.

use livestate::axum::Router;
use livestate::axum::extract::{FromRequestParts, Request};
use livestate::axum::http::header::{COOKIE, SET_COOKIE};
use livestate::axum::http::request::Parts;
use livestate::axum::http::{HeaderMap, HeaderValue};
use livestate::axum::middleware::{self, Next};
use livestate::axum::response::{Html, Response};
use livestate::axum::routing::get;
use livestate::token::Signer;
use livestate::view::live::{
    Flash, Live, LiveView, Params, Session, SharedChange, Socket, ViewError, Views,
};
use livestate::view::{Rendered, html};
use livestate::{
    Assigns, Channel, ChannelError, ConnectInfo, ConnectRefused, Endpoint, EventContext,
    JoinContext, Reply, Settings, Ttl,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The poll a page shows without `?poll=`.
pub const DEFAULT_POLL: &str = "lunch";
/// The topic pattern of polls.
pub const TOPICS: &str = "vote:*";
/// The cookie that holds a browser's signed voter id.
pub const VOTER_COOKIE: &str = "voter";
/// The session key (and socket assign) that carries the cookie's signed voter id.
pub const VOTER_TOKEN: &str = "voter_token";
/// The join assign the channel's `authorize` sets: the verified voter id, or `null`.
pub const VOTER: &str = "voter";
/// How long a poll is kept after its last page left.
pub const POLL_TTL: Duration = Duration::from_secs(3600);
/// The longest poll name.
pub const MAX_POLL_NAME: usize = 40;

/// What the voter tokens are signed for.
const VOTER_SALT: &str = "vote example voter";
/// How long a voter cookie (and its token) lasts.
const VOTER_MAX_AGE: Duration = Duration::from_secs(365 * 24 * 3600);
/// The development secret that signs the pages' tokens and the voter ids. In production
/// set `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "vote example: a development secret, not for production use";
/// The pages the voter cookie is set by.
const PAGES: [&str; 2] = ["/", "/plain"];

// ---------------------------------------------------------------------------------------
// Who votes

/// Voter ids, signed into the `voter` cookie.
#[derive(Clone, Debug)]
pub struct Voters {
    signer: Signer,
}

impl Voters {
    /// Voters whose tokens `secret` signs (32 bytes or more).
    pub fn new(secret: &str) -> Voters {
        Voters {
            signer: Signer::new(secret),
        }
    }

    /// A new voter id: 96 random bits, hex.
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

    /// The signed token of voter `id` (the cookie's value).
    pub fn token(&self, id: &str) -> String {
        self.signer.sign(VOTER_SALT, &id)
    }

    /// The voter id of a token, if it is one this secret signed.
    pub fn verify(&self, token: &str) -> Option<String> {
        self.signer.verify(VOTER_SALT, token, VOTER_MAX_AGE).ok()
    }

    /// The session of a page of voter `id`, as [`VoterSession`] makes it from the cookie.
    pub fn session(&self, id: &str) -> Session {
        Session::from_iter([(VOTER_TOKEN.to_owned(), Value::String(self.token(id)))])
    }
}

/// The secret: `SECRET_KEY_BASE`, else the development one.
pub fn secret_key_base() -> String {
    std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEV_SECRET_KEY_BASE.to_owned())
}

/// The app's voters (with [`secret_key_base`]).
pub fn voters() -> Voters {
    Voters::new(&secret_key_base())
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

/// Replace cookie `name` in the request's `Cookie` header (so that what reads the request
/// next sees the new value).
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

/// A page load without a valid voter cookie gets one: a new signed id, set on the response
/// and put into the request for the page's session.
async fn ensure_voter(voters: Voters, mut request: Request, next: Next) -> Response {
    let page = PAGES.contains(&request.uri().path());
    let known = cookie(request.headers(), VOTER_COOKIE).and_then(|t| voters.verify(t));
    if !page || known.is_some() {
        return next.run(request).await;
    }
    let token = voters.token(&Voters::new_id());
    replace_cookie(request.headers_mut(), VOTER_COOKIE, &token);
    let mut response = next.run(request).await;
    let max_age = VOTER_MAX_AGE.as_secs();
    let set = format!("{VOTER_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&set) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// The live view's session: the voter cookie's token, as it came (the channel verifies it).
#[derive(Debug, Serialize)]
pub struct VoterSession {
    #[serde(skip_serializing_if = "Option::is_none")]
    voter_token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for VoterSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let voter_token = cookie(&parts.headers, VOTER_COOKIE).map(str::to_owned);
        Ok(VoterSession { voter_token })
    }
}

/// The `/socket` connect callback: the socket's assigns are the voter cookie's token and
/// nothing the client chose.
async fn connect(info: ConnectInfo) -> Result<Assigns, ConnectRefused> {
    let mut assigns = Assigns::new();
    if let Some(token) = cookie(&info.headers, VOTER_COOKIE) {
        assigns.insert(VOTER_TOKEN.to_owned(), Value::String(token.to_owned()));
    }
    Ok(assigns)
}

// ---------------------------------------------------------------------------------------
// The channel

/// What a new poll asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The question.
    pub question: String,
    /// The options, in the order shown.
    pub options: Vec<String>,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            question: "What's for lunch?".to_owned(),
            options: ["pizza", "sushi", "salad"].map(str::to_owned).to_vec(),
        }
    }
}

/// The state of a `vote:` key, as every page sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    /// The question.
    pub question: String,
    /// The options, in the order shown.
    pub options: Vec<String>,
    /// Votes per option.
    pub totals: BTreeMap<String, u64>,
    /// Who voted (not for what): voter id → ballot number, from 1.
    pub voters: BTreeMap<String, u64>,
}

/// One option's bar.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bar {
    /// The option.
    pub option: String,
    /// Its votes.
    pub votes: u64,
    /// Its share of every vote, in percent (rounded down; 0 before the first vote).
    pub percent: u64,
}

impl Poll {
    /// A poll nobody voted in yet.
    pub fn new(setup: &Setup) -> Poll {
        Poll {
            question: setup.question.clone(),
            options: setup.options.clone(),
            totals: setup.options.iter().map(|o| (o.clone(), 0)).collect(),
            voters: BTreeMap::new(),
        }
    }

    /// Every vote.
    pub fn votes(&self) -> u64 {
        self.totals.values().sum()
    }

    /// The bars, in the options' order.
    pub fn bars(&self) -> Vec<Bar> {
        let all = self.votes();
        self.options
            .iter()
            .map(|option| {
                let votes = self.totals.get(option).copied().unwrap_or(0);
                let percent = (votes * 100).checked_div(all).unwrap_or(0);
                Bar {
                    option: option.clone(),
                    votes,
                    percent,
                }
            })
            .collect()
    }
}

/// The channel behind `vote:*`.
pub struct VoteChannel {
    voters: Voters,
    setup: Setup,
}

impl VoteChannel {
    /// Polls asking `setup`, voters verified with `voters`.
    pub fn new(voters: Voters, setup: Setup) -> VoteChannel {
        VoteChannel { voters, setup }
    }
}

/// What pages send to a `vote:` key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteEvent {
    /// `pushEvent("vote", {option: "pizza"})`.
    Vote {
        /// The option voted for.
        option: String,
    },
}

impl Channel for VoteChannel {
    type State = Poll;
    type Event = VoteEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        Settings::shared().ttl(Ttl::After(POLL_TTL))
    }

    /// The join's voter: the socket's token verified (a token nobody signed is no voter).
    async fn authorize(&self, _: &IgnoredAny, ctx: &mut JoinContext) -> Result<(), ChannelError> {
        let voter = ctx
            .socket
            .get(VOTER_TOKEN)
            .and_then(Value::as_str)
            .and_then(|token| self.voters.verify(token));
        // set on every join, so that no socket assign of the same name counts
        ctx.assign(VOTER, voter.map_or(Value::Null, Value::String));
        Ok(())
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Poll, ChannelError> {
        Ok(Poll::new(&self.setup))
    }

    async fn handle_event(
        &self,
        event: VoteEvent,
        poll: &mut Poll,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        let VoteEvent::Vote { option } = event;
        let Some(voter) = ctx.get(VOTER).and_then(Value::as_str) else {
            return Err(ChannelError::refused(
                "voting needs a voter id: load the page again (with cookies on)",
            ));
        };
        if !poll.options.contains(&option) {
            return Err(ChannelError::refused(format!(
                "this poll has no option {option:?}"
            )));
        }
        if poll.voters.contains_key(voter) {
            return Err(ChannelError::refused("you have voted already"));
        }
        *poll.totals.entry(option).or_default() += 1;
        let ballot = poll.voters.len() as u64 + 1;
        poll.voters.insert(voter.to_owned(), ballot);
        Ok(Reply::none())
    }
}

// ---------------------------------------------------------------------------------------
// The live view

/// The poll `?poll=` names, checked: 1 to [`MAX_POLL_NAME`] letters, digits, `-` or `_`.
pub fn poll_name(params: &Params) -> Result<String, ViewError> {
    let name = params
        .get("poll")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_POLL);
    let fits = !name.is_empty()
        && name.len() <= MAX_POLL_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !fits {
        return Err(ViewError::new(format!(
            "a poll's name is 1 to {MAX_POLL_NAME} letters, digits, - or _"
        )));
    }
    Ok(name.to_owned())
}

/// The vote as a live view attached to its key.
#[derive(Clone, Debug)]
pub struct VotePage {
    voters: Voters,
    setup: Setup,
    /// The poll's name (`?poll=`).
    pub name: String,
    /// Its key, `vote:NAME`.
    pub key: String,
    /// This page's voter id, if its session has a valid one.
    pub voter: Option<String>,
    /// The poll as the key has it now.
    pub poll: Poll,
    /// Whether this page's voter has voted.
    pub voted: bool,
}

impl VotePage {
    /// The view, verifying voters with `voters`; `setup` is what it shows before the key
    /// exists.
    pub fn new(voters: Voters, setup: Setup) -> VotePage {
        VotePage {
            voters,
            setup,
            name: String::new(),
            key: String::new(),
            voter: None,
            poll: Poll::default(),
            voted: false,
        }
    }

    /// Take the key's state (or the setup's, before anybody started the key).
    fn take(&mut self, state: &Value) -> Result<(), ViewError> {
        self.poll = if state.is_null() {
            Poll::new(&self.setup)
        } else {
            Poll::deserialize(state)
                .map_err(|e| ViewError::new(format!("the poll does not decode: {e}")))?
        };
        self.voted = self
            .voter
            .as_ref()
            .is_some_and(|v| self.poll.voters.contains_key(v));
        Ok(())
    }
}

/// What the page sends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageEvent {
    /// A vote button: `phx-click="vote" phx-value-option="pizza"`.
    Vote {
        /// The option.
        option: String,
    },
}

impl LiveView for VotePage {
    type Event = PageEvent;
    type Info = ();

    async fn mount(
        &mut self,
        params: &Params,
        session: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        self.name = poll_name(params)?;
        self.key = format!("vote:{}", self.name);
        self.voter = session
            .get(VOTER_TOKEN)
            .and_then(Value::as_str)
            .and_then(|token| self.voters.verify(token));
        // connected: joined as one more subscriber of the key; the first GET: read once
        let state = socket.attach(&self.key).await?.clone();
        self.take(&state)?;
        socket.page_title(format!("Vote: {}", self.poll.question));
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: PageEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let PageEvent::Vote { option } = event;
        // the channel decides, as for any other subscriber of the key; a refusal's reason
        // comes back as the error (and `handle_refusal` shows it)
        let payload = json!({"option": option});
        socket.send_event(&self.key, "vote", payload).await?;
        socket.clear_flash(Some("error"));
        socket.put_flash("info", format!("your vote for {option} counted"));
        Ok(())
    }

    /// Any change of the key, this page's or another's: the bars follow.
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
            main id="vote" {
                (flash(&@flash))
                h1 id="question" { (@poll.question) }
                div id="options" {
                    @for bar in @poll.bars() key (bar.option.clone()) {
                        div class="option" id=(format!("option-{}", bar.option)) {
                            button id=(format!("vote-{}", bar.option)) phx-click="vote" phx-value-option=(bar.option.clone()) {
                                (bar.option.clone())
                            }
                            span class="track" {
                                span class="bar" id=(format!("bar-{}", bar.option)) style=(format!("width: {}%", bar.percent)) {}
                            }
                            span class="total" id=(format!("total-{}", bar.option)) { (bar.votes) }
                        }
                    }
                }
                p { span id="votes" { (@poll.votes()) } " votes in all" }
                @if @voted { p id="voted" { "You have voted." } }
                p {
                    a id="plain-link" href=(format!("/plain?poll={}", @name)) {
                        "The same poll on a phx-live-state page"
                    }
                }
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

/// The pages' style (the `/plain` page has the same).
const STYLE: &str = "<style>
body { font-family: sans-serif; margin: 2rem; }
.option { display: flex; align-items: center; gap: 0.5rem; margin: 0.3rem 0; }
.option button { width: 6rem; }
.track { display: inline-block; width: 20rem; height: 1rem; background: #eee; }
.bar { display: block; height: 100%; background: #48c; transition: width 0.2s; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; }
.flash.info { background: #dfd; }
</style>";

// ---------------------------------------------------------------------------------------
// The app

/// The views: the vote at `/`.
pub fn views(voters: &Voters) -> Views {
    Views::builder(secret_key_base())
        .head(STYLE)
        .live("/", VotePage::new(voters.clone(), Setup::default()))
        .build()
}

/// livestate's routes with `vote:*` routed to [`VoteChannel`] and the vote view.
pub fn endpoint() -> Endpoint {
    let voters = voters();
    Endpoint::builder()
        .channel(TOPICS, VoteChannel::new(voters.clone(), Setup::default()))
        .connect(connect)
        .views(views(&voters))
        .view_session::<VoterSession>()
        .build()
}

/// The phx-live-state page, at `/plain`.
pub const PLAIN_PAGE: &str = include_str!("../assets/plain.html");

/// The whole app: the view's page and `/live` socket, the phx-live-state page, livestate's
/// routes (`/socket`, `/livestate.js`, the HTTP API), and the voter cookie on page loads.
pub fn app(live: &Endpoint) -> Router {
    let voters = voters();
    let plain = Router::new().route("/plain", get(Html(PLAIN_PAGE)));
    live.router()
        .merge(live.views_router())
        .merge(plain)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            ensure_voter(voters.clone(), request, next)
        }))
}
