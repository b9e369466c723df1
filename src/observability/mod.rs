//! Logs and metrics. Logs go to standard error (standard output is kept for what commands
//! print, such as a new key's token), pretty on a terminal and JSON otherwise, and every line
//! passes through [`redact`].

pub mod metrics;
pub mod redact;

use crate::config::{Config, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

pub use metrics::Metrics;
pub use redact::Redacting;

/// Installs the global subscriber writing to standard error.
pub fn init_logging(config: &Config) {
    let format = config
        .log_format
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        });
    init_with_writer(&config.log_filter, format, std::io::stderr);
}

/// Installs the global subscriber with any writer (tests capture logs this way). A second call
/// leaves the first subscriber in place.
pub fn init_with_writer<W>(filter: &str, format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(Redacting(writer));
    let _already_set = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
