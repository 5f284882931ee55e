//! Templates and random state changes for the diff oracle: for each template, a first
//! render and then `steps` random changes, each printed as the diff the encoder sends and
//! the whole HTML of that state. `clients/js/test/view_oracle.test.mjs` merges the diffs
//! with the stock client's own code (1.1 and 1.2) and compares its HTML with ours.

use livestate_view::{Assigns, Changed, Encoder, Raw, Rendered, html};
use serde_json::{Value, json};
use std::io::{self, Write};

/// A small seeded generator (xorshift64*): the same seed, the same steps.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A short text with characters that need escaping now and then.
    pub fn text(&mut self) -> String {
        const PIECES: [&str; 12] = [
            "a", "b", "lime", " ", "<b>", "&amp;", "\"", "'", "é", "→", ">", "&",
        ];
        (0..self.below(5))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }
}

/// A template under test: its state, how it renders, how it changes.
trait Case {
    fn render<'a>(assigns: Assigns<'a, Self>) -> Rendered<'a>;
    /// Change the state at random; which assigns changed.
    fn change(&mut self, rng: &mut Rng) -> Changed;
    /// The page's title, for the templates that set one.
    fn title(&self) -> Option<String> {
        None
    }
}

struct Branches {
    on: bool,
    a: String,
    b: u32,
    mode: u8,
}

impl Case for Branches {
    fn render<'a>(assigns: Assigns<'a, Branches>) -> Rendered<'a> {
        html! {
            div id="branches" {
                @if @on { p class=(@a) { (@a) } } @else { em { (@b) } }
                @if @mode == 0 { "zero" }
                @else @if @mode == 1 { b { "one " (@b) } }
                @else { i { (@mode) } span { (@a) } }
                @if @b % 3 == 0 { hr; }
            }
        }
    }

    fn change(&mut self, rng: &mut Rng) -> Changed {
        let mut changed = Changed::none();
        if rng.one_in(2) {
            self.on = !self.on;
            changed.insert("on");
        }
        if rng.one_in(2) {
            self.a = rng.text();
            changed.insert("a");
        }
        if rng.one_in(2) {
            self.b = rng.below(10) as u32;
            changed.insert("b");
        }
        if rng.one_in(3) {
            self.mode = rng.below(3) as u8;
            changed.insert("mode");
        }
        changed
    }

    fn title(&self) -> Option<String> {
        Some(format!("{} <{}>", self.a, self.b))
    }
}

/// A function component with attributes (its arguments) and a slot (a template).
fn panel<'a>(title: &'a str, open: bool, inner: Rendered<'a>) -> Rendered<'a> {
    html! {
        section class="panel" {
            h3 { (title) }
            @if open { div class="body" { (inner) } } @else { p { "closed" } }
        }
    }
}

struct Components {
    title: String,
    body: String,
    count: u32,
    open: bool,
}

impl Case for Components {
    fn render<'a>(assigns: Assigns<'a, Components>) -> Rendered<'a> {
        html! {
            main {
                (panel(&@title, @open, html! { p { (@body) } }))
                (panel("count", true, html! { b { (@count) } " times" }))
                footer { (@count) }
            }
        }
    }

    fn change(&mut self, rng: &mut Rng) -> Changed {
        let mut changed = Changed::none();
        if rng.one_in(3) {
            self.title = rng.text();
            changed.insert("title");
        }
        if rng.one_in(2) {
            self.body = rng.text();
            changed.insert("body");
        }
        if rng.one_in(2) {
            self.count += 1;
            changed.insert("count");
        }
        if rng.one_in(4) {
            self.open = !self.open;
            changed.insert("open");
        }
        changed
    }
}

#[derive(Hash, Clone)]
struct Item {
    id: u32,
    label: String,
    done: bool,
    tags: Vec<String>,
}

struct Keyed {
    items: Vec<Item>,
    filter: String,
    next_id: u32,
}

