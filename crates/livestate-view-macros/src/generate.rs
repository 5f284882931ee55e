//! The code `html!` expands to: a `static` [`Statics`] per template (the root, each branch
//! of an `@if`, each `@for` body) and a `Rendered` whose slots are computed only when the
//! assigns they read changed.
//!
//! A slot's condition, when the template reads assigns: `!__track` (the client does not
//! hold this template: everything), or, inside a `@for` body, `__item_changed` (the entry's
//! item differs), or one of the slot's assigns changed. A template that reads no assign
//! (a component's body) computes every slot whenever it is rendered.
//!
//! [`Statics`]: ../livestate_view/struct.Statics.html

use crate::parse::{Attr, Expr, Node};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use std::collections::BTreeSet;

/// The expansion of a whole template.
pub(crate) fn expand(nodes: &[Node]) -> TokenStream {
    let mut deps = BTreeSet::new();
    collect_deps(nodes, &mut deps);
    let mut generator = Generator {
        tracking: !deps.is_empty(),
        statics: Vec::new(),
    };
    let root = generator.template(nodes, false);
    let statics = &generator.statics;
    quote! {
        {
            #(#statics)*
            #root
        }
    }
}

struct Generator {
    /// Whether the template reads assigns (then slots are tracked).
    tracking: bool,
    /// The `static` items, one per template.
    statics: Vec<TokenStream>,
}

/// A template's statics and slot expressions, as they are built.
#[derive(Default)]
struct Parts {
    parts: Vec<String>,
    current: String,
    slots: Vec<TokenStream>,
    /// The assigns each slot reads.
    deps: Vec<Vec<String>>,
}

impl Parts {
    fn push_static(&mut self, html: &str) {
        self.current.push_str(html);
    }

    fn push_slot(&mut self, slot: TokenStream, deps: &BTreeSet<String>) {
        self.parts.push(std::mem::take(&mut self.current));
        self.slots.push(slot);
        self.deps.push(deps.iter().cloned().collect());
    }
}

impl Generator {
    /// A `Rendered` of `nodes`: its statics declared, its slots in a closure.
    fn template(&mut self, nodes: &[Node], in_loop: bool) -> TokenStream {
        let parts = self.parts(nodes, in_loop);
        let name = self.declare(nodes, &parts);
        let slots = parts.slots;
        quote! {
            ::livestate_view::Rendered::new(&#name, move |__track: bool| {
                ::std::vec![#(#slots),*]
            })
        }
    }

