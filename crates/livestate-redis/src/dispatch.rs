//! One pub/sub connection per node, shared by all its keys: it routes each message to the
//! key tasks listening on its channel, reconnects when Redis goes away, subscribes again,
//! and tells every change subscriber it may have missed messages ([`Published::Gap`]).

use crate::wire::WireMsg;
use bytes::Bytes;
use futures_util::StreamExt;
use livestate_backplane::{Broadcast, Published};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A route to register; answered once Redis confirmed the subscription.
pub(crate) enum Route {
    Changes(mpsc::Sender<Published>),
    Requests(mpsc::Sender<Bytes>),
    Answers(mpsc::Sender<Bytes>),
    /// Broadcasts from nodes other than this one (named).
    Broadcasts(String, mpsc::Sender<Broadcast>),
}

pub(crate) struct Subscribe {
    pub(crate) channel: String,
    pub(crate) route: Route,
    pub(crate) done: oneshot::Sender<()>,
}

#[derive(Default)]
struct Routes {
    /// Change subscribers by channel, each with whether it missed a message.
    changes: HashMap<String, Vec<(mpsc::Sender<Published>, bool)>>,
    requests: HashMap<String, mpsc::Sender<Bytes>>,
    answers: HashMap<String, mpsc::Sender<Bytes>>,
    broadcasts: HashMap<String, (String, mpsc::Sender<Broadcast>)>,
}

impl Routes {
    fn channels(&self) -> Vec<String> {
        self.changes
            .keys()
            .chain(self.requests.keys())
            .chain(self.answers.keys())
            .chain(self.broadcasts.keys())
            .cloned()
            .collect()
    }

    fn add(&mut self, channel: String, route: Route) -> bool {
        let new = !self.changes.contains_key(&channel)
            && !self.requests.contains_key(&channel)
            && !self.answers.contains_key(&channel)
            && !self.broadcasts.contains_key(&channel);
        match route {
            Route::Changes(tx) => self.changes.entry(channel).or_default().push((tx, false)),
            Route::Requests(tx) => {
                self.requests.insert(channel, tx);
            }
            Route::Answers(tx) => {
                self.answers.insert(channel, tx);
            }
            Route::Broadcasts(node, tx) => {
                self.broadcasts.insert(channel, (node, tx));
            }
        }
        new
    }

    /// Channels nobody listens on any more.
    fn unused(&mut self) -> Vec<String> {
        let mut gone = Vec::new();
        self.changes.retain(|channel, subs| {
            subs.retain(|(tx, _)| !tx.is_closed());
            let keep = !subs.is_empty();
            if !keep {
                gone.push(channel.clone());
            }
            keep
        });
        self.requests.retain(|channel, tx| {
            let keep = !tx.is_closed();
            if !keep {
                gone.push(channel.clone());
            }
            keep
        });
        gone
    }

    fn gap_all(&mut self) {
        for subs in self.changes.values_mut() {
            for (tx, missed) in subs.iter_mut() {
                *missed = tx.try_send(Published::Gap).is_err();
            }
        }
    }

    fn deliver(&mut self, channel: &str, payload: Bytes) {
        if let Some(subs) = self.changes.get_mut(channel) {
            let published = match serde_json::from_slice::<WireMsg>(&payload) {
                Ok(WireMsg::Change(change)) => Published::Change(Arc::new(change)),
                Ok(WireMsg::Presence { joins, leaves }) => Published::Presence { joins, leaves },
                Err(e) => {
                    // never applied blindly: the subscribers reload from the stored state
                    tracing::error!(
                        "malformed message on {channel}: {e}; resyncing its subscribers"
                    );
                    Published::Gap
                }
            };
            for (tx, missed) in subs.iter_mut() {
                if *missed {
                    if tx.try_send(Published::Gap).is_err() {
                        continue;
                    }
                    *missed = false;
                }
                if tx.try_send(published.clone()).is_err() {
                    *missed = true;
                }
            }
        } else if let Some(tx) = self.requests.get(channel) {
            // the engine's message, as it came (a dropped one is sent again by its node
            // after a lease time)
            match tx.try_send(payload) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => tracing::warn!(
                    "the authority of {channel} is overloaded: a forwarded message is dropped"
                ),
                // the key's authority here ended (the route is pruned soon)
                Err(mpsc::error::TrySendError::Closed(_)) => tracing::debug!(
                    "no authority for {channel} here any more: a forwarded message is dropped"
                ),
            }
        } else if let Some(tx) = self.answers.get(channel) {
            let _ = tx.try_send(payload);
        } else if let Some((node, tx)) = self.broadcasts.get(channel) {
            match serde_json::from_slice::<Broadcast>(&payload) {
                Ok(message) if message.origin == *node => {}
                Ok(message) => {
                    if tx.try_send(message).is_err() {
                        tracing::warn!(
                            "broadcast messages arrive faster than they are handled: one was dropped"
                        );
                    }
                }
                Err(e) => tracing::error!("malformed broadcast on {channel}: {e}"),
            }
        }
    }
}

/// Run the dispatcher until every handle to it is gone.
pub(crate) async fn run(client: redis::Client, mut subscribes: mpsc::UnboundedReceiver<Subscribe>) {
    let mut routes = Routes::default();
    let mut waiting: Vec<Subscribe> = Vec::new();
    let mut backoff = Duration::from_millis(50);
    let mut connected_before = false;
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::warn!("Redis pub/sub unavailable ({e}); retrying in {backoff:?}");
                // take new subscriptions meanwhile; they are confirmed once connected
                let sleep = tokio::time::sleep(backoff);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        () = &mut sleep => break,
                        sub = subscribes.recv() => match sub {
                            Some(sub) => waiting.push(sub),
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let (mut sink, mut stream) = pubsub.split();
        let mut healthy = true;
        for channel in routes.channels() {
            if sink.subscribe(&channel).await.is_err() {
                healthy = false;
                break;
            }
        }
        if !healthy {
            continue;
        }
        if connected_before {
            tracing::info!("Redis pub/sub is back: resyncing every key");
            routes.gap_all();
        }
        connected_before = true;
        for sub in waiting.drain(..) {
            let channel = sub.channel.clone();
            if routes.add(sub.channel, sub.route) && sink.subscribe(&channel).await.is_err() {
                healthy = false;
            }
            let _ = sub.done.send(());
        }
        let mut prune = tokio::time::interval(Duration::from_secs(5));
        while healthy {
            tokio::select! {
                sub = subscribes.recv() => {
                    let Some(sub) = sub else { return };
                    let channel = sub.channel.clone();
                    if routes.add(sub.channel, sub.route) && sink.subscribe(&channel).await.is_err() {
                        healthy = false;
                    }
                    let _ = sub.done.send(());
                }
                msg = stream.next() => match msg {
                    Some(msg) => {
                        let payload = Bytes::copy_from_slice(msg.get_payload_bytes());
                        routes.deliver(msg.get_channel_name(), payload);
                    }
                    None => {
                        tracing::warn!("Redis pub/sub connection lost");
                        healthy = false;
                    }
                },
                _ = prune.tick() => {
                    for channel in routes.unused() {
                        if sink.unsubscribe(&channel).await.is_err() {
                            healthy = false;
                        }
                    }
                }
            }
        }
    }
}
