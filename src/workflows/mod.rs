//! The use cases of the pilot, one module each. Every workflow takes a connection and owns its
//! transaction, so a handler, a background job, the CLI and a test all call it the same way:
//! `workflow(conn, what, &ctx)`, where the [`EventContext`] says who acts, on which branches'
//! records, when, and with which calendar (an API handler gets it from `AppState::act`). A
//! workflow called inside another's transaction runs in a savepoint. Workflows decide with the
//! domain core and write through `db`; [`shipment::apply`] is the only code that changes a
//! shipment's state, and [`notify::notify_citizen`] the only one that writes a citizen's
//! message.
//!
//! Errors are [`WorkflowError`]: it keeps its cause and says once whether a failure is ours
//! ([`WorkflowError::is_ours`]) or the caller's.

pub mod calendar;
pub mod console;
pub mod delivery;
pub mod disputes;
pub mod duplicate;
pub mod error;
pub mod force_majeure;
pub mod inbox;
pub mod intake;
pub mod issuance;
pub mod kaspi_events;
pub mod kaspi_order;
pub mod keys;
pub mod label;
pub mod loss;
pub mod notify;
pub mod pilot_end;
pub mod register;
pub mod registries;
pub mod registry_office;
pub mod revisions;
pub mod shipment;
pub mod sweep;

pub use error::{Reason, ReasonKind, WorkflowError};

use crate::db::models::api_key::Principal;
use crate::db::models::branch::BranchScope;
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::ids::KeyId;
use crate::domain::role::Role;
use crate::domain::shipment::Actor as ActorKind;
use chrono::{DateTime, Utc};

pub type WorkflowResult<T> = Result<T, WorkflowError>;

/// Who acts, as history records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    pub key_id: Option<KeyId>,
    pub name: String,
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Actor {
            kind: ActorKind::Role(p.role),
            key_id: Some(p.key_id),
            name: p.name.clone(),
        }
    }
}

impl Actor {
    /// The scheduled sweeper enforcing deadlines.
    pub fn sweeper() -> Self {
        Actor {
            kind: ActorKind::Sweeper,
            key_id: None,
            name: "sweeper".to_owned(),
        }
    }

    /// Kaspi, through its signed webhook (no API key).
    pub fn kaspi(name: impl Into<String>) -> Self {
        Actor {
            kind: ActorKind::Role(Role::Kaspi),
            key_id: None,
            name: name.into(),
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self.kind {
            ActorKind::Role(role) => Some(role),
            ActorKind::Sweeper => None,
        }
    }
}

/// Where an event came from, as history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A person through the API.
    Api,
    Kaspi,
    RegistryOffice,
    Sweeper,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Kaspi => "kaspi",
            Source::RegistryOffice => "registry_office",
            Source::Sweeper => "sweeper",
        }
    }
}

/// What every workflow is called with, beside its connection and its command: who acts, which
/// branches' records they may touch, where the event came from, when it happened and when we
/// recorded it, and the calendar its deadlines are computed with.
#[derive(Debug, Clone)]
pub struct EventContext<'a> {
    pub actor: Actor,
    /// The records the actor may touch: a branch's staff their branch's, everyone else all.
    pub scope: BranchScope,
    pub source: Source,
    pub external_event_id: Option<String>,
    /// When it happened (integrations say; for people and the sweeper it is now).
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub calendar: &'a CalendarSnapshot,
}

impl<'a> EventContext<'a> {
    /// What a person with an API key does now through the API: their name and key, their
    /// branch's records.
    pub fn by(principal: &Principal, now: DateTime<Utc>, calendar: &'a CalendarSnapshot) -> Self {
        EventContext::now(Actor::from(principal), now, calendar).within(principal.scope.clone())
    }

    /// An action done now, on every branch's records unless narrowed by [`Self::within`].
    pub fn now(actor: Actor, now: DateTime<Utc>, calendar: &'a CalendarSnapshot) -> Self {
        EventContext {
            actor,
            scope: BranchScope::All,
            source: Source::Api,
            external_event_id: None,
            occurred_at: now,
            recorded_at: now,
            calendar,
        }
    }

    /// An event another system reports, with its own id and time (integrations act on every
    /// branch's records).
    pub fn reported(
        actor: Actor,
        source: Source,
        event_id: impl Into<String>,
        occurred_at: DateTime<Utc>,
        now: DateTime<Utc>,
        calendar: &'a CalendarSnapshot,
    ) -> Self {
        EventContext {
            actor,
            scope: BranchScope::All,
            source,
            external_event_id: Some(event_id.into()),
            occurred_at,
            recorded_at: now,
            calendar,
        }
    }

    /// The scheduled sweeper enforcing a deadline at `as_of`, for an event that happened at
    /// `occurred_at` (a deadline's instant, not the moment the sweeper noticed).
    pub fn sweeper(
        occurred_at: DateTime<Utc>,
        as_of: DateTime<Utc>,
        calendar: &'a CalendarSnapshot,
    ) -> Self {
        EventContext {
            source: Source::Sweeper,
            occurred_at,
            ..EventContext::now(Actor::sweeper(), as_of, calendar)
        }
    }

    /// The same, limited to `scope`'s records.
    pub fn within(self, scope: BranchScope) -> Self {
        EventContext { scope, ..self }
    }

    /// The key of the person acting, for the records that name who drew, opened or edited
    /// them. Only people do those (their roles are checked before), so an actor without a key
    /// here is a mistake of ours.
    pub fn key(&self) -> WorkflowResult<KeyId> {
        self.actor.key_id.ok_or_else(|| {
            WorkflowError::internal(
                "recording who acted",
                anyhow::anyhow!("{} acts without an API key", self.actor.name),
            )
        })
    }
}
