//! The template syntax, parsed from Rust tokens into [`Node`]s (maud-like):
//!
//! ```text
//! h1 class="title" { "Hello, " (@name) "!" }       element, attribute, text, slot
//! input type="checkbox" checked[@done];            a void element; a boolean attribute
//! button phx-click="inc" disabled[@busy] { "+" }   phx-* bindings are plain attributes
//! a href=(@url) { (Raw(@html)) }                   dynamic attribute; raw HTML
//! @if @on { b { "on" } } @else { i { "off" } }     conditionals (also `@else @if`, `@if let`)
//! @for row in &@rows key (row.id) { li { (row.name) } }   keyed lists
//! (card(&@title, html! { p { "body" } }))          a component: a function returning a template
//! ```
//!
//! `@name` reads the assign `name`; the slots that read it are computed again only when it
//! changed.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use std::collections::BTreeSet;
use std::iter::Peekable;

/// A compile error at a span.
pub(crate) struct Error {
    pub(crate) span: Span,
    pub(crate) message: String,
}

impl Error {
    fn new(span: Span, message: impl Into<String>) -> Error {
        Error {
            span,
            message: message.into(),
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// A Rust expression of the template, with `@name` rewritten, and the assigns it reads.
pub(crate) struct Expr {
    pub(crate) tokens: TokenStream,
    pub(crate) deps: BTreeSet<String>,
}

pub(crate) enum Node {
    /// Literal text (escaped at compile time).
    Text(String),
    /// `(expr)`: a slot.
    Splice(Expr),
    Element {
        name: String,
        attrs: Vec<Attr>,
        /// `None`: a void element (`br;`).
        body: Option<Vec<Node>>,
    },
    If {
        cond: Expr,
        then: Vec<Node>,
        otherwise: Option<Vec<Node>>,
    },
    For {
        pat: TokenStream,
        iter: Expr,
        key: Expr,
        body: Vec<Node>,
    },
}

pub(crate) enum Attr {
    /// `name="value"`, or `name` alone.
    Static { name: String, value: Option<String> },
    /// `name=(expr)`.
    Dynamic { name: String, value: Expr },
    /// `name[cond]`: present when `cond` holds.
    Toggle { name: String, cond: Expr },
}

type Tokens = Peekable<proc_macro2::token_stream::IntoIter>;

/// The nodes of a whole template.
pub(crate) fn parse(input: TokenStream) -> Result<Vec<Node>> {
    let mut tokens = input.into_iter().peekable();
    let nodes = nodes(&mut tokens)?;
    if let Some(extra) = tokens.next() {
        return Err(Error::new(extra.span(), "unexpected token in the template"));
    }
    Ok(nodes)
}

fn nodes(tokens: &mut Tokens) -> Result<Vec<Node>> {
    let mut out = Vec::new();
    while tokens.peek().is_some() {
        out.push(node(tokens)?);
    }
    Ok(out)
}

fn block(group: &Group) -> Result<Vec<Node>> {
    parse(group.stream())
}

fn node(tokens: &mut Tokens) -> Result<Node> {
    let Some(token) = tokens.next() else {
        return Err(Error::new(Span::call_site(), "expected a node"));
    };
    match token {
        TokenTree::Literal(lit) => Ok(Node::Text(literal_text(&lit)?)),
        TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => {
            if g.stream().is_empty() {
                return Err(Error::new(
                    g.span(),
                    "an empty slot: write an expression in `( )`",
                ));
            }
            Ok(Node::Splice(expr(g.stream())?))
        }
        TokenTree::Punct(p) if p.as_char() == '@' => control(tokens, p.span()),
        TokenTree::Ident(name) => element(name, tokens),
        other => Err(Error::new(
            other.span(),
            "expected an element, a string, `(expression)`, `@if` or `@for`",
        )),
    }
}

/// `@if ...` or `@for ...` (after the `@`).
fn control(tokens: &mut Tokens, at: Span) -> Result<Node> {
    match tokens.next() {
        Some(TokenTree::Ident(word)) if word == "if" => if_node(tokens),
        Some(TokenTree::Ident(word)) if word == "for" => for_node(tokens, word.span()),
        Some(TokenTree::Ident(word)) if word == "else" => {
            Err(Error::new(word.span(), "`@else` without `@if` before it"))
        }
        Some(TokenTree::Ident(word)) => Err(Error::new(
            word.span(),
            format!(
                "unknown `@{word}`: use `@if` or `@for`; to show the assign, write `(@{word})`"
            ),
        )),
        _ => Err(Error::new(at, "expected `@if` or `@for` after `@`")),
    }
}

/// The tokens up to the next `{ ... }` group at this level, and that group.
fn until_block(tokens: &mut Tokens, what: &str, start: Span) -> Result<(TokenStream, Group)> {
    let mut head = Vec::new();
    loop {
        match tokens.next() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                return Ok((head.into_iter().collect(), g));
            }
            Some(t) => head.push(t),
            None => {
                return Err(Error::new(
                    start,
                    format!("expected `{{ ... }}` after {what}"),
                ));
            }
        }
    }
}

fn if_node(tokens: &mut Tokens) -> Result<Node> {
    let start = tokens.peek().map_or(Span::call_site(), TokenTree::span);
    let (cond, then) = until_block(tokens, "the `@if` condition", start)?;
    if cond.is_empty() {
        return Err(Error::new(then.span(), "`@if` needs a condition"));
    }
    let cond = expr(cond)?;
    let then = block(&then)?;
    let second = peek_second(tokens);
    let otherwise = match (tokens.peek(), second) {
        (Some(TokenTree::Punct(p)), Some(TokenTree::Ident(word)))
            if p.as_char() == '@' && word == "else" =>
        {
            tokens.next();
            let word = tokens.next().map(|t| t.span()).unwrap_or(start);
            match tokens.next() {
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => Some(block(&g)?),
                Some(TokenTree::Punct(p)) if p.as_char() == '@' => {
                    // `@else @if ...`
                    match tokens.next() {
                        Some(TokenTree::Ident(w)) if w == "if" => Some(vec![if_node(tokens)?]),
                        _ => return Err(Error::new(p.span(), "expected `@if` after `@else`")),
                    }
                }
                _ => {
                    return Err(Error::new(
                        word,
                        "expected `{ ... }` or `@if` after `@else`",
                    ));
                }
            }
        }
        _ => None,
    };
    Ok(Node::If {
        cond,
        then,
        otherwise,
    })
}

/// The token after the next, without taking either.
fn peek_second(tokens: &Tokens) -> Option<TokenTree> {
    let mut ahead = tokens.clone();
    ahead.next();
    ahead.next()
}

fn for_node(tokens: &mut Tokens, start: Span) -> Result<Node> {
    let mut pat = Vec::new();
    loop {
        match tokens.next() {
            Some(TokenTree::Ident(word)) if word == "in" => break,
            Some(t) => pat.push(t),
            None => {
                return Err(Error::new(
                    start,
                    "expected `@for PATTERN in ITEMS key (KEY) { ... }`",
                ));
            }
        }
    }
    if pat.is_empty() {
        return Err(Error::new(start, "`@for` needs a pattern before `in`"));
    }
    let mut iter = Vec::new();
    let key = loop {
        match tokens.next() {
            Some(TokenTree::Ident(word)) if word == "key" => match tokens.next() {
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => break g,
                _ => {
                    return Err(Error::new(
                        word.span(),
                        "expected `key (EXPRESSION)`: a list entry's key, in parentheses",
                    ));
                }
            },
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                return Err(Error::new(
                    g.span(),
                    "a `@for` list needs a key: `@for row in rows key (row.id) { ... }`",
                ));
            }
            Some(t) => iter.push(t),
            None => {
                return Err(Error::new(
                    start,
                    "expected `key (KEY)` and `{ ... }` after the items",
                ));
            }
        }
    };
    if iter.is_empty() {
        return Err(Error::new(key.span(), "`@for` needs the items after `in`"));
    }
    let body = match tokens.next() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => block(&g)?,
        _ => return Err(Error::new(key.span(), "expected `{ ... }` after the key")),
    };
    Ok(Node::For {
        pat: pat.into_iter().collect(),
        iter: expr(iter.into_iter().collect())?,
        key: expr(key.stream())?,
        body,
    })
}

