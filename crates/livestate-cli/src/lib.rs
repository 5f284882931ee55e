//! The `livestate` server as a program: `livestate serve [--config FILE] [--bind ADDR]`
//! serves `doc:` topics (see `livestate serve --help`), alone or as one node of a cluster on
//! Redis. An application embeds livestate through the `livestate` crate instead.
//!
//! ```no_run
//! // a server binary of your own, with your channels beside `doc:*`, the `livestate`
//! // command line and configuration file:
//! fn main() -> std::process::ExitCode {
//!     livestate_cli::cli::main(livestate_core::Hub::builder())
//! }
//! ```
//!
//! Modules:
//! - [`cli`]: the `serve` command line.
//! - [`config`]: the TOML configuration file of `livestate serve --config`.

pub mod cli;
pub mod config;
