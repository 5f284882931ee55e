//! What the fuzz tests of this crate share: how many cases to run.

use proptest::test_runner::Config;

/// `LIVESTATE_FUZZ_CASES` cases per property (256 by default), with no failure files
/// written into the source tree.
pub(crate) fn config() -> Config {
    let cases = std::env::var("LIVESTATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}
