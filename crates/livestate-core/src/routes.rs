//! A node's routes: which channel or topic process serves a topic ([`Routes`]), with each
//! channel behind [`ErasedChannel`] so channels of different state types fit one table.

use crate::acl::Acl;
use crate::channel::{Channel, ChannelError, JoinContext, Scope, decode_params};
use crate::key;
use crate::mailbox::KeyHandle;
use crate::process::TopicProcess;
use crate::registry::Node;
use crate::settings::Settings;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// Topic patterns and the channels serving them.
#[derive(Default)]
pub(crate) struct Routes {
    routes: Vec<Route>,
    /// The coalescing windows of channels on the hub's default TTL, checked against it
    /// when the hub is built.
    windows_on_default_ttl: Vec<(String, std::time::Duration)>,
}

struct Route {
    pattern: Pattern,
    served: Served,
}

/// What serves a topic.
#[derive(Clone)]
pub(crate) enum Served {
    /// A channel: its keys' authorities run the handlers.
    Channel(Arc<dyn ErasedChannel>),
    /// A topic process: every join a task of its own (a live view).
    Process(Arc<dyn TopicProcess>),
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
    /// When `pattern` is already routed, or the channel's settings contradict each other:
    /// misconfigurations found at start-up.
    pub(crate) fn add<C: Channel>(&mut self, pattern: &str, channel: C) {
        let settings = channel.settings();
        if let Err(e) = settings.validate() {
            panic!("livestate: the settings of the channel routed at {pattern:?}: {e}");
        }
        if let (Some(window), crate::Ttl::Default) = (settings.coalesce, settings.ttl) {
            self.windows_on_default_ttl
                .push((pattern.to_owned(), window));
        }
        let served = Served::Channel(Arc::new(Erased {
            channel: Arc::new(channel),
            settings,
        }));
        self.push(pattern, served);
    }

    /// Serve topics matching `pattern` with a topic process.
    ///
    /// # Panics
    /// When `pattern` is already routed.
    pub(crate) fn add_process(&mut self, pattern: &str, process: Arc<dyn TopicProcess>) {
        self.push(pattern, Served::Process(process));
    }

    fn push(&mut self, pattern: &str, served: Served) {
        let parsed = Pattern::parse(pattern);
        assert!(
            !self.routes.iter().any(|r| r.pattern == parsed),
            "livestate: the topic pattern {pattern:?} is routed twice"
        );
        self.routes.push(Route {
            pattern: parsed,
            served,
        });
    }

    /// Check the coalescing windows of channels on the hub's default TTL against it.
    ///
    /// # Panics
    /// When a window is not shorter than the TTL: a misconfiguration found at start-up.
    pub(crate) fn check_windows(&self, ttl: std::time::Duration) {
        for (pattern, window) in &self.windows_on_default_ttl {
            assert!(
                window < &ttl,
                "livestate: the settings of the channel routed at {pattern:?}: coalesce ({window:?}) is not shorter than the ttl ({ttl:?}, the hub's)"
            );
        }
    }

    /// Whether `pattern` is routed already.
    pub(crate) fn has(&self, pattern: &str) -> bool {
        let pattern = Pattern::parse(pattern);
        self.routes.iter().any(|r| r.pattern == pattern)
    }

    /// What serves `topic`: the most specific match.
    pub(crate) fn serving(&self, topic: &str) -> Option<Served> {
        self.routes
            .iter()
            .filter_map(|r| r.pattern.rank(topic).map(|rank| (rank, r)))
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, r)| r.served.clone())
    }

    /// The channel serving `topic` (none when a topic process serves it).
    pub(crate) fn route(&self, topic: &str) -> Option<Arc<dyn ErasedChannel>> {
        match self.serving(topic)? {
            Served::Channel(channel) => Some(channel),
            Served::Process(_) => None,
        }
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

/// A channel and its settings, taken once.
struct Erased<C> {
    channel: Arc<C>,
    settings: Settings,
}

impl<C: Channel> ErasedChannel for Erased<C> {
    fn scope(&self) -> Scope {
        self.settings.scope
    }

    fn acl(&self) -> Acl {
        self.settings.acl
    }

    fn max_version(&self) -> u64 {
        self.settings.max_version
    }

    fn authorize<'a>(
        &'a self,
        topic: &'a str,
        params: &'a Value,
        ctx: &'a mut JoinContext,
    ) -> BoxFuture<'a, Result<(), ChannelError>> {
        let _ = topic;
        Box::pin(async move {
            let params = decode_params::<C::Params>(params)?;
            match AssertUnwindSafe(self.channel.authorize(&params, ctx))
                .catch_unwind()
                .await
            {
                Ok(Err(ChannelError::Internal(e))) => {
                    tracing::error!(topic = %ctx.topic, "authorize failed: {e}");
                    Err(ChannelError::Internal(e))
                }
                Ok(result) => result,
                Err(_) => Err(ChannelError::refused("authorization failed")),
            }
        })
    }

    fn spawn(&self, node: Arc<Node>, topic: String, scope: Scope) -> KeyHandle {
        key::spawn(self.channel.clone(), node, topic, scope)
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
