//! Live navigation: two views of one live session, moved between without a page load.
//!
//! - `/` lists products. Its sort order and page are in the URL (`/?sort=price&page=2`):
//!   the sort tabs and the "previous page" link are live_patch links, the "next page"
//!   button a server-side `push_patch`; each runs `handle_params`, which reads the URL.
//! - `/products/{id}` shows one product. Product links are navigate links (the list view
//!   leaves, the product view joins, the document stays); "next product" patches the
//!   product view; "show me the cheapest" on the list is a `push_navigate` with a flash.
//! - The browser's back and forward buttons walk through all of it.
//! - What does not fit is shown on the page: a product id that names no product, a sort
//!   order or page that does not exist, an event the views do not know.
//!
//! Run it with `cargo run -p navigation` and open <http://127.0.0.1:4013/>.

use livestate::Endpoint;
use livestate::view::live::{Flash, Live, LiveView, Params, Socket, ViewError, Views};
use livestate::view::{Assigns, Rendered, html};
use serde::Deserialize;
use serde_json::Value;

/// The secret the pages' tokens are signed with when `SECRET_KEY_BASE` is unset: fine for
/// development, public for everyone else. Set `SECRET_KEY_BASE` (32 bytes or more, the
/// same on every node and across restarts) in production.
const DEVELOPMENT_SECRET_KEY_BASE: &str =
    "the navigation example's development secret key base: not for production";

/// Products per page of the list.
pub const PAGE_SIZE: usize = 3;

/// A product of the shop.
#[derive(Debug, Hash, PartialEq, Eq)]
pub struct Product {
    /// Its id, in its URL (`/products/1`).
    pub id: u32,
    /// Its name.
    pub name: &'static str,
    /// Its price, in cents.
    pub cents: u32,
    /// What it is.
    pub description: &'static str,
}

/// Everything the shop sells.
pub const PRODUCTS: &[Product] = &[
    Product {
        id: 1,
        name: "Anvil",
        cents: 12900,
        description: "Drops on cue. Hardened steel, 50 kg.",
    },
    Product {
        id: 2,
        name: "Birdseed",
        cents: 350,
        description: "Irresistible to roadrunners.",
    },
    Product {
        id: 3,
        name: "Catapult",
        cents: 45000,
        description: "Range 300 m. Aim not included.",
    },
    Product {
        id: 4,
        name: "Dynamite",
        cents: 2500,
        description: "One dozen sticks, extra-long fuses.",
    },
    Product {
        id: 5,
        name: "Earthquake pills",
        cents: 1999,
        description: "Not for roadrunners. Read the label.",
    },
    Product {
        id: 6,
        name: "Giant fan",
        cents: 8900,
        description: "Blows anything off a cliff.",
    },
    Product {
        id: 7,
        name: "Glue",
        cents: 499,
        description: "Sticks to feet, roads and coyotes.",
    },
];

/// The product of `id`.
pub fn product(id: u32) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.id == id)
}

/// `$129.00`.
fn price(cents: u32) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// The views (both in the live session "shop": navigation between them needs no page load)
/// served by livestate's endpoint.
pub fn endpoint() -> Endpoint {
    let secret =
        std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEVELOPMENT_SECRET_KEY_BASE.to_owned());
    let views = Views::builder(secret)
        .head(STYLE)
        .live_session("shop", |s| {
            s.live("/", ProductList::default())
                .live("/products/{id}", ProductPage::default())
        })
        .build();
    Endpoint::builder().views(views).build()
}

const STYLE: &str = "<style>
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }
nav a { margin-right: 1em; }
a.current { font-weight: bold; text-decoration: none; color: inherit; }
#flash p { padding: .5em; cursor: pointer; }
.flash-info { background: #def; } .flash-error, .problem { background: #fdd; padding: .5em; }
td { padding: .2em 1em .2em 0; }
</style>";

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

/// The value of the URL param `name`, when it is a string.
fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str)
}

/// The order of the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    /// By name (`?sort=name`, the default).
    #[default]
    Name,
    /// By price, cheapest first (`?sort=price`).
    Price,
}

impl Sort {
    /// Its value in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Price => "price",
        }
    }
}

/// The list's URL for `sort` and `page`.
pub fn list_url(sort: Sort, page: usize) -> String {
    format!("/?sort={}&page={page}", sort.as_str())
}

/// The product list at `/`: what it shows comes from its URL alone, so a patch, a reload
/// and the back button all show the same page.
#[derive(Clone, Default)]
pub struct ProductList {
    sort: Sort,
    /// From 1.
    page: usize,
    pages: usize,
    shown: Vec<&'static Product>,
    /// What was wrong with the URL (an unknown sort order, a page that does not exist).
    problem: Option<String>,
}

/// The list's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListEvent {
    /// The "next page" button: a `push_patch` to the next page.
    NextPage {},
    /// "Show me the cheapest": a `push_navigate` to it, with a flash.
    Cheapest {},
}

impl LiveView for ProductList {
    type Event = ListEvent;
    type Info = ();

