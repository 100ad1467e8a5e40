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
    pub calendar: CalendarConfig,
    pub cron: CronConfig,
    pub auth: AuthConfig,
    pub nominations: NominationsConfig,
    pub crypto: CryptoConfig,
    pub audit: AuditConfig,
    pub referrals: ReferralsConfig,
    pub tours: ToursConfig,
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
pub struct CalendarConfig {
    pub time_zone: chrono_tz::Tz,
    pub office_hours: jinguo_core::calendar::OfficeHours,
    /// Extra or replacement calendar files.
    pub dir: Option<PathBuf>,
}

/// The calendar files compiled into the binary.
const BUILT_IN_CALENDARS: [(&str, &str); 1] = [(
    "built-in calendar/2026.toml",
    include_str!("../../../config/calendar/2026.toml"),
)];
const BUILT_IN_OVERLAYS: &str = include_str!("../../../config/calendar/overlays.toml");

impl CalendarConfig {
    /// The built-in calendar files, then those in `calendar.dir` (a year there replaces the
    /// built-in one; its overlays.toml adds to the built-in overlays).
    pub fn load(&self) -> Result<jinguo_core::calendar::Calendar, ConfigError> {
        let mut calendar = jinguo_core::calendar::Calendar::default();
        let problem = |e: jinguo_core::calendar::CalendarError, origin: Origin| ConfigError {
            key: "calendar.dir".into(),
            origin,
            problem: e.to_string(),
        };
        for (name, text) in BUILT_IN_CALENDARS {
            calendar
                .add_year(name, text)
                .map_err(|e| problem(e, Origin::Defaults))?;
        }
        calendar
            .add_overlays("built-in calendar/overlays.toml", BUILT_IN_OVERLAYS)
            .map_err(|e| problem(e, Origin::Defaults))?;
        let Some(dir) = &self.dir else {
            return Ok(calendar);
        };
        let origin = Origin::File(dir.clone());
        let entries = std::fs::read_dir(dir).map_err(|e| ConfigError {
            key: "calendar.dir".into(),
            origin: origin.clone(),
            problem: format!("cannot read: {e}"),
        })?;
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                key: "calendar.dir".into(),
                origin: Origin::File(path.clone()),
                problem: format!("cannot read: {e}"),
            })?;
            let name = path.display().to_string();
            let result = if path.file_name().is_some_and(|n| n == "overlays.toml") {
                calendar.add_overlays(&name, &text)
            } else {
                calendar.add_year(&name, &text).map(|_| ())
            };
            result.map_err(|e| problem(e, Origin::File(path.clone())))?;
        }
        Ok(calendar)
    }
}

#[derive(Debug, Clone)]
pub struct CronConfig {
    pub missed: jinguo_core::cron::MissedTicks,
    pub jobs: Vec<jinguo_core::cron::CronJob>,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub sign_in_link: std::time::Duration,
    pub session: std::time::Duration,
    pub break_glass: std::time::Duration,
    pub rate_limit_per_ip_per_minute: u32,
    pub sign_in_per_email_per_hour: u32,
    pub sign_in_per_email_ceiling_per_hour: u32,
}

#[derive(Clone)]
pub struct NominationsConfig {
    pub household_key: String,
    pub review_link_days: u32,
    /// The shortest 公示 by time a campaign may set.
    pub shortest_publicity: std::time::Duration,
    pub public_form_per_ip_per_hour: u32,
    pub public_form_per_campaign_per_hour: u32,
    pub public_form_per_village_per_day: u32,
}

/// The household key is a secret: never printed.
impl fmt::Debug for NominationsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NominationsConfig")
            .field("review_link_days", &self.review_link_days)
            .finish_non_exhaustive()
    }
}

/// Keys that seal personal data at rest: `(id, 64 hex characters)`, and the current id.
#[derive(Clone)]
pub struct CryptoConfig {
    pub data_keys: Vec<(String, String)>,
    pub data_key_current: String,
}

/// The development data key shipped in config/default.toml: public, so never for real data.
pub const DEVELOPMENT_DATA_KEY: &str =
    "6a696e67756f2d646576656c6f706d656e742d646174612d6b65792d30303031";

/// Signed checkpoints of the audit chain's head, kept outside the database.
#[derive(Clone)]
pub struct AuditConfig {
    pub checkpoint_key: String,
    pub checkpoint_file: PathBuf,
    pub checkpoint_every: std::time::Duration,
}

