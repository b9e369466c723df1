//! Every setting in one table: its environment variable, its key in the TOML file and its
//! default; and the settings as `postamat doctor` shows them (secrets masked).

use super::{CONFIG_FILE_ENV, ConfigError, read_file};
use std::collections::HashMap;
use std::path::Path;

/// One setting: its environment variable, its key in the TOML file and its default.
pub(super) struct Setting {
    pub(super) env: &'static str,
    pub(super) key: &'static str,
    pub(super) default: &'static str,
}

const fn setting(env: &'static str, key: &'static str, default: &'static str) -> Setting {
    Setting { env, key, default }
}

pub(super) const DATABASE_URL: Setting = setting(
    "POSTAMAT_DATABASE_URL",
    "database_url",
    "sqlite://data/postamat.db",
);

pub(super) const BIND: Setting = setting("POSTAMAT_BIND", "bind", "127.0.0.1:8080");

pub(super) const LOG_FORMAT: Setting = setting("POSTAMAT_LOG_FORMAT", "log_format", "auto");

pub(super) const LOG_FILTER: Setting = setting("POSTAMAT_LOG", "log", "info");

pub(super) const POOL_SIZE: Setting = setting("POSTAMAT_POOL_SIZE", "pool_size", "10");

/// PostgreSQL's timeouts (issue 27, `db::PgTimeouts`): they bound every answer when the
/// database is slow, stalled or lost behind the network.
pub(super) const DB_CONNECT_TIMEOUT_SECS: Setting = setting(
    "POSTAMAT_DB_CONNECT_TIMEOUT_SECS",
    "db_connect_timeout_secs",
    "3",
);

pub(super) const DB_STATEMENT_TIMEOUT_SECS: Setting = setting(
    "POSTAMAT_DB_STATEMENT_TIMEOUT_SECS",
    "db_statement_timeout_secs",
    "15",
);

pub(super) const DB_NETWORK_TIMEOUT_SECS: Setting = setting(
    "POSTAMAT_DB_NETWORK_TIMEOUT_SECS",
    "db_network_timeout_secs",
    "5",
);

pub(super) const MAX_BODY_BYTES: Setting =
    setting("POSTAMAT_MAX_BODY_BYTES", "max_body_bytes", "1048576");

/// Whether the console's cookies are marked `Secure`: `auto` when the request came over TLS
/// (directly, or through a proxy sending `X-Forwarded-Proto: https`), `always` behind a proxy
/// that ends TLS without saying so.
pub(super) const CONSOLE_SECURE_COOKIES: Setting = setting(
    "POSTAMAT_CONSOLE_SECURE_COOKIES",
    "console_secure_cookies",
    "auto",
);

pub(super) const CALENDAR_REFRESH_SECS: Setting = setting(
    "POSTAMAT_CALENDAR_REFRESH_SECS",
    "calendar_refresh_secs",
    "30",
);

/// The earliest day the order can have entered into force: signed last on 2 February 2026, in
/// force ten calendar days after the day of its first official publication (order п.6). Set the
/// real day once the publication is confirmed.
pub(super) const PILOT_STARTS_ON: Setting =
    setting("POSTAMAT_PILOT_STARTS_ON", "pilot_starts_on", "2026-02-13");

pub(super) const PILOT_ENDS_ON: Setting =
    setting("POSTAMAT_PILOT_ENDS_ON", "pilot_ends_on", "2026-12-31");

/// The registry office's term for executing an application, in working days (the service's
/// Rules, no. 112): one still awaiting execution after it is in the exception queue.
pub(super) const EXECUTION_TERM: Setting = setting(
    "POSTAMAT_EXECUTION_TERM_WORKING_DAYS",
    "execution_term_working_days",
    "3",
);

pub(super) const KASPI_SECRETS: Setting = setting(
    "POSTAMAT_KASPI_WEBHOOK_SECRETS",
    "kaspi_webhook_secrets",
    "",
);

pub(super) const SWEEP_INTERVAL_SECS: Setting =
    setting("POSTAMAT_SWEEP_INTERVAL_SECS", "sweep_interval_secs", "60");

pub(super) const SMS_GATEWAY_URL: Setting =
    setting("POSTAMAT_SMS_GATEWAY_URL", "sms_gateway_url", "");

pub(super) const SMS_GATEWAY_TOKEN: Setting =
    setting("POSTAMAT_SMS_GATEWAY_TOKEN", "sms_gateway_token", "");

pub(super) const KASPI_APP_GATEWAY_URL: Setting = setting(
    "POSTAMAT_KASPI_APP_GATEWAY_URL",
    "kaspi_app_gateway_url",
    "",
);

pub(super) const KASPI_APP_GATEWAY_TOKEN: Setting = setting(
    "POSTAMAT_KASPI_APP_GATEWAY_TOKEN",
    "kaspi_app_gateway_token",
    "",
);