fn element(first: Ident, tokens: &mut Tokens) -> Result<Node> {
    let name = dashed_name(first.to_string(), tokens)?;
    let mut attrs = Vec::new();
    loop {
        match tokens.next() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                return Ok(Node::Element {
                    name,
                    attrs,
                    body: Some(block(&g)?),
                });
            }
            Some(TokenTree::Punct(p)) if p.as_char() == ';' => {
                return Ok(Node::Element {
                    name,
                    attrs,
                    body: None,
                });
            }
            Some(TokenTree::Ident(attr)) => attrs.push(attribute(attr, tokens)?),
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    format!("expected an attribute, `{{ ... }}` or `;` in `{name}`"),
                ));
            }
            None => {
                return Err(Error::new(
                    first.span(),
                    format!("`{name}` needs a body `{{ ... }}`, or `;` for a void element"),
                ));
            }
        }
    }
}

/// `phx-click`, `data-user-id`, `my-element`: words joined by `-`.
fn dashed_name(mut name: String, tokens: &mut Tokens) -> Result<String> {
    while let Some(TokenTree::Punct(p)) = tokens.peek() {
        if p.as_char() != '-' {
            break;
        }
        let dash = p.span();
        tokens.next();
        match tokens.next() {
            Some(TokenTree::Ident(part)) => {
                name.push('-');
                name.push_str(&part.to_string());
            }
            _ => return Err(Error::new(dash, "expected a name after `-`")),
        }
    }
    Ok(name)
}

