//! Integers too wide for 64 bits.
//!
//! serde_json reads an integer outside i64/u64 as the nearest float, so
//! `123456789012345678901234567890` would be stored and sent back as
//! `1.2345678901234568e+29`. livestate refuses such numbers instead: [`wide_integer`] finds
//! the first one in a JSON text (serde_json's `arbitrary_precision` would change number
//! handling for every crate of the build, so it stays off).

/// The first integer literal of the JSON text `json` that fits neither i64 nor u64, if
/// any. `json` is expected to be valid JSON (the text was decoded already); the scan is one
/// pass over the bytes, skipping strings.
///
/// ```
/// use livestate_protocol::numbers::wide_integer;
/// assert_eq!(wide_integer(r#"{"a": [1, -9223372036854775808, 18446744073709551615]}"#), None);
/// assert_eq!(wide_integer(r#"{"n": 123456789012345678901234567890}"#), Some("123456789012345678901234567890"));
/// assert_eq!(wide_integer(r#"{"s": "123456789012345678901234567890", "f": 1.5e300}"#), None);
/// ```
pub fn wide_integer(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    // an escape takes the next byte with it (`\"` does not end the string)
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let literal = &json[start..i];
                if is_wide(literal) {
                    return Some(literal);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Whether a number literal is an integer that fits neither i64 nor u64.
fn is_wide(literal: &str) -> bool {
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    // 18 digits always fit; a fraction or an exponent makes it a float, as JSON means it
    if digits.len() <= 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if literal.starts_with('-') {
        literal.parse::<i64>().is_err()
    } else {
        literal.parse::<u64>().is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_integers_beyond_64_bits() {
        let cases = [
            ("9223372036854775807", None),
            ("-9223372036854775808", None),
            ("-9223372036854775809", Some("-9223372036854775809")),
            ("18446744073709551615", None),
            ("18446744073709551616", Some("18446744073709551616")),
            (
                "[1,2,[3,{\"k\":100000000000000000000}]]",
                Some("100000000000000000000"),
            ),
            ("100000000000000000000.0", None),
            ("1e30", None),
            ("123456789012345678901234567890e0", None),
            (r#"{"k\"99999999999999999999999": 1}"#, None),
            (
                r#"["\\", 99999999999999999999999]"#,
                Some("99999999999999999999999"),
            ),
            ("\"unterminated 99999999999999999999999", None),
            ("", None),
        ];
        for (json, want) in cases {
            assert_eq!(wide_integer(json), want, "{json}");
        }
    }
}
