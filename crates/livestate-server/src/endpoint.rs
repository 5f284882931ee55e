//! [`Endpoint`]: livestate mounted into an axum application.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use livestate_core::DocChannel;
//! use livestate_server::{ConnectRefused, Endpoint};
//! use serde_json::json;
//!
//! # async fn run() -> std::io::Result<()> {
//! let live = Endpoint::builder()
//!     .channel("doc:*", DocChannel::default())
//!     // optional: decide who may connect, and what the socket's assigns are
//!     .connect(|info| async move {
//!         match info.params.get("token").and_then(|t| t.as_str()) {
//!             Some("let-me-in") => Ok(serde_json::Map::from_iter([("user".into(), json!("ann"))])),
//!             _ => Err(ConnectRefused::new("a token is required")),
//!         }
//!     })
//!     .allow_origins(["https://app.example.com"])
//!     .build();
//! // the socket is at /live/socket/websocket: phoenix.js gets the URL "wss://HOST/live/socket"
//! let app = Router::new()
//!     .route("/", get(|| async { "my app" }))
//!     .nest("/live", live.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! livestate_server::serve(listener, app, &live, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! }).await
//! # }
//! ```

use crate::app::{AppState, ConnectFn};
pub use crate::app::{ConnectInfo, ConnectRefused};
use crate::{ServerConfig, livestate_js, ws};
use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::{get, post};
use livestate_core::backplane::Backplane;
use livestate_core::{Assigns, Channel, Hub, HubBuilder, Limits};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// livestate's routes for one hub: the WebSocket, `/health` and `/livestate.js`, to nest
/// into an application (see the module docs).
#[derive(Clone)]
pub struct Endpoint {
    state: AppState,
    cors: Option<CorsLayer>,
}

/// Builds an [`Endpoint`].
pub struct EndpointBuilder {
    hub: HubBuilder,
    config: ServerConfig,
    connect: Option<ConnectFn>,
    origins: Origins,
    api_token: Option<Arc<str>>,
    #[cfg(feature = "view")]
    views: Option<crate::app::ViewState>,
}

enum Origins {
    /// No CORS headers; WebSocket upgrades from any origin.
    Unchecked,
    /// CORS for any origin; WebSocket upgrades from any origin.
    Any,
    /// CORS and WebSocket upgrades for these origins only.
    List(Vec<HeaderValue>),
}

impl EndpointBuilder {
    /// Serve topics matching `pattern` with `channel` (see [`HubBuilder::channel`]).
    pub fn channel<C: Channel>(mut self, pattern: &str, channel: C) -> EndpointBuilder {
        self.hub = self.hub.channel(pattern, channel);
        self
    }

    /// Use this hub builder (with its routes) instead of an empty one.
    pub fn hub(mut self, hub: HubBuilder) -> EndpointBuilder {
        self.hub = hub;
        self
    }

    /// The hub's limits.
    pub fn limits(mut self, limits: Limits) -> EndpointBuilder {
        self.hub = self.hub.limits(limits);
        self
    }

    /// The hub's backplane (default: in memory).
    pub fn backplane(mut self, backplane: Arc<dyn Backplane>) -> EndpointBuilder {
        self.hub = self.hub.backplane(backplane);
        self
    }

    /// The transport's limits and timings.
    pub fn config(mut self, config: ServerConfig) -> EndpointBuilder {
        self.config = config;
        self
    }

    /// Decide who may connect: the callback gets the connect params, the auth token and the
    /// headers, and returns the socket's assigns (readable in every channel callback) or a
    /// refusal (HTTP 403). Without a callback every socket connects and its assigns are its
    /// connect params.
    pub fn connect<F, Fut>(mut self, callback: F) -> EndpointBuilder
    where
        F: Fn(ConnectInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Assigns, ConnectRefused>> + Send + 'static,
    {
        self.connect = Some(Arc::new(move |info| Box::pin(callback(info))));
        self
    }

    /// Let pages from these origins use livestate: CORS headers on the HTTP routes, and a
    /// WebSocket upgrade or HTTP API request from any other origin is refused (403), as
    /// Phoenix's `check_origin`. A request that sends no `Origin` (not a browser) passes.
    ///
    /// # Panics
    /// When an origin is not a valid header value (a misconfiguration found at start-up).
    pub fn allow_origins<I, S>(mut self, origins: I) -> EndpointBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list = origins
            .into_iter()
            .map(|o| {
                HeaderValue::from_str(o.as_ref())
                    .unwrap_or_else(|_| panic!("livestate: {:?} is not a valid origin", o.as_ref()))
            })
            .collect();
        self.origins = Origins::List(list);
        self
    }

    /// Require `Authorization: Bearer <token>` on the HTTP state API (`/api/...`);
    /// without it the API answers 401. Callers with the token are still *public* callers
    /// for the ACL.
    pub fn api_token(mut self, token: impl Into<String>) -> EndpointBuilder {
        self.api_token = Some(Arc::from(token.into()));
        self
    }

    /// Serve these live views (feature `view`): their pages, and their socket at
    /// `/live/websocket`; [`Endpoint::views_router`] has the routes.
    #[cfg(feature = "view")]
    pub fn views(mut self, views: livestate_view::live::Views) -> EndpointBuilder {
        let session = self.views.take().and_then(|v| v.session);
        self.views = Some(crate::app::ViewState { views, session });
        self
    }

