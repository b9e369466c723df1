//! What the citizen is told (DOMAIN.md §7), in Kazakh or Russian, in the short, polite style of
//! the state's SMS (see `sms-birth-registration-example.ru.md`).

mod sms;
mod texts;

pub use sms::{SmsEncoding, sms_segments};
pub use texts::{Facts, render};

use crate::domain::application::DeliveryChangeReason;
use crate::domain::ids::ShipmentId;
use crate::domain::loss::LossSide;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The language of a citizen's messages (chosen in the Kaspi app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Kk,
    Ru,
}

names!(Language {
    Kk => "kk",
    Ru => "ru",
});

/// A text in both languages of the State Corporation (an address, a name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bilingual {
    pub kk: String,
    pub ru: String,
}

impl Bilingual {
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Kk => &self.kk,
            Language::Ru => &self.ru,
        }
    }
}

/// Messages to the citizen (DOMAIN.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// п.28: in postamat X, collect by D (Kaspi app).
    PlacedInCell,
    /// п.27: delayed, new date (Kaspi app).
    DeliveryLate,
    /// п.25: cancelled, how to get a free duplicate (Kaspi app + SMS 1414).
    CancelledAfterLoss,
    /// п.34: moved to the State Corporation, where to collect (Kaspi app + SMS 1414).
    ReturnedToStateCorporation,
    /// A day before storage ends (п.29): collect by D (Kaspi app). Sent by the sweeper, not by a
    /// transition.
    StorageReminder,
    /// Issue 23: the document goes to another postamat in the city (п.4); told in the Kaspi app
    /// as the placement is (п.28).
    PostamatChanged,
    /// Issue 23, п.3, 14: the document will be issued at the ЦОН instead (Kaspi app + SMS 1414,
    /// as every message that sends the citizen to the ЦОН).
    ReroutedToCon,
}

names!(NotificationKind {
    PlacedInCell => "placed_in_cell",
    DeliveryLate => "delivery_late",
    CancelledAfterLoss => "cancelled_after_loss",
    ReturnedToStateCorporation => "returned_to_state_corporation",
    StorageReminder => "storage_reminder",
    PostamatChanged => "postamat_changed",
    ReroutedToCon => "rerouted_to_con",
});

impl NotificationKind {
    /// How the citizen is told (DOMAIN.md §7): the Kaspi app always; SMS 1414 as well where the
    /// order names it (п.25, 34).
    pub fn channels(self) -> &'static [Channel] {
        match self {
            NotificationKind::CancelledAfterLoss
            | NotificationKind::ReturnedToStateCorporation
            | NotificationKind::ReroutedToCon => &[Channel::KaspiApp, Channel::Sms1414],
            NotificationKind::PlacedInCell
            | NotificationKind::DeliveryLate
            | NotificationKind::StorageReminder
            | NotificationKind::PostamatChanged => &[Channel::KaspiApp],
        }
    }
}

/// Where a lost document was, as the cancellation tells the citizen (п.25): "lost during
/// delivery" is only true once it has left the State Corporation (issue 22, item 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostWhere {
    /// Before any delivery: at the registry office's pickup, the accumulation or the issuance
    /// sector.
    AtStateCorporation,
    /// On its way to the citizen: with the State courier, at Kaspi, or on its way back.
    InDelivery,
}

impl LostWhere {
    /// Where a document was lost, by the state it was lost from.
    pub fn from_state(before: crate::domain::shipment::ShipmentState) -> LostWhere {
        use crate::domain::shipment::ShipmentState as S;
        match before {
            S::ReadyAtRegistryOffice
            | S::AtAccumulationSector
            | S::Packed
            | S::AtIssuanceSector => LostWhere::AtStateCorporation,
            _ => LostWhere::InDelivery,
        }
    }
}

/// Why a document came back to the State Corporation, as the п.34 message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnedWhy {
    /// Not collected in its 3 days (п.29–30).
    NotCollected,
    /// The citizen asked for the ЦОН instead (issue 23).
    Rerouted,
    /// Kaspi took it out of its cell before the citizen's days ended and brought it back
    /// (issue 23, п.29): not the citizen's doing.
    RemovedEarly,
}

