//! Free text typed by people (names, addresses, stories) and text printed back to a terminal.
//!
//! Guarantees: a value that passes [`single_line`] or [`multi_line`] holds no control character
//! (a story keeps `\n` only, with `\r\n` and a lone `\r` read as `\n`), no bidi override or
//! isolate, and no other invisible format character (category Cf: zero-width space, soft hyphen,
//! BOM, …), which are removed before counting. Control characters and bidi controls are refused
//! rather than stripped: they change what a reader sees, so the writer should look again.
//! Lengths are counted in characters (`char`s), after that removal. No normalisation beyond that:
//! Chinese text keeps its full-width punctuation.

use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Names of people: at most this many characters.
pub const NAME_MAX: usize = 50;
/// Addresses: at most this many characters.
pub const ADDRESS_MAX: usize = 200;
/// Stories (事迹): at least this many characters.
pub const STORY_MIN: usize = 50;
/// Stories (事迹): at most this many characters.
pub const STORY_MAX: usize = 5_000;

/// Why a text field was refused. [`TextError::message`] is for people (Chinese, without the
/// field's name: the caller shows it beside the field), [`TextError::code`] for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Nothing left after trimming and removing invisible characters.
    Empty,
    /// A C0/C1 control character (a line break in a single-line field included).
    Control,
    /// A bidi override or isolate (U+202A–U+202E, U+2066–U+2069).
    Bidi,
    TooShort {
        min: usize,
        got: usize,
    },
    TooLong {
        max: usize,
        got: usize,
    },
}

impl TextError {
    /// The Chinese sentence shown beside the field.
    pub fn message(&self) -> String {
        match self {
            TextError::Empty => "不能为空".to_owned(),
            TextError::Control => "含有不可见的控制字符，请删除后重试".to_owned(),
            TextError::Bidi => "含有改变文字方向的不可见控制字符，请删除后重试".to_owned(),
            TextError::TooShort { min, got } => format!("至少需要{min}个字，现在是{got}个字"),
            TextError::TooLong { max, got } => format!("最多{max}个字，现在是{got}个字"),
        }
    }

    /// A stable English code for JSON bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Empty => "text_empty",
            TextError::Control => "text_control_character",
            TextError::Bidi => "text_bidi_control",
            TextError::TooShort { .. } => "text_too_short",
            TextError::TooLong { .. } => "text_too_long",
        }
    }
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for TextError {}

/// A bidi override or isolate: U+202A–U+202E (LRE, RLE, PDF, LRO, RLO) and U+2066–U+2069 (LRI,
/// RLI, FSI, PDI). They can make text read differently from how it is stored.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A C0 or C1 control character (general category Cc).
pub fn is_control(c: char) -> bool {
    c.general_category() == GeneralCategory::Control
}

/// An invisible format character (general category Cf): zero-width space and joiners, word
/// joiner, soft hyphen, BOM, bidi marks, …
pub fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// A space or separator of any width (general categories Zs, Zl, Zp): NBSP, ideographic space
/// U+3000, U+2028, U+2029 included.
pub fn is_separator(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::SpaceSeparator
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// A one-line field (a name, an address): trimmed, invisible format characters removed, at most
/// `max_chars` characters, not empty. Control characters (line breaks included) and bidi
/// controls are refused. U+2028/U+2029 count as spaces. For an optional field, check for an
/// empty input first.
pub fn single_line(raw: &str, max_chars: usize) -> Result<String, TextError> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if is_bidi_control(c) {
            return Err(TextError::Bidi);
        }
        if is_control(c) {
            return Err(TextError::Control);
        }
        match c {
            '\u{2028}' | '\u{2029}' => out.push(' '),
            c if is_format(c) => {}
            c => out.push(c),
        }
    }
    let out = out.trim();
    let got = out.chars().count();
    if got == 0 {
        return Err(TextError::Empty);
    }
    if got > max_chars {
        return Err(TextError::TooLong {
            max: max_chars,
            got,
        });
    }
    Ok(out.to_owned())
}

/// A multi-line field (a story): `\r\n` and a lone `\r` become `\n`, U+2028/U+2029 become
/// `\n`, invisible format characters are removed, the whole is trimmed, and then it must have
/// between `min_chars` and `max_chars` characters (newlines counted). Any other control
/// character and bidi controls are refused.
pub fn multi_line(raw: &str, min_chars: usize, max_chars: usize) -> Result<String, TextError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if is_bidi_control(c) {
            return Err(TextError::Bidi);
        }
        match c {
            '\n' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            c if is_control(c) => return Err(TextError::Control),
            c if is_format(c) => {}
            c => out.push(c),
        }
    }
    let out = out.trim();
    let got = out.chars().count();
    if got == 0 && min_chars > 0 {
        return Err(TextError::Empty);
    }
    if got < min_chars {
        return Err(TextError::TooShort {
            min: min_chars,
            got,
        });
    }
    if got > max_chars {
        return Err(TextError::TooLong {
            max: max_chars,
            got,
        });
    }
    Ok(out.to_owned())
}

