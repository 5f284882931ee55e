//! Lean reading of received frames: the head of a Phoenix V2 frame, Socket.IO packets, and
//! the benchmark's messages `{"s":sender,"n":seq,"t":ns}`, found without parsing the JSON
//! into values (a receiver sees hundreds of thousands of frames per second).

/// The head of a V2 frame `[join_ref, ref, topic, event, payload]`, as slices of the frame.
/// Strings are returned as they appear between their quotes (escapes are not decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head<'a> {
    /// The join_ref, `None` for null.
    pub(crate) join_ref: Option<&'a str>,
    /// The ref, `None` for null.
    pub(crate) r#ref: Option<&'a str>,
    /// The topic.
    pub(crate) topic: &'a str,
    /// The event.
    pub(crate) event: &'a str,
    /// The payload's text (up to, not including, the closing `]` of the frame).
    pub(crate) payload: &'a str,
}

/// The head of a V2 frame, or `None` when `text` does not start like one.
pub(crate) fn head(text: &str) -> Option<Head<'_>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let (join_ref, next) = nullable_string(text, i)?;
    i = comma(b, next)?;
    let (r#ref, next) = nullable_string(text, i)?;
    i = comma(b, next)?;
    let (topic, next) = nullable_string(text, i)?;
    i = comma(b, next)?;
    let (event, next) = nullable_string(text, i)?;
    i = comma(b, next)?;
    let end = text.rfind(']')?;
    if end < i {
        return None;
    }
    Some(Head {
        join_ref,
        r#ref,
        topic: topic?,
        event: event?,
        payload: text[i..end].trim(),
    })
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

fn comma(b: &[u8], i: usize) -> Option<usize> {
    let i = skip_ws(b, i);
    (b.get(i) == Some(&b',')).then(|| skip_ws(b, i + 1))
}

/// A JSON string or `null` starting at `i`: its contents and the index after it.
fn nullable_string(text: &str, i: usize) -> Option<(Option<&str>, usize)> {
    let b = text.as_bytes();
    let i = skip_ws(b, i);
    if text[i..].starts_with("null") {
        return Some((None, i + 4));
    }
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    // the common case, no escapes: one memchr to the closing quote
    let rest = &text[start..];
    if let Some(q) = rest.find('"') {
        if !rest[..q].contains('\\') {
            return Some((Some(&rest[..q]), start + q + 1));
        }
    }
    let mut j = start;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some((Some(&text[start..j]), j + 1)),
            _ => j += 1,
        }
    }
    None
}

/// The value of the string member `"key":"..."` in `text` (first occurrence), for error
/// reasons (`"reason":"unmatched topic"`).
pub(crate) fn string_member<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\":");
    let at = text.find(&needle)? + needle.len();
    let (s, _) = nullable_string(text, at)?;
    s
}

/// One relayed benchmark message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Msg {
    /// The sender's index.
    pub(crate) sender: u64,
    /// The sender's sequence number (from 0).
    pub(crate) seq: u64,
    /// The send time, in nanoseconds of the loadgen's clock.
    pub(crate) sent_ns: u64,
}

/// The JSON object of a message: `{"s":S,"n":N,"t":T}`.
pub(crate) fn encode_msg(m: Msg) -> String {
    format!(r#"{{"s":{},"n":{},"t":{}}}"#, m.sender, m.seq, m.sent_ns)
}

/// Calls `f` for every flat object `{"s":…,"n":…,"t":…}` (members in any order, integers
/// only, no space after `{`) in `text`. Anything else is skipped.
pub(crate) fn for_each_msg(text: &str, mut f: impl FnMut(Msg)) {
    let b = text.as_bytes();
    let mut from = 0;
    // `find(char)` is a memchr; most `{` open other objects and fail the key check at once
    while let Some(off) = text[from..].find('{') {
        let at = from + off;
        let candidate = b.get(at + 1) == Some(&b'"')
            && matches!(b.get(at + 2), Some(b's' | b'n' | b't'))
            && b.get(at + 3) == Some(&b'"');
        if candidate {
            if let Some((m, end)) = flat_msg(b, at) {
                f(m);
                from = end;
                continue;
            }
        }
        from = at + 1;
    }
}

/// Parse `{"k":int,...}` with keys among s, n, t (each exactly once) at `i`.
fn flat_msg(b: &[u8], mut i: usize) -> Option<(Msg, usize)> {
    let (mut s, mut n, mut t) = (None, None, None);
    i += 1; // '{'
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') || b.get(i + 2) != Some(&b'"') {
            return None;
        }
        let key = b[i + 1];
        i = skip_ws(b, i + 3);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let start = i;
        let mut v: u64 = 0;
        while let Some(d @ b'0'..=b'9') = b.get(i) {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            i += 1;
        }
        if i == start {
            return None;
        }
        let slot = match key {
            b's' => &mut s,
            b'n' => &mut n,
            b't' => &mut t,
            _ => return None,
        };
        if slot.replace(v).is_some() {
            return None;
        }
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                let m = Msg {
                    sender: s?,
                    seq: n?,
                    sent_ns: t?,
                };
                return Some((m, i + 1));
            }
            _ => return None,
        }
    }
}

