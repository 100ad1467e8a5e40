//! Just enough MIME to read what Jinguo mails: headers, multipart bodies, and the
//! Content-Transfer-Encodings lettre uses for Chinese text (base64, quoted-printable), so that
//! the `/link/…` URL and the family's name can be found in the decoded text.

use base64::Engine;

/// What the driver needs from one mail.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub message_id: Option<String>,
    pub to: Option<String>,
    /// Every text part, decoded, one after the other.
    pub text: String,
    /// Every distinct `…/link/<token>` URL in the text, in order of appearance.
    pub links: Vec<String>,
}

/// Parses a whole message (headers and body, CRLF or LF line ends).
pub fn parse(raw: &[u8]) -> Parsed {
    let (headers, body) = split_head(raw);
    let mut text = String::new();
    collect_text(&headers, body, &mut text);
    Parsed {
        message_id: header(&headers, "message-id").map(|v| v.trim().to_owned()),
        to: header(&headers, "to").map(|v| v.trim().to_owned()),
        links: links_in(&text),
        text,
    }
}

/// Headers (unfolded, names lower-cased) and the body that follows the blank line.
fn split_head(raw: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let (head, body) = match find(raw, b"\r\n\r\n") {
        Some(at) => (&raw[..at], &raw[at + 4..]),
        None => match find(raw, b"\n\n") {
            Some(at) => (&raw[..at], &raw[at + 2..]),
            None => (raw, &raw[raw.len()..]),
        },
    };
    let head = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            // A folded continuation of the previous header.
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The value of `param` in a header such as `multipart/alternative; boundary="abc"`.
fn param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(param)).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Appends the decoded text of every text part of an entity to `out`.
fn collect_text(headers: &[(String, String)], body: &[u8], out: &mut String) {
    let content_type = header(headers, "content-type").unwrap_or("text/plain");
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("multipart/") {
        let Some(boundary) = param(content_type, "boundary") else {
            return;
        };
        for part in parts(body, &boundary) {
            let (h, b) = split_head(part);
            collect_text(&h, b, out);
        }
        return;
    }
    if !lower.starts_with("text/") {
        return;
    }
    let encoding = header(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let decoded = match encoding.as_str() {
        "base64" => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_default()
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_vec(),
    };
    out.push_str(&String::from_utf8_lossy(&decoded));
    out.push('\n');
}

/// The parts between `--boundary` lines (the preamble and the epilogue dropped).
fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    let Some(first) = find(rest, delimiter.as_bytes()) else {
        return out;
    };
    rest = &rest[first + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return out; // the closing delimiter
        }
        let Some(end) = find(rest, delimiter.as_bytes()) else {
            return out;
        };
        // The part starts after the delimiter line's end and stops before the CRLF that
        // precedes the next delimiter.
        let part = &rest[..end];
        let part = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))
            .unwrap_or(part);
        let part = part
            .strip_suffix(b"\r\n")
            .or_else(|| part.strip_suffix(b"\n"))
            .unwrap_or(part);
        out.push(part);
        rest = &rest[end + delimiter.len()..];
    }
}

fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'=' {
            if body[i + 1..].starts_with(b"\r\n") {
                i += 3; // soft line break
                continue;
            }
            if body[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = body
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every distinct URL containing `/link/` in `text`.
fn links_in(text: &str) -> Vec<String> {
    let stop = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')');
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("/link/") {
        let at = from + at;
        let start = text[..at].rfind(stop).map_or(0, |s| s + 1);
        let end = text[at..].find(stop).map_or(text.len(), |e| at + e);
        let url = text[start..end].to_owned();
        if url.starts_with("http") && !out.contains(&url) {
            out.push(url);
        }
        from = end.max(at + 1);
    }
    out
}

/// The nomination a review mail is about: the bench names each family head `李<n>`, so the
/// first `李` followed by digits and `家庭` names it (a village may itself be called 李家湾).
pub fn family_number(text: &str) -> Option<u64> {
    let mut from = 0;
    while let Some(at) = text[from..].find('李') {
        let start = from + at + '李'.len_utf8();
        let digits: String = text[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() && text[start + digits.len()..].starts_with("家庭") {
            return digits.parse().ok();
        }
        from = start;
    }
    None
}

/// The review level a review mail asks for (0 village, 1 township, 2 county), from the
/// template's "已进入{level}审核".
pub fn review_level(text: &str) -> Option<u8> {
    let at = text.find("已进入")? + "已进入".len();
    let rest = &text[at..];
    [("村级审核", 0), ("乡镇级审核", 1), ("县级审核", 2)]
        .into_iter()
        .find_map(|(label, level)| rest.starts_with(label).then_some(level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_base64_part_of_a_multipart_mail() {
        let text = "王芳，您好：\n\n评选中，什川镇 李家湾村委会的李42家庭（最美家庭）已进入乡镇级审核，请您审核。\n查看并审核：http://127.0.0.1:1/link/abc_DEF\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(text);
        let raw = format!(
            "Message-ID: <x@y>\r\nTo: a@b.invalid\r\nContent-Type: multipart/alternative;\r\n boundary=\"BB\"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--BB\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"http://127.0.0.1:1/link/abc_DEF\">=E6=9F=A5</a>\r\n--BB--\r\n"
        );
        let p = parse(raw.as_bytes());
        assert_eq!(p.message_id.as_deref(), Some("<x@y>"));
        assert_eq!(p.links, vec!["http://127.0.0.1:1/link/abc_DEF".to_owned()]);
        assert_eq!(family_number(&p.text), Some(42));
        assert_eq!(review_level(&p.text), Some(1));
        assert!(p.text.contains('查'));
    }
}
