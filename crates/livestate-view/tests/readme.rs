//! The README's live-view examples are the crate's "A list" doctest and the `live`
//! module's doctest (which run), less their hidden lines: the README cannot drift from code
//! that compiles and passes.

use std::path::Path;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `n`th rust block of the README's live-view section.
fn readme_block(n: usize) -> String {
    let readme = read("../../README.md");
    let section = readme
        .split_once("## Live views")
        .expect("the README's live-view section")
        .1;
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .split("```rust\n")
        .nth(n + 1)
        .and_then(|rest| rest.split_once("\n```\n"))
        .expect("a rust block")
        .0
        .to_owned()
}

/// The first example of a file's module docs (`//!`), less its hidden lines.
fn doctest(path: &str, after: &str) -> String {
    let source = read(path);
    let docs: Vec<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let docs = docs.join("\n");
    let block = docs
        .split_once(after)
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("an example in the docs")
        .0;
    let tested: Vec<&str> = block.lines().filter(|l| !l.starts_with("# ")).collect();
    tested.join("\n")
}

#[test]
fn the_readme_shows_the_doctested_view() {
    assert_eq!(readme_block(1), doctest("src/live/mod.rs", ""));
}

#[test]
fn the_readme_shows_the_doctested_example() {
    assert_eq!(readme_block(0), doctest("src/lib.rs", "# A list"));
}