    async fn handle_params(
        &mut self,
        params: &Params,
        _uri: &str,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        // a URL that does not fit shows page 1 by name and says why, rather than failing
        let mut problems = Vec::new();
        self.sort = match param(params, "sort") {
            None | Some("name") => Sort::Name,
            Some("price") => Sort::Price,
            Some(other) => {
                problems.push(format!("There is no sort order {other:?}: sorted by name."));
                Sort::Name
            }
        };
        self.pages = PRODUCTS.len().div_ceil(PAGE_SIZE);
        self.page = match param(params, "page") {
            None => 1,
            Some(page) => match page.parse() {
                Ok(n) if (1..=self.pages).contains(&n) => n,
                _ => {
                    problems.push(format!("There is no page {page:?}: showing page 1."));
                    1
                }
            },
        };
        self.problem = (!problems.is_empty()).then(|| problems.join(" "));
        let mut sorted: Vec<&'static Product> = PRODUCTS.iter().collect();
        match self.sort {
            Sort::Name => sorted.sort_by_key(|p| p.name),
            Sort::Price => sorted.sort_by_key(|p| p.cents),
        }
        self.shown = sorted
            .into_iter()
            .skip((self.page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .collect();
        socket.page_title(format!(
            "Products by {}, page {}",
            self.sort.as_str(),
            self.page
        ));
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: ListEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            ListEvent::NextPage {} => {
                // the button is disabled on the last page; a click sent anyway is refused
                if self.page >= self.pages {
                    return Err(ViewError::new("This is the last page."));
                }
                socket.push_patch(list_url(self.sort, self.page + 1), false);
            }
            ListEvent::Cheapest {} => {
                let cheapest = PRODUCTS.iter().min_by_key(|p| p.cents);
                let cheapest = cheapest.ok_or_else(|| ViewError::new("We sell nothing."))?;
                // the flash goes along to the product's view
                socket.put_flash("info", format!("Our cheapest product: {}.", cheapest.name));
                socket.push_navigate(format!("/products/{}", cheapest.id), false);
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
                h1 { "Products" }
                @if let Some(problem) = &@problem { p id="problem" class="problem" { (problem) } }
                nav id="sort" {
                    "Sort by: "
                    // live_patch links: the same view gets the new URL in handle_params
                    a id="sort-name" href="/?sort=name" data-phx-link="patch" data-phx-link-state="push"
                        class=(if @sort == Sort::Name { "current" } else { "" }) { "name" }
                    a id="sort-price" href="/?sort=price" data-phx-link="patch" data-phx-link-state="push"
                        class=(if @sort == Sort::Price { "current" } else { "" }) { "price" }
                }
                table id="products" {
                    @for product in &@shown key (product.id) {
                        tr {
                            // navigate links: another view of the live session, no page load
                            td { a href=(format!("/products/{}", product.id)) data-phx-link="redirect"
                                data-phx-link-state="push" { (product.name) } }
                            td { (price(product.cents)) }
                        }
                    }
                }
                p {
                    @if @page > 1 {
                        a id="previous" href=(list_url(@sort, @page - 1)) data-phx-link="patch"
                            data-phx-link-state="push" { "← previous page" }
                        " "
                    }
                    "page " span id="page" { (@page) } " of " (@pages) " "
                    button id="next" phx-click="next_page" disabled[@page >= @pages] { "next page →" }
                }
                p { button id="cheapest" phx-click="cheapest" { "Show me the cheapest" } }
            }
        }
    }
}

/// One product, at `/products/{id}`.
#[derive(Clone, Default)]
pub struct ProductPage {
    product: Option<&'static Product>,
    /// Why there is no product to show: the URL names none.
    missing: Option<String>,
    /// The id of the product after this one (wrapping around), for "next product".
    next: u32,
}

/// The product page's events: it has none (every link is handled by the client), so any
/// event it gets is refused and shown.
#[derive(Deserialize)]
pub enum ProductEvent {}

impl LiveView for ProductPage {
    type Event = ProductEvent;
    type Info = ();

    // the product is read here, not in `mount`: "next product" patches this view
    async fn handle_params(
        &mut self,
        params: &Params,
        _uri: &str,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let id = param(params, "id").unwrap_or_default();
        self.product = id.parse().ok().and_then(product);
        match self.product {
            Some(product) => {
                self.missing = None;
                let index = PRODUCTS.iter().position(|p| p.id == product.id);
                let next = index.map_or(0, |i| (i + 1) % PRODUCTS.len());
                self.next = PRODUCTS[next].id;
                socket.page_title(product.name);
            }
            None => {
                self.missing = Some(format!("There is no product {id:?}."));
                socket.page_title("No such product");
            }
        }
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: ProductEvent,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {}
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                (flash(&@flash))
                @if let Some(product) = @product {
                    h1 id="name" { (product.name) }
                    p id="price" { (price(product.cents)) }
                    p id="description" { (product.description) }
                }
                @if let Some(missing) = &@missing { p id="missing" class="problem" { (missing) } }
                nav {
                    a id="back" href="/" data-phx-link="redirect" data-phx-link-state="push" { "← back to the list" }
                    @if @product.is_some() {
                        // a patch link: this view, another id, handle_params again
                        a id="next-product" href=(format!("/products/{}", @next)) data-phx-link="patch"
                            data-phx-link-state="push" { "next product →" }
                    }
                }
            }
        }
    }
}
