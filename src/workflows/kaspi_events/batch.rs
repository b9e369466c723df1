//! Events delivered together — one webhook call, one batch, or the simulation's Kaspi — received
//! in the order things happened, a chunk per transaction. The HTTP handler and the simulation
//! take this same path: they only run each chunk on a connection of theirs.

use super::{CHUNK, Delivery, EventResult, receive_chunk};
use crate::db::DbConnection;
use crate::domain::kaspi::{KaspiEvent, Outcome};
use crate::workflows::{WorkflowError, WorkflowResult};

/// An event that could not be read, answered `rejected` in its place with this code.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub code: &'static str,
    pub detail: String,
}

/// Events delivered together, with the answers given so far.
pub struct Batch {
    /// The readable events in the order they are to be received, with their positions.
    ordered: Vec<(usize, KaspiEvent)>,
    answers: Vec<Option<EventResult>>,
}

/// Events to receive in one transaction (at most [`CHUNK`]), with their positions in the batch.
pub struct Chunk(Vec<(usize, KaspiEvent)>);

/// A chunk's answers, by position.
pub struct Answered(Vec<(usize, EventResult)>);

impl Batch {
    /// The events as delivered; each unreadable one is answered at once. The rest are received
    /// in the order things happened, which a batch may list otherwise (an event that arrives
    /// before the ones it follows implies them; the same instant keeps the order given).
    pub fn new(events: Vec<Result<KaspiEvent, Unreadable>>) -> Self {
        let mut answers = Vec::with_capacity(events.len());
        let mut ordered = Vec::with_capacity(events.len());
        for (position, event) in events.into_iter().enumerate() {
            match event {
                Ok(event) => {
                    answers.push(None);
                    ordered.push((position, event));
                }
                Err(unreadable) => answers.push(Some(EventResult {
                    event_id: None,
                    outcome: Outcome::Rejected,
                    first_outcome: None,
                    reason: Some(unreadable.code.to_owned()),
                    detail: Some(unreadable.detail),
                    shipment_id: None,
                    state: None,
                })),
            }
        }
        ordered.sort_by_key(|(_, event)| event.occurred_at);
        Batch { ordered, answers }
    }

    /// The chunks to receive, in order, each in a transaction (and on a connection) of its own,
    /// so a long batch never holds one from other requests and a failure of ours late in a batch
    /// keeps the chunks before it.
    pub fn chunks(&mut self) -> Vec<Chunk> {
        let ordered = std::mem::take(&mut self.ordered);
        let mut chunks = Vec::with_capacity(ordered.len().div_ceil(CHUNK));
        let mut events = ordered.into_iter().peekable();
        while events.peek().is_some() {
            chunks.push(Chunk(events.by_ref().take(CHUNK).collect()));
        }
        chunks
    }

    /// Takes a received chunk's answers.
    pub fn answered(&mut self, answered: Answered) {
        for (position, answer) in answered.0 {
            self.answers[position] = Some(answer);
        }
    }

    /// Every event's answer, in the order they were delivered.
    pub fn answers(self) -> WorkflowResult<Vec<EventResult>> {
        self.answers
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                WorkflowError::internal(
                    "answering Kaspi's events",
                    anyhow::anyhow!("an event was received without an answer"),
                )
            })
    }
}

impl Chunk {
    /// Receives the chunk in one transaction: a failure of ours receives none of it.
    pub fn receive(
        self,
        conn: &mut DbConnection,
        delivery: Delivery<'_>,
    ) -> WorkflowResult<Answered> {
        let (positions, events): (Vec<usize>, Vec<KaspiEvent>) = self.0.into_iter().unzip();
        let refs: Vec<&KaspiEvent> = events.iter().collect();
        let received = receive_chunk(conn, &refs, delivery)?;
        Ok(Answered(positions.into_iter().zip(received).collect()))
    }
}
