//! The application's life at the registry office and in the Kaspi app: applied (п.3–5),
//! executed (п.8) and ordered from Kaspi (п.8–10), cancelled after a loss and issued again as a
//! free duplicate (п.24–26).

use super::{Action, Run, local, local_day};
use crate::domain::application::FinalStatus;
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::identifiers::{ExternalId, Phone};
use crate::domain::notification::Language;
use crate::domain::reference::Text;
use crate::domain::shipment::DeliveryMethod;
use crate::workflows::{
    Actor, EventContext, Source, duplicate, kaspi_order, register, registry_office,
};
use chrono::{DateTime, Duration, Utc};

impl Run<'_> {
    pub(super) fn submit(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let model = self.model(d);
        let language = if model.minutes(2) == 0 {
            Language::Kk
        } else {
            Language::Ru
        };
        let applicant_name = Text::try_from(model.name().to_owned())?;
        let phone = Phone::try_from(model.phone())?;
        let doc = &self.docs[d];
        let b = &self.branches[doc.branch];
        let new = register::NewApplication {
            number: self.number(d),
            applicant_iin: self.iin(d),
            applicant_name,
            phone,
            language,
            delivery_method: if doc.fate.at_con {
                DeliveryMethod::Con
            } else {
                DeliveryMethod::Postamat
            },
            postamat: (!doc.fate.at_con).then(|| b.postamats[doc.fate.postamat].clone()),
            registry_office_code: ExternalId::try_from(format!("RAGS-{}", b.code))?,
            branch: b.code.clone(),
            submitted_at: at,
            payload_hash: format!("simulated:{}", self.number(d)),
        };
        let ctx = self.reported(d, self.kaspi.clone(), Source::Kaspi, "APP", at, snapshot);
        register::register(self.conn, &new, self.settings.pilot, &ctx)?;
        self.outcome.applications += 1;
        // The registry office executes it on a working day after (п.8).
        let mut day = local_day(at);
        for _ in 0..=self.docs[d].fate.extra_execution_days {
            day = snapshot.calendar.next_working_day(day)?;
        }
        let minute = self.model(d).minutes(120);
        self.at(local(day, 11, minute), Action::Execute(d));
        Ok(())
    }

    pub(super) fn execute(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        self.registry_office_reports(d, FinalStatus::Executed, at, snapshot)?;
        let doc = &self.docs[d];
        if doc.fate.at_con {
            self.branches[doc.branch].ready_con.push(d);
        } else {
            // Kaspi creates the delivery order minutes later (п.8–10).
            let order = kaspi_order::KaspiOrder {
                application_number: self.number(d).to_string(),
                order_id: ExternalId::try_from(format!("K-{}", self.number(d)))?,
                waybill: self.waybill(d),
            };
            let branch = doc.branch;
            let ctx = self.reported(
                d,
                self.kaspi.clone(),
                Source::Kaspi,
                "ORDER",
                at + Duration::minutes(5),
                snapshot,
            );
            kaspi_order::record_order(self.conn, &order, &ctx)?;
            self.branches[branch].ready_postamat.push(d);
        }
        Ok(())
    }

    pub(super) fn cancel(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        self.registry_office_reports(d, FinalStatus::Cancelled, at, snapshot)?;
        let next = self.next_open(self.docs[d].branch, local_day(at), 12, 0);
        self.at(next, Action::Duplicate(d));
        Ok(())
    }

    pub(super) fn duplicate(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        // The citizen asks for the free duplicate (п.25–26).
        let ctx = self.staff_at(d, |b| &b.issuer, at, snapshot);
        let number = self.number(d);
        duplicate::request_duplicate(self.conn, number.as_str(), &ctx)?;
        self.docs[d].shipment = None;
        // The registry office issues the new certificate the next working day; it is
        // taken in on the ЦОН route.
        let day = snapshot.calendar.next_working_day(local_day(at))?;
        self.at(local(day, 11, 0), Action::DuplicateReady(d));
        Ok(())
    }

    pub(super) fn duplicate_ready(&mut self, d: usize) {
        let branch = self.docs[d].branch;
        self.docs[d].fate.at_con = true;
        self.docs[d].fate.con_visit_hours = Some(4);
        self.branches[branch].ready_con.push(d);
    }

    pub(super) fn reported<'s>(
        &mut self,
        d: usize,
        actor: Actor,
        source: Source,
        prefix: &str,
        at: DateTime<Utc>,
        snapshot: &'s crate::domain::calendar::CalendarSnapshot,
    ) -> EventContext<'s> {
        let id = self.event_id(self.docs[d].branch, prefix);
        EventContext::reported(actor, source, id, at, at, snapshot)
    }

    /// The registry office reports a final status of a document's application (п.8, 24).
    pub(super) fn registry_office_reports(
        &mut self,
        d: usize,
        status: FinalStatus,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let actor = self.registry_office.clone();
        let ctx = self.reported(d, actor, Source::RegistryOffice, "RAGS", at, snapshot);
        let number = self.number(d);
        registry_office::apply_status(
            self.conn,
            number.as_str(),
            status,
            self.settings.pilot,
            &ctx,
        )?;
        Ok(())
    }
}