/// Text read from the database, made safe for a terminal: every control character (newlines
/// and tabs included, so one value stays on one line), bidi override, isolate or mark, and line
/// or paragraph separator becomes U+FFFD. Everything else is kept.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if is_control(c)
                || is_bidi_control(c)
                || matches!(
                    c,
                    '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2028}' | '\u{2029}'
                )
            {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_invisible_characters_do_not_count() {
        assert_eq!(single_line("  李秀英 ", NAME_MAX), Ok("李秀英".to_owned()));
        assert_eq!(
            single_line("李\u{200B}秀\u{00AD}英\u{FEFF}", NAME_MAX),
            Ok("李秀英".to_owned())
        );
        let fifty = "好".repeat(50);
        assert!(single_line(&format!("{fifty}\u{200B}\u{2060}"), NAME_MAX).is_ok());
        assert_eq!(
            single_line(&format!("{fifty}好"), NAME_MAX),
            Err(TextError::TooLong { max: 50, got: 51 })
        );
        assert_eq!(single_line(" \u{200B} ", NAME_MAX), Err(TextError::Empty));
    }

    #[test]
    fn control_characters_and_bidi_overrides_are_refused_not_stripped() {
        assert_eq!(single_line("李\n秀英", 50), Err(TextError::Control));
        assert_eq!(single_line("李\t秀英", 50), Err(TextError::Control));
        assert_eq!(single_line("李\u{0085}秀英", 50), Err(TextError::Control));
        assert_eq!(single_line("李\u{202E}英秀", 50), Err(TextError::Bidi));
        assert_eq!(single_line("李\u{2067}英秀", 50), Err(TextError::Bidi));
        assert_eq!(
            TextError::Control.message(),
            "含有不可见的控制字符，请删除后重试"
        );
        let story = format!("{}\u{1b}[2J", "好".repeat(60));
        assert_eq!(
            multi_line(&story, STORY_MIN, STORY_MAX),
            Err(TextError::Control)
        );
        let story = format!("{}\u{202D}", "好".repeat(60));
        assert_eq!(
            multi_line(&story, STORY_MIN, STORY_MAX),
            Err(TextError::Bidi)
        );
    }

    #[test]
    fn stories_keep_newlines_and_normalise_carriage_returns() {
        let line = "好".repeat(30);
        let story = format!("{line}\r\n{line}\r{line}\u{2029}{line}\n");
        assert_eq!(
            multi_line(&story, STORY_MIN, STORY_MAX),
            Ok(format!("{line}\n{line}\n{line}\n{line}"))
        );
    }

    #[test]
    fn story_length_is_counted_after_removing_invisible_characters() {
        let padded = format!("{}{}", "好".repeat(49), "\u{200B}".repeat(10));
        assert_eq!(
            multi_line(&padded, STORY_MIN, STORY_MAX),
            Err(TextError::TooShort { min: 50, got: 49 })
        );
        assert!(multi_line(&"好".repeat(50), STORY_MIN, STORY_MAX).is_ok());
        assert_eq!(
            multi_line(&"好".repeat(5001), STORY_MIN, STORY_MAX),
            Err(TextError::TooLong {
                max: 5000,
                got: 5001
            })
        );
        assert_eq!(
            TextError::TooShort { min: 50, got: 11 }.message(),
            "至少需要50个字，现在是11个字"
        );
    }

    #[test]
    fn printable_never_lets_a_control_character_through() {
        assert_eq!(
            printable("李\u{1b}[31m秀\n英"),
            "李\u{FFFD}[31m秀\u{FFFD}英"
        );
        assert_eq!(printable("a\u{202E}b\u{2066}c"), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(printable("皋兰县，某村"), "皋兰县，某村");
    }

    proptest! {
        #[test]
        fn accepted_text_holds_no_control_or_format_character(raw in any::<String>()) {
            if let Ok(s) = single_line(&raw, 1_000) {
                prop_assert!(!s.chars().any(|c| is_control(c) || is_format(c)));
            }
            if let Ok(s) = multi_line(&raw, 0, 100_000) {
                prop_assert!(!s.chars().any(|c| (is_control(c) && c != '\n') || is_format(c)));
                prop_assert!(!s.contains('\r'));
            }
        }

        #[test]
        fn printable_output_has_no_control_character(raw in any::<String>()) {
            let p = printable(&raw);
            prop_assert!(!p.chars().any(|c| is_control(c) || is_bidi_control(c)));
            prop_assert_eq!(p.chars().count(), raw.chars().count());
        }
    }
}
