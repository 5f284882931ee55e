//! The HTTP state API over the wire: every route, every documented error, the event
//! stream, and the OpenAPI description checked against what the server really answers.

use anyhow::Result;
use livestate_core::acl::{Acl, Permissions};
use livestate_core::{DocChannel, Hub};
use livestate_server::{Endpoint, ServerConfig};
use livestate_testkit::http::{self, Response};
use livestate_testkit::{Client, LiveView, TestServer};
use serde_json::{Value, json};

fn open() -> Acl {
    Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    }
}

/// `open:*` writable by everyone, `doc:*` with the default ACL (public read only),
/// `conn:*` per connection.
fn hub() -> Hub {
    livestate_testkit::channels::test_hub()
        .channel("open:*", DocChannel::new(json!({"items": []})).acl(open()))
        .build()
}

async fn server() -> Result<TestServer> {
    TestServer::start(hub()).await
}

async fn call(server: &TestServer, method: &str, path: &str, body: &str) -> Result<Response> {
    http::request(
        server.addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        body,
    )
    .await
}

/// The error code of a response (and that its status is `status`).
fn code(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "{} {}", r.status, r.body);
    r.json().unwrap()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn every_route_works_and_clients_see_the_changes() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    c.join("open:k", json!({})).await?;
    let mut view = LiveView::default();
    view.apply(&c.recv_until(|f| f.event == "state:change").await?)?;

    let r = call(
        &server,
        "PUT",
        "/api/state/open:k?path=/title",
        r#""Groceries""#,
    )
    .await?;
    assert_eq!((r.status, r.json()?), (200, json!({"version": 1})));
    let r = call(&server, "PATCH", "/api/state/open:k", r#"[{"op":"add","path":"/items/-","value":"milk"},{"op":"add","path":"/items/-","value":"eggs"}]"#).await?;
    assert_eq!(r.json()?, json!({"version": 2}));
    let r = call(&server, "DELETE", "/api/state/open:k?path=/items/0", "").await?;
    assert_eq!(r.json()?, json!({"version": 3}));
    let r = call(&server, "GET", "/api/state/open:k", "").await?;
    assert_eq!(
        r.json()?,
        json!({"state": {"items": ["eggs"], "title": "Groceries"}, "version": 3})
    );
    let r = call(&server, "GET", "/api/state/open:k?path=/items/0", "").await?;
    assert_eq!(r.json()?, json!({"path": "/items/0", "value": "eggs"}));
    assert_eq!(r.header("content-type"), Some("application/json"));

    while view.version != Some(3) {
        view.apply(&c.recv().await?)?;
    }
    assert_eq!(
        view.state,
        Some(json!({"items": ["eggs"], "title": "Groceries"}))
    );

    let r = call(&server, "POST", "/api/state/open:k/reset", "").await?;
    assert_eq!(r.json()?, json!({"version": 4}));
    while view.version != Some(4) {
        view.apply(&c.recv().await?)?;
    }
    assert_eq!(view.state, Some(json!({"items": []})));
    // a PUT without a path replaces the whole state
    call(&server, "PUT", "/api/state/open:k", r#"{"replaced": true}"#).await?;
    let r = call(&server, "GET", "/api/state/open:k", "").await?;
    assert_eq!(r.json()?["state"], json!({"replaced": true}));
    Ok(())
}

#[tokio::test]
async fn errors_have_their_status_and_stable_code_and_change_nothing() -> Result<()> {
    let server = TestServer::start_with(hub(), {
        let mut l = ServerConfig::default();
        l.max_frame_size = 4096;
        l
    })
    .await?;
    call(&server, "PUT", "/api/state/open:e?path=/a", "1").await?;
    let big = format!("\"{}\"", "x".repeat(5000));
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        (
            "PUT",
            "/api/state/open:e?path=/a".into(),
            "{not json".into(),
            400,
            "bad_request",
        ),
        (
            "PUT",
            "/api/state/open:e?path=a".into(),
            "1".into(),
            400,
            "bad_request",
        ),
        (
            "PUT",
            "/api/state/open:e?path=/no/such".into(),
            "1".into(),
            404,
            "property_not_found",
        ),
        (
            "DELETE",
            "/api/state/open:e".into(),
            "".into(),
            400,
            "bad_request",
        ),
        (
            "DELETE",
            "/api/state/open:e?path=/zzz".into(),
            "".into(),
            404,
            "property_not_found",
        ),
        (
            "PATCH",
            "/api/state/open:e".into(),
            r#"[{"op":"frob","path":"/a"}]"#.into(),
            400,
            "bad_request",
        ),
        (
            "PATCH",
            "/api/state/open:e".into(),
            r#"{"op":"add"}"#.into(),
            400,
            "bad_request",
        ),
        (
            "PATCH",
            "/api/state/open:e".into(),
            r#"[{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":9}]"#
                .into(),
            409,
            "test_failed",
        ),
        (
            "PUT",
            "/api/state/open:e?path=/a".into(),
            big,
            413,
            "too_large",
        ),
        (
            "GET",
            "/api/state/open:never-written".into(),
            "".into(),
            404,
            "unknown_key",
        ),
        (
            "GET",
            "/api/state/open:e?path=/nope".into(),
            "".into(),
            404,
            "property_not_found",
        ),
        (
            "GET",
            "/api/state/nope:1".into(),
            "".into(),
            404,
            "no_route",
        ),
        (
            "PUT",
            "/api/state/conn:1?path=/a".into(),
            "1".into(),
            400,
            "not_shared",
        ),
        (
            "PUT",
            "/api/state/doc:ro?path=/a".into(),
            "1".into(),
            403,
            "permission_denied",
        ),
        (
            "POST",
            "/api/state/doc:ro/reset".into(),
            "".into(),
            403,
            "permission_denied",
        ),
        (
            "PUT",
            "/api/state/openfail:x?path=/a".into(),
            "1".into(),
            422,
            "refused",
        ),
    ];
    for (method, path, body, status, expected) in cases {
        let r = call(&server, method, &path, &body).await?;
        assert_eq!(code(&r, status), expected, "{method} {path}: {}", r.body);
        assert!(
            !r.json()?["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty()
        );
    }
    let r = call(&server, "GET", "/api/state/open:e", "").await?;
    assert_eq!(
        r.json()?,
        json!({"state": {"items": [], "a": 1}, "version": 1})
    );
    Ok(())
}

#[tokio::test]
async fn an_api_token_is_required_when_configured() -> Result<()> {
    let endpoint = Endpoint::builder()
        .channel("open:*", DocChannel::default().acl(open()))
        .api_token("s3cret")
        .build();
    let server = TestServer::start_endpoint(endpoint).await?;
    let r = http::get(server.addr, "/api/state/open:t").await?;
    assert_eq!(code(&r, 401), "unauthorized");
    let wrong = http::request(
        server.addr,
        "PUT",
        "/api/state/open:t?path=/a",
        &[("Authorization", "Bearer nope")],
        "1",
    )
    .await?;
    assert_eq!(code(&wrong, 401), "unauthorized");
    let ok = http::request(
        server.addr,
        "PUT",
        "/api/state/open:t?path=/a",
        &[("Authorization", "Bearer s3cret")],
        "1",
    )
    .await?;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // the WebSocket is not behind the API token
    let mut c = server.client().await?;
    c.join("open:t", json!({})).await?;
    Ok(())
}

#[tokio::test]
async fn the_event_stream_sends_a_snapshot_then_each_change() -> Result<()> {
    let server = server().await?;
    let r = http::get(server.addr, "/api/state/open:sse/events").await?;
    assert_eq!(code(&r, 404), "unknown_key");
    call(&server, "PUT", "/api/state/open:sse?path=/n", "1").await?;
    let mut events = http::events(server.addr, "/api/state/open:sse/events", &[]).await?;
    assert_eq!(events.status, 200);
    let snapshot = events.next().await?;
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(
        serde_json::from_str::<Value>(&snapshot.data)?,
        json!({"state": {"items": [], "n": 1}, "version": 1})
    );
    call(&server, "PUT", "/api/state/open:sse?path=/n", "2").await?;
    // a change made over the WebSocket arrives too
    let mut c: Client = server.client().await?;
    let jr = c.join("open:sse", json!({})).await?;
    c.push_event(&jr, "open:sse", "delete", json!({"path": "/n"}))
        .await?;
    let mut changes = Vec::new();
    for _ in 0..2 {
        let e = events.next().await?;
        assert_eq!(e.event, "change");
        changes.push(serde_json::from_str::<Value>(&e.data)?);
    }
    assert_eq!(
        changes,
        vec![
            json!({"kind": "updated", "path": "/n", "value": 2, "version": 2}),
            json!({"kind": "deleted", "path": "/n", "value": null, "version": 3}),
        ]
    );
    Ok(())
}

// ---- messages: handle_message over HTTP ----

#[tokio::test]
async fn a_message_reaches_every_connection_of_its_topic_and_a_shared_key() -> Result<()> {
    let server = server().await?;
    let mut joined = Vec::new();
    for topic in ["news:a", "news:a", "news:b"] {
        let mut c = server.client().await?;
        c.join(topic, json!({})).await?;
        let mut view = LiveView::default();
        view.apply(&c.recv_until(|f| f.event == "state:change").await?)?;
        joined.push((c, view));
    }
    let r = call(
        &server,
        "POST",
        "/api/state/news:a/message",
        r#"{"path": "/headline", "value": "rain"}"#,
    )
    .await?;
    assert_eq!((r.status, r.json()?), (200, json!({"reached": 2})));
    for (c, view) in joined.iter_mut().take(2) {
        view.apply(&c.recv_until(|f| f.event == "state:patch").await?)?;
        assert_eq!(view.state, Some(json!({"headline": "rain"})));
        assert_eq!(view.version, Some(1));
    }
    // the other topic's connection got nothing
    let (c, _) = &mut joined[2];
    let late = c.drain(std::time::Duration::from_millis(200)).await;
    assert!(late.is_empty(), "news:b got {late:?}");
    // a message every connection refuses reaches none and changes nothing
    let r = call(
        &server,
        "POST",
        "/api/state/news:a/message",
        r#"{"nope": 1}"#,
    )
    .await?;
    assert_eq!((r.status, r.json()?), (200, json!({"reached": 0})));
    let (c, _) = &mut joined[0];
    let late = c.drain(std::time::Duration::from_millis(200)).await;
    assert!(late.is_empty(), "a refused message sent {late:?}");
    // a shared key: its one state, with the version of the change
    let mut c = server.client().await?;
    c.join("conn:x", json!({})).await?;
    let r = call(
        &server,
        "POST",
        "/api/state/openfail:x/message",
        r#"{"path": "/a", "value": 1}"#,
    )
    .await?;
    assert_eq!(code(&r, 422), "refused");
    let r = call(&server, "POST", "/api/state/open:m/message", "{}").await?;
    assert_eq!(r.json()?, json!({"version": 1, "reached": 1}));
    // the default ACL: public callers may not write
    let r = call(&server, "POST", "/api/state/conn:x/message", "{}").await?;
    assert_eq!(code(&r, 403), "permission_denied");
    let r = call(&server, "POST", "/api/state/nowhere/message", "{}").await?;
    assert_eq!(code(&r, 404), "no_route");
    let big = format!(r#"{{"path": "/a", "value": "{}"}}"#, "x".repeat(2 << 20));
    let r = call(&server, "POST", "/api/state/news:a/message", &big).await?;
    assert_eq!(code(&r, 413), "too_large");
    Ok(())
}

// ---- the OpenAPI description is true ----

/// Validate `value` against the subset of JSON Schema the description uses.
fn validate(schema: &Value, value: &Value, spec: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(&spec["components"]["schemas"][name], value, spec, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|s| validate(s, value, spec, at).is_ok())
            .count();
        return if matching == 1 {
            Ok(())
        } else {
            Err(format!("{at}: {matching} of oneOf match {value}"))
        };
    }
    match schema["type"].as_str() {
        Some("object") if !value.is_object() => {
            return Err(format!("{at}: {value} is not an object"));
        }
        Some("array") if !value.is_array() => return Err(format!("{at}: {value} is not an array")),
        Some("string") if !value.is_string() => {
            return Err(format!("{at}: {value} is not a string"));
        }
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            return Err(format!("{at}: {value} is not an integer"));
        }
        _ => {}
    }
    if let Some(min) = schema["minimum"].as_i64() {
        if value.as_i64().is_some_and(|v| v < min) {
            return Err(format!("{at}: {value} < {min}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap_or_default();
        if value.get(name).is_none() {
            return Err(format!("{at}: missing {name}"));
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, sub) in props {
            if let Some(v) = value.get(name) {
                validate(sub, v, spec, &format!("{at}.{name}"))?;
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            validate(items, v, spec, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The schema a documented response of `operation` has for `status`.
fn response_schema<'a>(spec: &'a Value, operation: &'a Value, status: u16) -> Option<&'a Value> {
    let mut response = &operation["responses"][status.to_string()];
    if let Some(r) = response["$ref"].as_str() {
        response =
            &spec["components"]["responses"][r.trim_start_matches("#/components/responses/")];
    }
    let content = response["content"].as_object()?;
    content.values().next().map(|c| &c["schema"])
}

#[tokio::test]
async fn the_openapi_description_matches_what_the_server_answers() -> Result<()> {
    let server = server().await?;
    let served = http::get(server.addr, "/api/openapi.json").await?;
    let spec = served.json()?;
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(served.body, livestate_server::http_api::OPENAPI_JSON);
    call(&server, "PUT", "/api/state/open:spec?path=/a", "1").await?;
    // changes that would break the default state limits (ops per patch, depth)
    let many_ops =
        serde_json::to_string(&vec![json!({"op": "test", "path": "/a", "value": 1}); 1001])?;
    let many_ops = many_ops.as_str();
    let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
    let deep = deep.as_str();

    // (method, path as documented, the request made, its body, the status expected)
    let requests: Vec<(&str, &str, String, &str, u16)> = vec![
        (
            "get",
            "/api/state/{topic}",
            "/api/state/open:spec".into(),
            "",
            200,
        ),
        (
            "get",
            "/api/state/{topic}",
            "/api/state/open:spec?path=/a".into(),
            "",
            200,
        ),
        (
            "get",
            "/api/state/{topic}",
            "/api/state/open:spec?path=/zz".into(),
            "",
            404,
        ),
        (
            "get",
            "/api/state/{topic}",
            "/api/state/doc:unknown".into(),
            "",
            404,
        ),
        (
            "get",
            "/api/state/{topic}",
            "/api/state/open:spec?path=bad".into(),
            "",
            400,
        ),
        (
            "put",
            "/api/state/{topic}",
            "/api/state/open:spec?path=/b".into(),
            "[1]",
            200,
        ),
        (
            "put",
            "/api/state/{topic}",
            "/api/state/doc:x?path=/b".into(),
            "1",
            403,
        ),
        (
            "put",
            "/api/state/{topic}",
            "/api/state/open:spec?path=/b".into(),
            "{",
            400,
        ),
        (
            "put",
            "/api/state/{topic}",
            "/api/state/openfail:s?path=/b".into(),
            "1",
            422,
        ),
        (
            "delete",
            "/api/state/{topic}",
            "/api/state/open:spec?path=/b".into(),
            "",
            200,
        ),
        (
            "delete",
            "/api/state/{topic}",
            "/api/state/open:spec".into(),
            "",
            400,
        ),
        (
            "delete",
            "/api/state/{topic}",
            "/api/state/open:spec?path=/zz".into(),
            "",
            404,
        ),
        (
            "patch",
            "/api/state/{topic}",
            "/api/state/open:spec".into(),
            r#"[{"op":"replace","path":"/a","value":2}]"#,
            200,
        ),
        (
            "patch",
            "/api/state/{topic}",
            "/api/state/open:spec".into(),
            r#"[{"op":"test","path":"/a","value":0}]"#,
            409,
        ),
        (
            "patch",
            "/api/state/{topic}",
            "/api/state/open:spec".into(),
            many_ops,
            413,
        ),
        (
            "put",
            "/api/state/{topic}",
            "/api/state/open:spec?path=/deep".into(),
            deep,
            413,
        ),
        (
            "post",
            "/api/state/{topic}/reset",
            "/api/state/open:spec/reset".into(),
            "",
            200,
        ),
        (
            "post",
            "/api/state/{topic}/reset",
            "/api/state/doc:x/reset".into(),
            "",
            403,
        ),
        (
            "post",
            "/api/state/{topic}/message",
            "/api/state/open:spec/message".into(),
            "{}",
            200,
        ),
        (
            "post",
            "/api/state/{topic}/message",
            "/api/state/news:spec/message".into(),
            r#"{"path":"/a","value":1}"#,
            200,
        ),
        (
            "post",
            "/api/state/{topic}/message",
            "/api/state/news:spec/message".into(),
            "{",
            400,
        ),
        (
            "post",
            "/api/state/{topic}/message",
            "/api/state/doc:x/message".into(),
            "{}",
            403,
        ),
        (
            "post",
            "/api/state/{topic}/message",
            "/api/state/nowhere/message".into(),
            "{}",
            404,
        ),
        (
            "post",
            "/api/state/{topic}/message",
            "/api/state/openfail:m/message".into(),
            "{}",
            422,
        ),
        (
            "get",
            "/api/state/{topic}/events",
            "/api/state/doc:unknown/events".into(),
            "",
            404,
        ),
        (
            "get",
            "/api/openapi.json",
            "/api/openapi.json".into(),
            "",
            200,
        ),
    ];
    let mut exercised = std::collections::BTreeSet::new();
    for (method, documented, request, body, status) in requests {
        let operation = &spec["paths"][documented][method];
        assert!(
            operation.is_object(),
            "{method} {documented} is not documented"
        );
        let r = call(&server, &method.to_uppercase(), &request, body).await?;
        assert_eq!(r.status, status, "{method} {request}: {}", r.body);
        let schema = response_schema(&spec, operation, status)
            .unwrap_or_else(|| panic!("{method} {documented} does not document {status}"));
        validate(schema, &r.json()?, &spec, &format!("{method} {request}"))
            .map_err(anyhow::Error::msg)?;
        exercised.insert((method, documented));
    }
    // a change without a JSON content type (a foreign origin's 403: http_hardening.rs)
    for (headers, status) in [(vec![("Content-Type", "text/plain")], 415)] {
        let r = http::request(
            server.addr,
            "POST",
            "/api/state/open:spec/reset",
            &headers,
            "",
        )
        .await?;
        assert_eq!(r.status, status, "{}", r.body);
        let operation = &spec["paths"]["/api/state/{topic}/reset"]["post"];
        let schema = response_schema(&spec, operation, status).expect("documented");
        validate(schema, &r.json()?, &spec, "reset").map_err(anyhow::Error::msg)?;
    }
    // the event stream's 200 is text/event-stream
    let stream = http::events(server.addr, "/api/state/open:spec/events", &[]).await?;
    assert_eq!(stream.status, 200);
    exercised.insert(("get", "/api/state/{topic}/events"));
    // every documented operation was exercised
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "put", "delete", "patch", "post"] {
            if item.get(method).is_some() {
                assert!(
                    exercised.contains(&(method, path.as_str())),
                    "{method} {path} is documented but not tested"
                );
            }
        }
    }
    // and a route that is not documented does not exist
    assert_eq!(
        call(&server, "GET", "/api/state/open:spec/whatever", "")
            .await?
            .status,
        404
    );
    assert_eq!(
        call(&server, "POST", "/api/state/open:spec", "")
            .await?
            .status,
        405
    );
    Ok(())
}
