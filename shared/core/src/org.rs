//! The org tree: statistical division codes (统计用区划代码) and the levels they name.
//!
//! A code has fixed segments 2-2-2-3-3 (province, 市州, 县区, 乡镇/街道, 村/社区) and is
//! always held padded to 12 digits. The level is the deepest non-zero *segment*, never the
//! count of trailing zeros: 620201100 (新城镇) and 620102021200 (忠和村委会) end in zeros and
//! are still a township and a village.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a unit sits in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgLevel {
    Province,
    City,
    County,
    Township,
    Village,
}

impl OrgLevel {
    pub const ALL: [OrgLevel; 5] = [
        OrgLevel::Province,
        OrgLevel::City,
        OrgLevel::County,
        OrgLevel::Township,
        OrgLevel::Village,
    ];

    /// Stable name used in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgLevel::Province => "province",
            OrgLevel::City => "city",
            OrgLevel::County => "county",
            OrgLevel::Township => "township",
            OrgLevel::Village => "village",
        }
    }

    /// The New-Era Civilization Practice Center role of units at this level:
    /// county 中心, township 所, village 站; none above the county.
    pub fn practice_center(self) -> Option<PracticeCenter> {
        match self {
            OrgLevel::Province | OrgLevel::City => None,
            OrgLevel::County => Some(PracticeCenter::Center),
            OrgLevel::Township => Some(PracticeCenter::Institute),
            OrgLevel::Village => Some(PracticeCenter::Station),
        }
    }

    /// Digits up to and including this level's segment.
    pub fn prefix_len(self) -> usize {
        match self {
            OrgLevel::Province => 2,
            OrgLevel::City => 4,
            OrgLevel::County => 6,
            OrgLevel::Township => 9,
            OrgLevel::Village => 12,
        }
    }

    fn parent(self) -> Option<OrgLevel> {
        let i = OrgLevel::ALL.iter().position(|l| *l == self)?;
        i.checked_sub(1).map(|p| OrgLevel::ALL[p])
    }
}

impl FromStr for OrgLevel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        OrgLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or(())
    }
}

/// 新时代文明实践 role of an org unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PracticeCenter {
    /// 新时代文明实践中心 (county)
    Center,
    /// 新时代文明实践所 (township)
    Institute,
    /// 新时代文明实践站 (village)
    Station,
}

impl PracticeCenter {
    /// The name federation users read.
    pub fn label(self) -> &'static str {
        match self {
            PracticeCenter::Center => "新时代文明实践中心",
            PracticeCenter::Institute => "新时代文明实践所",
            PracticeCenter::Station => "新时代文明实践站",
        }
    }
}

/// Why a string is not an org code. Messages are for the caller who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgCodeError {
    #[error("org code must be digits only")]
    NotDigits,
    #[error("org code must have 2, 4, 6, 9 or 12 digits, got {0}")]
    BadLength(usize),
    #[error("org code has a zero segment above a non-zero one")]
    GapInSegments,
    #[error("org code has a zero province segment")]
    ZeroProvince,
}

/// A statistical division code, padded to 12 digits, with a valid segment structure.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgCode([u8; 12]);

impl OrgCode {
    /// Parse a 2-, 4-, 6-, 9- or 12-digit code.
    pub fn parse(s: &str) -> Result<OrgCode, OrgCodeError> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OrgCodeError::NotDigits);
        }
        if !matches!(s.len(), 2 | 4 | 6 | 9 | 12) {
            return Err(OrgCodeError::BadLength(s.len()));
        }
        let mut digits = [b'0'; 12];
        digits[..s.len()].copy_from_slice(s.as_bytes());
        let code = OrgCode(digits);
        if code.segment(OrgLevel::Province) == "00" {
            return Err(OrgCodeError::ZeroProvince);
        }
        // Once a segment is zero every deeper one must be too.
        let mut seen_zero = false;
        for level in OrgLevel::ALL {
            let zero = code.segment(level).bytes().all(|b| b == b'0');
            if seen_zero && !zero {
                return Err(OrgCodeError::GapInSegments);
            }
            seen_zero |= zero;
        }
        Ok(code)
    }

    /// The full 12-digit form.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).expect("org code is ASCII")
    }

    fn segment(&self, level: OrgLevel) -> &str {
        let end = level.prefix_len();
        let start = level.parent().map_or(0, OrgLevel::prefix_len);
        &self.as_str()[start..end]
    }

    /// The deepest level whose segment is not zero.
    pub fn level(&self) -> OrgLevel {
        OrgLevel::ALL
            .into_iter()
            .rev()
            .find(|l| self.segment(*l).bytes().any(|b| b != b'0'))
            .unwrap_or(OrgLevel::Province)
    }

    /// The unit directly above, or `None` for a province.
    pub fn parent(&self) -> Option<OrgCode> {
        let parent_level = self.level().parent()?;
        let mut digits = [b'0'; 12];
        let keep = parent_level.prefix_len();
        digits[..keep].copy_from_slice(&self.0[..keep]);
        Some(OrgCode(digits))
    }

    /// The unit at `level` that `self` lies in (`self` itself when it is at that level or
    /// above): a village's township or county, say.
    pub fn at_level(&self, level: OrgLevel) -> OrgCode {
        if self.level() <= level {
            return *self;
        }
        let mut digits = [b'0'; 12];
        let keep = level.prefix_len();
        digits[..keep].copy_from_slice(&self.0[..keep]);
        OrgCode(digits)
    }

    /// True when `self` is `other` or lies below it.
    pub fn is_within(&self, other: &OrgCode) -> bool {
        let keep = other.level().prefix_len();
        self.0[..keep] == other.0[..keep]
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgCode({})", self.as_str())
    }
}