/// A Socket.IO (v5 protocol over Engine.IO v4) packet, as far as the benchmark cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SioPacket<'a> {
    /// `0{...}`: Engine.IO open.
    Open,
    /// `2`: Engine.IO ping; answer `3`.
    Ping,
    /// `40{...}`: connected to the namespace.
    Connected,
    /// `44{...}`: the namespace refused the connection.
    ConnectError(&'a str),
    /// `41` or Engine.IO `1`: disconnected.
    Disconnect,
    /// `42[...]`: an event (its arguments' text).
    Event(&'a str),
    /// `43ID[...]`: the acknowledgement of our request `ID`.
    Ack(&'a str, &'a str),
    /// Anything else.
    Other,
}

/// Classify a Socket.IO text frame.
pub(crate) fn sio(text: &str) -> SioPacket<'_> {
    let b = text.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'0'), _) => SioPacket::Open,
        (Some(b'2'), None) => SioPacket::Ping,
        (Some(b'1'), None) => SioPacket::Disconnect,
        (Some(b'4'), Some(b'0')) => SioPacket::Connected,
        (Some(b'4'), Some(b'1')) => SioPacket::Disconnect,
        (Some(b'4'), Some(b'2')) => SioPacket::Event(&text[2..]),
        (Some(b'4'), Some(b'3')) => {
            let rest = &text[2..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            SioPacket::Ack(&rest[..digits], &rest[digits..])
        }
        (Some(b'4'), Some(b'4')) => SioPacket::ConnectError(&text[2..]),
        _ => SioPacket::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_head_of_v2_frames() {
        let h = head(r#"["1","7","doc:k","phx_reply",{"status":"ok","response":{"version":3}}]"#)
            .unwrap();
        assert_eq!(h.join_ref, Some("1"));
        assert_eq!(h.r#ref, Some("7"));
        assert_eq!(h.topic, "doc:k");
        assert_eq!(h.event, "phx_reply");
        assert_eq!(h.payload, r#"{"status":"ok","response":{"version":3}}"#);
        let h = head(r#"[null,null,"doc:a\"b","state:patch",{"patch":[],"version":1}]"#).unwrap();
        assert_eq!((h.join_ref, h.r#ref), (None, None));
        assert_eq!(h.topic, r#"doc:a\"b"#);
        assert_eq!(h.event, "state:patch");
        for bad in [
            "",
            "{}",
            "[1,2,3,4,5]",
            r#"["a","b","c"]"#,
            r#"[null,null,null,"e",{}]"#,
        ] {
            assert_eq!(head(bad), None, "{bad}");
        }
    }

    #[test]
    fn finds_messages_in_any_member_order() {
        let frame = r#"[null,null,"doc:k","state:patch",{"patch":[{"op":"replace","path":"/m","value":{"n":42,"s":3,"t":1700000000123456789}}],"version":9}]"#;
        let mut got = Vec::new();
        for_each_msg(frame, |m| got.push(m));
        assert_eq!(
            got,
            vec![Msg {
                sender: 3,
                seq: 42,
                sent_ns: 1_700_000_000_123_456_789
            }]
        );
        let two = format!(
            r#"42["msg",{},{{"x":1}},{}]"#,
            encode_msg(Msg {
                sender: 1,
                seq: 2,
                sent_ns: 3
            }),
            r#"{"t" : 6 , "s" : 4 , "n" : 5 }"#
        );
        got.clear();
        for_each_msg(&two, |m| got.push(m));
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].seq, 5);
        for none in [
            r#"{"s":1,"n":2}"#,
            r#"{"s":1,"n":2,"t":"x"}"#,
            r#"{"s":1,"n":2,"t":3,"u":4}"#,
            r#"{"s":1,"s":2,"t":3}"#,
            r#"{"s":-1,"n":2,"t":3}"#,
        ] {
            let mut n = 0;
            for_each_msg(none, |_| n += 1);
            assert_eq!(n, 0, "{none}");
        }
    }

    #[test]
    fn classifies_socket_io_packets() {
        assert_eq!(sio(r#"0{"sid":"x"}"#), SioPacket::Open);
        assert_eq!(sio("2"), SioPacket::Ping);
        assert_eq!(sio(r#"40{"sid":"y"}"#), SioPacket::Connected);
        assert_eq!(sio(r#"42["msg",{}]"#), SioPacket::Event(r#"["msg",{}]"#));
        assert_eq!(sio(r#"4317["ok"]"#), SioPacket::Ack("17", r#"["ok"]"#));
        assert_eq!(
            sio(r#"44{"message":"no"}"#),
            SioPacket::ConnectError(r#"{"message":"no"}"#)
        );
        assert_eq!(sio("41"), SioPacket::Disconnect);
        assert_eq!(sio("3"), SioPacket::Other);
    }

    #[test]
    fn reads_reasons() {
        let f = r#"[null,"1","nope:x","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#;
        assert_eq!(string_member(f, "reason"), Some("unmatched topic"));
        assert_eq!(string_member(f, "nothing"), None);
    }
}
