//! `livestate serve --config FILE`: the file's settings apply, and a bad file stops the
//! server at start-up with a message naming the field and the line.

use anyhow::Result;
use livestate_testkit::{ServerProcess, http};
use std::process::Command;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("livestate-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_bad_file_is_an_error_at_start_up_naming_field_and_line() {
    let cases = [
        (
            "unknown",
            "bind = \"127.0.0.1:0\"\n\n[limits]\nmax_chanels = 5\n",
            "line 4",
            "unknown field `max_chanels`",
        ),
        (
            "badacl",
            "[[docs]]\npattern = \"doc:*\"\nacl = { group = [\"everything\"] }\n",
            "line 3",
            "unknown permission \"everything\"",
        ),
        (
            "badttl",
            "[[docs]]\npattern = \"doc:x-*\"\nttl = \"later\"\n",
            "line 3",
            "expected a number of seconds or \"never\"",
        ),
    ];
    for (name, text, line, needle) in cases {
        let path = write(name, text);
        let out = Command::new(env!("CARGO_BIN_EXE_livestate"))
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: it must not start");
        assert!(out.stdout.is_empty(), "{name}: it must not listen");
        assert!(
            stderr.contains(&path.display().to_string()),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(line) && stderr.contains(needle),
            "{name}: {stderr}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_livestate"))
        .args(["serve", "--config", "/nonexistent/livestate.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/livestate.toml")
    );
}

#[tokio::test]
async fn the_files_doc_patterns_acl_and_initial_state_apply() -> Result<()> {
    let path = write(
        "good",
        r#"
[api]
token = "file-token"

[[docs]]
pattern = "doc:open-*"
initial = { items = [] }
acl = { public = ["all"] }

[[docs]]
pattern = "doc:*"
"#,
    );
    let config = path.display().to_string();
    let server =
        ServerProcess::spawn(env!("CARGO_BIN_EXE_livestate"), &["--config", &config]).await?;
    let auth = [("Authorization", "Bearer file-token")];
    let r = http::request(
        server.addr,
        "PUT",
        "/api/state/doc:open-1?path=/items/-",
        &auth,
        "\"milk\"",
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http::request(server.addr, "GET", "/api/state/doc:open-1", &auth, "").await?;
    assert_eq!(r.json()?["state"], serde_json::json!({"items": ["milk"]}));
    // doc:* keeps the default ACL: the public may read, not write
    let r = http::request(
        server.addr,
        "PUT",
        "/api/state/doc:closed?path=/a",
        &auth,
        "1",
    )
    .await?;
    assert_eq!(r.status, 403, "{}", r.body);
    // and the token is required
    assert_eq!(
        http::get(server.addr, "/api/state/doc:open-1")
            .await?
            .status,
        401
    );
    Ok(())
}
