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
//! - `generate`: the code the nodes expand to (naming `::livestate_view`).
//! - `rebase`: that code naming the crate another path reaches it by (`html_in!`, which
//!   the `livestate` façade's `html!` calls with `$crate::view`).

mod generate;
mod parse;
mod rebase;

use proc_macro::TokenStream;

/// A template: see `livestate_view::html!`.
#[proc_macro]
pub fn html(input: TokenStream) -> TokenStream {
    expand(input.into()).into()
}

/// `html_in!((PATH) template)`: [`html!`] for a crate that reaches `livestate_view` by
/// `PATH` (a façade's `html!` passes `$crate::view`).
#[doc(hidden)]
#[proc_macro]
pub fn html_in(input: TokenStream) -> TokenStream {
    let mut tokens = proc_macro2::TokenStream::from(input).into_iter();
    match tokens.next() {
        Some(proc_macro2::TokenTree::Group(path)) => {
            let template: proc_macro2::TokenStream = tokens.collect();
            // where the template was written (its first token), for `assigns`
            let site = template
                .clone()
                .into_iter()
                .next()
                .map_or_else(proc_macro2::Span::call_site, |t| t.span());
            rebase::rebase(expand(template), &path.stream(), site).into()
        }
        _ => quote::quote!(::std::compile_error!("html_in! needs (PATH) first")).into(),
    }
}

fn expand(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    match parse::parse(input) {
        Ok(nodes) => generate::expand(&nodes),
        Err(e) => {
            let message = e.message;
            quote::quote_spanned!(e.span=> ::std::compile_error!(#message))
        }
    }
}
