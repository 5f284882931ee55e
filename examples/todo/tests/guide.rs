//! `docs/guide.md` shows this example's code: every code block the guide marks with
//! `<!-- from PATH -->` must appear, as is, in that file.

use std::path::Path;

#[test]
fn the_guide_shows_the_code_of_the_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guide = std::fs::read_to_string(root.join("docs/guide.md")).expect("docs/guide.md");
    let mut checked = 0;
    for rest in guide.split("<!-- from ").skip(1) {
        let (path, rest) = rest
            .split_once(" -->\n```")
            .expect("a code block after the marker");
        let (_lang, rest) = rest.split_once('\n').expect("a fence line");
        let (block, _) = rest
            .split_once("\n```\n")
            .expect("the end of the code block");
        let file =
            std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            file.contains(block),
            "docs/guide.md shows a block from {path} that is not in it (update the guide):\n{block}"
        );
        checked += 1;
    }
    assert!(
        checked >= 6,
        "only {checked} marked code blocks in docs/guide.md"
    );
}
