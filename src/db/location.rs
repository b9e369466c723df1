//! Where the database is: a PostgreSQL URL with the session timeouts the service needs, or a
//! SQLite file; and how a URL is shown in logs (its password masked).

use std::path::PathBuf;
use std::time::Duration;

/// Where the database lives, parsed from `POSTAMAT_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// `postgres://…` or `postgresql://…`, passed to libpq as it is.
    Postgres(String),
    /// `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
}

/// How long the service gives PostgreSQL before it gives up (issue 27): these bound every
/// answer when the database is slow, stalled or behind a network that lost it, so a request
/// never waits forever on a half-open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimeouts {
    /// Opening a connection (libpq's `connect_timeout`).
    pub connect: Duration,
    /// One statement on the server (`statement_timeout`; migrations are exempt), and twice it
    /// for a session left idle inside a transaction (`idle_in_transaction_session_timeout`), so
    /// a client the network lost mid-transaction does not hold its row locks for long.
    pub statement: Duration,
    /// A connection that acknowledges nothing for about this long is closed, on both ends:
    /// TCP keepalives probe an idle-waiting one (from half of it, every second, three times;
    /// libpq's and the server's `tcp_keepalives_*`), and `tcp_user_timeout` closes one whose
    /// sent data stays unacknowledged this long.
    pub network: Duration,
}

impl PgTimeouts {
    /// libpq's parameters for these timeouts (values as they go in the URL).
    fn parameters(&self) -> Vec<(&'static str, String)> {
        let network = self.network.as_secs().max(2);
        vec![
            // libpq takes 1 as 2: the smallest it honours.
            ("connect_timeout", self.connect.as_secs().max(2).to_string()),
            ("keepalives", "1".into()),
            ("keepalives_idle", (network / 2).to_string()),
            ("keepalives_interval", "1".into()),
            ("keepalives_count", "3".into()),
            ("tcp_user_timeout", (network * 1000).to_string()),
        ]
    }

    /// The server's settings for the session, as `-c name=value` in libpq's `options`.
    fn server_settings(&self) -> Vec<(&'static str, String)> {
        let network = self.network.as_secs().max(2);
        let statement = self.statement.as_millis();
        vec![
            ("statement_timeout", statement.to_string()),
            (
                "idle_in_transaction_session_timeout",
                (statement * 2).to_string(),
            ),
            ("tcp_keepalives_idle", (network / 2).to_string()),
            ("tcp_keepalives_interval", "1".into()),
            ("tcp_keepalives_count", "3".into()),
            ("tcp_user_timeout", (network * 1000).to_string()),
        ]
    }
}

/// `url` with the timeouts' libpq parameters added, each only where the URL does not set it
/// already (the operator's URL wins), and the server's settings added to `options` (the URL's
/// own, if it has one) unless it names them. The query starts at the first `?` after the
/// credentials (libpq allows an unencoded `?` in a password); libpq decodes `%XX`, not `+`.
fn with_pg_timeouts(url: &str, timeouts: PgTimeouts) -> String {
    let after_credentials = url.rfind('@').map_or(0, |at| at + 1);
    let (base, query) = match url[after_credentials..].find('?') {
        Some(at) => (
            &url[..after_credentials + at],
            &url[after_credentials + at + 1..],
        ),
        None => (url, ""),
    };
    let mut segments: Vec<String> = query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let name_of = |segment: &str| segment.split('=').next().unwrap_or("").to_owned();
    for (name, value) in timeouts.parameters() {
        if !segments.iter().any(|s| name_of(s) == name) {
            segments.push(format!("{name}={value}"));
        }
    }
    let options = match segments.iter().position(|s| name_of(s) == "options") {
        Some(at) => at,
        None => {
            segments.push("options=".to_owned());
            segments.len() - 1
        }
    };
    for (name, value) in timeouts.server_settings() {
        let own = &mut segments[options];
        if !own.contains(name) {
            let separator = if own.ends_with('=') { "" } else { "%20" };
            own.push_str(&format!("{separator}-c%20{name}%3D{value}"));
        }
    }
    format!("{base}?{}", segments.join("&"))
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseLocation::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "a sqlite URL needs a file path, e.g. sqlite://data/postamat.db".into(),
                );
            }
            Ok(DatabaseLocation::Sqlite(PathBuf::from(path)))
        } else {
            Err("must start with postgres://, postgresql:// or sqlite://".into())
        }
    }

    /// The location with PostgreSQL's timeouts applied to its URL; SQLite's is unchanged (a
    /// local file has no network, and its busy timeout is fixed at 10 s).
    pub fn with_timeouts(self, timeouts: PgTimeouts) -> Self {
        match self {
            DatabaseLocation::Postgres(url) => {
                DatabaseLocation::Postgres(with_pg_timeouts(&url, timeouts))
            }
            sqlite => sqlite,
        }
    }

    /// Where the data is, for a log line or an operator: SQLite's file as an absolute path
    /// (a relative one depends on the folder the service started in), PostgreSQL's URL with
    /// its secrets masked ([`mask_url`]).
    pub fn describe(&self) -> String {
        match self {
            DatabaseLocation::Sqlite(path) => std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
            DatabaseLocation::Postgres(url) => mask_url(url),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseLocation::Postgres(_) => "postgres",
            DatabaseLocation::Sqlite(_) => "sqlite",
        }
    }
}

/// libpq parameters that name how to connect, never a secret: shown as they are.
const PLAIN_POSTGRES_PARAMETERS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    // The server settings of the session (`-c statement_timeout=…`): no secret goes there.
    "options",
];

