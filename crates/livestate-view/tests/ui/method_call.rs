use livestate_view::{Assigns, Rendered, html};

struct Counter {
    count: u32,
}

impl Counter {
    fn doubled(&self) -> u32 {
        self.count * 2
    }
}

fn render(assigns: Assigns<'_, Counter>) -> Rendered<'_> {
    // a method is not an assign: its slot would never know that `count` changed
    html! { p { (@doubled()) } }
}

fn main() {
    let _ = render;
    let _ = Counter { count: 1 }.doubled();
}
