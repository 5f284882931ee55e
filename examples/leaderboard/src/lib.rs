//! A leaderboard: a keyed list (`@for player in &@players key (player.id)`) of players
//! with their scores. Adding a player inserts an entry, removing one deletes it, `+1`
//! changes a score and ranks the board again (the player may move up), and shuffle moves
//! every player. The list's diff sends only what changed: a kept entry that did not
//! change costs nothing, one that changed sends its changed slots alone, and one that
//! moved is sent as its old index (so the client reuses what it has). What the view
//! refuses (an empty name, a score that is not a number, a player that is not there, an
//! unknown event) is shown on the page as a flash message (`handle_refusal`).
//!
//! Run it with `cargo run -p leaderboard` and open <http://127.0.0.1:4012/>.

use livestate::Endpoint;
use livestate::view::live::{Flash, Live, LiveView, Params, Session, Socket, ViewError, Views};
use livestate::view::{Assigns, Rendered, html};
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// The most players a board holds.
pub const MAX_PLAYERS: usize = 50;
/// The longest name accepted, in characters.
pub const MAX_NAME: usize = 20;
/// The highest score a new player may start with.
pub const MAX_START_SCORE: u32 = 1000;

/// The development secret that signs the pages' tokens. In production set
/// `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "leaderboard example: a development secret, not for production";

/// One entry of the board. `Hash`: the list renders an entry again only when its hash
/// changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Player {
    /// What the list is keyed by: it stays when the name, the score or the place change.
    pub id: u32,
    /// The player's name.
    pub name: String,
    /// Points.
    pub score: u32,
}

/// The view.
#[derive(Clone, Debug)]
pub struct Leaderboard {
    /// The board, in the order shown.
    pub players: Vec<Player>,
    /// Whether the board is in score order (else it was shuffled).
    pub ranked: bool,
    /// The id of the next player added.
    pub next_id: u32,
    /// The shuffle's random state (xorshift; never 0), seeded at mount.
    pub seed: u64,
}

impl Default for Leaderboard {
    fn default() -> Leaderboard {
        let scores = [
            ("ada", 42),
            ("bo", 37),
            ("cy", 35),
            ("di", 35),
            ("ed", 30),
            ("flo", 28),
            ("gus", 28),
            ("hal", 20),
            ("ivy", 12),
            ("jo", 7),
        ];
        let players = (1..)
            .zip(scores)
            .map(|(id, (name, score))| Player {
                id,
                name: name.into(),
                score,
            })
            .collect::<Vec<_>>();
        Leaderboard {
            next_id: players.len() as u32 + 1,
            players,
            ranked: true,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// What the page sends. Click values come as strings (`phx-value-id="3"`), as do the
/// form's fields.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The add form: `name=...&score=...`.
    Add {
        /// The new player's name.
        name: String,
        /// Their first score (empty: 0).
        #[serde(default)]
        score: String,
    },
    /// Remove the player `id`.
    Remove {
        /// The player's id.
        id: String,
    },
    /// One point more for the player `id`; the board is ranked again.
    Score {
        /// The player's id.
        id: String,
    },
    /// Put the players in a random order (every one moves).
    Shuffle {},
    /// Put the players in score order.
    Rank {},
}

impl Leaderboard {
    /// Score order: most points first, then the earlier player first.
    fn rank(&mut self) {
        self.players
            .sort_by(|a, b| b.score.cmp(&a.score).then(a.id.cmp(&b.id)));
        self.ranked = true;
    }

    /// Sattolo's shuffle: a random order in which no player keeps its place.
    fn shuffle(&mut self) {
        for i in (1..self.players.len()).rev() {
            // xorshift64: random enough to deal a board, not cards
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            let j = (self.seed % i as u64) as usize; // j < i: the player at i moves
            self.players.swap(i, j);
        }
        self.ranked = false;
    }

    /// The index of the player whose id is `id` (as a click sends it).
    fn find(&self, id: &str) -> Result<usize, ViewError> {
        let id: u32 = id
            .parse()
            .map_err(|_| ViewError::new(format!("{id:?} is not a player's id")))?;
        self.players
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| ViewError::new(format!("there is no player {id}")))
    }

    /// Add a player, in their place if the board is ranked (else at the bottom).
    fn add(&mut self, name: &str, score: &str) -> Result<(), ViewError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ViewError::new("a player needs a name"));
        }
        if name.chars().count() > MAX_NAME {
            return Err(ViewError::new(format!(
                "a name has at most {MAX_NAME} characters"
            )));
        }
        if self
            .players
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name))
        {
            return Err(ViewError::new(format!("{name} is on the board already")));
        }
        if self.players.len() >= MAX_PLAYERS {
            return Err(ViewError::new(format!(
                "the board holds {MAX_PLAYERS} players at most"
            )));
        }
        let score = match score.trim() {
            "" => 0,
            given => given
                .parse()
                .ok()
                .filter(|s| *s <= MAX_START_SCORE)
                .ok_or_else(|| {
                    ViewError::new(format!(
                        "a score is a whole number from 0 to {MAX_START_SCORE}, not {given:?}"
                    ))
                })?,
        };
        let player = Player {
            id: self.next_id,
            name: name.to_owned(),
            score,
        };
        self.next_id += 1;
        // in a ranked board: before the first player with fewer points (an insert)
        let at = match self.ranked {
            true => self.players.partition_point(|p| p.score >= score),
            false => self.players.len(),
        };
        self.players.insert(at, player);
        Ok(())
    }
}

