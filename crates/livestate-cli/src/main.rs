//! The `livestate` binary: `livestate serve [--config livestate.toml] [--bind ...]` serves
//! `doc:` topics (see `livestate serve --help`).

fn main() -> std::process::ExitCode {
    // `doc:*` comes from the configuration file's `[[docs]]`, or its default.
    livestate_cli::cli::main(livestate_core::Hub::builder())
}