/// How a message reaches the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A push in the Kaspi app; the app finds its user by the phone number.
    KaspiApp,
    /// An SMS through the 1414 gateway.
    // serde's snake_case would write `sms1414`; the gateway and the database say `sms_1414`.
    #[serde(rename = "sms_1414")]
    Sms1414,
}

names!(Channel {
    KaspiApp => "kaspi_app",
    Sms1414 => "sms_1414",
});

/// п.27: the date to announce for a delay Kaspi reported, or `None` when no message is due.
/// The citizen keeps one date: a report older than another one already received (it arrived
/// late) or whose date is already past (`today`, the branch's local date) announces nothing.
pub fn kaspi_delay_date(
    reported: NaiveDate,
    newer_report_exists: bool,
    today: NaiveDate,
) -> Option<NaiveDate> {
    (!newer_report_exists && reported >= today).then_some(reported)
}

/// п.27: the date the sweeper announces when a delivery deadline passes, or `None`. When Kaspi
/// has given the citizen a date that is still ahead (`kaspi_latest`, its newest report), that
/// date stands and the sweeper says nothing; otherwise it announces `next_working_day`, which
/// is after `today` and so never a date already past.
pub fn sweeper_delay_date(
    kaspi_latest: Option<NaiveDate>,
    today: NaiveDate,
    next_working_day: NaiveDate,
) -> Option<NaiveDate> {
    match kaspi_latest {
        Some(kaspi) if kaspi >= today => None,
        _ => (next_working_day > today).then_some(next_working_day),
    }
}

/// The one dedup key of a citizen's message: the same cause, written twice or by two paths, is
/// one message. `cause` tells apart messages of one kind that are meant to be separate (two
/// delays announcing two dates).
pub fn dedup_key(
    shipment: ShipmentId,
    kind: NotificationKind,
    cause: Option<&str>,
    channel: Channel,
) -> String {
    match cause {
        Some(cause) => format!("{shipment}:{kind}:{cause}:{channel}"),
        None => format!("{shipment}:{kind}:{channel}"),
    }
}

/// Where a message in an outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Sent,
    /// Given up on (a 4xx, or too many failed attempts): for a supervisor to look at.
    Dead,
}

names!(DeliveryState {
    Pending => "pending",
    Sent => "sent",
    Dead => "dead",
});

/// The two outboxes the dispatcher delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outbox {
    /// Messages to citizens (SMS 1414, Kaspi app).
    Notifications,
    /// Messages to other systems (Kaspi, the registry office).
    Outbound,
}

/// The other systems we send messages to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    Kaspi,
    RegistryOffice,
}

names!(Destination {
    Kaspi => "kaspi",
    RegistryOffice => "registry_office",
});

/// What we send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboundKind {
    /// п.8: Kaspi creates the delivery order once the final status is known.
    CreateOrder,
    /// п.24: the second copy of a loss act, for the registry office.
    LossAct,
    /// Issue 23 (п.3, 8, 14): the document is issued at the ЦОН instead; Kaspi, asked for an
    /// order at the execution (п.8), is to stop delivering it (and bring it back to its point,
    /// п.30–31, if it has it).
    CancelDelivery,
}

names!(OutboundKind {
    CreateOrder => "create_order",
    LossAct => "loss_act",
    CancelDelivery => "cancel_delivery",
});

/// The body of a message to a citizen, as the 1414 and Kaspi-app gateways receive it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GatewayMessage {
    /// Our id of the message, also sent as `Idempotency-Key`: a repeat is the same message.
    pub message_id: String,
    pub channel: Channel,
    /// The citizen's phone number, `+7XXXXXXXXXX`.
    pub recipient: Option<String>,
    /// The text, in the citizen's language.
    pub text: String,
}

/// What we ask of Kaspi: the body of a signed request to its API, told apart by `request`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum KaspiRequest {
    /// п.8: the registry office executed the application; Kaspi creates the delivery order.
    CreateOrder {
        application_number: String,
        /// The postamat the citizen chose (Kaspi's id).
        postamat_id: Option<String>,
        executed_at: DateTime<Utc>,
    },
    /// Issue 23 (п.3, 8, 14): the document is issued at the ЦОН instead; stop delivering it, and
    /// bring it back to the point (п.30–31) if Kaspi holds it.
    CancelDelivery {
        application_number: String,
        kaspi_order_id: Option<String>,
        waybill: Option<String>,
        reason: DeliveryChangeReason,
        /// The envelope is on its way back to, or at, Kaspi's point.
        return_to_point: bool,
        requested_at: DateTime<Utc>,
    },
}

