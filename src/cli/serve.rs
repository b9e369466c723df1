//! `postamat serve`: the HTTP service with its background jobs, until a signal stops it.

use super::open_database;
use crate::api::{self, AppState};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::key_cache::{self, KeyCache};
use crate::db::models::api_key::{self};
use crate::db::writer::Writer;
use crate::db::{self};
use crate::jobs::Stop;
use crate::jobs::calendar_refresh::{self, CalendarCache};
use crate::jobs::dispatcher::{self, Dispatcher};
use crate::observability::Metrics;
use actix_web::{HttpServer, web};
use anyhow::Context;
use std::sync::Arc;

pub(super) fn serve(config: Config) -> anyhow::Result<()> {
    let pool = open_database(&config)?;
    let clock = Clock::System;
    let mut conn = pool.get().context("cannot get a database connection")?;
    if let Some((key, token)) = api_key::bootstrap_admin(&mut conn, clock.now())? {
        // Printed, not logged: the token must never reach a log line.
        println!(
            "\n================================================================\n\
             FIRST START: an admin API key was created. It is shown only now.\n\
             key id: {}\n\
             token:  {token}\n\
             Use it as 'Authorization: Bearer <token>'; create other keys with\n\
             POST /api/v1/admin/keys or `postamat keys create`.\n\
             ================================================================\n",
            key.id
        );
    }
    let calendar = Arc::new(CalendarCache::load(&mut conn).context("cannot load the calendar")?);
    drop(conn);
    let writer = Writer::for_location(&config.database)?.map(Arc::new);
    let keys = Arc::new(KeyCache::default());
    if let db::DatabaseLocation::Postgres(url) = &config.database {
        key_cache::listen(&keys, url.clone()).context("cannot start the key-notice listener")?;
    }
    let metrics = Metrics::new();
    let state = web::Data::new(AppState {
        pool: pool.clone(),
        clock,
        metrics: metrics.clone(),
        calendar: calendar.clone(),
        pilot: config.pilot,
        execution_term: config.execution_term,
        quiet_hours: config.dispatch.quiet_hours,
        kaspi_secrets: config.kaspi_secrets.clone(),
        secure_cookies: config.console_secure_cookies,
        writer,
        storage: Default::default(),
        keys: keys.clone(),
    });
    let body_limit = config.max_body_bytes;
    let refresh = config.calendar_refresh;
    let sweep_every = config.sweep_interval;
    let dispatch = config.dispatch.clone();
    let kaspi_secrets = config.kaspi_secrets.clone();
    let backend = config.database.backend_name();
    actix_web::rt::System::new().block_on(async move {
        let (stop_handle, stop) = Stop::new();
        let mut jobs = Vec::new();
        if let Some(every) = dispatch.interval {
            let dispatcher = Arc::new(
                Dispatcher::new(dispatch.clone(), &kaspi_secrets).with_metrics(metrics.clone()),
            );
            jobs.push(actix_web::rt::spawn(dispatcher::run(
                pool.clone(),
                dispatcher,
                Clock::System,
                every,
                stop.clone(),
            )));
        }
        if let Some(every) = sweep_every {
            jobs.push(actix_web::rt::spawn(crate::jobs::sweeper::run(
                pool.clone(),
                calendar.clone(),
                Clock::System,
                metrics.clone(),
                config.pilot,
                every,
                stop.clone(),
            )));
        }
        jobs.push(actix_web::rt::spawn(calendar_refresh::run(
            calendar, pool, refresh, stop,
        )));
        // On SIGTERM the server stops accepting, lets the requests in flight finish (at most
        // SHUTDOWN_SECS) and returns; then the jobs finish the round in hand. (SIGINT and
        // SIGQUIT stop actix at once; the jobs still finish their round.)
        let server = HttpServer::new(move || api::app(state.clone(), body_limit))
            .shutdown_timeout(SHUTDOWN_SECS)
            .bind(config.bind)
            .with_context(|| format!("cannot listen on {} (POSTAMAT_BIND)", config.bind))?;
        // Only now that the port is ours.
        tracing::info!(
            bind = %config.bind,
            database = backend,
            "postamat listening; API docs at /docs/"
        );
        let served = server.run().await.context("the HTTP server failed");
        tracing::info!("stopping: finishing the background work in hand");
        stop_handle.stop();
        let waited = actix_web::rt::time::timeout(
            std::time::Duration::from_secs(SHUTDOWN_SECS),
            futures_util::future::join_all(jobs),
        )
        .await;
        match waited {
            Ok(_) => tracing::info!("stopped"),
            Err(_) => tracing::warn!(
                "stopped without waiting longer for background work (each round is one \
                 transaction: nothing is left half-done)"
            ),
        }
        served
    })
}

/// How long a stop waits for requests in flight, then for the background work in hand.
const SHUTDOWN_SECS: u64 = 30;
