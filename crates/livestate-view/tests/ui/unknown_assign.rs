use livestate_view::{Assigns, Rendered, html};

struct Counter {
    count: u32,
}

fn render(assigns: Assigns<'_, Counter>) -> Rendered<'_> {
    // a misspelt assign is Rust's own error, at the name
    html! { p { (@cuont) } }
}

fn main() {
    let _ = render;
    let _ = Counter { count: 1 }.count;
}
