//! Configuration from environment variables, optionally over a TOML file named by
//! `POSTAMAT_CONFIG` (environment wins). Invalid configuration stops start-up with one message
//! naming the setting.

mod settings;

pub use settings::{ShownSetting, file_keys, shown_settings};

use crate::db::DatabaseLocation;
use settings::{
    BIND, CALENDAR_REFRESH_SECS, CONSOLE_SECURE_COOKIES, DATABASE_URL, DB_CONNECT_TIMEOUT_SECS,
    DB_NETWORK_TIMEOUT_SECS, DB_STATEMENT_TIMEOUT_SECS, DISPATCH_CA_CERTS, DISPATCH_INTERVAL_SECS,
    DISPATCH_MAX_ATTEMPTS, EXECUTION_TERM, KASPI_API_URL, KASPI_APP_GATEWAY_TOKEN,
    KASPI_APP_GATEWAY_URL, KASPI_SECRETS, LOG_FILTER, LOG_FORMAT, MAX_BODY_BYTES, PILOT_ENDS_ON,
    PILOT_STARTS_ON, POOL_SIZE, REGISTRY_OFFICE_API_TOKEN, REGISTRY_OFFICE_API_URL, SETTINGS,
    SMS_GATEWAY_TOKEN, SMS_GATEWAY_URL, SMS_MAX_SEGMENTS, SMS_QUIET_HOURS, SWEEP_INTERVAL_SECS,
    Setting,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// An HTTP endpoint messages are delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    pub url: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub token: Option<String>,
}

/// Where and how the dispatcher delivers the outboxes.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// SMS through the 1414 gateway; `None`: the local sink (the log).
    pub sms: Option<Gateway>,
    /// Kaspi app push messages; `None`: the local sink.
    pub kaspi_app: Option<Gateway>,
    /// Kaspi's API for create-order requests (signed like Kaspi's webhooks).
    pub kaspi_api: Option<Gateway>,
    /// The registry office's API (the second copy of loss acts, п.24).
    pub registry_office_api: Option<Gateway>,
    /// Attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// The most segments an SMS should take (a longer one is logged).
    pub sms_max_segments: usize,
    /// SMS are not sent in these hours, branch local time (default 21:00–09:00).
    pub quiet_hours: (chrono::NaiveTime, chrono::NaiveTime),
    /// How often `serve` delivers; `None` (0) turns delivery off.
    pub interval: Option<std::time::Duration>,
    /// CA certificates (DER) trusted beside Mozilla's bundled roots: a gateway behind an
    /// internal or national CA.
    pub extra_roots: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseLocation,
    pub bind: SocketAddr,
    /// `None`: pretty on a terminal, JSON otherwise.
    pub log_format: Option<LogFormat>,
    /// A `tracing` filter directive, e.g. `info` or `postamat=debug,actix_web=info`.
    pub log_filter: String,
    pub pool_size: u32,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How often the in-memory calendar is reloaded (edits through other instances).
    pub calendar_refresh: std::time::Duration,
    /// The first and last days (local time) on which postamat delivery may be chosen (order п.6).
    pub pilot: crate::domain::application::PilotWindow,
    /// The registry office's term for executing an application, in working days (Rules no. 112).
    pub execution_term: u32,
    pub dispatch: DispatchConfig,
    /// How often `serve` sweeps due deadlines; `None` (0) leaves it to `postamat sweep`.
    pub sweep_interval: Option<std::time::Duration>,
    /// Secrets Kaspi signs its webhook calls with; empty refuses every Kaspi event.
    pub kaspi_secrets: Vec<crate::domain::webhook::WebhookSecret>,
    /// The console's cookies are `Secure` whatever the request's scheme (`always`).
    pub console_secure_cookies: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

pub const CONFIG_FILE_ENV: &str = "POSTAMAT_CONFIG";

/// The CA certificates (DER) of a PEM file, or of every `*.pem` and `*.crt` file of a folder;
/// refused when there is none, or a file is not PEM (a setting that trusts nothing is a mistake).
pub fn ca_certificates(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let shown = path.display();
    let files = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read the folder {shown}: {e}"))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("pem") || x.eq_ignore_ascii_case("crt")
                    })
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    let mut certificates = Vec::new();
    for file in &files {
        let pem =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => certificates.push(cert.der().to_vec()),
                Ok(_) => {}
                Err(e) => return Err(format!("{} is not valid PEM: {e}", file.display())),
            }
        }
    }
    if certificates.is_empty() {
        return Err(format!("no PEM certificate in {shown}"));
    }
    Ok(certificates)
}

/// Where each value came from, so an error names the right place.
struct Sources {
    env: HashMap<String, String>,
    file: HashMap<String, String>,
    file_name: Option<String>,
}