pub(super) const KASPI_API_URL: Setting = setting("POSTAMAT_KASPI_API_URL", "kaspi_api_url", "");

pub(super) const REGISTRY_OFFICE_API_URL: Setting = setting(
    "POSTAMAT_REGISTRY_OFFICE_API_URL",
    "registry_office_api_url",
    "",
);

pub(super) const REGISTRY_OFFICE_API_TOKEN: Setting = setting(
    "POSTAMAT_REGISTRY_OFFICE_API_TOKEN",
    "registry_office_api_token",
    "",
);

pub(super) const DISPATCH_MAX_ATTEMPTS: Setting = setting(
    "POSTAMAT_DISPATCH_MAX_ATTEMPTS",
    "dispatch_max_attempts",
    "8",
);

pub(super) const SMS_MAX_SEGMENTS: Setting =
    setting("POSTAMAT_SMS_MAX_SEGMENTS", "sms_max_segments", "3");

pub(super) const SMS_QUIET_HOURS: Setting =
    setting("POSTAMAT_SMS_QUIET_HOURS", "sms_quiet_hours", "21:00-09:00");
/// A PEM file, or a folder of them (`*.pem`, `*.crt`), of CA certificates the dispatcher trusts
/// beside Mozilla's bundled roots.
pub(super) const DISPATCH_CA_CERTS: Setting =
    setting("POSTAMAT_DISPATCH_CA_CERTS", "dispatch_ca_certs", "");

pub(super) const DISPATCH_INTERVAL_SECS: Setting = setting(
    "POSTAMAT_DISPATCH_INTERVAL_SECS",
    "dispatch_interval_secs",
    "10",
);

/// Every setting, for checking the keys of a configuration file.
pub(super) const SETTINGS: [&Setting; 28] = [
    &SMS_MAX_SEGMENTS,
    &SMS_GATEWAY_URL,
    &SMS_GATEWAY_TOKEN,
    &KASPI_APP_GATEWAY_URL,
    &KASPI_APP_GATEWAY_TOKEN,
    &KASPI_API_URL,
    &REGISTRY_OFFICE_API_URL,
    &REGISTRY_OFFICE_API_TOKEN,
    &DISPATCH_MAX_ATTEMPTS,
    &SMS_QUIET_HOURS,
    &DISPATCH_INTERVAL_SECS,
    &SWEEP_INTERVAL_SECS,
    &KASPI_SECRETS,
    &PILOT_STARTS_ON,
    &PILOT_ENDS_ON,
    &EXECUTION_TERM,
    &DATABASE_URL,
    &BIND,
    &LOG_FORMAT,
    &LOG_FILTER,
    &POOL_SIZE,
    &DB_CONNECT_TIMEOUT_SECS,
    &DB_STATEMENT_TIMEOUT_SECS,
    &DB_NETWORK_TIMEOUT_SECS,
    &MAX_BODY_BYTES,
    &CALENDAR_REFRESH_SECS,
    &CONSOLE_SECURE_COOKIES,
    &DISPATCH_CA_CERTS,
];

/// One setting as an operator sees it (`postamat doctor`): secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownSetting {
    pub env: &'static str,
    pub key: &'static str,
    pub value: String,
    /// `environment`, `file <path>` or `default`.
    pub origin: String,
}

/// Every setting's value and where it came from, secrets (tokens, webhook secrets, passwords
/// in URLs) masked; in the order of the environment variables' names.
pub fn shown_settings(env: &HashMap<String, String>) -> Result<Vec<ShownSetting>, ConfigError> {
    let (file, file_name) = match env.get(CONFIG_FILE_ENV) {
        Some(path) => (read_file(Path::new(path))?, Some(path.clone())),
        None => (HashMap::new(), None),
    };
    let mut shown: Vec<ShownSetting> = SETTINGS
        .iter()
        .map(|s| {
            let (value, origin) = if let Some(v) = env.get(s.env) {
                (v.clone(), "environment".to_owned())
            } else if let (Some(v), Some(name)) = (file.get(s.key), &file_name) {
                (v.clone(), format!("file {name}"))
            } else {
                (s.default.to_owned(), "default".to_owned())
            };
            let secret = s.env.ends_with("_TOKEN") || s.env.ends_with("_SECRETS");
            let value = if secret && !value.is_empty() {
                "****".to_owned()
            } else if value.contains("://") {
                crate::db::mask_url(&value)
            } else {
                value
            };
            ShownSetting {
                env: s.env,
                key: s.key,
                value,
                origin,
            }
        })
        .collect();
    shown.sort_by_key(|s| s.env);
    Ok(shown)
}

/// Every key a configuration file may hold.
pub fn file_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.key)
}
