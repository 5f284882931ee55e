//! The behavioural suite every cluster backplane passes: the guarantees of
//! `livestate_backplane` checked against a real backend. Run it with a factory
//! that makes nodes of one isolated cluster (a fresh `MemoryCluster`, or Redis under a
//! prefix of the run's own) whose leases are short (half a second or so).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use livestate_core::backplane::Backplane;
//! use livestate_core::backplane::memory::MemoryCluster;
//! use std::sync::Arc;
//! use std::time::Duration;
//! let cluster = MemoryCluster::new(Duration::from_millis(400));
//! livestate_testkit::suite::run_all(&move |id: &str| {
//!     let node: Arc<dyn Backplane> = cluster.node(id);
//!     Box::pin(async move { node })
//! })
//! .await
//! # }
//! ```

use anyhow::{Context, Result, anyhow, ensure};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use livestate_core::backplane::{
    Backplane, BackplaneError, Broadcast, Commit, Committed, EventId, PresenceEntry, Published,
    Staged,
};
use livestate_protocol::PatchOp;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Makes the node called `id` of one cluster.
pub type Nodes = dyn Fn(&str) -> BoxFuture<'static, Arc<dyn Backplane>> + Send + Sync;

/// Every check, one after the other; the error names the failing check.
pub async fn run_all(nodes: &Nodes) -> Result<()> {
    leases_are_exclusive_and_epochs_grow(nodes)
        .await
        .context("leases")?;
    a_lost_lease_cannot_commit(nodes).await.context("fencing")?;
    commits_follow_versions_and_are_published_in_order(nodes)
        .await
        .context("ordered commits")?;
    many_changes_load_back_exactly(nodes)
        .await
        .context("many changes")?;
    a_group_of_changes_commits_in_order_or_not_at_all(nodes)
        .await
        .context("groups")?;
    an_event_applies_at_most_once(nodes)
        .await
        .context("at most once")?;
    requests_reach_the_authority_and_answers_their_node(nodes)
        .await
        .context("forwarding")?;
    attachments_count_other_live_nodes(nodes)
        .await
        .context("attachments")?;
    presence_is_shared_and_published(nodes)
        .await
        .context("presence")?;
    broadcasts_reach_every_other_node(nodes)
        .await
        .context("broadcasts")?;
    Ok(())
}

/// One change to commit: `commit!(version, state, patch, event)` (a key's first commit,
/// version 0, stores the whole state).
macro_rules! commit {
    ($version:expr, $state:expr, $patch:expr, $event:expr) => {
        Commit {
            version: $version,
            state: $state,
            whole: $version == 0,
            changes: &[Staged {
                patch: $patch,
                reset: false,
                event: $event,
                note: None,
            }],
        }
    };
}

async fn next<T>(rx: &mut mpsc::Receiver<T>, what: &str) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .map_err(|_| anyhow!("no {what} within 5 s"))?
        .ok_or_else(|| anyhow!("the {what} stream ended"))
}

/// `acquire` is exclusive while a lease lives, and every new holder has a higher epoch.
pub async fn leases_are_exclusive_and_epochs_grow(nodes: &Nodes) -> Result<()> {
    let (a, b) = (nodes("lease-a").await, nodes("lease-b").await);
    let key = "suite:lease";
    let first = a.acquire(key).await?;
    ensure!(first.snapshot.is_none(), "a new key has no state");
    match b.acquire(key).await {
        Err(BackplaneError::Held { holder, .. }) => ensure!(holder == a.node(), "held by {holder}"),
        other => return Err(anyhow!("a held lease was acquired: {other:?}")),
    }
    a.renew(&first.lease).await?;
    a.release(&first.lease, false).await?;
    let second = b.acquire(key).await?;
    ensure!(second.lease.epoch > first.lease.epoch, "epochs grow");
    b.release(&second.lease, true).await?;
    Ok(())
}