impl Sources {
    /// The value and a name for the place it came from.
    fn get(&self, s: &Setting) -> (String, String) {
        if let Some(v) = self.env.get(s.env) {
            return (v.clone(), s.env.to_owned());
        }
        if let (Some(v), Some(file)) = (self.file.get(s.key), &self.file_name) {
            return (v.clone(), format!("{} in {file}", s.key));
        }
        (s.default.to_owned(), s.env.to_owned())
    }

    fn parse<T>(
        &self,
        s: &Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (value, setting) = self.get(s);
        parse(value.trim()).map_err(|message| ConfigError { setting, message })
    }
}

impl Config {
    /// Reads the process environment (and the file it names).
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    pub fn from_vars(env: HashMap<String, String>) -> Result<Config, ConfigError> {
        let (file, file_name) = match env.get(CONFIG_FILE_ENV) {
            Some(path) => (read_file(Path::new(path))?, Some(path.clone())),
            None => (HashMap::new(), None),
        };
        let sources = Sources {
            env,
            file,
            file_name,
        };
        Ok(Config {
            database: sources
                .parse(&DATABASE_URL, DatabaseLocation::parse)?
                .with_timeouts(crate::db::PgTimeouts {
                    connect: seconds(&sources, &DB_CONNECT_TIMEOUT_SECS, 2, 60)?,
                    statement: seconds(&sources, &DB_STATEMENT_TIMEOUT_SECS, 1, 3600)?,
                    network: seconds(&sources, &DB_NETWORK_TIMEOUT_SECS, 2, 600)?,
                }),
            bind: sources.parse(&BIND, |v| {
                v.parse().map_err(|_| {
                    format!("must be an address and port such as 127.0.0.1:8080, got '{v}'")
                })
            })?,
            log_format: sources.parse(&LOG_FORMAT, |v| match v {
                "auto" => Ok(None),
                "pretty" => Ok(Some(LogFormat::Pretty)),
                "json" => Ok(Some(LogFormat::Json)),
                other => Err(format!("must be auto, pretty or json, got '{other}'")),
            })?,
            log_filter: sources.parse(&LOG_FILTER, |v| {
                tracing_subscriber::EnvFilter::try_new(v)
                    .map(|_| v.to_owned())
                    .map_err(|e| format!("not a valid log filter ({e}), got '{v}'"))
            })?,
            pool_size: sources.parse(&POOL_SIZE, |v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| format!("must be a whole number from 1 to 256, got '{v}'"))
            })?,
            max_body_bytes: sources.parse(&MAX_BODY_BYTES, |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1024..=64 * 1024 * 1024).contains(n))
                    .ok_or_else(|| {
                        format!("must be a number of bytes from 1024 to 67108864, got '{v}'")
                    })
            })?,
            calendar_refresh: sources.parse(&CALENDAR_REFRESH_SECS, |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (1..=3600).contains(n))
                    .map(std::time::Duration::from_secs)
                    .ok_or_else(|| format!("must be a number of seconds from 1 to 3600, got '{v}'"))
            })?,
            pilot: pilot_window(&sources)?,
            console_secure_cookies: sources.parse(&CONSOLE_SECURE_COOKIES, |v| match v {
                "auto" => Ok(false),
                "always" => Ok(true),
                other => Err(format!("must be auto or always, got '{other}'")),
            })?,
            execution_term: sources.parse(&EXECUTION_TERM, |v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=60).contains(n))
                    .ok_or_else(|| {
                        format!("must be a number of working days from 1 to 60, got '{v}'")
                    })
            })?,
            dispatch: DispatchConfig {
                sms: gateway(&sources, &SMS_GATEWAY_URL, Some(&SMS_GATEWAY_TOKEN))?,
                kaspi_app: gateway(
                    &sources,
                    &KASPI_APP_GATEWAY_URL,
                    Some(&KASPI_APP_GATEWAY_TOKEN),
                )?,
                kaspi_api: gateway(&sources, &KASPI_API_URL, None)?,
                registry_office_api: gateway(
                    &sources,
                    &REGISTRY_OFFICE_API_URL,
                    Some(&REGISTRY_OFFICE_API_TOKEN),
                )?,
                max_attempts: sources.parse(&DISPATCH_MAX_ATTEMPTS, |v| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=50).contains(n))
                        .ok_or_else(|| format!("must be a whole number from 1 to 50, got '{v}'"))
                })?,
                sms_max_segments: sources.parse(&SMS_MAX_SEGMENTS, |v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=10).contains(n))
                        .ok_or_else(|| format!("must be a whole number from 1 to 10, got '{v}'"))
                })?,
                quiet_hours: sources.parse(&SMS_QUIET_HOURS, |v| {
                    let parse = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M");
                    v.split_once('-')
                        .and_then(|(a, b)| Some((parse(a).ok()?, parse(b).ok()?)))
                        .ok_or_else(|| {
                            format!("must be HH:MM-HH:MM such as 21:00-09:00, got '{v}'")
                        })
                })?,
                interval: sources.parse(&DISPATCH_INTERVAL_SECS, |v| match v.parse::<u64>() {
                    Ok(0) => Ok(None),
                    Ok(n) if n <= 3600 => Ok(Some(std::time::Duration::from_secs(n))),
                    _ => Err(format!(
                        "must be a number of seconds from 0 (off) to 3600, got '{v}'"
                    )),
                })?,
                extra_roots: sources.parse(&DISPATCH_CA_CERTS, |v| match v.trim() {
                    "" => Ok(Vec::new()),
                    path => ca_certificates(Path::new(path)),
                })?,
            },
            sweep_interval: sources.parse(&SWEEP_INTERVAL_SECS, |v| match v.parse::<u64>() {
                Ok(0) => Ok(None),
                Ok(n) if n <= 3600 => Ok(Some(std::time::Duration::from_secs(n))),
                _ => Err(format!(
                    "must be a number of seconds from 0 (off) to 3600, got '{v}'"
                )),
            })?,
            // Comma-separated `whsec_…` secrets; the values are never echoed in an error.
            kaspi_secrets: sources.parse(&KASPI_SECRETS, |v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(crate::domain::webhook::WebhookSecret::parse)
                    .collect::<Result<Vec<_>, _>>()
            })?,
        })
    }
}

