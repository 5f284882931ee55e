use livestate_view::html;

fn main() {
    let rows = vec![1, 2];
    let _ = &rows;
    let _ = html! { @each row in rows { li { "x" } } };
}