impl KaspiRequest {
    pub fn kind(&self) -> OutboundKind {
        match self {
            KaspiRequest::CreateOrder { .. } => OutboundKind::CreateOrder,
            KaspiRequest::CancelDelivery { .. } => OutboundKind::CancelDelivery,
        }
    }
}

/// п.24: the second copy of a loss act, for the registry office.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LossActCopy {
    /// Our act's number, e.g. `ALM01-2026-А-000001`.
    pub loss_act_number: String,
    pub application_number: String,
    /// Whose side lost it.
    pub side: LossSide,
    /// Kaspi's own act, when Kaspi lost it (п.22).
    pub kaspi_act_number: Option<String>,
    pub cause: String,
    pub circumstances: String,
    pub responsible_employee: String,
    pub drawn_at: DateTime<Utc>,
}

/// When a message may go out if `local` falls in the quiet hours `[start, end)` (which may wrap
/// midnight, like 21:00–09:00); `None` if it may go now.
pub fn quiet_until(
    local: chrono::NaiveDateTime,
    start: chrono::NaiveTime,
    end: chrono::NaiveTime,
) -> Option<chrono::NaiveDateTime> {
    let time = local.time();
    let today = local.date();
    let tomorrow = today.succ_opt()?;
    if start <= end {
        (time >= start && time < end).then(|| today.and_time(end))
    } else if time >= start {
        Some(tomorrow.and_time(end))
    } else if time < end {
        Some(today.and_time(end))
    } else {
        None
    }
}