fn attribute(first: Ident, tokens: &mut Tokens) -> Result<Attr> {
    let name = dashed_name(first.to_string(), tokens)?;
    match tokens.peek() {
        Some(TokenTree::Punct(p)) if p.as_char() == '=' => {
            let eq = p.span();
            tokens.next();
            match tokens.next() {
                Some(TokenTree::Literal(lit)) => Ok(Attr::Static {
                    name,
                    value: Some(literal_text(&lit)?),
                }),
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                    Ok(Attr::Dynamic {
                        name,
                        value: expr(g.stream())?,
                    })
                }
                Some(other) => Err(Error::new(
                    other.span(),
                    format!("the value of `{name}` must be a string or `(expression)`"),
                )),
                None => Err(Error::new(eq, format!("`{name}=` needs a value"))),
            }
        }
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
            let cond = expr(g.stream())?;
            tokens.next();
            Ok(Attr::Toggle { name, cond })
        }
        _ => Ok(Attr::Static { name, value: None }),
    }
}

/// The text of a string (or number, or char) literal.
fn literal_text(lit: &proc_macro2::Literal) -> Result<String> {
    let repr = lit.to_string();
    if let Some(inner) = repr.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return unescape(inner)
            .ok_or_else(|| Error::new(lit.span(), "unsupported escape in this string"));
    }
    if repr.starts_with('r') {
        let body = repr.trim_start_matches('r').trim_matches('#');
        if let Some(inner) = body.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            return Ok(inner.to_owned());
        }
    }
    if repr.chars().next().is_some_and(|c| c.is_ascii_digit()) && !repr.contains(['"', '\'']) {
        return Ok(repr);
    }
    Err(Error::new(
        lit.span(),
        "expected a string literal (text), or `(expression)` for a value",
    ))
}

/// Rust's escapes in a normal string literal.
fn unescape(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            '\n' => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A Rust expression: `@name` becomes a read of the assign `name` (recorded in `deps`).
fn expr(tokens: TokenStream) -> Result<Expr> {
    let mut deps = BTreeSet::new();
    let tokens = rewrite(tokens, &mut deps)?;
    Ok(Expr { tokens, deps })
}

/// The assigns (`@name`) read anywhere in `tokens`.
fn scan_deps(tokens: TokenStream, deps: &mut BTreeSet<String>) {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Punct(p) if p.as_char() == '@' => {
                if let Some(TokenTree::Ident(name)) = tokens.peek() {
                    if !matches!(name.to_string().as_str(), "if" | "for" | "else") {
                        deps.insert(name.to_string());
                    }
                }
            }
            TokenTree::Group(g) => scan_deps(g.stream(), deps),
            _ => {}
        }
    }
}

fn rewrite(tokens: TokenStream, deps: &mut BTreeSet<String>) -> Result<TokenStream> {
    let mut out = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        // a template inside an expression (a component's slot) tracks its own assigns;
        // the slot around it still reads them
        if let TokenTree::Ident(word) = &token {
            if word == "html"
                && matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '!')
            {
                out.push(token);
                if let Some(bang) = tokens.next() {
                    out.push(bang);
                }
                if let Some(TokenTree::Group(g)) = tokens.peek() {
                    scan_deps(g.stream(), deps);
                }
                continue;
            }
        }
        match token {
            TokenTree::Punct(p) if p.as_char() == '@' => match tokens.next() {
                Some(TokenTree::Ident(name)) => {
                    if let Some(TokenTree::Group(args)) = tokens.peek() {
                        if args.delimiter() == Delimiter::Parenthesis {
                            return Err(Error::new(
                                name.span(),
                                format!(
                                    "`@{name}(..)` calls a method: the slot would be computed again only when an assign named `{name}` changed; pass the assigns it reads instead (`({name}(@field))`)"
                                ),
                            ));
                        }
                    }
                    deps.insert(name.to_string());
                    // the assigns live as long as the render: `Assigns::get` gives them so
                    let assigns = Ident::new("assigns", name.span());
                    out.extend(quote::quote_spanned!(name.span()=>
                        ::livestate_view::Assigns::get(#assigns).#name
                    ));
                }
                _ => {
                    return Err(Error::new(
                        p.span(),
                        "expected an assign's name after `@` (`@count`)",
                    ));
                }
            },
            TokenTree::Group(g) => {
                let inner = rewrite(g.stream(), deps)?;
                let mut group = Group::new(g.delimiter(), inner);
                group.set_span(g.span());
                out.push(TokenTree::Group(group));
            }
            other => out.push(other),
        }
    }
    Ok(out.into_iter().collect())
}
