//! `cargo run -p quiz [-- --bind ADDR] [--moderator-key KEY]`: the participants' page at
//! <http://127.0.0.1:4018/>, the moderator's at `/moderator?key=KEY` (the key: the flag,
//! else $QUIZ_MODERATOR_KEY, else the development key `let-me-moderate`).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    let flag = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let mut config = quiz::QuizConfig::from_env();
    if let Some(key) = flag("--moderator-key") {
        config.moderator_key = key;
    }
    if config.moderator_key == quiz::DEV_MODERATOR_KEY {
        eprintln!(
            "the moderator's page: /moderator?key={}",
            quiz::DEV_MODERATOR_KEY
        );
    }
    let live = quiz::endpoint_with(&config);
    let app = quiz::app(&live, &config);
    // `--bind ADDR`, else $BIND, else the default
    livestate::serve_app(flag("--bind"), "127.0.0.1:4018", app, &live).await
}