/// A node whose lease expired can neither renew nor commit once another took over.
pub async fn a_lost_lease_cannot_commit(nodes: &Nodes) -> Result<()> {
    let (a, b) = (nodes("fence-a").await, nodes("fence-b").await);
    let key = "suite:fence";
    let stale = a.acquire(key).await?;
    tokio::time::sleep(a.lease_time() * 3 / 2).await;
    let fresh = b.acquire(key).await?;
    ensure!(fresh.lease.epoch > stale.lease.epoch);
    let state = json!({"by": "stale"});
    match a.commit(&stale.lease, commit!(0, &state, &[], None)).await {
        Err(BackplaneError::Fenced { .. }) => {}
        other => return Err(anyhow!("a stale authority committed: {other:?}")),
    }
    ensure!(matches!(
        a.renew(&stale.lease).await,
        Err(BackplaneError::Fenced { .. })
    ));
    let state = json!({"by": "fresh"});
    b.commit(&fresh.lease, commit!(0, &state, &[], None))
        .await?;
    let stored = b.load(key).await?.ok_or_else(|| anyhow!("no state"))?;
    ensure!(stored.state == json!({"by": "fresh"}), "{:?}", stored.state);
    b.release(&fresh.lease, true).await?;
    Ok(())
}

/// Commits must follow the stored version; subscribers get them in order.
pub async fn commits_follow_versions_and_are_published_in_order(nodes: &Nodes) -> Result<()> {
    let (a, b) = (nodes("order-a").await, nodes("order-b").await);
    let key = "suite:order";
    let mut changes = b.subscribe(key).await?;
    let lease = a.acquire(key).await?.lease;
    let mut state = json!({"n": 0});
    a.commit(&lease, commit!(0, &state, &[], None)).await?;
    for n in 1..=20u64 {
        state = json!({"n": n});
        let patch = [PatchOp::Replace {
            path: "/n".into(),
            value: json!(n),
        }];
        // the engine's note on a change reaches subscribers as it was
        let note = json!({"node": "order-a", "events": [["toast", {"n": n}]]});
        let staged = [Staged {
            patch: &patch,
            reset: false,
            event: None,
            note: (n % 5 == 0).then_some(&note),
        }];
        let commit = Commit {
            version: n,
            state: &state,
            whole: false,
            changes: &staged,
        };
        a.commit(&lease, commit).await?;
    }
    match a.commit(&lease, commit!(25, &state, &[], None)).await {
        Err(BackplaneError::OutOfOrder { stored, .. }) => ensure!(stored == 20),
        other => return Err(anyhow!("an out-of-order commit was taken: {other:?}")),
    }
    let mut versions = Vec::new();
    while versions.len() < 21 {
        match next(&mut changes, "change").await? {
            Published::Change(c) => {
                ensure!(c.epoch == lease.epoch);
                if c.version > 0 {
                    ensure!(
                        c.patch
                            == vec![PatchOp::Replace {
                                path: "/n".into(),
                                value: json!(c.version)
                            }]
                    );
                }
                let note = (c.version > 0 && c.version % 5 == 0)
                    .then(|| json!({"node": "order-a", "events": [["toast", {"n": c.version}]]}));
                ensure!(c.note == note, "version {}: note {:?}", c.version, c.note);
                versions.push(c.version);
            }
            Published::Gap => return Err(anyhow!("a gap in a quiet test")),
            _ => {}
        }
    }
    ensure!(versions == (0..=20).collect::<Vec<_>>(), "{versions:?}");
    let stored = b.load(key).await?.ok_or_else(|| anyhow!("no state"))?;
    ensure!(
        stored.version == 20 && stored.state == json!({"n": 20}),
        "{stored:?}"
    );
    a.release(&lease, true).await?;
    ensure!(b.load(key).await?.is_none(), "dropped with its lease");
    Ok(())
}

