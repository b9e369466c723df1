//! The one inbox for what other systems send: each event is looked up by its sender's id, its
//! use case runs, and what it gave is kept in the same transaction; a repeat, or a twin that
//! raced in and committed first, is answered from what was kept. The registry office's statuses
//! and Kaspi's orders and delivery changes come through [`once`]; Kaspi's delivery-status
//! events through [`kaspi_events::Batch`](super::kaspi_events::Batch), which keeps them in a
//! store of their own because an event that cannot apply yet waits there for its waybill or
//! registry.
//!
//! What is kept — the rule, stated once:
//! - an event whose use case succeeded is kept with its answer; a repeat with the same payload
//!   gets that answer and changes nothing;
//! - the same id with another payload is refused (`event_id_reused`), whatever was kept;
//! - an event refused here by a rule is not kept, so it can be sent again once it fits (an
//!   order for an application the registry office has not executed yet);
//! - a Kaspi delivery-status event is kept with every outcome, a refusal or a wait included:
//!   Kaspi was told it was received, so it must never be lost, and a repeat is answered
//!   `duplicate` with the first outcome.
//!
//! Modelled on zero2prod's `idempotency::try_processing`: [`next_action`] says whether to run
//! the use case or answer from what was kept.

use super::{Reason, Source, WorkflowError, WorkflowResult};
use crate::db::models::integration_event::{self as kept, Kept, NewEvent};
use crate::db::{DbConnection, write_transaction};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An event another system sent, by the id it gave it.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub source: Source,
    pub event_id: String,
    /// What kind of event it is, as kept (`order_created`, a registry office status, …).
    pub kind: &'static str,
    pub application_number: String,
    /// The payload's fingerprint: the same id with another payload is refused.
    pub payload_hash: String,
}

/// What to do with an event.
enum NextAction {
    /// Not seen before: run its use case.
    Start,
    /// Seen before with the same payload: this was its answer.
    Answer(serde_json::Value),
}

/// Runs `work` for `event` once. Returns the answer to give: the one `work` gave, or the one
/// kept when the event was seen before.
pub fn once<T: Serialize>(
    conn: &mut DbConnection,
    event: &Inbound,
    received_at: DateTime<Utc>,
    work: impl FnOnce(&mut DbConnection) -> WorkflowResult<T>,
) -> WorkflowResult<serde_json::Value> {
    let outcome: WorkflowResult<serde_json::Value> = write_transaction(conn, |conn| {
        if let NextAction::Answer(answer) = next_action(conn, event)? {
            return Ok(answer);
        }
        let answer = serde_json::to_value(work(conn)?)
            .map_err(|e| WorkflowError::internal("keeping an integration event's answer", e))?;
        kept::store(
            conn,
            NewEvent {
                source: event.source.as_str(),
                event_id: &event.event_id,
                kind: event.kind,
                application_number: &event.application_number,
                payload_hash: &event.payload_hash,
                answer: &answer,
                received_at,
            },
        )?;
        Ok(answer)
    });
    match outcome {
        // The same event may have raced in on another connection and won (we then failed on
        // its lock or its key): answer as it did.
        Err(e) if e.reason() != Some(Reason::EventIdReused) => match next_action(conn, event)? {
            NextAction::Answer(answer) => Ok(answer),
            NextAction::Start => Err(e),
        },
        outcome => outcome,
    }
}

/// Looks `event` up: new, or seen before with the same payload (its answer), or with another.
fn next_action(conn: &mut DbConnection, event: &Inbound) -> WorkflowResult<NextAction> {
    match kept::find(conn, event.source.as_str(), &event.event_id)? {
        None => Ok(NextAction::Start),
        Some(Kept {
            payload_hash,
            answer,
        }) if payload_hash == event.payload_hash => Ok(NextAction::Answer(answer)),
        Some(_) => Err(WorkflowError::rejected(
            Reason::EventIdReused,
            format!(
                "event {} was already received with a different payload",
                event.event_id
            ),
        )),
    }
}
