//! A node's routes: which channel serves a topic ([`Routes`]), with each channel behind
//! [`ErasedChannel`] so channels of different state types fit one table.

use crate::acl::Acl;
use crate::channel::{Channel, ChannelError, JoinContext, Scope};
use crate::key;
use crate::mailbox::KeyHandle;
use crate::registry::Node;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// Topic patterns and the channels serving them.
#[derive(Default)]
pub(crate) struct Routes {
    routes: Vec<Route>,
}

struct Route {
    pattern: Pattern,
    channel: Arc<dyn ErasedChannel>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(s: &str) -> Pattern {
        match s.strip_suffix('*') {
            Some(prefix) => Pattern::Prefix(prefix.to_owned()),
            None => Pattern::Exact(s.to_owned()),
        }
    }

    /// How well `topic` matches: exact beats any prefix, a longer prefix a shorter one.
    fn rank(&self, topic: &str) -> Option<usize> {
        match self {
            Pattern::Exact(t) if t == topic => Some(usize::MAX),
            Pattern::Prefix(p) if topic.starts_with(p.as_str()) => Some(p.len()),
            _ => None,
        }
    }
}

impl Routes {
    /// Serve topics matching `pattern` with `channel`.
    ///
    /// # Panics
    /// When `pattern` is already routed: a misconfiguration found at start-up.
    pub(crate) fn add<C: Channel>(&mut self, pattern: &str, channel: C) {
        let pattern = Pattern::parse(pattern);
        assert!(
            !self.routes.iter().any(|r| r.pattern == pattern),
            "livestate: the topic pattern {pattern:?} is routed twice"
        );
        self.routes.push(Route {
            pattern,
            channel: Arc::new(Erased(Arc::new(channel))),
        });
    }

    /// Whether `pattern` is routed already.
    pub(crate) fn has(&self, pattern: &str) -> bool {
        let pattern = Pattern::parse(pattern);
        self.routes.iter().any(|r| r.pattern == pattern)
    }

    /// The channel serving `topic`: the most specific match.
    pub(crate) fn route(&self, topic: &str) -> Option<Arc<dyn ErasedChannel>> {
        self.routes
            .iter()
            .filter_map(|r| r.pattern.rank(topic).map(|rank| (rank, r)))
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, r)| r.channel.clone())
    }
}

/// A channel with its state type erased.
pub(crate) trait ErasedChannel: Send + Sync + 'static {
    fn scope(&self) -> Scope;
    fn acl(&self) -> Acl;
    fn max_version(&self) -> u64;
    fn authorize<'a>(
        &'a self,
        topic: &'a str,
        params: &'a Value,
        ctx: &'a mut JoinContext,
    ) -> BoxFuture<'a, Result<(), ChannelError>>;
    /// Start an authority for `topic` with this channel.
    fn spawn(&self, node: Arc<Node>, topic: String, scope: Scope) -> KeyHandle;
}

struct Erased<C>(Arc<C>);

impl<C: Channel> ErasedChannel for Erased<C> {
    fn scope(&self) -> Scope {
        self.0.scope()
    }

    fn acl(&self) -> Acl {
        self.0.acl()
    }

    fn max_version(&self) -> u64 {
        self.0.max_version()
    }

    fn authorize<'a>(
        &'a self,
        topic: &'a str,
        params: &'a Value,
        ctx: &'a mut JoinContext,
    ) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            match AssertUnwindSafe(self.0.authorize(topic, params, ctx))
                .catch_unwind()
                .await
            {
                Ok(result) => result,
                Err(_) => Err(ChannelError::refused("authorization failed")),
            }
        })
    }

    fn spawn(&self, node: Arc<Node>, topic: String, scope: Scope) -> KeyHandle {
        key::spawn(self.0.clone(), node, topic, scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_route_wins() {
        let exact = Pattern::parse("doc:special");
        let long = Pattern::parse("doc:sp*");
        let short = Pattern::parse("doc:*");
        let any = Pattern::parse("*");
        let topic = "doc:special";
        let ranks: Vec<_> = [&exact, &long, &short, &any]
            .iter()
            .map(|p| p.rank(topic))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] > w[1]), "{ranks:?}");
        assert_eq!(short.rank("other"), None);
        assert_eq!(exact.rank("doc:specialx"), None);
    }
}
