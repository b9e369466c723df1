//! The ЦОН's side: intake and registries at the accumulation sector (п.11–16), the State
//! courier (п.17–18), issuance at the ЦОН (п.32–36), loss acts (п.23) and disputes.

use super::model::LossPoint;
use super::{Action, Handover, Run, local_day, refused};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::identifiers::ApplicationNumber;
use crate::domain::ids::{DisputeId, LossActId, ShipmentId};
use crate::domain::reference::Text;
use crate::domain::registry::RegistryKind;
use crate::workflows::{EventContext, disputes, intake, issuance, label, loss, registries};
use anyhow::anyhow;
use chrono::{DateTime, Duration, Utc};

impl Run<'_> {
    pub(super) fn hand_over(
        &mut self,
        handover: Handover,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        if !self.working(local_day(at)) || self.branches[handover.branch].is_closed(at) {
            let next = self.next_open(handover.branch, local_day(at), 10, 0);
            self.at(next, Action::Handover(handover));
            return Ok(());
        }
        let Handover {
            branch,
            registry,
            number,
            kind,
            docs,
        } = handover;
        let ctx = self.staff(branch, |b| &b.courier, at, snapshot);
        registries::hand_over(self.conn, registry, "Курьер (simulated)", &ctx)?;
        match kind {
            // Kaspi's point accepts the envelopes within the hour (п.18).
            RegistryKind::KaspiHandoff => self.at(
                at + Duration::minutes(60),
                Action::KaspiAccept {
                    branch,
                    registry: number,
                    docs,
                },
            ),
            // Back at the issuance sector: the citizen is told where to come (п.34).
            RegistryKind::ReturnPickup => {
                for d in docs {
                    self.con_visit(d, at);
                }
            }
        }
        Ok(())
    }

    pub(super) fn bring_back(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let ctx = self.staff_at(d, |b| &b.courier, at, snapshot);
        let shipment = self.shipment(d)?;
        registries::bring_back(
            self.conn,
            shipment,
            "not accepted at the Kaspi point (simulated)",
            &ctx,
        )?;
        let branch = self.docs[d].branch;
        self.branches[branch].brought_back.push(d);
        Ok(())
    }

    pub(super) fn citizen_collects(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let branch = self.docs[d].branch;
        if !self.working(local_day(at)) || self.branches[branch].is_closed(at) {
            let next = self.next_open(branch, local_day(at), 11, 0);
            self.at(next, Action::ConVisit(d));
            return Ok(());
        }
        let ctx = self.staff(branch, |b| &b.issuer, at, snapshot);
        let shipment = self.shipment(d)?;
        issuance::issue(
            self.conn,
            shipment,
            issuance::Receiver::Applicant { iin: self.iin(d) },
            &ctx,
        )?;
        Ok(())
    }

    pub(super) fn transfer(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let ctx = self.staff_at(d, |b| &b.issuer, at, snapshot);
        let shipment = self.shipment(d)?;
        let transfer = issuance::Transfer {
            to_whom: Text::try_from("Архив ЦОН".to_owned())?,
            reference: Text::try_from(format!("Акт передачи {}", self.number(d)))?,
        };
        issuance::transfer(self.conn, shipment, &transfer, &ctx)?;
        Ok(())
    }

    pub(super) fn draw_act(
        &mut self,
        d: usize,
        act: LossActId,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let branch = self.docs[d].branch;
        let ctx = self.staff(branch, |b| &b.clerk, at, snapshot);
        loss::draw_act(self.conn, act, &ctx)?;
        // The registry office receives the act's second copy and cancels (п.24).
        self.at(at + Duration::hours(3), Action::Cancel(d));
        if self.docs[d].fate.disputed {
            self.at(at + Duration::hours(1), Action::OpenDispute(d));
        }
        Ok(())
    }

    pub(super) fn open_dispute(
        &mut self,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let branch = self.docs[d].branch;
        let supervisor = self.branches[branch].supervisor.clone();
        let ctx = EventContext::by(&supervisor, at, snapshot);
        let shipment = self.shipment(d)?;
        let opened = disputes::open(
            self.conn,
            &disputes::OpenDispute {
                shipment_id: shipment,
                loss_act_id: None,
                parties: Text::try_from("Госкорпорация и Kaspi".to_owned())?,
                subject: Text::try_from("Ответственность за утерю".to_owned())?,
                opened_on: local_day(at),
            },
            &ctx,
        )?;
        self.at(at + Duration::days(5), Action::SettleDispute(opened.id, d));
        Ok(())
    }

    pub(super) fn settle_dispute(
        &mut self,
        id: DisputeId,
        d: usize,
        at: DateTime<Utc>,
        snapshot: &CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let branch = self.docs[d].branch;
        let supervisor = self.branches[branch].supervisor.clone();
        let ctx = EventContext::by(&supervisor, at, snapshot);
        disputes::settle(
            self.conn,
            id,
            &disputes::Settlement {
                commission_protocol: Text::try_from("Протокол комиссии".to_owned())?,
                outcome: Text::try_from("Ответственность установлена".to_owned())?,
                settled_on: local_day(at),
            },
            &ctx,
        )?;
        Ok(())
    }

    /// The accumulation sector's afternoon on a working day: intake of what the registry office
    /// executed (п.7, 14), labels (п.15–16), one handoff registry sealed for the courier's
    /// next-working-day visit (п.13, 17).
    pub(super) fn intake(
        &mut self,
        b: usize,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        if !self.working(local_day(at)) || self.branches[b].is_closed(at) {
            return Ok(());
        }
        let ctx = self.staff(b, |b| &b.clerk, at, snapshot);
        // The ЦОН route: straight on to the issuance sector with the registry office's registry.
        let con = std::mem::take(&mut self.branches[b].ready_con);
        if !con.is_empty() {
            let numbers: Vec<ApplicationNumber> = con.iter().map(|&d| self.number(d)).collect();
            let registry =
                Text::try_from(format!("RAGS-{}-{}", self.branches[b].code, local_day(at)))?;
            let taken = intake::take_in_all(self.conn, &numbers, Some(&registry), &ctx)?;
            for (&d, result) in con.iter().zip(taken) {
                let row = result.map_err(|e| refused(&self.number(d), "intake", e))?;
                self.docs[d].shipment = Some(row.id);
                self.con_visit(d, at);
            }
        }
        let postamat = std::mem::take(&mut self.branches[b].ready_postamat);
        // Envelopes the courier brought back go onto today's registry with the new ones.
        let mut packed = std::mem::take(&mut self.branches[b].brought_back);
        let numbers: Vec<ApplicationNumber> = postamat.iter().map(|&d| self.number(d)).collect();
        let taken = if numbers.is_empty() {
            Vec::new()
        } else {
            intake::take_in_all(self.conn, &numbers, None, &ctx)?
        };
        for (&d, result) in postamat.iter().zip(taken) {
            let row = result.map_err(|e| refused(&self.number(d), "intake", e))?;
            self.docs[d].shipment = Some(row.id);
            if self.docs[d].fate.loss == Some(LossPoint::AccumulationSector) {
                self.lost_at_the_con(d, row.id, "Утерян в секторе накопления", &ctx)?;
                continue;
            }
            let waybill = self.waybill(d);
            label::label(self.conn, row.id, &waybill, &ctx)?;
            packed.push(d);
        }
        if packed.is_empty() {
            return Ok(());
        }
        self.seal_for_courier(b, RegistryKind::KaspiHandoff, packed, at, snapshot)
    }

    /// The clerk acting in `ctx` records document `d` lost at the ЦОН (п.23), and draws the act
    /// the next time the branch is open (п.24).
    fn lost_at_the_con(
        &mut self,
        d: usize,
        shipment: ShipmentId,
        cause: &str,
        ctx: &EventContext<'_>,
    ) -> anyhow::Result<()> {
        let act = loss::record_state_loss(
            self.conn,
            shipment,
            loss::StateLoss {
                cause: Text::try_from(cause.to_owned())?,
                circumstances: Text::try_from("Simulated".to_owned())?,
                responsible_employee: Text::try_from(ctx.actor.name.clone())?,
            },
            ctx,
        )?;
        let branch = self.docs[d].branch;
        let next = self.next_open(branch, local_day(ctx.recorded_at), 10, 0);
        self.at(next, Action::DrawAct(d, act));
        Ok(())
    }

    /// The documents back at Kaspi's point go on a return pickup registry (п.32–33).
    pub(super) fn return_pickup(
        &mut self,
        b: usize,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        if !self.working(local_day(at))
            || self.branches[b].is_closed(at)
            || self.branches[b].returned.is_empty()
        {
            return Ok(());
        }
        let docs = std::mem::take(&mut self.branches[b].returned);
        self.seal_for_courier(b, RegistryKind::ReturnPickup, docs, at, snapshot)
    }

    pub(super) fn seal_for_courier(
        &mut self,
        b: usize,
        kind: RegistryKind,
        docs: Vec<usize>,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let ctx = self.staff(b, |b| &b.clerk, at + Duration::minutes(30), snapshot);
        let numbers: Vec<ApplicationNumber> = docs.iter().map(|&d| self.number(d)).collect();
        let branch_id = self.branches[b].id;
        let draft = registries::draft(self.conn, kind, branch_id, &numbers, &ctx)?;
        let sealed = registries::seal(self.conn, draft.id, &ctx)?;
        let number = sealed
            .number
            .ok_or_else(|| anyhow!("a sealed registry has a number"))?;
        // Lost after the registry was sealed (issue 23 trap 1): the courier signs for the rest.
        let (lost, docs): (Vec<usize>, Vec<usize>) = docs
            .into_iter()
            .partition(|&d| self.docs[d].fate.loss == Some(LossPoint::AfterSealing));
        for d in lost {
            let shipment = self.shipment(d)?;
            self.lost_at_the_con(d, shipment, "Утерян после закрытия реестра", &ctx)?;
        }
        // The State courier comes the next working day by 12:00 (п.17, 33), now and then late;
        // the handoff is met when the point accepts the bag an hour later (п.17, 18).
        let model = &mut self.branches[b].model;
        let hour = if model.courier_late() { 13 } else { 10 };
        let minute = model.minutes(60);
        let next = self.next_open(b, local_day(at), hour, minute);
        self.at(
            next,
            Action::Handover(Handover {
                branch: b,
                registry: draft.id,
                number,
                kind,
                docs,
            }),
        );
        Ok(())
    }

    /// The citizen comes to the ЦОН for a document kept there, or never does (then it is
    /// transferred after its month, п.35).
    pub(super) fn con_visit(&mut self, d: usize, ready: DateTime<Utc>) {
        match self.docs[d].fate.con_visit_hours {
            Some(hours) => self.at(ready + Duration::hours(hours), Action::ConVisit(d)),
            None => {
                let month = ready + Duration::days(32);
                self.at(month, Action::Transfer(d));
            }
        }
    }
}