/// The wait before retry `attempt` (1-based): 30 s doubling to at most an hour, scaled by
/// `jitter` in [0.5, 1.0] so that retries of many messages spread out.
pub fn backoff(attempt: u32, jitter: f64) -> std::time::Duration {
    let base = 30u64
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(16))
        .min(3600);
    std::time::Duration::from_secs_f64(base as f64 * jitter.clamp(0.5, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outbound bodies, literally, as the gateways, Kaspi and the registry office have read
    /// them since before they were types (plus `request` on create_order, added in 0.3.0).
    #[test]
    fn outbound_bodies_keep_their_wire_form() {
        use serde_json::json;
        let at = DateTime::parse_from_rfc3339("2026-12-07T09:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let message = GatewayMessage {
            message_id: "m-1".into(),
            channel: Channel::Sms1414,
            recipient: Some("+77011234567".into()),
            text: "Сәлем".into(),
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"message_id": "m-1", "channel": "sms_1414", "recipient": "+77011234567",
                   "text": "Сәлем"})
        );
        assert_eq!(
            serde_json::to_value(Channel::KaspiApp).unwrap(),
            json!(Channel::KaspiApp.as_str())
        );
        let create = KaspiRequest::CreateOrder {
            application_number: "A-1".into(),
            postamat_id: Some("PST-1".into()),
            executed_at: at,
        };
        assert_eq!(
            serde_json::to_value(&create).unwrap(),
            json!({"request": "create_order", "application_number": "A-1",
                   "postamat_id": "PST-1", "executed_at": "2026-12-07T09:30:00Z"})
        );
        let cancel = KaspiRequest::CancelDelivery {
            application_number: "A-1".into(),
            kaspi_order_id: Some("K-1".into()),
            waybill: None,
            reason: DeliveryChangeReason::PilotEnded,
            return_to_point: true,
            requested_at: at,
        };
        assert_eq!(
            serde_json::to_value(&cancel).unwrap(),
            json!({"request": "cancel_delivery", "application_number": "A-1",
                   "kaspi_order_id": "K-1", "waybill": null, "reason": "pilot_ended",
                   "return_to_point": true, "requested_at": "2026-12-07T09:30:00Z"})
        );
        let copy = LossActCopy {
            loss_act_number: "ALM01-2026-000001".into(),
            application_number: "A-1".into(),
            side: LossSide::StateCorporation,
            kaspi_act_number: None,
            cause: "c".into(),
            circumstances: "s".into(),
            responsible_employee: "e".into(),
            drawn_at: at,
        };
        assert_eq!(
            serde_json::to_value(&copy).unwrap(),
            json!({"loss_act_number": "ALM01-2026-000001", "application_number": "A-1",
                   "side": "state_corporation", "kaspi_act_number": null, "cause": "c",
                   "circumstances": "s", "responsible_employee": "e",
                   "drawn_at": "2026-12-07T09:30:00Z"})
        );
    }

    #[test]
    fn a_late_or_past_kaspi_delay_announces_nothing() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        assert_eq!(kaspi_delay_date(d(29), false, d(20)), Some(d(29)));
        assert_eq!(kaspi_delay_date(d(20), false, d(20)), Some(d(20)));
        assert_eq!(kaspi_delay_date(d(29), true, d(20)), None);
        assert_eq!(kaspi_delay_date(d(19), false, d(20)), None);
    }

    #[test]
    fn the_sweeper_keeps_kaspis_date_while_it_is_ahead() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        assert_eq!(sweeper_delay_date(Some(d(29)), d(20), d(23)), None);
        assert_eq!(sweeper_delay_date(Some(d(20)), d(20), d(23)), None);
        assert_eq!(sweeper_delay_date(Some(d(18)), d(20), d(23)), Some(d(23)));
        assert_eq!(sweeper_delay_date(None, d(20), d(23)), Some(d(23)));
        assert_eq!(sweeper_delay_date(None, d(20), d(20)), None);
    }

    #[test]
    fn placed_in_cell_names_the_postamat_and_the_last_day_in_both_languages() {
        let facts = Facts::PlacedInCell {
            application_number: "A-1",
            postamat_address: "ул. Толе би, 55",
            collect_by: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
        };
        let ru = render(&facts, Language::Ru);
        assert!(
            ru.contains("A-1") && ru.contains("ул. Толе би, 55") && ru.contains("02.01.2027"),
            "{ru}"
        );
        let kk = render(&facts, Language::Kk);
        assert!(
            kk.contains("постаматында") && kk.contains("02.01.2027"),
            "{kk}"
        );
    }

    #[test]
    fn sms_are_counted_in_gsm7_or_ucs2_segments() {
        assert_eq!(sms_segments(&"a".repeat(160)), (SmsEncoding::Gsm7, 1));
        assert_eq!(sms_segments(&"a".repeat(161)), (SmsEncoding::Gsm7, 2));
        assert_eq!(sms_segments(&"{".repeat(80)), (SmsEncoding::Gsm7, 1));
        assert_eq!(sms_segments(&"ә".repeat(70)), (SmsEncoding::Ucs2, 1));
        assert_eq!(sms_segments(&"ә".repeat(71)), (SmsEncoding::Ucs2, 2));
        assert_eq!(sms_segments(&"ж".repeat(135)), (SmsEncoding::Ucs2, 3));
    }

    #[test]
    fn quiet_hours_wrap_midnight_and_end_at_nine() {
        use chrono::NaiveTime;
        let (start, end) = (
            NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        );
        let at = |d: u32, h: u32, m: u32| {
            NaiveDate::from_ymd_opt(2026, 3, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        assert_eq!(quiet_until(at(20, 22, 15), start, end), Some(at(21, 9, 0)));
        assert_eq!(quiet_until(at(21, 3, 0), start, end), Some(at(21, 9, 0)));
        assert_eq!(quiet_until(at(21, 9, 0), start, end), None);
        assert_eq!(quiet_until(at(21, 20, 59), start, end), None);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(backoff(1, 1.0).as_secs(), 30);
        assert_eq!(backoff(2, 1.0).as_secs(), 60);
        assert_eq!(backoff(4, 1.0).as_secs(), 240);
        assert_eq!(backoff(20, 1.0).as_secs(), 3600);
        assert_eq!(backoff(2, 0.5).as_secs(), 30);
    }

    #[test]
    fn the_return_message_fits_an_sms_and_names_the_branch() {
        let returned = Facts::ReturnedToStateCorporation {
            application_number: "002641234567",
            branch_address: "г. Алматы, пр. Абая, 10",
            why: ReturnedWhy::NotCollected,
        };
        // Issue 23: sent to the ЦОН at the citizen's request, and told so.
        let rerouted = Facts::ReturnedToStateCorporation {
            application_number: "002641234567",
            branch_address: "г. Алматы, пр. Абая, 10",
            why: ReturnedWhy::Rerouted,
        };
        let removed_early = Facts::ReturnedToStateCorporation {
            application_number: "002641234567",
            branch_address: "г. Алматы, пр. Абая, 10",
            why: ReturnedWhy::RemovedEarly,
        };
        let con_instead = Facts::ReroutedToCon {
            application_number: "002641234567",
            branch_address: "г. Алматы, пр. Абая, 10",
            pilot_ended: false,
        };
        // Issue 25: the pilot over, the citizen is told why.
        let pilot_over = Facts::ReroutedToCon {
            application_number: "002641234567",
            branch_address: "г. Алматы, пр. Абая, 10",
            pilot_ended: true,
        };
        let cancelled = Facts::CancelledAfterLoss {
            application_number: "002641234567",
            branch_address: "г. Алматы, пр. Абая, 10",
            lost: LostWhere::InDelivery,
        };
        let cancelled_at_con = Facts::CancelledAfterLoss {
            application_number: "002641234567",
            branch_address: "г. Алматы, пр. Абая, 10",
            lost: LostWhere::AtStateCorporation,
        };
        for (facts, language) in [
            &returned,
            &rerouted,
            &removed_early,
            &con_instead,
            &pilot_over,
            &cancelled,
            &cancelled_at_con,
        ]
        .into_iter()
        .flat_map(|f| [(f, Language::Kk), (f, Language::Ru)])
        {
            let text = render(facts, language);
            assert!(text.contains("Абая, 10"), "{text}");
            let (encoding, segments) = sms_segments(&text);
            assert_eq!(encoding, SmsEncoding::Ucs2);
            assert!(segments <= 3, "{segments} segments: {text}");
        }
    }

    /// п.25–26: the cancellation says where the duplicate is given, that it is free, within 3
    /// working days, what to bring, and where the document was lost.
    #[test]
    fn a_cancellation_tells_how_to_get_the_free_duplicate_and_where_it_was_lost() {
        let facts = |lost| Facts::CancelledAfterLoss {
            application_number: "A-1",
            branch_address: "пр. Абая, 10",
            lost,
        };
        let ru = render(&facts(LostWhere::AtStateCorporation), Language::Ru);
        for part in [
            "бесплатно",
            "3 рабочих дня",
            "пр. Абая, 10",
            "удостоверение личности",
        ] {
            assert!(ru.contains(part), "{part}: {ru}");
        }
        assert!(
            ru.contains("в Госкорпорации") && !ru.contains("при доставке"),
            "{ru}"
        );
        let kk = render(&facts(LostWhere::AtStateCorporation), Language::Kk);
        for part in [
            "тегін",
            "3 жұмыс күнінде",
            "пр. Абая, 10",
            "Жеке куәлігіңізді",
        ] {
            assert!(kk.contains(part), "{part}: {kk}");
        }
        assert!(!kk.contains("жеткізу кезінде"), "{kk}");
        assert!(render(&facts(LostWhere::InDelivery), Language::Ru).contains("при доставке"));
        assert!(render(&facts(LostWhere::InDelivery), Language::Kk).contains("жеткізу кезінде"));
        use crate::domain::shipment::ShipmentState as S;
        assert_eq!(
            LostWhere::from_state(S::Packed),
            LostWhere::AtStateCorporation
        );
        assert_eq!(
            LostWhere::from_state(S::HandedToCourier),
            LostWhere::InDelivery
        );
        assert_eq!(
            LostWhere::from_state(S::PlacedInCell),
            LostWhere::InDelivery
        );
    }

    #[test]
    fn a_delay_gives_the_new_date() {
        let facts = Facts::DeliveryLate {
            application_number: "A-1",
            new_date: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
        };
        assert!(render(&facts, Language::Ru).contains("30.03.2026"));
        assert!(render(&facts, Language::Kk).contains("30.03.2026"));
    }
}
