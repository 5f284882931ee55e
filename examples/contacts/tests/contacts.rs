//! The contacts channel in process (`TestChannel`) on a temporary SQLite file, and the page
//! over HTTP.

use contacts::Db;
use livestate::Hub;
use livestate::testing::{TestChannel, TestError};
use livestate_testkit::{TestServer, http};
use serde_json::json;
use std::path::PathBuf;

/// A database file removed when the test ends.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> TempDb {
        let path = std::env::temp_dir().join(format!(
            "livestate-contacts-test-{}-{name}.sqlite3",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        TempDb(path)
    }

    fn hub(&self) -> anyhow::Result<Hub> {
        Ok(contacts::endpoint(Db::open(&self.0)?).hub().clone())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn invalid_contacts_get_errors_in_the_state_and_are_not_stored() -> anyhow::Result<()> {
    let db = TempDb::new("invalid");
    let hub = db.hub()?;
    let mut form = TestChannel::join(&hub, "contacts", json!({})).await?;
    assert_eq!(form.state(), &json!({"contacts": [], "errors": {}}));

    form.push(
        "add_contact",
        json!({"name": " ", "email": "ann.example.com"}),
    )
    .await?;
    assert_eq!(
        form.state(),
        &json!({"contacts": [], "errors": {"name": "can't be blank", "email": "must contain @"}})
    );
    form.push("add_contact", json!({"name": "Ann", "email": ""}))
        .await?;
    assert_eq!(form.state()["errors"], json!({"email": "can't be blank"}));
    assert!(Db::open(&db.0)?.all().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn valid_contacts_are_stored_and_the_list_is_read_again() -> anyhow::Result<()> {
    let db = TempDb::new("valid");
    let hub = db.hub()?;
    let mut form = TestChannel::join(&hub, "contacts", json!({})).await?;
    form.push("add_contact", json!({"name": "Ann", "email": "nope"}))
        .await?;
    form.push(
        "add_contact",
        json!({"name": " Ann ", "email": "ann@example.com"}),
    )
    .await?;
    let ann = json!({"id": 1, "name": "Ann", "email": "ann@example.com"});
    assert_eq!(form.state(), &json!({"contacts": [ann], "errors": {}}));

    // someone else's insert shows in this list after this join's next insert (or rejoin)
    let mut other = TestChannel::join(&hub, "contacts", json!({})).await?;
    other
        .push(
            "add_contact",
            json!({"name": "Bob", "email": "bob@example.com"}),
        )
        .await?;
    form.push(
        "add_contact",
        json!({"name": "Cy", "email": "cy@example.com"}),
    )
    .await?;
    let names: Vec<_> = form.state()["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, ["Ann", "Bob", "Cy"]);

    // a server started again on the same file has them
    let again = TestChannel::join(&db.hub()?, "contacts", json!({})).await?;
    assert_eq!(again.state()["contacts"], form.state()["contacts"]);
    Ok(())
}

#[tokio::test]
async fn bad_payloads_are_refused() -> anyhow::Result<()> {
    let db = TempDb::new("bad");
    let hub = db.hub()?;
    let mut form = TestChannel::join(&hub, "contacts", json!({})).await?;
    let err = form
        .push("add_contact", json!({"name": "Ann"}))
        .await
        .unwrap_err();
    let reason = "bad payload for add_contact: missing field `email`";
    assert_eq!(err, TestError::Refused(reason.into()));
    let err = form
        .push("delete_contact", json!({"id": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TestError::Refused("unknown event \"delete_contact\"".into())
    );
    assert_eq!(form.state(), &json!({"contacts": [], "errors": {}}));
    Ok(())
}

#[tokio::test]
async fn the_page_is_served() -> anyhow::Result<()> {
    let db = TempDb::new("page");
    let live = contacts::endpoint(Db::open(&db.0)?);
    let server = TestServer::start_app(live, |r| contacts::pages().merge(r)).await?;
    let page = http::get(server.addr, "/").await?;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"<form id="add-contact">"#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"live.pushEvent("add_contact""#));
    server.stop().await
}
