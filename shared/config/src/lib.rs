//! Jinguo's configuration, loaded once at start and passed down as one typed [`Config`].
//!
//! Three layers, later ones winning: the defaults in `config/default.toml` (compiled in, so the
//! binary runs from any directory), the TOML file named by `JINGUO_CONFIG`, and environment
//! variables `JINGUO_<SECTION>__<KEY>` (`JINGUO_<KEY>` for top-level keys). The defaults file is
//! also the schema: a key it does not list, or a value of the wrong shape, stops start-up with
//! one line naming the key and the layer it came from.

mod layers;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use layers::Origin;
use layers::{Layers, Setting};

/// The defaults, compiled into every binary.
pub const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// The environment variable that names an extra configuration file.
pub const CONFIG_FILE_VAR: &str = "JINGUO_CONFIG";

/// A configuration problem: which key, where it was set, what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {key} (from {origin}): {problem}")]
pub struct ConfigError {
    pub key: String,
    pub origin: Origin,
    pub problem: String,
}

/// Everything Jinguo reads from configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub amqp: AmqpConfig,
    pub messaging: MessagingConfig,
    pub http: HttpConfig,
    pub mail: MailConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub max_connections: usize,
    pub busy_timeout_ms: u32,
}

/// Which backend, chosen by the URL's scheme.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// The embedded default: a file, created when missing.
    Sqlite(PathBuf),
    /// A `postgres://` URL as given.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<DatabaseUrl, String> {
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/jinguo.db".into());
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            url::Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
            Ok(DatabaseUrl::Postgres(s.to_owned()))
        } else {
            Err("must start with sqlite:// or postgres://".into())
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

/// Never prints a PostgreSQL password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => match url::Url::parse(u) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    write!(f, "{u}")
                }
                Err(_) => f.write_str("postgres://…"),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// `None`: the in-process bus.
    pub url: Option<String>,
    pub prefix: String,
}

#[derive(Debug, Clone)]
pub struct MessagingConfig {
    pub prefetch: u16,
    pub retry: jinguo_core::messaging::RetryPolicy,
    pub relay_batch: usize,
    pub poll_interval: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Base of every emailed link, without a trailing slash.
    pub public_url: String,
    pub body_limit_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `None`: write .eml files to `dir`.
    pub smtp_url: Option<String>,
    pub dir: PathBuf,
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

impl Config {
    /// Loads from the process environment: `JINGUO_CONFIG` and every `JINGUO_*` variable.
    pub fn load() -> Result<Config, ConfigError> {
        Config::from_env(std::env::vars())
    }

    /// Loads from the given environment (tests pass their own).
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut layers = Layers::defaults(DEFAULTS)?;
        if let Some((_, file)) = vars.iter().find(|(k, _)| k == CONFIG_FILE_VAR) {
            layers.apply_file(Path::new(file))?;
        }
        layers.apply_env(vars.iter().filter(|(k, _)| k != CONFIG_FILE_VAR))?;
        Config::from_layers(&layers)
    }

    fn from_layers(l: &Layers) -> Result<Config, ConfigError> {
        let http_addr: SocketAddr = l.parse("http.addr", |s| {
            s.parse()
                .map_err(|_| "must be HOST:PORT with an IP address, e.g. 127.0.0.1:8080".into())
        })?;
        let public_url = l.parse("http.public_url", |s| {
            if s.is_empty() {
                return Ok(format!("http://{http_addr}"));
            }
            let u = url::Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err("must be an http:// or https:// URL".into());
            }
            Ok(s.trim_end_matches('/').to_owned())
        })?;
        Ok(Config {
            data_dir: PathBuf::from(l.string("data_dir")?),
            database: DatabaseConfig {
                url: l.parse("database.url", DatabaseUrl::parse)?,
                max_connections: l.positive("database.max_connections")?,
                busy_timeout_ms: l.positive("database.busy_timeout_ms")?,
            },
            amqp: AmqpConfig {
                url: l.parse("amqp.url", |s| match s {
                    "" => Ok(None),
                    s if s.starts_with("amqp://") || s.starts_with("amqps://") => {
                        url::Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
                        Ok(Some(s.to_owned()))
                    }
                    _ => Err("must be empty (in-process bus) or an amqp:// URL".into()),
                })?,
                prefix: l.parse("amqp.prefix", |s| {
                    let ok = !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                    if ok {
                        Ok(s.to_owned())
                    } else {
                        Err("must be non-empty letters, digits, '-', '_' or '.'".into())
                    }
                })?,
            },
            messaging: MessagingConfig {
                prefetch: l.positive("messaging.prefetch")?,
                retry: l.parse("messaging.retry_delays", |s| {
                    let delays = s
                        .split(',')
                        .filter(|d| !d.trim().is_empty())
                        .map(jinguo_core::messaging::parse_duration)
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(jinguo_core::messaging::RetryPolicy { delays })
                })?,
                relay_batch: l.positive("messaging.relay_batch")?,
                poll_interval: std::time::Duration::from_millis(
                    l.positive("messaging.poll_interval_ms")?,
                ),
            },
            http: HttpConfig {
                addr: http_addr,
                public_url,
                body_limit_bytes: l.positive("http.body_limit_bytes")?,
            },
            mail: MailConfig {
                smtp_url: l.parse("mail.smtp_url", |s| match s {
                    "" => Ok(None),
                    s if s.starts_with("smtp://") || s.starts_with("smtps://") => {
                        Ok(Some(s.to_owned()))
                    }
                    _ => Err("must be empty (files in mail.dir) or an smtp:// URL".into()),
                })?,
                dir: PathBuf::from(l.string("mail.dir")?),
                from: l.string("mail.from")?,
            },
            log: LogConfig {
                format: l.parse("log.format", |s| match s {
                    "text" => Ok(LogFormat::Text),
                    "json" => Ok(LogFormat::Json),
                    _ => Err("must be text or json".into()),
                })?,
                filter: l.string("log.filter")?,
            },
        })
    }
}

impl Layers {
    fn string(&self, key: &str) -> Result<String, ConfigError> {
        self.parse(key, |s| Ok(s.to_owned()))
    }

    fn positive<T: TryFrom<i64>>(&self, key: &str) -> Result<T, ConfigError> {
        let Setting { value, origin } = self.get(key);
        let n = value.as_integer().filter(|n| *n > 0);
        n.and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| ConfigError {
                key: key.to_owned(),
                origin: origin.clone(),
                problem: format!("must be a positive whole number, got {value}"),
            })
    }

    fn parse<T>(
        &self,
        key: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let Setting { value, origin } = self.get(key);
        let err = |problem: String| ConfigError {
            key: key.to_owned(),
            origin: origin.clone(),
            problem,
        };
        let s = value
            .as_str()
            .ok_or_else(|| err(format!("must be a string, got {value}")))?;
        f(s).map_err(err)
    }
}

#[cfg(test)]
mod tests;
