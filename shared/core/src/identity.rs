//! Who a household is: the head's resident ID number or mobile phone, parsed once into a
//! canonical form so that one household is one identity however the number was typed.
//!
//! Guarantees: [`clean`] applies Unicode NFKC (full-width digits become ASCII) and removes
//! every invisible character (general categories Cf, Zs, Zl, Zp, Cc); a [`ResidentId`] is 17
//! ASCII digits and a GB 11643-1999 check digit (`0`–`9` or `X`) that verifies, with a real birth
//! date between 1900-01-01 and today and a region code that is not all zeros; a
//! [`MobilePhone`] is 11 ASCII digits `1[3-9]\d{9}`. Dashes anywhere and full stops at the end
//! (`.` `。`) are separators, not part of the number. Two inputs that parse to the same value
//! are the same person; anything that does not parse is refused with a Chinese message, never
//! kept as a different household. `Debug` prints only the masked form.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::text::{is_control, is_format, is_separator};

/// NFKC, then without any character of category Cf, Zs, Zl, Zp or Cc. Idempotent.
pub fn clean(raw: &str) -> String {
    let keep = |c: &char| !(is_format(*c) || is_separator(*c) || is_control(*c));
    let mut s: String = raw.chars().filter(keep).collect();
    // Removing a character can leave a string that NFKC changes again (a combining mark meets
    // its base once a space between them is gone), and NFKC can produce spaces (U+00A8 is a
    // space and a diaeresis): repeat until nothing changes. Two or three rounds in practice.
    for _ in 0..8 {
        let next: String = s.nfkc().filter(keep).collect();
        if next == s {
            break;
        }
        s = next;
    }
    s
}

/// `clean`, then without dashes (any Pd character, and U+2212 minus) and without trailing full
/// stops: what is left must be the number itself.
fn digits_only(raw: &str) -> String {
    let mut s: String = clean(raw)
        .chars()
        .filter(|&c| c.general_category() != GeneralCategory::DashPunctuation && c != '\u{2212}')
        .collect();
    while s.ends_with(['.', '。']) {
        s.pop();
    }
    s
}

/// Why a head-of-household number was refused. [`IdentityError::message`] is shown to people,
/// [`IdentityError::code`] goes into JSON and logs. Neither carries the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityError {
    /// Nothing typed.
    Empty,
    /// Neither an 18-character ID number nor an 11-digit phone number.
    Unrecognised,
    /// Not 17 digits and a check character.
    IdFormat,
    /// The check digit does not match the first 17 digits.
    IdCheckDigit,
    /// Digits 7–14 are not a real date between 1900-01-01 and today.
    IdBirthDate,
    /// The region code (digits 1–6) is all zeros.
    IdRegion,
    /// Not 11 digits starting 13–19.
    PhoneFormat,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for IdentityError {}

impl IdentityError {
    /// The Chinese sentence shown beside the field.
    pub fn message(&self) -> &'static str {
        match self {
            IdentityError::Empty => "请填写户主身份证号或手机号",
            IdentityError::Unrecognised => "请填写18位身份证号或11位手机号",
            IdentityError::IdFormat => "身份证号应为18位：17位数字加1位数字或X",
            IdentityError::IdCheckDigit => "身份证号校验位不正确，请核对",
            IdentityError::IdBirthDate => "身份证号中的出生日期不正确，请核对",
            IdentityError::IdRegion => "身份证号中的地区代码不正确，请核对",
            IdentityError::PhoneFormat => "手机号应为11位数字，以13至19开头",
        }
    }

    /// A stable English code for JSON bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::Empty => "identity_empty",
            IdentityError::Unrecognised => "identity_unrecognised",
            IdentityError::IdFormat => "resident_id_format",
            IdentityError::IdCheckDigit => "resident_id_check_digit",
            IdentityError::IdBirthDate => "resident_id_birth_date",
            IdentityError::IdRegion => "resident_id_region",
            IdentityError::PhoneFormat => "mobile_phone_format",
        }
    }
}

/// A mainland resident ID number (居民身份证号码, GB 11643-1999), canonical: 18 ASCII
/// characters, the last `0`–`9` or `X`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId(String);