/// After thousands of changes (however a backend stores them: whole states, or patches
/// and snapshots now and then), loading gives exactly the last committed state and version,
/// on any node, and a new authority continues from it.
pub async fn many_changes_load_back_exactly(nodes: &Nodes) -> Result<()> {
    let (a, b) = (nodes("log-a").await, nodes("log-b").await);
    let key = "suite:log";
    let lease = a.acquire(key).await?.lease;
    let mut doc = livestate_core::Doc::new(json!({"n": 0, "items": {}}));
    for i in 0..200 {
        doc.set(&format!("/items/k{i}"), "x".repeat(40))?;
    }
    doc.take_changes();
    doc.settle();
    a.commit(&lease, commit!(0, doc.value(), &[], None)).await?;
    let mut version = 0;
    let step = |doc: &mut livestate_core::Doc, i: u64| -> Result<Vec<PatchOp>> {
        doc.increment("/n", 1)?;
        doc.set(&format!("/items/k{}", i % 200), json!({"at": i}))?;
        if i % 7 == 0 {
            doc.remove(&format!("/items/k{}", (i + 100) % 200))?;
            doc.set(&format!("/items/k{}", (i + 100) % 200), "back")?;
        }
        let patch = doc.take_changes();
        doc.settle();
        Ok(patch)
    };
    let mut renewed = tokio::time::Instant::now();
    for i in 1..=3000u64 {
        // an authority renews its lease while it works
        if renewed.elapsed() >= a.lease_time() / 3 {
            a.renew(&lease).await?;
            renewed = tokio::time::Instant::now();
        }
        let patch = step(&mut doc, i)?;
        version += 1;
        a.commit(&lease, commit!(version, doc.value(), &patch, None))
            .await?;
        if i % 750 == 0 {
            let stored = b.load(key).await?.ok_or_else(|| anyhow!("no state"))?;
            ensure!(
                stored.version == version,
                "loaded {} after {version}",
                stored.version
            );
            ensure!(
                &stored.state == doc.value(),
                "the loaded state differs at {version}"
            );
        }
    }
    // another node takes over from the last commit and goes on
    a.release(&lease, false).await?;
    let taken = b.acquire(key).await?;
    let snapshot = taken
        .snapshot
        .ok_or_else(|| anyhow!("no state to continue from"))?;
    ensure!(snapshot.version == version && &snapshot.state == doc.value());
    for i in 3001..=3100u64 {
        let patch = step(&mut doc, i)?;
        version += 1;
        b.commit(&taken.lease, commit!(version, doc.value(), &patch, None))
            .await?;
    }
    let stored = a.load(key).await?.ok_or_else(|| anyhow!("no state"))?;
    ensure!(stored.version == version && &stored.state == doc.value());
    b.release(&taken.lease, true).await?;
    ensure!(a.load(key).await?.is_none(), "dropped with its lease");
    Ok(())
}

/// A commit naming an event already committed is refused as a duplicate.
pub async fn an_event_applies_at_most_once(nodes: &Nodes) -> Result<()> {
    let a = nodes("once-a").await;
    let key = "suite:once";
    let lease = a.acquire(key).await?.lease;
    let event = EventId("suite/1/1".into());
    let state = json!({"n": 0});
    a.commit(&lease, commit!(0, &state, &[], None)).await?;
    let state = json!({"n": 1});
    ensure!(
        a.commit(&lease, commit!(1, &state, &replace_n(1), Some(&event)))
            .await?
            == Committed::Done
    );
    let state = json!({"n": 2});
    let again = a
        .commit(&lease, commit!(2, &state, &[], Some(&event)))
        .await?;
    ensure!(
        again
            == Committed::Duplicate {
                index: 0,
                version: 1
            },
        "{again:?}"
    );
    let stored = a.load(key).await?.ok_or_else(|| anyhow!("no state"))?;
    ensure!(stored.version == 1, "{stored:?}");
    // in a group, one duplicate keeps the whole group out
    let other = EventId("suite/1/2".into());
    let (p2, p3) = (replace_n(2), replace_n(3));
    let staged = [
        Staged {
            patch: &p2,
            reset: false,
            event: Some(&other),
            note: None,
        },
        Staged {
            patch: &p3,
            reset: false,
            event: Some(&event),
            note: None,
        },
    ];
    let state = json!({"n": 3});
    let group = Commit {
        version: 2,
        state: &state,
        whole: false,
        changes: &staged,
    };
    let got = a.commit(&lease, group).await?;
    ensure!(
        got == Committed::Duplicate {
            index: 1,
            version: 1
        },
        "{got:?}"
    );
    let stored = a.load(key).await?.ok_or_else(|| anyhow!("no state"))?;
    ensure!(
        stored.version == 1 && stored.state == json!({"n": 1}),
        "{stored:?}"
    );
    // the group's other event was not marked committed: it commits on its own
    let state = json!({"n": 2});
    ensure!(
        a.commit(&lease, commit!(2, &state, &p2, Some(&other)))
            .await?
            == Committed::Done
    );
    a.release(&lease, true).await?;
    Ok(())
}

/// `[{"op": "replace", "path": "/n", "value": n}]`
fn replace_n(n: u64) -> Vec<PatchOp> {
    vec![PatchOp::Replace {
        path: "/n".into(),
        value: json!(n),
    }]
}