/// A URL as an operator or a log line may show it (security review, issue 28 finding 5):
/// the password, every query value and the fragment replaced by `****`, and the user name too
/// unless the URL is a database's (`https://TOKEN@host` carries a token where a database URL
/// carries its role). A database URL keeps the libpq parameters that only say how to connect
/// (`sslmode`, `connect_timeout`, …). Used for every URL setting: in `doctor`, in logs, in
/// errors.
pub fn mask_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "(not a URL)".to_owned();
    };
    let database = matches!(url.scheme(), "postgres" | "postgresql" | "sqlite");
    if url.password().is_some() {
        let _ = url.set_password(Some("****"));
    }
    if !database && !url.username().is_empty() {
        let _ = url.set_username("****");
    }
    if url.query().is_some() {
        let shown = |k: &str| {
            database
                && PLAIN_POSTGRES_PARAMETERS
                    .iter()
                    .any(|p| k.eq_ignore_ascii_case(p))
        };
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| match (shown(&k), v.is_empty()) {
                (true, _) => (k.into_owned(), v.into_owned()),
                // `?TOKEN`: the key itself is the secret.
                (false, true) => ("****".to_owned(), String::new()),
                (false, false) => (k.into_owned(), "****".to_owned()),
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if url.fragment().is_some() {
        url.set_fragment(Some("****"));
    }
    url.to_string()
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    const TIMEOUTS: PgTimeouts = PgTimeouts {
        connect: Duration::from_secs(3),
        statement: Duration::from_secs(15),
        network: Duration::from_secs(5),
    };

    const SERVER: &str = "options=-c%20statement_timeout%3D15000\
        %20-c%20idle_in_transaction_session_timeout%3D30000%20-c%20tcp_keepalives_idle%3D2\
        %20-c%20tcp_keepalives_interval%3D1%20-c%20tcp_keepalives_count%3D3\
        %20-c%20tcp_user_timeout%3D5000";

    #[test]
    fn the_timeouts_are_added_as_libpq_parameters() {
        let url = with_pg_timeouts("postgres://u:p@db:5432/postamat?sslmode=require", TIMEOUTS);
        assert_eq!(
            url,
            format!(
                "postgres://u:p@db:5432/postamat?sslmode=require&connect_timeout=3&keepalives=1\
                 &keepalives_idle=2&keepalives_interval=1&keepalives_count=3\
                 &tcp_user_timeout=5000&{SERVER}"
            )
        );
        let bare = with_pg_timeouts("postgres://db/postamat", TIMEOUTS);
        assert!(
            bare.starts_with("postgres://db/postamat?connect_timeout=3&"),
            "{bare}"
        );
    }

    #[test]
    fn the_operators_own_parameters_win() {
        let url = with_pg_timeouts(
            "postgres://db/p?connect_timeout=10&options=-c%20search_path%3Dx&tcp_user_timeout=0",
            TIMEOUTS,
        );
        assert!(url.contains("connect_timeout=10&"), "{url}");
        assert!(!url.contains("connect_timeout=3"), "{url}");
        assert!(url.contains("&tcp_user_timeout=0&"), "{url}");
        assert!(
            url.contains("options=-c%20search_path%3Dx%20-c%20statement_timeout%3D15000%20"),
            "{url}"
        );
        let own = with_pg_timeouts(
            "postgres://db/p?options=-c%20statement_timeout%3D0",
            TIMEOUTS,
        );
        assert!(
            own.contains("?options=-c%20statement_timeout%3D0%20-c%20idle_"),
            "{own}"
        );
        assert_eq!(own.matches("statement_timeout").count(), 1, "{own}");
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_the_query() {
        let url = with_pg_timeouts("postgres://u:pa?ss@db/p?sslmode=require", TIMEOUTS);
        assert!(
            url.starts_with("postgres://u:pa?ss@db/p?sslmode=require&connect_timeout=3&"),
            "{url}"
        );
        let no_query = with_pg_timeouts("postgres://u:pa?ss@db/p", TIMEOUTS);
        assert!(
            no_query.starts_with("postgres://u:pa?ss@db/p?connect_timeout=3&"),
            "{no_query}"
        );
    }

    #[test]
    fn sqlite_has_no_network_to_time_out() {
        let sqlite = DatabaseLocation::Sqlite("data/p.db".into());
        assert_eq!(sqlite.clone().with_timeouts(TIMEOUTS), sqlite);
    }
}

#[cfg(test)]
mod mask_tests {
    use super::mask_url;

    #[test]
    fn every_secret_a_url_can_hold_is_masked() {
        for (raw, shown) in [
            (
                "postgres://app:s3cret@db:5432/p?sslmode=require&password=s3cret",
                "postgres://app:****@db:5432/p?sslmode=require&password=****",
            ),
            (
                "postgres://app@db/p?sslpassword=x&connect_timeout=5",
                "postgres://app@db/p?sslpassword=****&connect_timeout=5",
            ),
            (
                "https://TOKEN@gw.example/send?api_key=abc&token=def#frag",
                "https://****@gw.example/send?api_key=****&token=****#****",
            ),
            (
                "https://user:pw@gw.example/?SECRETKEY",
                "https://****:****@gw.example/?****=",
            ),
            ("https://gw.example/send", "https://gw.example/send"),
            ("not a url", "(not a URL)"),
        ] {
            let masked = mask_url(raw);
            assert_eq!(masked, shown, "{raw}");
            for secret in ["s3cret", "TOKEN", "abc", "def", "frag", "SECRETKEY", "pw"] {
                assert!(!masked.contains(secret), "{raw} -> {masked}");
            }
        }
    }
}