/// The checkpoint key is a secret: never printed.
impl fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditConfig")
            .field("checkpoint_file", &self.checkpoint_file)
            .field("checkpoint_every", &self.checkpoint_every)
            .finish_non_exhaustive()
    }
}

/// The lecture-tours program: how long the worker may plan a tour, and how long a lecturer's
/// decline link and a host's attendance link work.
#[derive(Debug, Clone)]
pub struct ToursConfig {
    pub plan_time_limit: std::time::Duration,
    pub link_valid_for: std::time::Duration,
}

/// The referrals program: its policy files (empty: the shipped ones) and limits.
#[derive(Debug, Clone)]
pub struct ReferralsConfig {
    pub questionnaire_file: Option<PathBuf>,
    pub escalation_file: Option<PathBuf>,
    pub link_valid_for: std::time::Duration,
    pub self_referral_per_ip_per_hour: u32,
}

/// Keys are secrets: only their ids are printed.
impl fmt::Debug for CryptoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.data_keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("CryptoConfig")
            .field("data_keys", &ids)
            .field("data_key_current", &self.data_key_current)
            .finish()
    }
}

fn parse_data_keys(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut keys = Vec::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((id, key)) = pair.split_once(':') else {
            return Err(format!("{pair:?} is not id:key"));
        };
        let (id, key) = (id.trim(), key.trim());
        let id_ok = !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(format!("key id {id:?}: 1–32 letters, digits, - or _"));
        }
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("key {id}: must be 32 bytes as 64 hex characters"));
        }
        keys.push((id.to_owned(), key.to_ascii_lowercase()));
    }
    if keys.is_empty() {
        return Err("give at least one id:key".into());
    }
    Ok(keys)
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
            calendar: CalendarConfig {
                time_zone: l.parse("calendar.time_zone", |s| {
                    s.parse::<chrono_tz::Tz>()
                        .map_err(|_| format!("{s:?} is not an IANA time zone like Asia/Shanghai"))
                })?,
                office_hours: l.parse(
                    "calendar.office_hours",
                    jinguo_core::calendar::OfficeHours::parse,
                )?,
                dir: l.parse("calendar.dir", |s| {
                    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
                })?,
            },
            cron: CronConfig {
                missed: l.parse("cron.missed", |s| match s {
                    "once" => Ok(jinguo_core::cron::MissedTicks::Once),
                    "skip" => Ok(jinguo_core::cron::MissedTicks::Skip),
                    _ => Err("must be once or skip".into()),
                })?,
                jobs: l
                    .entries("cron.jobs")
                    .into_iter()
                    .map(|name| l.cron_job(&name))
                    .collect::<Result<_, _>>()?,
            },
            auth: AuthConfig {
                sign_in_link: minutes(l.at_most("auth.sign_in_link_minutes", 1440)?.into()),
                session: minutes(60 * u64::from(l.at_most("auth.session_hours", 720)?)),
                break_glass: minutes(l.at_most("auth.break_glass_minutes", 1440)?.into()),
                rate_limit_per_ip_per_minute: l.positive("auth.rate_limit_per_ip_per_minute")?,
                sign_in_per_email_per_hour: l.positive("auth.sign_in_per_email_per_hour")?,
                sign_in_per_email_ceiling_per_hour: l
                    .positive("auth.sign_in_per_email_ceiling_per_hour")?,
            },
            nominations: NominationsConfig {
                household_key: l.parse("nominations.household_key", |s| {
                    if s.len() < 16 {
                        Err("must be at least 16 characters".into())
                    } else {
                        Ok(s.to_owned())
                    }
                })?,
                review_link_days: l.at_most("nominations.review_link_days", 365)?,
                shortest_publicity: l.parse("nominations.shortest_publicity", |s| {
                    let d = jinguo_core::messaging::parse_duration(s)?;
                    if d.is_zero() || d > std::time::Duration::from_secs(90 * 86_400) {
                        Err("must be more than 0 and at most 90d".into())
                    } else {
                        Ok(d)
                    }
                })?,
                public_form_per_ip_per_hour: l
                    .positive("nominations.public_form_per_ip_per_hour")?,
                public_form_per_campaign_per_hour: l
                    .positive("nominations.public_form_per_campaign_per_hour")?,
                public_form_per_village_per_day: l
                    .positive("nominations.public_form_per_village_per_day")?,
            },
            crypto: {
                let data_keys = l.parse("crypto.data_keys", parse_data_keys)?;
                let data_key_current = l.parse("crypto.data_key_current", |s| {
                    if data_keys.iter().any(|(id, _)| id == s) {
                        Ok(s.to_owned())
                    } else {
                        Err(format!("{s:?} is not one of the ids in crypto.data_keys"))
                    }
                })?;
                let allow_development_key = l.boolean("crypto.allow_development_key")?;
                if !allow_development_key {
                    l.parse("crypto.data_keys", |_| {
                        if data_keys.iter().any(|(_, k)| k == DEVELOPMENT_DATA_KEY) {
                            Err(
                                "holds the development key, which crypto.allow_development_key \
                                 = false refuses: set keys of your own"
                                    .into(),
                            )
                        } else {
                            Ok(())
                        }
                    })?;
                }
                CryptoConfig {
                    data_keys,
                    data_key_current,
                }
            },
            audit: AuditConfig {
                checkpoint_key: l.parse("audit.checkpoint_key", |s| {
                    if s.len() < 16 {
                        Err("must be at least 16 characters".into())
                    } else {
                        Ok(s.to_owned())
                    }
                })?,
                checkpoint_file: PathBuf::from(l.string("audit.checkpoint_file")?),
                checkpoint_every: std::time::Duration::from_secs(
                    l.at_most("audit.checkpoint_seconds", 86_400)?.into(),
                ),
            },
            referrals: ReferralsConfig {
                questionnaire_file: l.parse("referrals.questionnaire_file", |s| {
                    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
                })?,
                escalation_file: l.parse("referrals.escalation_file", |s| {
                    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
                })?,
                link_valid_for: minutes(60 * u64::from(l.at_most("referrals.link_hours", 720)?)),
                self_referral_per_ip_per_hour: l
                    .positive("referrals.self_referral_per_ip_per_hour")?,
            },
            tours: ToursConfig {
                plan_time_limit: std::time::Duration::from_millis(
                    l.at_most("tours.plan_time_limit_ms", 300_000)?
                        .max(100)
                        .into(),
                ),
                link_valid_for: minutes(24 * 60 * u64::from(l.at_most("tours.link_days", 366)?)),
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

fn minutes(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(60 * n)
}

impl Layers {
    fn cron_job(&self, name: &str) -> Result<jinguo_core::cron::CronJob, ConfigError> {
        let key = |field: &str| format!("cron.jobs.{name}.{field}");
        for required in ["schedule", "kind"] {
            if self.get_opt(&key(required)).is_none() {
                let origin = ["enabled", "working_days_only", "schedule", "kind"]
                    .iter()
                    .find_map(|f| self.get_opt(&key(f)))
                    .map_or(Origin::Defaults, |s| s.origin.clone());
                return Err(ConfigError {
                    key: key(required),
                    origin,
                    problem: "missing: every cron job needs schedule and kind".into(),
                });
            }
        }
        let flag = |field: &str, default: bool| match self.get_opt(&key(field)) {
            Some(_) => self.boolean(&key(field)),
            None => Ok(default),
        };
        let expression = self.string(&key("schedule"))?;
        Ok(jinguo_core::cron::CronJob {
            name: name.to_owned(),
            schedule: self.parse(&key("schedule"), jinguo_core::cron::parse_schedule)?,
            expression,
            kind: self.parse(&key("kind"), |s| {
                if s.is_empty() {
                    Err("must name the message kind each tick sends".into())
                } else {
                    Ok(s.to_owned())
                }
            })?,
            working_days_only: flag("working_days_only", false)?,
            enabled: flag("enabled", true)?,
        })
    }

    fn boolean(&self, key: &str) -> Result<bool, ConfigError> {
        let Setting { value, origin } = self.get(key);
        value.as_bool().ok_or_else(|| ConfigError {
            key: key.to_owned(),
            origin: origin.clone(),
            problem: format!("must be true or false, got {value}"),
        })
    }

    fn string(&self, key: &str) -> Result<String, ConfigError> {
        self.parse(key, |s| Ok(s.to_owned()))
    }

    /// A whole number from 1 to `max`: durations that are added to dates stay far from
    /// overflow.
    fn at_most(&self, key: &str, max: i64) -> Result<u32, ConfigError> {
        let Setting { value, origin } = self.get(key);
        value
            .as_integer()
            .filter(|n| (1..=max).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| ConfigError {
                key: key.to_owned(),
                origin: origin.clone(),
                problem: format!("must be a whole number from 1 to {max}, got {value}"),
            })
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
