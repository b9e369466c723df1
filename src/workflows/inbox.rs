//! The one inbox for what other systems send. Every event, whoever sent it, is received the same
//! way ([`receive`]): looked up by its sender's id, its use case run, and what it gave kept in
//! the same transaction; a repeat, or a twin that raced in and committed first, is answered from
//! what was kept. The registry office's statuses and Kaspi's orders and delivery changes come
//! through [`once`]; Kaspi's delivery-status events through `kaspi_events`, whose [`Integration`]
//! keeps them in a store of their own, because an event that cannot apply yet waits there for
//! its waybill or registry.
//!
//! What is kept — the rule, stated once:
//! - what a use case gives is kept with the event, and a repeat with the same payload gets the
//!   answer that was kept and changes nothing;
//! - the same id with another payload is answered as reused (`event_id_reused`), whatever was
//!   kept;
//! - a refusal a use case returns as an error is not kept, so the event can be sent again once
//!   it fits (an order for an application the registry office has not executed yet). Kaspi's
//!   status events have no such refusals: a refused or waiting event is an outcome, kept like
//!   any other, because Kaspi was told it was received and sends it no more.
//!
//! Modelled on zero2prod's `idempotency::try_processing`: [`next_action`] says whether to run
//! the use case or to answer from what was kept.

use super::{Reason, Source, WorkflowError, WorkflowResult};
use crate::db::models::integration_event::{self as kept, Kept, NewEvent};
use crate::db::{DbConnection, write_transaction};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// One integration's events as the inbox receives them: how they are told apart and looked up,
/// what a repeat is answered, and the use case they run.
pub trait Integration {
    type Event;
    /// What is kept of an event.
    type Kept;
    type Answer;

    /// Whether a single event is tried before it is looked up: a repeat is then found when it
    /// is kept (and the work undone), which saves a read for the many events that are new.
    const TRY_FIRST: bool;

    /// The sender's id of `event`.
    fn id(event: &Self::Event) -> &str;
    /// The fingerprint of `event`'s payload.
    fn fingerprint(event: &Self::Event) -> String;
    fn kept_fingerprint(kept: &Self::Kept) -> &str;
    /// What was kept of the events with these ids, by id.
    fn find(
        &self,
        conn: &mut DbConnection,
        ids: &[&str],
    ) -> WorkflowResult<HashMap<String, Self::Kept>>;
    /// The answer to a repeat of `event` with the same payload, from what was kept.
    fn repeat(
        conn: &mut DbConnection,
        event: &Self::Event,
        kept: &Self::Kept,
    ) -> WorkflowResult<Self::Answer>;
    /// The answer to `event` when its id was used before for another payload.
    fn reused(event: &Self::Event) -> WorkflowResult<Self::Answer>;
    /// Runs the use case on `event` and keeps what it gave, inside the caller's transaction.
    /// `None` when a twin was kept first: the transaction is then rolled back.
    fn run(
        &mut self,
        conn: &mut DbConnection,
        event: &Self::Event,
    ) -> WorkflowResult<Option<(Self::Answer, Self::Kept)>>;
}

/// What to do with an event.
enum NextAction<'k, K> {
    /// Not seen before: run its use case.
    Start,
    /// Seen before with the same payload: answer from what was kept.
    Repeat(&'k K),
    /// Its id was used before for another payload.
    Reused,
}

fn next_action<'k, I: Integration>(
    event: &I::Event,
    kept: Option<&'k I::Kept>,
) -> NextAction<'k, I::Kept> {
    match kept {
        None => NextAction::Start,
        Some(kept) if I::kept_fingerprint(kept) == I::fingerprint(event) => {
            NextAction::Repeat(kept)
        }
        Some(_) => NextAction::Reused,
    }
}

/// Why a transaction of the inbox is rolled back.
enum Stop {
    /// An event was kept meanwhile by another transaction: receive the events again.
    Seen,
    Failed(WorkflowError),
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Failed(e.into())
    }
}

impl From<WorkflowError> for Stop {
    fn from(e: WorkflowError) -> Self {
        Stop::Failed(e)
    }
}

/// Receives `events`, in the order given, in one transaction; a failure of ours receives none
/// of them. Another transaction changing the same records or keeping the same events first
/// makes them be received again (twice at the most): they are then repeats, or meet the new
/// state. Returns an answer per event.
pub fn receive<I: Integration>(
    conn: &mut DbConnection,
    integration: &mut I,
    events: &[&I::Event],
) -> WorkflowResult<Vec<I::Answer>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = write_transaction(conn, |conn| receive_in(conn, integration, events));
        match outcome {
            Ok(answers) => return Ok(answers),
            // A single event's twin committed first, or a single event failed on a rule or on
            // our side: a repeat is answered from what was kept, as always.
            Err(Stop::Seen) if events.len() == 1 => {
                return Ok(vec![
                    answer_kept(conn, integration, events[0])?.ok_or_else(|| {
                        WorkflowError::internal(
                            "answering a repeated event",
                            anyhow::anyhow!("event {} was kept and is gone", I::id(events[0])),
                        )
                    })?,
                ]);
            }
            Err(Stop::Failed(e)) if events.len() == 1 && !e.is_retryable() => {
                return match answer_kept(conn, integration, events[0])? {
                    Some(answer) => Ok(vec![answer]),
                    None => Err(e),
                };
            }
            Err(Stop::Seen) if attempt < 3 => {}
            Err(Stop::Failed(e)) if e.is_retryable() && attempt < 3 => {}
            Err(Stop::Seen) => {
                return Err(WorkflowError::Conflict(
                    "the same events are being received by another request; retry".into(),
                ));
            }
            Err(Stop::Failed(e)) => return Err(e),
        }
    }
}

