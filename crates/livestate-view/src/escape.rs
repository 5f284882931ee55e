//! HTML escaping of text and quoted attribute values: `&`, `<`, `>`, `"` and `'`.

use std::fmt;

/// Append `value` to `out`, escaped.
pub(crate) fn escape_into(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// A writer that escapes what is written to it, so a `Display` value is escaped as it is
/// formatted, without a second string.
pub(crate) struct Escaped<'a>(pub(crate) &'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_characters_are_escaped_and_nothing_else() {
        let mut out = String::new();
        escape_into(&mut out, r#"a<b>&"c"'d' é"#);
        assert_eq!(out, "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39; é");
    }
}
