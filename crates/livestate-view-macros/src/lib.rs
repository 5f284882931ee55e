//! The `html!` macro of [livestate-view](https://docs.rs/livestate-view): a template in a
//! maud-like syntax, split at compile time into statics and slots that are computed only
//! when the assigns they read changed. See `livestate_view::html!` for the syntax.
//!
//! ```
//! use livestate_view::{Assigns, Changed, Rendered, html};
//!
//! struct Hello { name: String }
//!
//! fn hello(assigns: Assigns<'_, Hello>) -> Rendered<'_> {
//!     html! { p class="hello" { "Hello, " (@name) "!" } }
//! }
//!
//! let state = Hello { name: "<you>".into() };
//! let page = hello(Assigns::new(&state, &Changed::all())).to_html();
//! assert_eq!(page, r#"<p class="hello">Hello, &lt;you&gt;!</p>"#);
//! ```
//!
//! - `parse`: the syntax, from Rust tokens into nodes (errors at the span).
//! - `generate`: the code the nodes expand to.

mod generate;
mod parse;

use proc_macro::TokenStream;

/// A template: see `livestate_view::html!`.
#[proc_macro]
pub fn html(input: TokenStream) -> TokenStream {
    match parse::parse(input.into()) {
        Ok(nodes) => generate::expand(&nodes).into(),
        Err(e) => {
            let message = e.message;
            quote::quote_spanned!(e.span=> ::std::compile_error!(#message)).into()
        }
    }
}
