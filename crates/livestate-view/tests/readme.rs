//! The README's live-view example is the crate's "A list" doctest (which runs), less its
//! hidden lines: the README cannot drift from code that compiles and passes.

use std::path::Path;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_readme_shows_the_doctested_example() {
    let readme = read("../../README.md");
    let section = readme
        .split_once("## Live views")
        .expect("the README's live-view section")
        .1;
    let shown = section
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("\n```\n"))
        .expect("a rust block")
        .0;

    let lib = read("src/lib.rs");
    let docs: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let docs = docs.join("\n");
    let block = docs
        .split_once("# A list")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("the crate docs' list example")
        .0;
    let tested: Vec<&str> = block.lines().filter(|l| !l.starts_with("# ")).collect();
    assert_eq!(shown, tested.join("\n"));
}
