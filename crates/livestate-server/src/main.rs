//! The `livestate` binary: `livestate serve [--bind 127.0.0.1:4000] ...` serves `doc:`
//! topics (see `livestate serve --help`).

use livestate_core::{DocChannel, Hub};

fn main() -> anyhow::Result<()> {
    livestate_server::cli::main(Hub::builder().channel("doc:*", DocChannel::default()))
}
