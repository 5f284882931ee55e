//! The guides (`docs/guide.md`, `docs/views.md`) and the README's first server work from
//! nothing, outside this repository: every code block marked `<!-- file: PATH -->` is
//! written, as it is, into an empty folder in the temporary directory (only the `livestate` dependency is pointed at
//! this checkout, by path, since the crate is not on a registry here; `Cargo.lock` is copied
//! so that the build needs no network). Then the crate is built and its tests run with
//! cargo, its binary started on a free port, and its page and livestate's routes fetched.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// This checkout.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files a document's marked code blocks make, by path.
fn files(doc: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let mut out = Vec::new();
    for rest in text.split("<!-- file: ").skip(1) {
        let (path, rest) = rest
            .split_once(" -->\n```")
            .expect("a code block after the marker");
        let (_lang, rest) = rest.split_once('\n').expect("a fence line");
        let (block, _) = rest
            .split_once("\n```\n")
            .expect("the end of the code block");
        out.push((path.to_owned(), format!("{block}\n")));
    }
    out
}

/// A fresh folder for a crate, outside the workspace.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("livestate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// Write the files into `dir`, with `livestate` taken from this checkout.
fn write_crate(dir: &Path, files: &[(String, String)]) {
    let path = root().join("crates/livestate");
    let path = path.canonicalize().expect("crates/livestate");
    for (name, text) in files {
        let text = if name == "Cargo.toml" {
            assert!(
                !text.contains("workspace"),
                "{name} of a crate outside the repository has no workspace keys"
            );
            text.replace(
                "livestate = { version = \"0.1\"",
                &format!("livestate = {{ path = {:?}", path.display().to_string()),
            )
        } else {
            text.clone()
        };
        let file = dir.join(name);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("its folder");
        std::fs::write(&file, text).expect("the file");
    }
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("Cargo.lock");
}

/// Where the crates built here go (kept between runs, beside the workspace's own).
fn target() -> PathBuf {
    root().join("target/outside")
}

/// Run cargo in `dir`; its output, or a panic showing it.
fn cargo(dir: &Path, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target())
        .output()
        .expect("cargo runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "cargo {args:?} in {}:\n{text}",
        dir.display()
    );
    text
}

/// The binary, started on a free port; its address.
fn start(binary: &str) -> (Child, String) {
    let mut child = Command::new(target().join("debug").join(binary))
        .args(["--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("its stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{binary} printed {line:?}"))
        .trim()
        .to_owned();
    (child, addr)
}

/// `GET path`: status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    get_with(addr, path, "")
}

/// `GET path` with more header lines (each ending in CRLF): status and the whole response.
fn get_with(addr: &str, path: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .expect("sends");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// Start `binary`, fetch its page and the browser client, stop it.
fn serves_its_page(binary: &str, page_says: &str) {
    let (mut child, addr) = start(binary);
    let (status, page) = get(&addr, "/");
    let (js_status, js) = get(&addr, "/livestate.js");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(page_says), "{page}");
    assert_eq!(js_status, 200);
    assert!(js.contains("LiveState"), "the browser client is served");
}

#[test]
fn the_guide_builds_tests_and_serves_outside_the_repository() {
    let files = files("docs/guide.md");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Cargo.toml",
            "src/lib.rs",
            "assets/index.html",
            "src/main.rs",
            "tests/todo.rs"
        ]
    );
    let dir = folder("guide");
    write_crate(&dir, &files);
    let tested = cargo(&dir, &["test"]);
    assert!(tested.contains("test result: ok. 2 passed"), "{tested}");
    cargo(&dir, &["build"]);
    serves_its_page("todo-list", "<h1>todo list</h1>");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_views_guide_builds_tests_and_serves_outside_the_repository() {
    let files = files("docs/views.md");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Cargo.toml", "src/lib.rs", "src/main.rs", "tests/views.rs"]
    );
    let dir = folder("views-guide");
    write_crate(&dir, &files);
    let tested = cargo(&dir, &["test"]);
    assert!(tested.contains("test result: ok. 3 passed"), "{tested}");
    cargo(&dir, &["build"]);
    let (mut child, addr) = start("thermostat-app");
    let anonymous = get(&addr, "/");
    let page = get_with(&addr, "/", "Cookie: user=ann\r\n");
    let client = get(&addr, "/live/live.js");
    let _ = child.kill();
    let _ = child.wait();
    // no user: the on_mount hook sends the page to /login
    assert_eq!(anonymous.0, 302, "{}", anonymous.1);
    assert!(anonymous.1.contains("location: /login"), "{}", anonymous.1);
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(page.1.contains("Hello ann"), "{}", page.1);
    assert!(page.1.contains("data-phx-session="), "{}", page.1);
    assert_eq!(client.0, 200);
    assert!(
        client.1.contains("LiveSocket"),
        "the stock client is served"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_server_builds_and_serves_outside_the_repository() {
    let files = files("README.md");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Cargo.toml", "src/main.rs"]);
    let dir = folder("readme");
    write_crate(&dir, &files);
    cargo(&dir, &["build"]);
    serves_its_page("hello-livestate", "Clicks, shared by everyone");
    let _ = std::fs::remove_dir_all(&dir);
}
