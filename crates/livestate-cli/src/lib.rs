//! The `livestate` server as a program: `livestate serve [--config FILE] [--bind ADDR]`
//! serves `doc:` topics (see `livestate serve --help`), alone or as one node of a cluster on
//! Redis. An application embeds livestate through the `livestate` crate instead.
//!
//! ```
//! use livestate_cli::config::Config;
//!
//! // `livestate serve --config livestate.toml`: a bad file stops the start, naming the field
//! let config = Config::parse(r#"
//!     bind = "0.0.0.0:4000"
//!     [limits]
//!     max_channels = 50
//!     [[docs]]
//!     pattern = "doc:board-*"
//!     initial = { cards = [] }
//! "#)?;
//! assert_eq!(config.limits.max_channels, Some(50));
//! assert_eq!(config.docs[0].pattern, "doc:board-*");
//! let typo = Config::parse("[limits]\nmax_chanels = 50").unwrap_err();
//! assert!(typo.contains("unknown field `max_chanels`"), "{typo}");
//! # Ok::<(), String>(())
//! ```
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
