//! The three layers of settings, flattened to `section.key` and checked against the defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::Value;

use crate::ConfigError;

/// Where a setting's value came from, so an error can send the operator to the right place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Defaults,
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Defaults => f.write_str("built-in defaults"),
            Origin::File(p) => write!(f, "file {}", p.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

pub(crate) struct Setting {
    pub value: Value,
    pub origin: Origin,
}

/// All settings by dotted key. The key set is fixed by the defaults.
pub(crate) struct Layers(BTreeMap<String, Setting>);

const ENV_PREFIX: &str = "JINGUO_";

impl Layers {
    pub fn defaults(text: &str) -> Result<Layers, ConfigError> {
        let table: toml::Table = text.parse().map_err(|e| ConfigError {
            key: "(all)".into(),
            origin: Origin::Defaults,
            problem: format!("not valid TOML: {e}"),
        })?;
        let mut map = BTreeMap::new();
        flatten(String::new(), table, &mut |key, value| {
            map.insert(
                key,
                Setting {
                    value,
                    origin: Origin::Defaults,
                },
            );
        });
        Ok(Layers(map))
    }

    /// An entry's field an operator may have left out.
    pub fn get_opt(&self, key: &str) -> Option<&Setting> {
        self.0.get(key)
    }

    pub fn get(&self, key: &str) -> &Setting {
        // Every key read by Config is in the compiled-in defaults; a miss is a programming error
        // that the unit tests catch.
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("config key {key} missing from config/default.toml"))
    }

    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let origin = Origin::File(path.to_owned());
        let whole = |problem: String| ConfigError {
            key: crate::CONFIG_FILE_VAR.into(),
            origin: origin.clone(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| whole(format!("cannot read: {e}")))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| whole(format!("not valid TOML: {e}")))?;
        let mut found = Vec::new();
        flatten(String::new(), table, &mut |key, value| {
            found.push((key, value))
        });
        for (key, value) in found {
            self.set(key, value, origin.clone())?;
        }
        Ok(())
    }

    pub fn apply_env<'a>(
        &mut self,
        vars: impl Iterator<Item = &'a (String, String)>,
    ) -> Result<(), ConfigError> {
        for (var, raw) in vars {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = rest.to_ascii_lowercase().replace("__", ".");
            let origin = Origin::Env(var.clone());
            let value = match self.template(&key).map(|s| &s.value) {
                Some(Value::Integer(_)) => match raw.trim().parse::<i64>() {
                    Ok(n) => Value::Integer(n),
                    Err(_) => {
                        return Err(ConfigError {
                            key,
                            origin,
                            problem: format!("must be a whole number, got {raw:?}"),
                        });
                    }
                },
                Some(Value::Boolean(_)) => match raw.trim() {
                    "true" => Value::Boolean(true),
                    "false" => Value::Boolean(false),
                    _ => {
                        return Err(ConfigError {
                            key,
                            origin,
                            problem: format!("must be true or false, got {raw:?}"),
                        });
                    }
                },
                _ => Value::String(raw.clone()),
            };
            self.set(key, value, origin)?;
        }
        Ok(())
    }

    /// The setting that fixes `key`'s type: the key itself, or for an entry of an open table
    /// (`cron.jobs.<name>.<field>`) the same field of any entry the defaults have.
    fn template(&self, key: &str) -> Option<&Setting> {
        if let Some(s) = self.0.get(key) {
            return Some(s);
        }
        let (table, field) = open_table_entry(key)?;
        self.0
            .iter()
            .find(|(k, _)| open_table_entry(k) == Some((table, field)))
            .map(|(_, s)| s)
    }

    fn set(&mut self, key: String, value: Value, origin: Origin) -> Result<(), ConfigError> {
        let Some(template) = self.template(&key) else {
            return Err(ConfigError {
                key,
                origin,
                problem: "unknown key (config/default.toml lists every key)".into(),
            });
        };
        if template.value.type_str() != value.type_str() {
            let problem = format!("must be of type {}, got {value}", template.value.type_str());
            return Err(ConfigError {
                key,
                origin,
                problem,
            });
        }
        self.0.insert(key, Setting { value, origin });
        Ok(())
    }

    /// Names of the entries of an open table, e.g. the jobs under `cron.jobs`.
    pub fn entries(&self, table: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .keys()
            .filter_map(|k| open_table_entry(k).filter(|(t, _)| *t == table).map(|_| k))
            .filter_map(|k| {
                k.strip_prefix(table)?
                    .strip_prefix('.')?
                    .split('.')
                    .next()
                    .map(str::to_owned)
            })
            .collect();
        names.dedup();
        names
    }
}

/// Tables whose entries are named by the operator; each entry has the fields of the entries
/// in the defaults.
const OPEN_TABLES: [&str; 1] = ["cron.jobs"];

/// `cron.jobs.nightly.schedule` → `("cron.jobs", "schedule")`.
fn open_table_entry(key: &str) -> Option<(&'static str, &str)> {
    OPEN_TABLES.iter().find_map(|table| {
        let rest = key.strip_prefix(table)?.strip_prefix('.')?;
        let (name, field) = rest.split_once('.')?;
        (!name.is_empty() && !field.contains('.')).then_some((*table, field))
    })
}

fn flatten(prefix: String, table: toml::Table, out: &mut impl FnMut(String, Value)) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Table(inner) => flatten(key, inner, out),
            other => out(key, other),
        }
    }
}