/// Changes committed together are stored and published in order, each at its version,
/// all or none: a group that does not follow the stored version commits nothing.
pub async fn a_group_of_changes_commits_in_order_or_not_at_all(nodes: &Nodes) -> Result<()> {
    let (a, b) = (nodes("group-a").await, nodes("group-b").await);
    let key = "suite:group";
    let mut changes = b.subscribe(key).await?;
    let lease = a.acquire(key).await?.lease;
    let state = json!({"n": 0});
    a.commit(&lease, commit!(0, &state, &[], None)).await?;
    let patches: Vec<Vec<PatchOp>> = (1..=5).map(replace_n).collect();
    let ids: Vec<EventId> = (1..=5).map(|i| EventId(format!("group/1/{i}"))).collect();
    let staged: Vec<Staged<'_>> = patches
        .iter()
        .zip(&ids)
        .map(|(patch, id)| Staged {
            patch,
            reset: false,
            event: Some(id),
            note: None,
        })
        .collect();
    let state = json!({"n": 5});
    // out of order: nothing of it is stored or published
    let early = Commit {
        version: 2,
        state: &state,
        whole: false,
        changes: &staged,
    };
    ensure!(matches!(
        a.commit(&lease, early).await,
        Err(BackplaneError::OutOfOrder { stored: 0, .. })
    ));
    let group = Commit {
        version: 1,
        state: &state,
        whole: false,
        changes: &staged,
    };
    ensure!(a.commit(&lease, group).await? == Committed::Done);
    let mut seen = Vec::new();
    while seen.len() < 6 {
        if let Published::Change(c) = next(&mut changes, "change").await? {
            if c.version > 0 {
                ensure!(c.patch == replace_n(c.version), "{c:?}");
            }
            seen.push(c.version);
        }
    }
    ensure!(seen == vec![0, 1, 2, 3, 4, 5], "{seen:?}");
    let stored = b.load(key).await?.ok_or_else(|| anyhow!("no state"))?;
    ensure!(
        stored.version == 5 && stored.state == json!({"n": 5}),
        "{stored:?}"
    );
    // every event of the group was committed, at its own version
    let state = json!({"n": 6});
    let again = a
        .commit(&lease, commit!(6, &state, &replace_n(6), Some(&ids[2])))
        .await?;
    ensure!(
        again
            == Committed::Duplicate {
                index: 0,
                version: 3
            },
        "{again:?}"
    );
    // a stale lease commits no group either
    a.release(&lease, false).await?;
    let fresh = b.acquire(key).await?.lease;
    let late = Commit {
        version: 6,
        state: &state,
        whole: false,
        changes: &staged[..1],
    };
    ensure!(matches!(
        a.commit(&lease, late).await,
        Err(BackplaneError::Fenced { .. })
    ));
    b.release(&fresh, true).await?;
    Ok(())
}

/// Forwarded requests reach the serving authority, answers reach the asking node, and with
/// no authority a forward says so.
pub async fn requests_reach_the_authority_and_answers_their_node(nodes: &Nodes) -> Result<()> {
    let (a, b) = (nodes("fwd-a").await, nodes("fwd-b").await);
    let key = "suite:fwd";
    // what the engine forwards is opaque to the backplane: any bytes
    let request = Bytes::from_static(b"[{\"id\": \"fwd-b/1/7\", \"body\": \"increment\"}]");
    ensure!(matches!(
        b.forward(key, request.clone()).await,
        Err(BackplaneError::NoAuthority(_))
    ));
    let lease = a.acquire(key).await?.lease;
    let mut requests = a.serve(&lease).await?;
    let mut answers = b
        .take_answers()
        .ok_or_else(|| anyhow!("no answers stream"))?;
    b.forward(key, request.clone()).await?;
    let got = next(&mut requests, "request").await?;
    ensure!(got == request, "{got:?}");
    // several messages arrive in order, as they were sent
    let group: Vec<Bytes> = (0..5)
        .map(|i| Bytes::from(format!("message {i}\0\u{1}binary")))
        .collect();
    for message in &group {
        b.forward(key, message.clone()).await?;
    }
    for want in &group {
        let got = next(&mut requests, "request").await?;
        ensure!(got == want, "{got:?}");
    }
    let answer = Bytes::from_static(b"{\"id\": \"fwd-b/1/7\", \"outcome\": 4}");
    a.answer(b.node(), answer.clone()).await?;
    ensure!(next(&mut answers, "answer").await? == answer);
    a.release(&lease, true).await?;
    ensure!(matches!(
        b.forward(key, request).await,
        Err(BackplaneError::NoAuthority(_))
    ));
    Ok(())
}

