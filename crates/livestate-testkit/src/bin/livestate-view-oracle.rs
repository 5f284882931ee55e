//! `livestate-view-oracle [--seed N] [--steps N]`: the diff oracle's input (see
//! `livestate_testkit::view_oracle`), as JSON lines on stdout.

fn main() -> std::io::Result<()> {
    let mut seed = 1;
    let mut steps = 500;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--seed", Some(v)) => seed = v,
            ("--steps", Some(v)) => steps = v as usize,
            _ => {
                eprintln!("usage: livestate-view-oracle [--seed N] [--steps N]");
                std::process::exit(2);
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    livestate_testkit::view_oracle::run(seed, steps, &mut out)
}