impl ResidentId {
    /// Parses an ID number as typed. `today` bounds the birth date.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<ResidentId, IdentityError> {
        let s = digits_only(raw);
        if s.is_empty() {
            return Err(IdentityError::Empty);
        }
        Self::parse_canonical(&s, today)
    }

    fn parse_canonical(s: &str, today: NaiveDate) -> Result<ResidentId, IdentityError> {
        let b = s.as_bytes();
        let shaped = b.len() == 18
            && b[..17].iter().all(u8::is_ascii_digit)
            && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x');
        if !shaped {
            return Err(IdentityError::IdFormat);
        }
        let check = b[17].to_ascii_uppercase() as char;
        if Self::check_digit(&s[..17]) != Some(check) {
            return Err(IdentityError::IdCheckDigit);
        }
        if &s[..6] == "000000" {
            return Err(IdentityError::IdRegion);
        }
        let number = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let birth = NaiveDate::from_ymd_opt(number(6..10) as i32, number(10..12), number(12..14));
        match birth {
            Some(d) if d.year() >= 1900 && d <= today => {}
            _ => return Err(IdentityError::IdBirthDate),
        }
        let mut canonical = s.to_owned();
        canonical.make_ascii_uppercase();
        Ok(ResidentId(canonical))
    }

    /// The ISO 7064 MOD 11-2 check character for the first 17 digits, `None` unless `first17` is
    /// 17 ASCII digits. Useful to build valid numbers in tests.
    pub fn check_digit(first17: &str) -> Option<char> {
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: &[u8; 11] = b"10X98765432";
        let b = first17.as_bytes();
        if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let sum: u32 = b
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        Some(CHECK[(sum % 11) as usize] as char)
    }

    /// The canonical form: what the household key is computed from.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For display: the first four and last four characters, `6201**********1234`.
    pub fn masked(&self) -> String {
        format!("{}{}{}", &self.0[..4], "*".repeat(10), &self.0[14..])
    }

    /// The date of birth the number carries.
    pub fn birth_date(&self) -> NaiveDate {
        let n = |r: std::ops::Range<usize>| self.0[r].parse::<u32>().unwrap_or(1);
        NaiveDate::from_ymd_opt(n(6..10) as i32, n(10..12), n(12..14)).unwrap_or_default()
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

/// A mainland mobile number, canonical: 11 ASCII digits, `1[3-9]\d{9}`, without a country code.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MobilePhone(String);

impl MobilePhone {
    /// An optional field: nothing (or only invisible characters) is `None`, anything else must
    /// parse.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<MobilePhone>, IdentityError> {
        match raw {
            Some(r) if !clean(r).is_empty() => MobilePhone::parse(r).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses a mobile number as typed: separators and a leading `+86`, `0086` or `86` (before
    /// 11 digits) are dropped.
    pub fn parse(raw: &str) -> Result<MobilePhone, IdentityError> {
        let s = digits_only(raw);
        if s.is_empty() {
            return Err(IdentityError::Empty);
        }
        Self::parse_canonical(&s)
    }

    fn parse_canonical(s: &str) -> Result<MobilePhone, IdentityError> {
        let national = ["+86", "0086", "86"]
            .iter()
            .find_map(|p| s.strip_prefix(p).filter(|rest| rest.len() == 11))
            .unwrap_or(s);
        let b = national.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if ok {
            Ok(MobilePhone(national.to_owned()))
        } else {
            Err(IdentityError::PhoneFormat)
        }
    }

    /// The canonical 11 digits: what the household key is computed from, and what is sealed for
    /// the reviewer who calls the family.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For display: `139****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for MobilePhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobilePhone({})", self.masked())
    }
}

/// The one field "户主身份证号或手机号": a household is found by its head's ID number or phone.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum HouseholdKey {
    Id(ResidentId),
    Phone(MobilePhone),
}

impl HouseholdKey {
    /// An ID number when it looks like one (18 characters, or 17 digits and an `X`), then a
    /// phone number; the refusal names what was wrong with the one it looked like.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<HouseholdKey, IdentityError> {
        let s = digits_only(raw);
        if s.is_empty() {
            return Err(IdentityError::Empty);
        }
        let n = s.chars().count();
        if n == 18 {
            return ResidentId::parse_canonical(&s, today).map(HouseholdKey::Id);
        }
        let all_digits = s
            .trim_start_matches('+')
            .bytes()
            .all(|b| b.is_ascii_digit());
        if all_digits && (11..=15).contains(&n) {
            return match MobilePhone::parse_canonical(&s) {
                Ok(p) => Ok(HouseholdKey::Phone(p)),
                Err(_) if n == 11 => Err(IdentityError::PhoneFormat),
                Err(_) => Err(IdentityError::Unrecognised),
            };
        }
        Err(IdentityError::Unrecognised)
    }

    /// The canonical form (what the keyed hash is computed from).
    pub fn as_str(&self) -> &str {
        match self {
            HouseholdKey::Id(id) => id.as_str(),
            HouseholdKey::Phone(p) => p.as_str(),
        }
    }

    /// For display.
    pub fn masked(&self) -> String {
        match self {
            HouseholdKey::Id(id) => id.masked(),
            HouseholdKey::Phone(p) => p.masked(),
        }
    }

    /// `"id"` or `"phone"`: which kind of key, for a column or a log line.
    pub fn kind(&self) -> &'static str {
        match self {
            HouseholdKey::Id(_) => "id",
            HouseholdKey::Phone(_) => "phone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    /// A valid ID number with the given first 17 digits.
    fn id(first17: &str) -> String {
        format!("{first17}{}", ResidentId::check_digit(first17).unwrap())
    }

    #[test]
    fn check_digit_follows_gb_11643() {
        // The standard's own example.
        assert_eq!(ResidentId::check_digit("11010519491231002"), Some('X'));
        let ok = ResidentId::parse("11010519491231002X", today()).unwrap();
        assert_eq!(ok.as_str(), "11010519491231002X");
        assert_eq!(
            ResidentId::parse("11010519491231002x", today()).unwrap(),
            ok
        );
        assert_eq!(
            ResidentId::parse("110105194912310021", today()),
            Err(IdentityError::IdCheckDigit)
        );
        assert_eq!(
            IdentityError::IdCheckDigit.message(),
            "身份证号校验位不正确，请核对"
        );
    }

    #[test]
    fn invisible_characters_full_width_digits_dashes_and_a_trailing_dot_are_the_same_person() {
        let plain = id("62012219800101123");
        let want = ResidentId::parse(&plain, today()).unwrap();
        let full_width: String = plain
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap())
            .collect();
        for typed in [
            format!("{}\u{200B}{}", &plain[..6], &plain[6..]),
            format!("{}\u{2060}{}\u{00AD}", &plain[..3], &plain[3..]),
            format!("\u{FEFF}{} {} {}", &plain[..6], &plain[6..14], &plain[14..]),
            format!("{}\u{3000}{}", &plain[..6], &plain[6..]),
            format!("{}-{}-{}", &plain[..6], &plain[6..14], &plain[14..]),
            format!("{plain}."),
            format!("{plain}。"),
            full_width,
        ] {
            assert_eq!(
                ResidentId::parse(&typed, today()),
                Ok(want.clone()),
                "{typed:?}"
            );
            assert_eq!(
                HouseholdKey::parse(&typed, today()),
                Ok(HouseholdKey::Id(want.clone()))
            );
        }
    }

    #[test]
    fn birth_date_and_region_must_be_plausible() {
        for first17 in [
            "62012219000229123", // 1900 was not a leap year
            "62012218991231123",
            "62012220270101123", // after today
            "62012219801301123",
        ] {
            assert_eq!(
                ResidentId::parse(&id(first17), today()),
                Err(IdentityError::IdBirthDate),
                "{first17}"
            );
        }
        assert!(ResidentId::parse(&id("62012220000229123"), today()).is_ok());
        assert_eq!(
            ResidentId::parse(&id("00000019800101123"), today()),
            Err(IdentityError::IdRegion)
        );
    }

    #[test]
    fn phones_lose_country_codes_and_separators() {
        let want = MobilePhone::parse("13912345678").unwrap();
        for typed in [
            "139-1234-5678",
            "139 1234 5678",
            "+86 139 1234 5678",
            "0086-13912345678",
            "8613912345678",
            "１３９１２３４５６７８",
            "139\u{200B}1234\u{2060}5678。",
        ] {
            assert_eq!(MobilePhone::parse(typed), Ok(want.clone()), "{typed:?}");
        }
        assert_eq!(
            MobilePhone::parse("12912345678"),
            Err(IdentityError::PhoneFormat)
        );
        assert_eq!(
            HouseholdKey::parse("12912345678", today()),
            Err(IdentityError::PhoneFormat)
        );
        assert_eq!(
            HouseholdKey::parse("139 1234 5678", today()),
            Ok(HouseholdKey::Phone(want))
        );
    }

    #[test]
    fn anything_else_is_refused_in_chinese() {
        for typed in [
            "",
            " \u{200B} ",
            "12345",
            "6201221980",
            "李秀英",
            "1391234567８9",
        ] {
            let e = HouseholdKey::parse(typed, today()).unwrap_err();
            assert!(!e.message().is_ascii(), "{typed:?}: {}", e.message());
        }
        assert_eq!(
            HouseholdKey::parse("12345", today()).unwrap_err().message(),
            "请填写18位身份证号或11位手机号"
        );
        assert_eq!(
            HouseholdKey::parse("62012219800101123.5", today()),
            Err(IdentityError::Unrecognised)
        );
    }

    #[test]
    fn debug_prints_only_the_masked_form() {
        let r = ResidentId::parse(&id("62012219800101123"), today()).unwrap();
        assert_eq!(r.masked(), format!("6201**********{}", &r.as_str()[14..]));
        let p = MobilePhone::parse("13912345678").unwrap();
        assert_eq!(p.masked(), "139****5678");
        let shown = format!(
            "{:?} {:?}",
            HouseholdKey::Id(r.clone()),
            HouseholdKey::Phone(p)
        );
        assert!(!shown.contains(r.as_str()) && !shown.contains("13912345678"));
        assert!(shown.contains("6201**********"));
    }

    fn invisible() -> impl Strategy<Value = char> {
        prop_oneof![
            Just('\u{200B}'),
            Just('\u{200C}'),
            Just('\u{200D}'),
            Just('\u{2060}'),
            Just('\u{00AD}'),
            Just('\u{FEFF}'),
            Just('\u{200E}'),
            Just('\u{202E}'),
            Just('\u{2066}'),
            Just(' '),
            Just('\u{00A0}'),
            Just('\u{3000}'),
            Just('\u{2002}'),
            Just('\u{202F}'),
            Just('\u{2028}'),
            Just('\u{2029}'),
            Just('\t'),
            Just('\n'),
            Just('\u{0085}'),
        ]
    }

    fn valid_id() -> impl Strategy<Value = String> {
        (
            11u32..=65,
            0u32..=9999,
            // Born by the end of last year: a birth date after `today()` is refused.
            1900i32..=2025,
            1u32..=12,
            1u32..=28,
            0u32..=999,
        )
            .prop_map(|(p, r, y, m, d, s)| id(&format!("{p:02}{r:04}{y:04}{m:02}{d:02}{s:03}")))
    }

    fn valid_phone() -> impl Strategy<Value = String> {
        (3u8..=9, 0u64..1_000_000_000).prop_map(|(second, rest)| format!("1{second}{rest:09}"))
    }

    fn insert_all(s: &str, inserts: &[(usize, char)]) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        for &(at, c) in inserts {
            let at = at % (chars.len() + 1);
            chars.insert(at, c);
        }
        chars.into_iter().collect()
    }

    fn full_width(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '0'..='9' | 'X' => char::from_u32(c as u32 - 0x20 + 0xFF00).unwrap(),
                c => c,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn clean_is_idempotent(raw in any::<String>()) {
            let once = clean(&raw);
            prop_assert_eq!(clean(&once), once.clone());
        }

        #[test]
        fn clean_is_idempotent_where_removal_meets_composition(
            raw in proptest::collection::vec(proptest::sample::select(vec![
                'a', 'e', '1', '\u{0301}', '\u{0308}', '\u{00A8}', '\u{02DD}', '\u{200B}',
                '\u{200D}', ' ', '\u{00A0}', '\u{3000}', '\u{2000}', '\u{FF10}', '\u{1100}',
                '\u{1161}', '\u{11A8}', '\u{FF76}', '\u{FF9E}', '\u{3099}', '\u{01C5}',
                '\u{FB01}', '\u{2028}', '\u{0085}', '\u{FE0F}', '\u{0345}', '\u{1FBE}',
            ]), 0..12).prop_map(|v| v.into_iter().collect::<String>()),
        ) {
            let once = clean(&raw);
            prop_assert_eq!(clean(&once), once.clone());
        }

        #[test]
        fn invisible_characters_anywhere_do_not_change_an_id(
            id in valid_id(),
            inserts in proptest::collection::vec((any::<usize>(), invisible()), 0..8),
            wide: bool,
        ) {
            let want = ResidentId::parse(&id, today()).unwrap();
            let typed = insert_all(&id, &inserts);
            let typed = if wide { full_width(&typed) } else { typed };
            prop_assert_eq!(ResidentId::parse(&typed, today()), Ok(want.clone()));
            prop_assert_eq!(HouseholdKey::parse(&typed, today()), Ok(HouseholdKey::Id(want)));
        }

        #[test]
        fn invisible_characters_anywhere_do_not_change_a_phone(
            phone in valid_phone(),
            inserts in proptest::collection::vec((any::<usize>(), invisible()), 0..8),
            wide: bool,
        ) {
            let want = MobilePhone::parse(&phone).unwrap();
            let typed = insert_all(&phone, &inserts);
            let typed = if wide { full_width(&typed) } else { typed };
            prop_assert_eq!(MobilePhone::parse(&typed), Ok(want.clone()));
            prop_assert_eq!(HouseholdKey::parse(&typed, today()), Ok(HouseholdKey::Phone(want)));
        }

        #[test]
        fn parsers_never_panic_and_accept_only_canonical_forms(raw in any::<String>()) {
            if let Ok(id) = ResidentId::parse(&raw, today()) {
                prop_assert_eq!(ResidentId::parse(id.as_str(), today()), Ok(id.clone()));
                prop_assert_eq!(id.as_str().len(), 18);
            }
            if let Ok(p) = MobilePhone::parse(&raw) {
                prop_assert_eq!(p.as_str().len(), 11);
            }
            let _ = HouseholdKey::parse(&raw, today());
        }

        #[test]
        fn digit_strings_never_panic(raw in "[0-9xX+. -]{0,40}") {
            let _ = HouseholdKey::parse(&raw, today());
        }
    }
}