/// An optional gateway: a URL (http or https) and, for some, a bearer token.
fn gateway(
    sources: &Sources,
    url: &Setting,
    token: Option<&Setting>,
) -> Result<Option<Gateway>, ConfigError> {
    let url = sources.parse(url, |v| {
        if v.is_empty() {
            Ok(None)
        } else if url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            Ok(Some(v.to_owned()))
        } else {
            Err(format!(
                "must be an http(s) URL, got '{}'",
                crate::db::mask_url(v)
            ))
        }
    })?;
    let token = match token {
        Some(setting) => {
            sources.parse(
                setting,
                |v| Ok(Some(v.to_owned()).filter(|t| !t.is_empty())),
            )?
        }
        None => None,
    };
    Ok(url.map(|url| Gateway { url, token }))
}

/// A whole number of seconds from `low` to `high`.
fn seconds(
    sources: &Sources,
    setting: &Setting,
    low: u64,
    high: u64,
) -> Result<std::time::Duration, ConfigError> {
    sources.parse(setting, |v| {
        v.parse::<u64>()
            .ok()
            .filter(|n| (low..=high).contains(n))
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| format!("must be a number of seconds from {low} to {high}, got '{v}'"))
    })
}

fn pilot_window(sources: &Sources) -> Result<crate::domain::application::PilotWindow, ConfigError> {
    let date = |v: &str| {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| format!("must be a date such as 2026-12-31, got '{v}'"))
    };
    let starts_on = sources.parse(&PILOT_STARTS_ON, date)?;
    let ends_on = sources.parse(&PILOT_ENDS_ON, |v| {
        date(v).and_then(|ends_on| {
            if ends_on < starts_on {
                Err(format!(
                    "must not be before the pilot's first day {starts_on}, got '{v}'"
                ))
            } else {
                Ok(ends_on)
            }
        })
    })?;
    Ok(crate::domain::application::PilotWindow { starts_on, ends_on })
}