impl Case for Keyed {
    fn render<'a>(assigns: Assigns<'a, Keyed>) -> Rendered<'a> {
        html! {
            ul {
                @for item in &@items key (item.id) {
                    li class=(if item.done { "done" } else { "todo" }) data-id=(item.id) {
                        input type="checkbox" checked[item.done];
                        span { (item.label) }
                        @for tag in &item.tags key (tag) { b { (tag) } }
                        @if item.done { " ✓" }
                    }
                }
            }
            p { "filter: " (@filter) }
        }
    }

    fn change(&mut self, rng: &mut Rng) -> Changed {
        let mut changed = Changed::of(["items"]);
        let n = self.items.len();
        match rng.below(9) {
            0 | 1 => {
                let item = Item {
                    id: self.next_id,
                    label: rng.text(),
                    done: rng.one_in(2),
                    tags: (0..rng.below(3)).map(|_| rng.text()).collect(),
                };
                self.next_id += 1;
                self.items.insert(rng.below(n + 1), item);
            }
            2 if n > 0 => {
                self.items.remove(rng.below(n));
            }
            3 if n > 1 => {
                let item = self.items.remove(rng.below(n));
                self.items.insert(rng.below(n), item);
            }
            4 if n > 0 => {
                let i = rng.below(n);
                self.items[i].label = rng.text();
            }
            5 if n > 0 => {
                let i = rng.below(n);
                self.items[i].done = !self.items[i].done;
            }
            6 if n > 0 => {
                let i = rng.below(n);
                self.items[i].tags = (0..rng.below(4)).map(|_| rng.text()).collect();
            }
            7 if n > 1 => {
                // shuffle, so many entries move at once
                for i in (1..n).rev() {
                    let j = rng.below(i + 1);
                    self.items.swap(i, j);
                }
            }
            8 if rng.one_in(4) => self.items.clear(),
            _ => {
                self.filter = rng.text();
                changed = Changed::of(["filter"]);
            }
        }
        changed
    }
}

struct Escaping {
    text: String,
    attr: String,
    raw: bool,
}

impl Case for Escaping {
    fn render<'a>(assigns: Assigns<'a, Escaping>) -> Rendered<'a> {
        html! {
            div title=(@attr) data-raw[@raw] {
                "<static & \"quoted\">"
                (@text)
                @if @raw { (Raw("<em>raw</em>")) } @else { (@attr) }
            }
        }
    }

    fn change(&mut self, rng: &mut Rng) -> Changed {
        let mut changed = Changed::none();
        if rng.one_in(2) {
            self.text = rng.text();
            changed.insert("text");
        }
        if rng.one_in(2) {
            self.attr = rng.text();
            changed.insert("attr");
        }
        if rng.one_in(3) {
            self.raw = !self.raw;
            changed.insert("raw");
        }
        changed
    }
}

fn run_case<C: Case>(
    name: &str,
    mut state: C,
    seed: u64,
    steps: usize,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut rng = Rng::new(seed ^ name.len() as u64);
    let mut encoder = Encoder::new();
    let mut changed = Changed::all();
    for step in 0..=steps {
        if step > 0 {
            changed = state.change(&mut rng);
        }
        if let Some(title) = state.title() {
            encoder.set_title(title);
        }
        let diff = encoder
            .diff(C::render(Assigns::new(&state, &changed)))
            .map_err(io::Error::other)?;
        let whole = C::render(Assigns::new(&state, &Changed::all())).to_html();
        let line = json!({
            "template": name,
            "seed": seed,
            "step": step,
            "diff": Value::Object(diff),
            "html": whole,
            "title": state.title(),
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Every template, `steps` random changes each from `seed`, as JSON lines on `out`.
pub fn run(seed: u64, steps: usize, out: &mut impl Write) -> io::Result<()> {
    let branches = Branches {
        on: true,
        a: "a".into(),
        b: 1,
        mode: 0,
    };
    run_case("branches", branches, seed, steps, out)?;
    let components = Components {
        title: "title".into(),
        body: "body".into(),
        count: 0,
        open: true,
    };
    run_case("components", components, seed, steps, out)?;
    let keyed = Keyed {
        items: Vec::new(),
        filter: String::new(),
        next_id: 0,
    };
    run_case("keyed", keyed, seed, steps, out)?;
    let escaping = Escaping {
        text: "<x>".into(),
        attr: "\"q\"".into(),
        raw: false,
    };
    run_case("escaping", escaping, seed, steps, out)
}
