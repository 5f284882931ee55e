//! `livestate-testserver serve ...`: the `livestate` server with the test channels of
//! [`livestate_testkit::channels`] routed beside `doc:*`, for the Node and browser tests.

fn main() -> std::process::ExitCode {
    livestate_cli::cli::main(livestate_testkit::channels::test_hub())
}
