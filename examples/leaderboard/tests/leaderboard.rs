//! The leaderboard in process (`ViewTest`): inserts, deletes, changes and moves of the
//! keyed list and the diffs they send, what the view refuses; and its page over HTTP.

use leaderboard::{Leaderboard, MAX_PLAYERS};
use livestate::view::live::testing::{TestView, ViewTest};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The names on the board, in order.
fn names(view: &TestView<Leaderboard>) -> Vec<&str> {
    view.view()
        .players
        .iter()
        .map(|p| p.name.as_str())
        .collect()
}

async fn mounted() -> anyhow::Result<TestView<Leaderboard>> {
    Ok(ViewTest::new(Leaderboard::default()).mount("/").await?)
}

const RANKED: [&str; 10] = [
    "ada", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ivy", "jo",
];

#[tokio::test]
async fn the_board_starts_ranked() -> anyhow::Result<()> {
    let view = mounted().await?;
    assert_eq!(names(&view), RANKED);
    let html = view.html()?;
    assert!(
        html.contains("<span id=\"count\">10</span> players"),
        "{html}"
    );
    assert!(html.contains("phx-click=\"rank\" disabled"), "{html}");
    assert_eq!(html.matches("<li id=\"player-").count(), 10);
    assert_eq!(view.title(), Some("Leaderboard"));
    Ok(())
}

#[tokio::test]
async fn a_point_that_changes_no_place_sends_one_slot_of_one_entry() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    let step = view.click("score", json!({"id": "1"})).await?;
    // slot 4 is the list; its entry 0 (ada) sends its slot 2 (the score), nothing moved
    assert_eq!(
        json!(step.diff),
        json!({"4": {"k": {"0": {"2": "43"}, "kc": 10}}})
    );
    assert_eq!(names(&view), RANKED);
    Ok(())
}

#[tokio::test]
async fn a_point_that_passes_a_player_sends_two_moves() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    // di (35, 4th) gets 36 and passes cy (35, 3rd)
    let step = view.click("score", json!({"id": "4"})).await?;
    assert_eq!(
        names(&view),
        [
            "ada", "bo", "di", "cy", "ed", "flo", "gus", "hal", "ivy", "jo"
        ]
    );
    // entry 2 is the old entry 3 with its score changed; entry 3 is the old entry 2 as it
    // was; the others are neither sent nor rendered
    assert_eq!(
        json!(step.diff),
        json!({"4": {"k": {"2": [3, {"2": "36"}], "3": 2, "kc": 10, "km": true}}})
    );
    Ok(())
}

#[tokio::test]
async fn adding_inserts_in_place_and_removing_deletes() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    let step = view.submit("add", "name=kim&score=33").await?;
    assert_eq!(
        names(&view),
        [
            "ada", "bo", "cy", "di", "kim", "ed", "flo", "gus", "hal", "ivy", "jo"
        ]
    );
    // the count, the form's next id, and the list: the new entry in full at 4, the entries
    // after it as their old indices
    assert_eq!(step.diff["1"], "11");
    assert_eq!(step.diff["6"], "add-player-12");
    assert_eq!(
        step.diff["4"],
        json!({"k": {
            "4": {"0": "player-11", "1": "kim", "2": "33", "3": "11", "4": "11"},
            "5": 4, "6": 5, "7": 6, "8": 7, "9": 8, "10": 9,
            "kc": 11, "km": true
        }})
    );
    assert!(view.flash().is_empty());

    // no score: 0, at the bottom
    view.submit("add", "name=lu&score=").await?;
    assert_eq!(names(&view).last(), Some(&"lu"));
    assert_eq!(view.view().players.last().map(|p| p.score), Some(0));

    let step = view.click("remove", json!({"id": "11"})).await?;
    assert!(!names(&view).contains(&"kim"));
    assert_eq!(step.diff["1"], "11");
    assert_eq!(step.diff["4"]["k"]["kc"], 11);
    assert!(view.html()?.contains("<span id=\"count\">11</span>"));
    Ok(())
}