    /// Make a view page's session from its first request with the extractor `E` (cookies,
    /// headers: any axum extractor), serialized into the session (it must serialize to a
    /// JSON object). The session is signed into the page, so the view's mount over the
    /// socket gets it too. An extractor's rejection answers the request. Without one the
    /// session is empty. Call after [`views`](EndpointBuilder::views).
    ///
    /// # Panics
    /// When no views are set.
    #[cfg(feature = "view")]
    pub fn view_session<E>(mut self) -> EndpointBuilder
    where
        E: axum::extract::FromRequestParts<()> + serde::Serialize + Send + 'static,
        E::Rejection: axum::response::IntoResponse,
    {
        use axum::response::IntoResponse;
        let views = self
            .views
            .as_mut()
            .expect("livestate: view_session needs views: call .views(...) first");
        views.session = Some(Arc::new(|mut parts| {
            Box::pin(async move {
                let extracted = E::from_request_parts(&mut parts, &())
                    .await
                    .map_err(IntoResponse::into_response)?;
                match serde_json::to_value(extracted) {
                    Ok(serde_json::Value::Object(session)) => Ok(session),
                    _ => Err(crate::observe::refuse(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "the view session does not serialize to a JSON object",
                    )),
                }
            })
        }));
        self
    }

    /// Let pages from any origin use livestate (permissive CORS; no origin check).
    pub fn allow_any_origin(mut self) -> EndpointBuilder {
        self.origins = Origins::Any;
        self
    }

    /// The endpoint.
    pub fn build(self) -> Endpoint {
        let (cors, origins) = match self.origins {
            Origins::Unchecked => (None, None),
            Origins::Any => (Some(CorsLayer::permissive()), None),
            Origins::List(list) => {
                let cors = CorsLayer::new()
                    .allow_origin(AllowOrigin::list(list.clone()))
                    .allow_methods([
                        Method::GET,
                        Method::POST,
                        Method::PUT,
                        Method::PATCH,
                        Method::DELETE,
                    ])
                    .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
                    .max_age(Duration::from_secs(3600));
                (Some(cors), Some(Arc::from(list)))
            }
        };
        #[cfg(feature = "view")]
        let hub = match &self.views {
            Some(state) => self
                .hub
                .process(livestate_view::live::TOPIC_PATTERN, state.views.process()),
            None => self.hub,
        };
        #[cfg(not(feature = "view"))]
        let hub = self.hub;
        let hub = hub.build();
        #[cfg(feature = "view")]
        if let Some(state) = &self.views {
            state.views.bind(&hub);
        }
        Endpoint {
            state: AppState {
                hub,
                config: Arc::new(self.config),
                sockets: TaskTracker::new(),
                connect: self.connect,
                origins,
                api_token: self.api_token,
                #[cfg(feature = "view")]
                views: self.views,
            },
            cors,
        }
    }
}

impl Endpoint {
    /// Start building an endpoint.
    pub fn builder() -> EndpointBuilder {
        EndpointBuilder {
            hub: Hub::builder(),
            config: ServerConfig::default(),
            connect: None,
            origins: Origins::Unchecked,
            api_token: None,
            #[cfg(feature = "view")]
            views: None,
        }
    }

    /// An endpoint serving an existing hub.
    pub fn from_hub(hub: Hub, config: ServerConfig) -> Endpoint {
        Endpoint {
            state: AppState {
                hub,
                config: Arc::new(config),
                sockets: TaskTracker::new(),
                connect: None,
                origins: None,
                api_token: None,
                #[cfg(feature = "view")]
                views: None,
            },
            cors: None,
        }
    }

    /// The live views' routes (feature `view`): each view's page, `/live/websocket` and
    /// `/live/live.js` (see [`crate::views`]). Merge them at the root of the app, beside
    /// [`router`](Endpoint::router); empty when the endpoint has no views.
    #[cfg(feature = "view")]
    pub fn views_router(&self) -> Router {
        crate::views::router(&self.state)
    }

    /// The routes: `GET /socket/websocket`, `GET /health`, `GET /livestate.js`,
    /// `GET /metrics` (Prometheus text, behind the API token when one is set), and the
    /// HTTP state API under `/api` (see [`crate::http_api`]). Nest them where the front end
    /// expects them (`/live` gives the socket URL `/live/socket`). Their 4xx answers are
    /// logged at WARN with the path and the reason.
    pub fn router(&self) -> Router {
        use crate::http_api as api;
        let router = Router::new()
            .route("/health", get(crate::health))
            .route("/livestate.js", get(livestate_js))
            .route("/socket/websocket", get(ws::handler))
            .route(
                "/api/state/{topic}",
                get(api::get_state)
                    .put(api::put_state)
                    .delete(api::delete_state)
                    .patch(api::patch_state),
            )
            .route("/api/state/{topic}/reset", post(api::reset_state))
            .route("/api/state/{topic}/message", post(api::message_state))
            .route("/api/state/{topic}/events", get(api::state_events))
            .route("/api/openapi.json", get(api::openapi))
            .route("/metrics", get(api::metrics))
            .route_layer(axum::middleware::from_fn(crate::observe::log_refusals))
            .with_state(self.state.clone());
        match &self.cors {
            Some(cors) => router.layer(cors.clone()),
            None => router,
        }
    }

    /// The hub: send messages to keys ([`Hub::send`]), read its limits.
    pub fn hub(&self) -> &Hub {
        &self.state.hub
    }

    /// Refuse new joins, close every socket with 1001, and wait (at most `grace`) until
    /// they are closed. Returns how many were still open.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.state.hub.shutdown();
        self.state.sockets.close();
        let _ = tokio::time::timeout(grace, self.state.sockets.wait()).await;
        self.state.sockets.len()
    }

    pub(crate) fn grace(&self) -> Duration {
        self.state.config.shutdown_grace
    }

    pub(crate) fn write_timeout(&self) -> Duration {
        self.state.config.write_timeout
    }
}
