//! A channel's settings are checked when it is routed: settings that contradict each other
//! stop the node at start-up with a message naming them.

use livestate_core::acl::{Permission, Permissions};
use livestate_core::event::AnyEvent;
use livestate_core::testing::{TestChannel, TestError};
use livestate_core::{Channel, ChannelError, Doc, Hub, JoinContext, Settings, StateLimits, Ttl};
use serde::de::IgnoredAny;
use serde_json::json;
use std::time::Duration;

/// A channel with the settings it is given.
struct With(Settings);

impl Channel for With {
    type State = Doc;
    type Event = AnyEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        self.0.clone()
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({})))
    }
}

#[test]
#[should_panic(
    expected = "the settings of the channel routed at \"conn:*\": a connection-scoped channel has no TTL (its state goes with its connection): ttl is After(5s)"
)]
fn a_ttl_on_a_connection_scoped_channel_stops_the_start() {
    let settings = Settings::connection().ttl(Ttl::After(Duration::from_secs(5)));
    Hub::builder().channel("conn:*", With(settings));
}

#[test]
#[should_panic(expected = "a connection-scoped channel has no presence")]
fn presence_on_a_connection_scoped_channel_stops_the_start() {
    Hub::builder().channel("conn:*", With(Settings::connection().presence(true)));
}

#[test]
#[should_panic(expected = "max_version is 0")]
fn a_max_version_of_zero_stops_the_start() {
    Hub::builder().channel("k:*", With(Settings::shared().max_version(0)));
}

#[test]
#[should_panic(expected = "limits.max_depth is 0: it must be 1 to 100")]
fn a_state_limit_out_of_range_stops_the_start() {
    let limits = {
        let mut l = StateLimits::default();
        l.max_depth = 0;
        l
    };
    Hub::builder().channel("k:*", With(Settings::shared().limits(limits)));
}

/// An event's permissions by name come from the settings: here the group may write but
/// not reset, and `clear` needs reset.
#[tokio::test]
async fn permissions_by_event_name_come_from_the_settings() -> Result<(), TestError> {
    let acl = livestate_core::acl::Acl {
        group: Permissions::NONE
            .with(Permission::Read)
            .with(Permission::Write),
        public: Permissions::NONE,
    };
    let settings = Settings::shared()
        .acl(acl)
        .permission("clear", Permissions::NONE.with(Permission::Reset));
    let hub = Hub::builder().channel("k:*", With(settings)).build();
    let mut c = TestChannel::join(&hub, "k:1", json!({})).await?;
    let err = c.push("clear", json!({})).await.unwrap_err();
    assert_eq!(
        err,
        TestError::Refused("permission denied: group callers may not reset".into())
    );
    // another event needs write, which the group has: it reaches the handler (which takes
    // no events)
    let err = c.push("other", json!({})).await.unwrap_err();
    assert_eq!(
        err,
        TestError::Refused("this channel takes no events".into())
    );
    Ok(())
}

/// A channel whose handler fails on the server's side.
struct Broken;

impl Channel for Broken {
    type State = Doc;
    type Event = AnyEvent;
    type Params = IgnoredAny;

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"n": 0})))
    }

    async fn handle_event(
        &self,
        _: AnyEvent,
        doc: &mut Doc,
        _: &livestate_core::EventContext,
    ) -> Result<livestate_core::Reply, ChannelError> {
        doc.increment("/n", 1)?;
        let disk = std::io::Error::other("the disk is on fire");
        Err(ChannelError::internal(disk))
    }
}

/// An internal failure is refused as `internal error`: its details stay on the server,
/// and the state stays as it was.
#[tokio::test]
async fn an_internal_failure_is_told_apart_from_a_refusal() -> Result<(), TestError> {
    let hub = Hub::builder().channel("k:*", Broken).build();
    let mut c = TestChannel::join(&hub, "k:1", json!({})).await?;
    let err = c.push("anything", json!({})).await.unwrap_err();
    assert_eq!(err, TestError::Refused("internal error".into()));
    assert_eq!(c.state(), &json!({"n": 0}));
    let e = ChannelError::internal(std::io::Error::other("x"));
    assert!(e.is_internal() && !ChannelError::refused("no").is_internal());
    let api = livestate_core::api::ApiError::from(e);
    assert_eq!(api.code(), "internal_error");
    Ok(())
}

#[test]
#[should_panic(
    expected = "the settings of the channel routed at \"busy:*\": coalesce is 0: a window must be longer than that"
)]
fn a_zero_coalescing_window_stops_the_start() {
    let settings = Settings::shared().coalesce(Duration::ZERO);
    Hub::builder().channel("busy:*", With(settings));
}

#[test]
#[should_panic(
    expected = "the settings of the channel routed at \"busy:*\": coalesce (5s) is not shorter than the ttl (5s)"
)]
fn a_coalescing_window_as_long_as_the_ttl_stops_the_start() {
    let settings = Settings::shared()
        .ttl(Ttl::After(Duration::from_secs(5)))
        .coalesce(Duration::from_secs(5));
    Hub::builder().channel("busy:*", With(settings));
}

#[test]
#[should_panic(
    expected = "the settings of the channel routed at \"busy:*\": coalesce (120s) is not shorter than the ttl (60s, the hub's)"
)]
fn a_coalescing_window_longer_than_the_hubs_ttl_stops_the_start() {
    let settings = Settings::shared().coalesce(Duration::from_secs(120));
    Hub::builder().channel("busy:*", With(settings)).build();
}

#[test]
#[should_panic(expected = "a connection-scoped channel does not coalesce")]
fn coalescing_a_connection_scoped_channel_stops_the_start() {
    let settings = Settings::connection().coalesce(Duration::from_millis(50));
    Hub::builder().channel("conn:*", With(settings));
}
