//! What Kaspi reports: the point's acceptance (п.18), delays, placement in a cell, collection,
//! removal and return (п.27–31), losses (п.20–22), and the citizen's changes in the app.

use super::model::{Collection, LossPoint};
use super::{Action, Run, local, local_day};
use crate::domain::application::DeliveryChangeReason;
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::identifiers::ExternalId;
use crate::domain::kaspi::{KaspiEvent, KaspiEventBody, KaspiLossAct, Outcome};
use crate::domain::reference::Text;
use crate::workflows::{Source, delivery, kaspi_events};
use anyhow::bail;
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};

impl Run<'_> {
    pub(super) fn kaspi_accepts(
        &mut self,
        branch: usize,
        registry: String,
        docs: Vec<usize>,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        // An envelope the point does not accept comes back with the State courier the
        // next working day (п.18) and goes onto the next registry.
        let (refused, docs): (Vec<usize>, Vec<usize>) = docs
            .into_iter()
            .partition(|&d| self.docs[d].fate.not_accepted);
        for d in refused {
            self.docs[d].fate.not_accepted = false;
            let next = self.next_open(self.docs[d].branch, local_day(at), 9, 0);
            self.at(next, Action::BringBack(d));
        }
        let waybills = docs.iter().map(|&d| self.waybill(d)).collect();
        let kaspi_registry = ExternalId::try_from(format!("KSP-{registry}"))?;
        let body = KaspiEventBody::AcceptedAtPoint {
            handoff_registry: ExternalId::try_from(registry)?,
            kaspi_registry_number: kaspi_registry,
            accepted_waybills: waybills,
        };
        self.kaspi_events(branch, at, vec![(at, body)], snapshot)?;
        for d in docs {
            let fate = self.docs[d].fate.clone();
            if fate.loss == Some(LossPoint::Kaspi) {
                self.at(at + Duration::hours(20), Action::KaspiLost(d));
                continue;
            }
            // The citizen asks for the ЦОН while it waits at the point: it goes back
            // by the return path, not to a cell.
            if fate.con_instead {
                self.at(at + Duration::hours(2), Action::ConInstead(d));
                continue;
            }
            if fate.postamat_change {
                self.at(at + Duration::hours(2), Action::PostamatChange(d));
            }
            let minute = self.model(d).minutes(8 * 60);
            let placed = local(
                local_day(at) + Days::new(1 + u64::from(fate.placement_late_days)),
                10,
                minute,
            );
            if fate.delay_reported {
                self.at(
                    at + Duration::hours(20),
                    Action::KaspiDelayed(d, local_day(placed)),
                );
            }
            self.at(placed, Action::KaspiPlaced(d));
        }
        Ok(())
    }

    pub(super) fn kaspi_delayed(
        &mut self,
        d: usize,
        date: NaiveDate,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let body = KaspiEventBody::Delayed {
            waybill: self.waybill(d),
            new_expected_date: date,
        };
        self.kaspi_reports(d, at, body, snapshot)?;
        Ok(())
    }

    pub(super) fn kaspi_placed(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let doc = &self.docs[d];
        let waybill = self.waybill(d);
        let postamat = self.branches[doc.branch].postamats[doc.fate.postamat].clone();
        let cell = ExternalId::try_from(format!("C-{}", 1 + d % 40))?;
        self.kaspi_events(
            self.docs[d].branch,
            at,
            vec![
                (
                    at - Duration::minutes(90),
                    KaspiEventBody::OutForDelivery {
                        waybill: waybill.clone(),
                    },
                ),
                (
                    at,
                    KaspiEventBody::PlacedInCell {
                        waybill,
                        postamat_id: postamat,
                        cell,
                    },
                ),
            ],
            snapshot,
        )?;
        if self.docs[d].fate.removed_early {
            self.at(at + Duration::hours(20), Action::KaspiRemovedEarly(d));
            return Ok(());
        }
        match self.docs[d].fate.collection {
            Collection::AfterHours(hours) => {
                self.at(at + Duration::hours(hours), Action::KaspiCollected(d))
            }
            // Storage runs out first; the collection is reported after (a late truth).
            Collection::AfterExpiry(hours) => {
                let due = self.storage_due(d)?;
                self.at(due + Duration::hours(hours), Action::KaspiCollected(d));
            }
            Collection::Never => {
                let due = self.storage_due(d)?;
                self.at(due + Duration::hours(3), Action::KaspiRemoved(d));
            }
        }
        Ok(())
    }

    pub(super) fn kaspi_collected(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let body = KaspiEventBody::Collected {
            waybill: self.waybill(d),
        };
        self.kaspi_reports(d, at, body, snapshot)?;
        Ok(())
    }

    pub(super) fn kaspi_removed(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        // Not before the sweeper has seen storage run out (a force-majeure period may
        // have moved its end since).
        let due = self.storage_due(d)?;
        if at < due + Duration::hours(1) {
            self.at(due + Duration::hours(3), Action::KaspiRemoved(d));
            return Ok(());
        }
        self.removed_from_cell(d, at, snapshot)
    }

    /// Kaspi takes the document out of its cell (п.30), at the end of storage or before it
    /// (п.29), and returns it to its point the next day.
    pub(super) fn removed_from_cell(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let body = KaspiEventBody::RemovedFromCell {
            waybill: self.waybill(d),
        };
        self.kaspi_reports(d, at, body, snapshot)?;
        let minute = self.model(d).minutes(240);
        self.at(
            local(local_day(at) + Days::new(1), 10, minute),
            Action::KaspiReturned(d),
        );
        Ok(())
    }

    pub(super) fn kaspi_returned(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let body = KaspiEventBody::ReturnedToPoint {
            waybill: self.waybill(d),
        };
        self.kaspi_reports(d, at, body, snapshot)?;
        let branch = self.docs[d].branch;
        self.branches[branch].returned.push(d);
        Ok(())
    }

    pub(super) fn kaspi_lost(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let number = ExternalId::try_from(format!("KSP-LA-{}", self.number(d)))?;
        let body = KaspiEventBody::Lost {
            waybill: self.waybill(d),
            loss_act: KaspiLossAct {
                number,
                cause: Text::try_from("Утерян при доставке".to_owned())?,
                circumstances: Text::try_from("Simulated".to_owned())?,
                responsible_employee: Text::try_from("Курьер Kaspi".to_owned())?,
            },
        };
        self.kaspi_reports(d, at, body, snapshot)?;
        let act = self.open_act_of(d)?;
        let next = self.next_open(self.docs[d].branch, local_day(at), 10, 0);
        self.at(next, Action::DrawAct(d, act));
        Ok(())
    }

    pub(super) fn postamat_change(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let doc = &self.docs[d];
        let postamats = &self.branches[doc.branch].postamats;
        let to = (doc.fate.postamat + 1) % postamats.len();
        let postamat = postamats[to].clone();
        let number = self.number(d);
        let ctx = self.reported(d, self.kaspi.clone(), Source::Kaspi, "PST", at, snapshot);
        delivery::change_postamat(
            self.conn,
            number.as_str(),
            &postamat,
            DeliveryChangeReason::PostamatOutOfService,
            &ctx,
        )?;
        self.docs[d].fate.postamat = to;
        Ok(())
    }

    pub(super) fn con_instead(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let number = self.number(d);
        let ctx = self.reported(d, self.kaspi.clone(), Source::Kaspi, "CON", at, snapshot);
        delivery::reroute_to_con(
            self.conn,
            number.as_str(),
            DeliveryChangeReason::CitizenRequest,
            &ctx,
        )?;
        let branch = self.docs[d].branch;
        self.branches[branch].returned.push(d);
        Ok(())
    }

    /// Kaspi's events, delivered together as its webhook would (`at` is when they arrive).
    pub(super) fn kaspi_events(
        &mut self,
        branch: usize,
        at: DateTime<Utc>,
        events: Vec<(DateTime<Utc>, KaspiEventBody)>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let mut built = Vec::new();
        for (occurred_at, body) in events {
            built.push(KaspiEvent {
                event_id: ExternalId::try_from(self.event_id(branch, "KSP"))?,
                occurred_at,
                body,
            });
        }
        let mut batch = kaspi_events::Batch::new(built.into_iter().map(Ok).collect());
        for chunk in batch.chunks() {
            let delivery = kaspi_events::Delivery {
                actor: &self.kaspi,
                now: at,
                calendar: snapshot,
            };
            batch.answered(chunk.receive(self.conn, delivery)?);
        }
        for r in batch.answers()? {
            if r.outcome == Outcome::Rejected {
                bail!(
                    "Kaspi event {} rejected: {} {}",
                    r.event_id.as_deref().unwrap_or(""),
                    r.reason.as_deref().unwrap_or(""),
                    r.detail.as_deref().unwrap_or("")
                );
            }
        }
        Ok(())
    }

    /// One report by Kaspi about document `d`, at `at`.
    fn kaspi_reports(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        body: KaspiEventBody,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        self.kaspi_events(self.docs[d].branch, at, vec![(at, body)], snapshot)
    }
}