    /// Declare a template's statics; returns the name of the `static`.
    ///
    /// The fingerprint covers the statics and the code of the slots: two templates with
    /// the same statics but other slots (the two branches `p { (@x) }` and `p { (@y) }`)
    /// are different templates, so switching between them sends the statics again rather
    /// than keep a slot that belongs to the other.
    fn declare(&mut self, nodes: &[Node], template: &Parts) -> Ident {
        let name = format_ident!("__LIVESTATE_STATICS_{}", self.statics.len());
        let root = matches!(nodes, [Node::Element { .. }]);
        let parts = &template.parts;
        let code: Vec<String> = template.slots.iter().map(ToString::to_string).collect();
        let fingerprint = fingerprint(parts, &code, root);
        let deps = template.deps.iter().map(|d| quote!(&[#(#d),*]));
        self.statics.push(quote! {
            static #name: ::livestate_view::Statics = ::livestate_view::Statics {
                parts: &[#(#parts),*],
                fingerprint: #fingerprint,
                root: #root,
                deps: &[#(#deps),*],
            };
        });
        name
    }

    /// The statics and slots of `nodes`.
    fn parts(&mut self, nodes: &[Node], in_loop: bool) -> Parts {
        let mut parts = Parts::default();
        for node in nodes {
            self.node(node, in_loop, &mut parts);
        }
        parts.parts.push(std::mem::take(&mut parts.current));
        parts
    }

    fn node(&mut self, node: &Node, in_loop: bool, out: &mut Parts) {
        match node {
            Node::Text(text) => out.push_static(&escape(text)),
            Node::Splice(expr) => {
                out.push_slot(self.slot(&expr.deps, in_loop, into_slot(expr)), &expr.deps);
            }
            Node::Element { name, attrs, body } => {
                out.push_static(&format!("<{name}"));
                for attr in attrs {
                    self.attr(attr, in_loop, out);
                }
                out.push_static(">");
                if let Some(body) = body {
                    for node in body {
                        self.node(node, in_loop, out);
                    }
                    out.push_static(&format!("</{name}>"));
                }
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                let deps = deps_of(node);
                // A branch of `@if let` reads what the condition binds, which no assign
                // tracks: its slots are all computed whenever the `@if` is.
                let binds = cond
                    .tokens
                    .clone()
                    .into_iter()
                    .any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "let"));
                let tracking = self.tracking;
                self.tracking &= !binds;
                let value = self.branches(cond, then, otherwise.as_deref(), in_loop);
                self.tracking = tracking;
                out.push_slot(self.slot(&deps, in_loop, value), &deps);
            }
            Node::For {
                pat,
                iter,
                key,
                body,
            } => {
                let deps = deps_of(node);
                let mut entry_deps = key.deps.clone();
                collect_deps(body, &mut entry_deps);
                let entry = self.parts(body, true);
                let statics = self.declare(body, &entry);
                let slots = entry.slots;
                let assigns_changed = self.entries_changed(&entry_deps, in_loop);
                let iter = &iter.tokens;
                let key = &key.tokens;
                let value = quote! {
                    ::livestate_view::Slot::List(::livestate_view::List::new(
                        &#statics,
                        #assigns_changed,
                        ::std::iter::IntoIterator::into_iter(#iter).map(|__item| {
                            let __hash = ::livestate_view::hash(&__item);
                            let #pat = __item;
                            let __key = ::livestate_view::key(&(#key));
                            ::livestate_view::Entry::new(
                                __key,
                                __hash,
                                move |__track: bool, __item_changed: bool| {
                                    ::std::vec![#(#slots),*]
                                },
                            )
                        }),
                    ))
                };
                out.push_slot(self.slot(&deps, in_loop, value), &deps);
            }
        }
    }

    fn attr(&mut self, attr: &Attr, in_loop: bool, out: &mut Parts) {
        match attr {
            Attr::Static { name, value: None } => out.push_static(&format!(" {name}")),
            Attr::Static {
                name,
                value: Some(value),
            } => out.push_static(&format!(" {name}=\"{}\"", escape(value))),
            Attr::Dynamic { name, value } => {
                out.push_static(&format!(" {name}=\""));
                out.push_slot(
                    self.slot(&value.deps, in_loop, into_slot(value)),
                    &value.deps,
                );
                out.push_static("\"");
            }
            Attr::Toggle { name, cond } => {
                let present = format!(" {name}");
                let tokens = &cond.tokens;
                let slot = quote! {
                    ::livestate_view::text(if #tokens { #present } else { "" })
                };
                out.push_slot(self.slot(&cond.deps, in_loop, slot), &cond.deps);
            }
        }
    }

    /// The value of an `@if` slot: the branch taken, a nested template (or nothing).
    fn branches(
        &mut self,
        cond: &Expr,
        then: &[Node],
        otherwise: Option<&[Node]>,
        in_loop: bool,
    ) -> TokenStream {
        let then = self.template(then, in_loop);
        let otherwise = match otherwise {
            Some(nodes) => {
                let template = self.template(nodes, in_loop);
                quote!(::livestate_view::Slot::Nested(#template))
            }
            None => quote!(::livestate_view::text("")),
        };
        let cond = &cond.tokens;
        quote! {
            if #cond { ::livestate_view::Slot::Nested(#then) } else { #otherwise }
        }
    }

    /// A slot: `value` when its inputs changed, else `None`.
    fn slot(&self, deps: &BTreeSet<String>, in_loop: bool, value: TokenStream) -> TokenStream {
        if !self.tracking {
            return quote!(::std::option::Option::Some(#value));
        }
        let mut cond = quote!(!__track);
        if in_loop {
            cond = quote!(#cond || __item_changed);
        }
        if !deps.is_empty() {
            let assigns = Ident::new("assigns", Span::call_site());
            cond = quote! {
                #cond || ::livestate_view::Assigns::changed(#assigns).any(&[#(#deps),*])
            };
        }
        quote! {
            if #cond { ::std::option::Option::Some(#value) } else { ::std::option::Option::None }
        }
    }

    /// Whether a list's kept entries render again: an assign their slots read changed (or,
    /// in a list inside a list, the outer item changed). A template that reads no assign
    /// renders every entry whenever it renders.
    fn entries_changed(&self, deps: &BTreeSet<String>, in_loop: bool) -> TokenStream {
        if !self.tracking {
            return quote!(true);
        }
        let assigns = Ident::new("assigns", Span::call_site());
        let changed = quote!(::livestate_view::Assigns::changed(#assigns).any(&[#(#deps),*]));
        match (in_loop, deps.is_empty()) {
            (true, true) => quote!(__item_changed),
            (true, false) => quote!(__item_changed || #changed),
            (false, true) => quote!(false),
            (false, false) => changed,
        }
    }
}

/// A slot's value from its expression: text (escaped), `Raw`, or a nested template.
fn into_slot(expr: &Expr) -> TokenStream {
    let tokens = &expr.tokens;
    quote! {{
        #[allow(unused_imports)]
        use ::livestate_view::IntoSlot as _;
        (#tokens).into_slot()
    }}
}

/// Every assign `node` reads, its children's included.
fn deps_of(node: &Node) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    collect_deps(std::slice::from_ref(node), &mut deps);
    deps
}

/// Every assign `nodes` read.
fn collect_deps(nodes: &[Node], deps: &mut BTreeSet<String>) {
    let add = |expr: &Expr, deps: &mut BTreeSet<String>| deps.extend(expr.deps.iter().cloned());
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Splice(expr) => add(expr, deps),
            Node::Element { attrs, body, .. } => {
                for attr in attrs {
                    match attr {
                        Attr::Static { .. } => {}
                        Attr::Dynamic { value, .. } => add(value, deps),
                        Attr::Toggle { cond, .. } => add(cond, deps),
                    }
                }
                if let Some(body) = body {
                    collect_deps(body, deps);
                }
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                add(cond, deps);
                collect_deps(then, deps);
                if let Some(otherwise) = otherwise {
                    collect_deps(otherwise, deps);
                }
            }
            Node::For {
                iter, key, body, ..
            } => {
                add(iter, deps);
                add(key, deps);
                collect_deps(body, deps);
            }
        }
    }
}

/// HTML escaping of literal text, at compile time (the same as the runtime's).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// FNV-1a over the statics, the slots' code and the root flag.
fn fingerprint(parts: &[String], code: &[String], root: bool) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for part in parts.iter().chain(code) {
        eat(part.as_bytes());
        eat(&[0xff]);
    }
    eat(&[u8::from(root)]);
    hash
}
