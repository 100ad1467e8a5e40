use jinguo_core::identity::HouseholdKey;
use jinguo_core::nominations::Level;
use jinguo_core::org::OrgCode;

use crate::family::household_hash;
use crate::review::unit_for;

#[test]
fn households_are_known_by_a_keyed_hash_of_the_canonical_key() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let key = |raw: &str| HouseholdKey::parse(raw, today).unwrap();
    let a = household_hash("key-one-0123456789", &key("62012219800101104x"));
    for same in [
        " 620122-19800101104X ",
        "６２０１２２１９８００１０１１０４Ｘ",
        "620122\u{200b}19800101\u{2060}104X.",
        "620122\u{ad}198001011\u{3000}04X",
    ] {
        assert_eq!(
            a,
            household_hash("key-one-0123456789", &key(same)),
            "{same:?}"
        );
    }
    assert_ne!(
        a,
        household_hash("key-two-0123456789", &key("62012219800101104X"))
    );
    assert!(!a.contains("620122"));
}

#[test]
fn each_level_has_its_unit() {
    let v = OrgCode::parse("620122100201").unwrap();
    assert_eq!(unit_for(v, Level::Village), v);
    assert_eq!(unit_for(v, Level::Township).as_str(), "620122100000");
    assert_eq!(unit_for(v, Level::County).as_str(), "620122000000");
}