#[tokio::test]
async fn shuffle_moves_every_player_and_rank_puts_them_back() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    let step = view.click("shuffle", json!({})).await?;
    let shuffled = names(&view);
    for (place, name) in shuffled.iter().enumerate() {
        assert_ne!(RANKED[place], *name, "{name} kept its place: {shuffled:?}");
    }
    let mut sorted = shuffled.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, RANKED);
    // every entry is sent as its old index: no entry renders again
    let entries = step.diff["4"]["k"].as_object().cloned().unwrap_or_default();
    let moved: Vec<&Value> = (0..10)
        .filter_map(|i| entries.get(&i.to_string()))
        .collect();
    assert_eq!(moved.len(), 10, "{entries:?}");
    assert!(moved.iter().all(|e| e.is_u64()), "{entries:?}");
    let html = view.html()?;
    assert!(html.contains("players (shuffled)"), "{html}");
    assert!(!html.contains("phx-click=\"rank\" disabled"), "{html}");

    view.click("rank", json!({})).await?;
    assert_eq!(names(&view), RANKED);
    assert!(!view.html()?.contains("(shuffled)"));
    Ok(())
}

#[tokio::test]
async fn removing_everyone_shows_an_empty_board() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    for id in 1..=10 {
        view.click("remove", json!({"id": id.to_string()})).await?;
    }
    let html = view.html()?;
    assert!(html.contains("<span id=\"count\">0</span>"), "{html}");
    assert!(html.contains("no players: add one"), "{html}");
    Ok(())
}

#[tokio::test]
async fn bad_players_are_shown_on_the_page_and_change_nothing() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    let refused = [
        ("name=&score=", "a player needs a name"),
        ("name=++&score=1", "a player needs a name"),
        (
            "name=an+awfully+long+name+indeed&score=1",
            "a name has at most 20 characters",
        ),
        ("name=ADA&score=1", "ADA is on the board already"),
        (
            "name=kim&score=lots",
            "a score is a whole number from 0 to 1000, not \"lots\"",
        ),
        (
            "name=kim&score=-1",
            "a score is a whole number from 0 to 1000, not \"-1\"",
        ),
        (
            "name=kim&score=1001",
            "a score is a whole number from 0 to 1000, not \"1001\"",
        ),
        ("score=1", "bad payload for add: missing field `name`"),
    ];
    for (form, reason) in refused {
        let step = view.submit("add", form).await?;
        assert_eq!(view.flash().get("error"), Some(reason), "{form}");
        // the answer is the page's diff: the message, and nothing of the list
        assert!(step.diff.get("4").is_none(), "{form}: {:?}", step.diff);
        assert!(view.html()?.contains("id=\"flash-error\""));
    }
    assert_eq!(names(&view), RANKED);
    Ok(())
}

#[tokio::test]
async fn bad_ids_are_shown_on_the_page() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    view.click("remove", json!({"id": "99"})).await?;
    assert_eq!(view.flash().get("error"), Some("there is no player 99"));
    view.click("score", json!({"id": "x"})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("\"x\" is not a player's id")
    );
    view.click("score", json!({})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("bad payload for score: missing field `id`")
    );
    view.click("remove", json!({"id": 3})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("bad payload for remove: id: invalid type: integer `3`, expected a string")
    );
    assert_eq!(names(&view), RANKED);
    Ok(())
}

#[tokio::test]
async fn an_unknown_event_is_shown_on_the_page() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    view.click("bogus", json!({})).await?;
    assert_eq!(view.flash().get("error"), Some("unknown event \"bogus\""));
    assert!(
        view.html()?
            .contains(">unknown event &quot;bogus&quot;</p>")
    );
    view.click("lv:clear-flash", json!({"key": "error"}))
        .await?;
    assert!(view.flash().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_full_board_takes_no_one_more() -> anyhow::Result<()> {
    let mut view = mounted().await?;
    for n in 10..MAX_PLAYERS {
        view.submit("add", &format!("name=p{n}")).await?;
    }
    assert_eq!(view.view().players.len(), MAX_PLAYERS);
    assert!(view.flash().is_empty());
    view.submit("add", "name=one+more").await?;
    assert_eq!(
        view.flash().get("error"),
        Some("the board holds 50 players at most")
    );
    assert_eq!(view.view().players.len(), MAX_PLAYERS);
    Ok(())
}

/// `GET path` on `addr`: the whole response.
async fn get(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn the_page_is_served_with_its_first_render() -> anyhow::Result<()> {
    let live = leaderboard::endpoint();
    let app = live.router().merge(live.views_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        livestate::serve(listener, app, &live, async {
            let _ = stopped.await;
        })
        .await
    });
    let page = get(addr, "/").await?;
    let _ = stop.send(());
    server.await??;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("data-phx-session="), "{page}");
    assert!(page.contains("<title>Leaderboard</title>"), "{page}");
    assert_eq!(page.matches("<li id=\"player-").count(), 10, "{page}");
    Ok(())
}