fn read_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let error = |message: String| ConfigError {
        setting: CONFIG_FILE_ENV.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| error(format!("{} is not valid TOML: {e}", path.display())))?;
    table
        .into_iter()
        .map(|(key, value)| {
            let known = SETTINGS.iter().any(|s| s.key == key);
            if !known {
                return Err(error(format!(
                    "{} has an unknown key '{key}'",
                    path.display()
                )));
            }
            let value = match value {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_documents_every_setting_with_its_default() {
        let readme = include_str!("../../README.md");
        let table: Vec<&str> = readme
            .lines()
            .filter(|l| l.starts_with("| `POSTAMAT_"))
            .collect();
        for s in SETTINGS {
            let row = table
                .iter()
                .find(|row| row.contains(&format!("`{}`", s.env)))
                .unwrap_or_else(|| panic!("{} is not in the README's configuration table", s.env));
            assert!(
                row.contains(&format!("`{}`", s.key)),
                "{}: key {}",
                s.env,
                s.key
            );
            if !s.default.is_empty() {
                assert!(
                    row.contains(&format!("`{}`", s.default)),
                    "{}: default {}",
                    s.env,
                    s.default
                );
            }
        }
    }

    #[test]
    fn the_example_configuration_holds_every_key_and_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/postamat.toml");
        let example = read_file(Path::new(path)).expect("deploy/postamat.toml reads");
        for key in file_keys() {
            assert!(
                example.contains_key(key),
                "deploy/postamat.toml lacks '{key}'"
            );
        }
        let config = Config::from_vars(vars(&[(CONFIG_FILE_ENV, path)])).expect("it is valid");
        assert_eq!(config.database.backend_name(), "postgres");
        assert!(config.sweep_interval.is_some());
    }

    #[test]
    fn secrets_are_masked_when_shown() {
        let shown = shown_settings(&vars(&[
            (
                "POSTAMAT_DATABASE_URL",
                "postgres://app:s3cret@db:5432/postamat",
            ),
            ("POSTAMAT_SMS_GATEWAY_TOKEN", "tok"),
            ("POSTAMAT_KASPI_WEBHOOK_SECRETS", "whsec_x"),
        ]))
        .unwrap();
        let value = |env: &str| shown.iter().find(|s| s.env == env).unwrap().value.clone();
        assert_eq!(
            value("POSTAMAT_DATABASE_URL"),
            "postgres://app:****@db:5432/postamat"
        );
        assert_eq!(
            crate::db::mask_url("postgres://app@db/p?sslmode=require&password=s3cret"),
            "postgres://app@db/p?sslmode=require&password=****"
        );
        assert_eq!(value("POSTAMAT_SMS_GATEWAY_TOKEN"), "****");
        assert_eq!(value("POSTAMAT_KASPI_WEBHOOK_SECRETS"), "****");
        assert_eq!(value("POSTAMAT_BIND"), "127.0.0.1:8080");
        assert_eq!(shown.len(), SETTINGS.len());
    }

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_start_an_embedded_sqlite_service_on_localhost() {
        let config = Config::from_vars(HashMap::new()).unwrap();
        assert_eq!(
            config.database,
            DatabaseLocation::Sqlite("data/postamat.db".into())
        );
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.pool_size, 10);
        assert_eq!(config.log_format, None);
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        let err = Config::from_vars(vars(&[("POSTAMAT_POOL_SIZE", "lots")])).unwrap_err();
        assert_eq!(err.setting, "POSTAMAT_POOL_SIZE");
        assert!(err.to_string().contains("POSTAMAT_POOL_SIZE"));

        let err = Config::from_vars(vars(&[("POSTAMAT_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(err.setting, "POSTAMAT_DATABASE_URL");

        let err = Config::from_vars(vars(&[("POSTAMAT_BIND", "localhost")])).unwrap_err();
        assert_eq!(err.setting, "POSTAMAT_BIND");

        let err =
            Config::from_vars(vars(&[("POSTAMAT_CONSOLE_SECURE_COOKIES", "yes")])).unwrap_err();
        assert_eq!(err.setting, "POSTAMAT_CONSOLE_SECURE_COOKIES");
    }

    #[test]
    fn console_cookies_follow_the_scheme_unless_set_always_secure() {
        assert!(
            !Config::from_vars(HashMap::new())
                .unwrap()
                .console_secure_cookies
        );
        let always = vars(&[("POSTAMAT_CONSOLE_SECURE_COOKIES", "always")]);
        assert!(Config::from_vars(always).unwrap().console_secure_cookies);
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("postamat-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("postamat.toml");
        std::fs::write(
            &file,
            "pool_size = 3\nbind = \"0.0.0.0:9000\"\ncalendar_refresh_secs = 5\n",
        )
        .unwrap();
        let path = file.to_string_lossy().to_string();
        let config = Config::from_vars(vars(&[
            ("POSTAMAT_CONFIG", &path),
            ("POSTAMAT_BIND", "127.0.0.1:9001"),
        ]))
        .unwrap();
        assert_eq!(config.pool_size, 3);
        assert_eq!(config.calendar_refresh, std::time::Duration::from_secs(5));
        assert_eq!(config.bind.to_string(), "127.0.0.1:9001");

        std::fs::write(&file, "pool_size = 0\n").unwrap();
        let err = Config::from_vars(vars(&[("POSTAMAT_CONFIG", &path)])).unwrap_err();
        assert!(err.setting.starts_with("pool_size in "), "{err}");

        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        let err = Config::from_vars(vars(&[("POSTAMAT_CONFIG", &path)])).unwrap_err();
        assert_eq!(err.setting, "POSTAMAT_CONFIG");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
