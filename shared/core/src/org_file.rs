//! The org-tree CSV format shared by the seed file and `jinguo import orgs`.
//!
//! Columns (header required): `code,name[,longitude,latitude,coordinates_generated]`.
//! Parent and level are derived from the code, never read from the file. Parsing is
//! all-or-nothing: the first bad row is reported with its line number.

use std::collections::HashMap;

use crate::org::{Location, OrgCode, OrgUnit};

/// A row the file cannot be imported with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    /// 1-based line in the file, the header being line 1.
    pub line: u64,
    pub message: String,
}

/// One parsed unit and the line it came from, for messages about it later (a missing parent).
#[derive(Debug, Clone, PartialEq)]
pub struct OrgRow {
    pub line: u64,
    pub unit: OrgUnit,
}

/// Parses a whole file, parents before children.
pub fn parse(text: &str) -> Result<Vec<OrgRow>, RowError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| RowError {
            line: 1,
            message: format!("unreadable header: {e}"),
        })?
        .clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
    };
    let (Some(code_col), Some(name_col)) = (column("code"), column("name")) else {
        return Err(RowError {
            line: 1,
            message: "header must name the columns code and name".into(),
        });
    };
    let (lon_col, lat_col, gen_col) = (
        column("longitude"),
        column("latitude"),
        column("coordinates_generated"),
    );

    let mut rows = Vec::new();
    let mut seen: HashMap<OrgCode, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| RowError {
            line: e.position().map_or(0, |p| p.line()),
            message: format!("not valid CSV: {e}"),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let bad = |message: String| RowError { line, message };
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("");

        let raw_code = field(Some(code_col));
        let code = OrgCode::parse(raw_code).map_err(|e| bad(format!("code {raw_code:?}: {e}")))?;
        if let Some(first) = seen.insert(code, line) {
            return Err(bad(format!("code {code} already appears on line {first}")));
        }
        let name = field(Some(name_col));
        if name.is_empty() {
            return Err(bad("name is empty".into()));
        }
        let location = match (field(lon_col), field(lat_col)) {
            ("", "") => None,
            (lon, lat) => {
                let number = |s: &str, what: &str| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .ok_or_else(|| bad(format!("{what} {s:?} is not a number")))
                };
                let generated = match field(gen_col) {
                    "" | "false" => false,
                    "true" => true,
                    other => {
                        return Err(bad(format!(
                            "coordinates_generated must be true or false, got {other:?}"
                        )));
                    }
                };
                let (lon, lat) = (number(lon, "longitude")?, number(lat, "latitude")?);
                Some(
                    Location::new(lon, lat, generated)
                        .map_err(|f| bad(format!("{f} out of range")))?,
                )
            }
        };
        let level = code.level();
        rows.push(OrgRow {
            line,
            unit: OrgUnit {
                code,
                name: name.to_owned(),
                parent: code.parent(),
                level,
                practice_center: level.practice_center(),
                location,
            },
        });
    }
    rows.sort_by_key(|r| (r.unit.level, r.unit.code));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_and_full_rows_parents_first() {
        let rows = parse(
            "code,name,longitude,latitude,coordinates_generated\n\
             620122100201,某村,103.9,36.3,true\n\
             620122,皋兰县,103.95,36.33,false\n\
             620122100,石洞镇,,,\n",
        )
        .unwrap();
        let codes: Vec<_> = rows
            .iter()
            .map(|r| r.unit.code.as_str().to_owned())
            .collect();
        assert_eq!(codes, ["620122000000", "620122100000", "620122100201"]);
        assert_eq!(rows[0].line, 3);
        assert_eq!(rows[1].unit.location, None);
        assert!(rows[2].unit.location.unwrap().generated);
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let e = |text: &str| parse(text).unwrap_err();
        assert_eq!(e("code,name\n62,甘肃省\n6201x,兰州\n").line, 3);
        assert_eq!(e("code,name\n62,\n").message, "name is empty");
        assert_eq!(
            e("code,name\n62,甘肃省\n62,甘肃\n").message,
            "code 620000000000 already appears on line 2"
        );
        assert!(
            e("code,name,longitude,latitude\n62,甘肃,east,36\n")
                .message
                .contains("longitude")
        );
        assert!(
            e("code,name,longitude,latitude\n62,甘肃,103,99\n")
                .message
                .contains("latitude out of range")
        );
        assert!(
            e("code,name\n62,甘肃,extra\n")
                .message
                .contains("not valid CSV")
        );
        assert_eq!(e("id,title\n").line, 1);
    }
}