fn receive_in<I: Integration>(
    conn: &mut DbConnection,
    integration: &mut I,
    events: &[&I::Event],
) -> Result<Vec<I::Answer>, Stop> {
    // Several events are looked up together first, so that a batch sent again is not received
    // one rollback at a time.
    let mut kept = if events.len() > 1 || !I::TRY_FIRST {
        let ids: Vec<&str> = events.iter().map(|e| I::id(e)).collect();
        integration.find(conn, &ids)?
    } else {
        HashMap::new()
    };
    let mut answers = Vec::with_capacity(events.len());
    for event in events {
        match next_action::<I>(event, kept.get(I::id(event))) {
            NextAction::Repeat(first) => answers.push(I::repeat(conn, event, first)?),
            NextAction::Reused => answers.push(I::reused(event)?),
            NextAction::Start => {
                let Some((answer, row)) = integration.run(conn, event)? else {
                    return Err(Stop::Seen);
                };
                answers.push(answer);
                // The same event twice in one call: the second is a repeat of the first.
                kept.insert(I::id(event).to_owned(), row);
            }
        }
    }
    Ok(answers)
}

/// The answer to `event` from what was kept of it, if anything was.
fn answer_kept<I: Integration>(
    conn: &mut DbConnection,
    integration: &I,
    event: &I::Event,
) -> WorkflowResult<Option<I::Answer>> {
    let kept = integration.find(conn, &[I::id(event)])?;
    match next_action::<I>(event, kept.get(I::id(event))) {
        NextAction::Start => Ok(None),
        NextAction::Repeat(first) => I::repeat(conn, event, first).map(Some),
        NextAction::Reused => I::reused(event).map(Some),
    }
}

/// An event another system sent, by the id it gave it, for [`once`].
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

/// Runs `work` for `event` once. Returns the answer to give: the one `work` gave, or the one
/// kept when the event was seen before. A repeat with another payload is refused
/// (`event_id_reused`).
pub fn once<T: Serialize>(
    conn: &mut DbConnection,
    event: &Inbound,
    received_at: DateTime<Utc>,
    work: impl FnMut(&mut DbConnection) -> WorkflowResult<T>,
) -> WorkflowResult<serde_json::Value> {
    let mut once = Once {
        source: event.source,
        received_at,
        work,
    };
    let answer = receive(conn, &mut once, &[event])?.pop();
    answer.ok_or_else(|| {
        WorkflowError::internal(
            "answering an integration event",
            anyhow::anyhow!("event {} got no answer", event.event_id),
        )
    })
}

/// An integration whose event's answer is what its use case gave, kept in `integration_events`.
struct Once<F> {
    source: Source,
    received_at: DateTime<Utc>,
    work: F,
}

impl<T: Serialize, F: FnMut(&mut DbConnection) -> WorkflowResult<T>> Integration for Once<F> {
    type Event = Inbound;
    type Kept = Kept;
    type Answer = serde_json::Value;

    // The use cases are not cheap to undo and their events are few: look first.
    const TRY_FIRST: bool = false;

    fn id(event: &Inbound) -> &str {
        &event.event_id
    }

    fn fingerprint(event: &Inbound) -> String {
        event.payload_hash.clone()
    }

    fn kept_fingerprint(kept: &Kept) -> &str {
        &kept.payload_hash
    }

    fn find(&self, conn: &mut DbConnection, ids: &[&str]) -> WorkflowResult<HashMap<String, Kept>> {
        let mut found = HashMap::new();
        for id in ids {
            if let Some(kept) = kept::find(conn, self.source.as_str(), id)? {
                found.insert((*id).to_owned(), kept);
            }
        }
        Ok(found)
    }

    fn repeat(_: &mut DbConnection, _: &Inbound, kept: &Kept) -> WorkflowResult<Self::Answer> {
        Ok(kept.answer.clone())
    }

    fn reused(event: &Inbound) -> WorkflowResult<Self::Answer> {
        Err(WorkflowError::rejected(
            Reason::EventIdReused,
            format!(
                "event {} was already received with a different payload",
                event.event_id
            ),
        ))
    }

    fn run(
        &mut self,
        conn: &mut DbConnection,
        event: &Inbound,
    ) -> WorkflowResult<Option<(Self::Answer, Kept)>> {
        let answer = serde_json::to_value((self.work)(conn)?)
            .map_err(|e| WorkflowError::internal("keeping an integration event's answer", e))?;
        let inserted = kept::insert_new(
            conn,
            NewEvent {
                source: self.source.as_str(),
                event_id: &event.event_id,
                kind: event.kind,
                application_number: &event.application_number,
                payload_hash: &event.payload_hash,
                answer: &answer,
                received_at: self.received_at,
            },
        )?;
        let row = Kept {
            payload_hash: event.payload_hash.clone(),
            answer: answer.clone(),
        };
        Ok(inserted.then_some((answer, row)))
    }
}
