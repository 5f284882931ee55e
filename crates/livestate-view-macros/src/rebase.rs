//! The generated code names the runtime crate `::livestate_view`; an application that
//! reaches it through another crate (the `livestate` façade's `view` module) has no such
//! crate of its own. `rebase` rewrites every `::livestate_view` of the code into the path
//! the caller gave.
//!
//! The façade's `html!` is a `macro_rules!` that calls `html_in!`, so the generated code's
//! own names resolve where that macro was defined, not where the template was written:
//! `rebase` also resolves the `assigns` the code reads at the template's span, where the
//! render function's `assigns` parameter is.

use proc_macro2::{Group, Spacing, Span, TokenStream, TokenTree};

/// `code` with each `::livestate_view` replaced by `path`, and `assigns` resolved at `site`.
pub(crate) fn rebase(code: TokenStream, path: &TokenStream, site: Span) -> TokenStream {
    let tokens: Vec<TokenTree> = code.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if is_crate_path(&tokens[i..]) {
            out.extend(path.clone());
            i += 3;
            continue;
        }
        out.push(match &tokens[i] {
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), rebase(g.stream(), path, site));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            TokenTree::Ident(name) if name == "assigns" => {
                let mut name = name.clone();
                name.set_span(name.span().resolved_at(site));
                TokenTree::Ident(name)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// Whether `tokens` start with `::livestate_view` (a joint `:` then `:`, then the name).
fn is_crate_path(tokens: &[TokenTree]) -> bool {
    match tokens {
        [
            TokenTree::Punct(a),
            TokenTree::Punct(b),
            TokenTree::Ident(name),
            ..,
        ] => {
            a.as_char() == ':'
                && a.spacing() == Spacing::Joint
                && b.as_char() == ':'
                && name == "livestate_view"
        }
        _ => false,
    }
}
