//! The fault suite (issue 27): what production does *around* the process. Each fault starts
//! what it needs itself — here a PostgreSQL cluster of its own (its own data directory, port
//! and socket folder, from the machine's PostgreSQL server binaries) and the `postamat` binary
//! serving from it — on loopback only, bounds every loop in count and time, and stops what it
//! started by PID when it ends, whatever happens.
//!
//! A fault needs the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`) and, when run as
//! root, the `postgres` user to run them as. Without them it is skipped with a message, unless
//! `POSTAMAT_REQUIRE_FAULTS` is set (CI sets it), when that fails the test.

mod backup;
mod cluster;
mod disk_full;
mod http;
mod kill;
mod network;
mod pg_restart;
mod pipeline;
mod timeouts;
mod upgrade;