impl FromStr for OrgCode {
    type Err = OrgCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrgCode::parse(s)
    }
}

impl Serialize for OrgCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrgCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OrgCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One unit of the tree as the domain sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgUnit {
    pub code: OrgCode,
    pub name: String,
    pub parent: Option<OrgCode>,
    pub level: OrgLevel,
    pub practice_center: Option<PracticeCenter>,
    pub location: Option<Location>,
}

/// Longitude/latitude; `generated` marks points placed around a county seat for demos.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Location {
    pub longitude: f64,
    pub latitude: f64,
    pub generated: bool,
}

impl Location {
    /// Checks the range of each coordinate; `None` names the offending field.
    pub fn new(longitude: f64, latitude: f64, generated: bool) -> Result<Location, &'static str> {
        if !(-180.0..=180.0).contains(&longitude) {
            return Err("longitude");
        }
        if !(-90.0..=90.0).contains(&latitude) {
            return Err("latitude");
        }
        Ok(Location {
            longitude,
            latitude,
            generated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> OrgCode {
        OrgCode::parse(s).unwrap()
    }

    #[test]
    fn short_codes_are_padded_to_twelve_digits() {
        assert_eq!(code("62").as_str(), "620000000000");
        assert_eq!(code("6201").as_str(), "620100000000");
        assert_eq!(code("620122").as_str(), "620122000000");
        assert_eq!(code("620122100").as_str(), "620122100000");
    }

    #[test]
    fn level_follows_segments_not_trailing_zeros() {
        assert_eq!(code("620000000000").level(), OrgLevel::Province);
        assert_eq!(code("620100000000").level(), OrgLevel::City);
        assert_eq!(code("620122000000").level(), OrgLevel::County);
        // 新城镇: a township whose own segment ends in zeros.
        assert_eq!(code("620201100").level(), OrgLevel::Township);
        assert_eq!(code("620201100000").level(), OrgLevel::Township);
        // 忠和村委会: a village code ending in 00.
        assert_eq!(code("620102021200").level(), OrgLevel::Village);
        // A county segment of 10 is still a county.
        assert_eq!(code("621000000000").level(), OrgLevel::City);
        assert_eq!(code("621010000000").level(), OrgLevel::County);
    }

    #[test]
    fn units_at_a_level_cut_the_code_by_segments() {
        let village = OrgCode::parse("620201100201").unwrap();
        assert_eq!(
            village.at_level(OrgLevel::Township).as_str(),
            "620201100000"
        );
        assert_eq!(village.at_level(OrgLevel::County).as_str(), "620201000000");
        assert_eq!(
            village.at_level(OrgLevel::Province).as_str(),
            "620000000000"
        );
        let county = OrgCode::parse("620122").unwrap();
        assert_eq!(
            county.at_level(OrgLevel::Village),
            county,
            "above the level: itself"
        );
    }

    #[test]
    fn parents_walk_up_segment_by_segment() {
        let v = code("620102021200");
        assert_eq!(v.parent(), Some(code("620102021")));
        assert_eq!(code("620102021").parent(), Some(code("620102")));
        assert_eq!(code("620102").parent(), Some(code("6201")));
        assert_eq!(code("6201").parent(), Some(code("62")));
        assert_eq!(code("62").parent(), None);
    }

    #[test]
    fn malformed_codes_are_refused_with_a_reason() {
        assert_eq!(OrgCode::parse("62a1"), Err(OrgCodeError::NotDigits));
        assert_eq!(OrgCode::parse(""), Err(OrgCodeError::NotDigits));
        assert_eq!(OrgCode::parse("6201221"), Err(OrgCodeError::BadLength(7)));
        assert_eq!(OrgCode::parse("0001"), Err(OrgCodeError::ZeroProvince));
        assert_eq!(
            OrgCode::parse("620000100000"),
            Err(OrgCodeError::GapInSegments)
        );
    }

    #[test]
    fn practice_center_roles_by_level() {
        assert_eq!(
            code("620122").level().practice_center(),
            Some(PracticeCenter::Center)
        );
        assert_eq!(
            code("620122100").level().practice_center(),
            Some(PracticeCenter::Institute)
        );
        assert_eq!(
            code("620122100201").level().practice_center(),
            Some(PracticeCenter::Station)
        );
        assert_eq!(code("6201").level().practice_center(), None);
    }

    #[test]
    fn within_is_subtree_membership() {
        assert!(code("620122100201").is_within(&code("620122")));
        assert!(code("620122").is_within(&code("620122")));
        assert!(!code("620123100201").is_within(&code("620122")));
        assert!(!code("620122").is_within(&code("620122100")));
    }

    proptest! {
        #[test]
        fn every_valid_code_round_trips_and_its_parent_contains_it(
            p in 1u32..100, c in 0u32..100, k in 0u32..100, t in 0u32..1000, v in 0u32..1000
        ) {
            let segs = [format!("{p:02}"), format!("{c:02}"), format!("{k:02}"), format!("{t:03}"), format!("{v:03}")];
            // Zero out everything after the first zero segment to make it well-formed.
            let first_zero = segs.iter().position(|s| s.bytes().all(|b| b == b'0')).unwrap_or(5);
            let s: String = segs.iter().enumerate()
                .map(|(i, s)| if i >= first_zero { "0".repeat(s.len()) } else { s.clone() })
                .collect();
            let parsed = OrgCode::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
            prop_assert_eq!(OrgCode::parse(parsed.as_str()).unwrap(), parsed);
            if let Some(parent) = parsed.parent() {
                prop_assert!(parsed.is_within(&parent));
                prop_assert!(parent.level() < parsed.level());
            }
        }
    }
}
