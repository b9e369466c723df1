//! PostgreSQL over TLS: libpq is built with OpenSSL (vendored), so `sslmode=require` and
//! `verify-full` work from a machine with nothing but the Rust toolchain and a C compiler.
//! Runs with the PostgreSQL suite (`TEST_POSTGRES_URL`); `.ci/run` turns TLS on in the local
//! server and points `TEST_POSTGRES_TLS_ROOT_CERT` at its certificate (issued to `localhost`).

use diesel::prelude::*;
use diesel::sql_types::Bool;

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

fn with_params(url: &str, host: Option<&str>, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(url).expect("TEST_POSTGRES_URL is a URL");
    if let Some(host) = host {
        url.set_host(Some(host)).unwrap();
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(params.iter().copied());
    url.to_string()
}

fn connection_is_encrypted(url: &str) -> Result<bool, diesel::ConnectionError> {
    let mut conn = PgConnection::establish(url)?;
    let row: Ssl = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(&mut conn)
        .expect("pg_stat_ssl is readable");
    Ok(row.ssl)
}

#[test]
fn postgres_connections_require_and_verify_tls() {
    let Ok(base) = std::env::var("TEST_POSTGRES_URL") else {
        return; // the SQLite run: no PostgreSQL to connect to
    };
    let required = with_params(&base, None, &[("sslmode", "require")]);
    assert_eq!(
        connection_is_encrypted(&required).map_err(|e| e.to_string()),
        Ok(true),
        "sslmode=require must give an encrypted connection"
    );
    let Ok(root) = std::env::var("TEST_POSTGRES_TLS_ROOT_CERT") else {
        eprintln!("TEST_POSTGRES_TLS_ROOT_CERT not set: verify-full not tried");
        return;
    };
    let verified = with_params(
        &base,
        Some("localhost"),
        &[("sslmode", "verify-full"), ("sslrootcert", &root)],
    );
    assert_eq!(
        connection_is_encrypted(&verified).map_err(|e| e.to_string()),
        Ok(true)
    );
    // The certificate names localhost, not 127.0.0.1: verify-full must refuse that.
    let wrong_name = with_params(
        &base,
        Some("127.0.0.1"),
        &[("sslmode", "verify-full"), ("sslrootcert", &root)],
    );
    let refused = connection_is_encrypted(&wrong_name).expect_err("hostname is verified");
    assert!(
        refused.to_string().contains("certificate") || refused.to_string().contains("match"),
        "{refused}"
    );
}