/// A broadcast reaches every other node, in the order sent, and not the node it came from.
pub async fn broadcasts_reach_every_other_node(nodes: &Nodes) -> Result<()> {
    let (a, b, c) = (
        nodes("bc-a").await,
        nodes("bc-b").await,
        nodes("bc-c").await,
    );
    let take = |n: &Arc<dyn Backplane>| {
        n.take_broadcasts()
            .ok_or_else(|| anyhow!("no broadcasts stream on {}", n.node()))
    };
    let (mut from_a, mut at_b, mut at_c) = (take(&a)?, take(&b)?, take(&c)?);
    ensure!(b.take_broadcasts().is_none(), "the stream is taken once");
    let sent: Vec<Broadcast> = (0..3)
        .map(|i| Broadcast {
            origin: a.node().to_owned(),
            topic: "suite:news".into(),
            message: json!({"n": i, "text": "héllo"}),
        })
        .collect();
    for message in &sent {
        a.broadcast(message.clone()).await?;
    }
    for (name, rx) in [("b", &mut at_b), ("c", &mut at_c)] {
        for want in &sent {
            let got = next(rx, "broadcast").await.context(name)?;
            ensure!(&got == want, "{name} got {got:?}");
        }
    }
    // one from b reaches a: so a would have seen its own by now, had it been sent to it
    let back = Broadcast {
        origin: b.node().to_owned(),
        topic: "suite:news".into(),
        message: json!({"back": true}),
    };
    b.broadcast(back.clone()).await?;
    let got = next(&mut from_a, "broadcast").await?;
    ensure!(got == back, "a got {got:?} (its own broadcasts come back?)");
    Ok(())
}

/// `attached_elsewhere` counts the other nodes whose attachment is live.
pub async fn attachments_count_other_live_nodes(nodes: &Nodes) -> Result<()> {
    let (a, b) = (nodes("att-a").await, nodes("att-b").await);
    let key = "suite:att";
    b.attach(key, 2).await?;
    a.attach(key, 1).await?;
    ensure!(a.attached_elsewhere(key).await? == 1);
    ensure!(b.attached_elsewhere(key).await? == 1);
    b.attach(key, 0).await?;
    ensure!(a.attached_elsewhere(key).await? == 0);
    b.attach(key, 3).await?;
    tokio::time::sleep(a.lease_time() * 3 / 2).await;
    ensure!(
        a.attached_elsewhere(key).await? == 0,
        "an attachment not renewed lapses"
    );
    a.attach(key, 0).await?;
    Ok(())
}

/// Presence joins and leaves are stored and published.
pub async fn presence_is_shared_and_published(nodes: &Nodes) -> Result<()> {
    let (a, b, c) = (
        nodes("pres-a").await,
        nodes("pres-b").await,
        nodes("pres-c").await,
    );
    let key = "suite:pres";
    let mut seen = c.subscribe(key).await?;
    let entry = PresenceEntry {
        node: a.node().to_owned(),
        phx_ref: format!("{}:1", a.node()),
        key: "ann".into(),
        meta: json!({"phx_ref": format!("{}:1", a.node()), "name": "Ann"}),
    };
    a.track(key, vec![entry.clone()], vec![]).await?;
    match next(&mut seen, "presence").await? {
        Published::Presence { joins, leaves } => {
            ensure!(joins == vec![entry.clone()] && leaves.is_empty())
        }
        other => return Err(anyhow!("expected presence, got {other:?}")),
    }
    let listed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let listed = b.presence(key).await?;
            if !listed.is_empty() {
                return Ok::<_, BackplaneError>(listed);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .map_err(|_| anyhow!("the entry never showed"))??;
    ensure!(listed == vec![entry.clone()], "{listed:?}");
    a.track(key, vec![], vec![entry.clone()]).await?;
    match next(&mut seen, "presence").await? {
        Published::Presence { joins, leaves } => ensure!(joins.is_empty() && leaves == vec![entry]),
        other => return Err(anyhow!("expected presence, got {other:?}")),
    }
    ensure!(b.presence(key).await?.is_empty());
    Ok(())
}