impl LiveView for Leaderboard {
    type Event = Event;
    type Info = ();

    async fn mount(
        &mut self,
        _: &Params,
        _: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        socket.page_title("Leaderboard");
        // a different shuffle on every page
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        self.seed = now.map_or(1, |d| d.as_nanos() as u64) | 1;
        Ok(())
    }

    async fn handle_event(&mut self, event: Event, _: &mut Socket<Self>) -> Result<(), ViewError> {
        match event {
            Event::Add { name, score } => self.add(&name, &score)?,
            Event::Remove { id } => {
                let at = self.find(&id)?;
                self.players.remove(at);
            }
            Event::Score { id } => {
                let at = self.find(&id)?;
                self.players[at].score = self.players[at].score.saturating_add(1);
                self.rank();
            }
            Event::Shuffle {} => self.shuffle(),
            Event::Rank {} => self.rank(),
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
            main id="leaderboard" {
                (flash(&@flash))
                h1 { "Leaderboard" }
                p {
                    span id="count" { (@players.len()) } " players"
                    @if !@ranked { " (shuffled)" }
                    " "
                    button id="shuffle" phx-click="shuffle" { "shuffle" }
                    " "
                    button id="rank" phx-click="rank" disabled[@ranked] { "rank by score" }
                }
                ol id="players" {
                    // keyed by id: the diff says which entries were inserted, deleted,
                    // changed or moved
                    @for player in &@players key (player.id) {
                        li id=(format!("player-{}", player.id)) {
                            span class="name" { (player.name) }
                            " "
                            span class="score" { (player.score) }
                            " "
                            button class="plus" phx-click="score" phx-value-id=(player.id) { "+1" }
                            " "
                            button class="remove" phx-click="remove" phx-value-id=(player.id) { "remove" }
                        }
                    }
                }
                @if @players.is_empty() { p id="empty" { "no players: add one" } }
                // A new form after each player added (its id changes), so its inputs are
                // empty again. The inputs have no id: an id would make the client keep the
                // old ones.
                form id=(format!("add-player-{}", @next_id)) phx-submit="add" {
                    input type="text" name="name" placeholder="name" autocomplete="off";
                    " "
                    input type="text" name="score" placeholder="score (0)" inputmode="numeric" autocomplete="off";
                    " "
                    button id="add" type="submit" { "add" }
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
#players li { margin: 0.25rem 0; }
.score { font-weight: bold; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; }
.flash.info { background: #dfd; }
</style>";

/// The views: the leaderboard at `/`.
pub fn views() -> Views {
    let secret = std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEV_SECRET_KEY_BASE.into());
    Views::builder(secret)
        .head(STYLE)
        .live("/", Leaderboard::default())
        .build()
}

/// livestate's routes with the leaderboard's page and its `/live` socket.
pub fn endpoint() -> Endpoint {
    Endpoint::builder().views(views()).build()
}
