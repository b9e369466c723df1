//! The behaviour model of a simulation: how often citizens, the registry office, couriers and
//! Kaspi do what, as rates with documented defaults, and each document's fate drawn from them
//! with one seeded generator. Pure: the same seed and rates give the same fates.

use crate::domain::identifiers::synthetic_iin;
use chrono::NaiveDate;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// The behaviour model's rates (probabilities from 0 to 1).
#[derive(Debug, Clone, clap::Args)]
pub struct Rates {
    /// Share of citizens who choose to collect at the ЦОН rather than from a postamat.
    #[arg(long, default_value_t = 0.25)]
    pub con_share: f64,
    /// Share of executions the registry office reports a working day later than usual.
    #[arg(long, default_value_t = 0.10)]
    pub registry_delay: f64,
    /// Share of handovers the State courier makes after 12:00 (a handoff deadline missed).
    #[arg(long, default_value_t = 0.03)]
    pub courier_late: f64,
    /// Share of envelopes Kaspi places in a cell 1 to 3 days late.
    #[arg(long, default_value_t = 0.10)]
    pub placement_late: f64,
    /// Share of late placements for which Kaspi reports a new delivery date (п.27).
    #[arg(long, default_value_t = 0.5)]
    pub delay_reported: f64,
    /// Share of citizens who never come to the postamat (the document goes back, п.30–35).
    #[arg(long, default_value_t = 0.08)]
    pub no_show: f64,
    /// Share of citizens who collect only after storage has run out (a late truth).
    #[arg(long, default_value_t = 0.02)]
    pub late_collection: f64,
    /// Share of postamat documents lost (half at the accumulation sector, half at Kaspi;
    /// п.22–23).
    #[arg(long, default_value_t = 0.002)]
    pub loss: f64,
    /// Share of losses disputed before a commission (п.36).
    #[arg(long, default_value_t = 0.3)]
    pub dispute: f64,
    /// Share of citizens who never come to the ЦОН for a document kept there (transferred
    /// after a month, п.35).
    #[arg(long, default_value_t = 0.05)]
    pub con_no_show: f64,
    /// Share of postamat documents lost at the accumulation sector after their handoff registry
    /// was sealed (issue 23 trap 1: the courier signs for the rest).
    #[arg(long, default_value_t = 0.001)]
    pub lost_after_sealing: f64,
    /// Share of envelopes the Kaspi point does not accept (п.18; issue 23 trap 2: the State
    /// courier brings them back and they go onto the next registry).
    #[arg(long, default_value_t = 0.003)]
    pub not_accepted: f64,
    /// Share of postamat documents whose postamat changes while at Kaspi's point: the citizen's
    /// choice or the postamat out of service (issue 23 trap 3, п.4).
    #[arg(long, default_value_t = 0.01)]
    pub postamat_change: f64,
    /// Share of citizens who ask in the Kaspi app for the ЦОН instead while the document is at
    /// Kaspi's point (issue 23 trap 3: it comes back by the return path).
    #[arg(long, default_value_t = 0.005)]
    pub con_instead: f64,
    /// Share of placed documents Kaspi takes out of their cell the day after, before storage
    /// ends, and brings back to its point (issue 23 trap 4, п.29: flagged).
    #[arg(long, default_value_t = 0.002)]
    pub removed_early: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            con_share: 0.25,
            registry_delay: 0.10,
            courier_late: 0.03,
            placement_late: 0.10,
            delay_reported: 0.5,
            no_show: 0.08,
            late_collection: 0.02,
            loss: 0.002,
            dispute: 0.3,
            con_no_show: 0.05,
            lost_after_sealing: 0.001,
            not_accepted: 0.003,
            postamat_change: 0.01,
            con_instead: 0.005,
            removed_early: 0.002,
        }
    }
}

impl Rates {
    /// Every rate is a probability; the two collection rates leave room for collectors.
    pub fn check(&self) -> Result<(), String> {
        let all = [
            ("con-share", self.con_share),
            ("registry-delay", self.registry_delay),
            ("courier-late", self.courier_late),
            ("placement-late", self.placement_late),
            ("delay-reported", self.delay_reported),
            ("no-show", self.no_show),
            ("late-collection", self.late_collection),
            ("loss", self.loss),
            ("dispute", self.dispute),
            ("con-no-show", self.con_no_show),
            ("lost-after-sealing", self.lost_after_sealing),
            ("not-accepted", self.not_accepted),
            ("postamat-change", self.postamat_change),
            ("con-instead", self.con_instead),
            ("removed-early", self.removed_early),
        ];
        for (name, rate) in all {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("--{name} must be between 0 and 1, got {rate}"));
            }
        }
        if self.no_show + self.late_collection > 1.0 {
            return Err("--no-show and --late-collection add up to more than 1".into());
        }
        Ok(())
    }
}

/// Where a document is lost, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossPoint {
    /// At the accumulation sector, before labelling (п.23).
    AccumulationSector,
    /// At the accumulation sector, packed on a sealed registry the courier has not signed for
    /// yet (п.23; issue 23 trap 1).
    AfterSealing,
    /// At Kaspi, after its point accepted it (п.22).
    Kaspi,
}

/// When a citizen collects from the postamat, counted from the placement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Collection {
    AfterHours(i64),
    /// After storage ran out: this many hours after its end.
    AfterExpiry(i64),
    Never,
}

/// Everything that will happen to one document, drawn when the citizen applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Fate {
    pub at_con: bool,
    /// Which of the branch's postamats (an index).
    pub postamat: usize,
    pub extra_execution_days: u32,
    pub loss: Option<LossPoint>,
    pub disputed: bool,
    /// Days Kaspi places the envelope late (0: on time).
    pub placement_late_days: u32,
    pub delay_reported: bool,
    pub collection: Collection,
    /// Hours after the document is ready at the ЦОН that the citizen comes (`None`: never).
    pub con_visit_hours: Option<i64>,
    /// The Kaspi point leaves the envelope off its acceptance (п.18).
    pub not_accepted: bool,
    /// Kaspi reports another postamat while the document waits at its point (п.4).
    pub postamat_change: bool,
    /// The citizen asks for the ЦОН instead while the document waits at Kaspi's point.
    pub con_instead: bool,
    /// Kaspi takes it out of its cell the day after placing it (п.29).
    pub removed_early: bool,
}

/// The seeded generator every random choice of one branch comes from, in that branch's order.
/// Each branch draws from a stream of its own, so what one branch's citizens and staff do
/// depends neither on the other branches nor on how the branches are spread over lanes.
pub struct Model {
    /// ChaCha12 by name, not `StdRng` (which rand may change): the same seed, the same run.
    rng: ChaCha12Rng,
    rates: Rates,
}

impl Model {
    /// The generator of the branch at `stream` (its place in the run's list of branches).
    pub fn new(seed: u64, stream: u64, rates: Rates) -> Self {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Model { rng, rates }
    }

    pub fn fate(&mut self, postamats: usize) -> Fate {
        let r = &self.rates;
        let rng = &mut self.rng;
        let at_con = rng.random_bool(r.con_share);
        // Postamat documents only: a ЦОН document goes straight to the issuance sector.
        let loss = (!at_con && rng.random_bool(r.loss)).then(|| {
            if rng.random_bool(0.5) {
                LossPoint::AccumulationSector
            } else {
                LossPoint::Kaspi
            }
        });
        let loss = loss.or_else(|| {
            (!at_con && rng.random_bool(r.lost_after_sealing)).then_some(LossPoint::AfterSealing)
        });
        // Issue 23's paths, for documents on their way to a postamat: at most one each.
        let not_accepted = !at_con && loss.is_none() && rng.random_bool(r.not_accepted);
        let con_instead = !at_con && loss.is_none() && rng.random_bool(r.con_instead);
        let postamat_change =
            !at_con && loss.is_none() && !con_instead && rng.random_bool(r.postamat_change);
        let removed_early =
            !at_con && loss.is_none() && !con_instead && rng.random_bool(r.removed_early);
        let placement_late_days = if rng.random_bool(r.placement_late) {
            rng.random_range(1..=3)
        } else {
            0
        };
        let collection = {
            let roll: f64 = rng.random();
            if roll < r.no_show {
                Collection::Never
            } else if roll < r.no_show + r.late_collection {
                Collection::AfterExpiry(rng.random_range(2..=30))
            } else {
                Collection::AfterHours(rng.random_range(1..=60))
            }
        };
        Fate {
            at_con,
            postamat: rng.random_range(0..postamats.max(1)),
            extra_execution_days: u32::from(rng.random_bool(r.registry_delay)),
            disputed: loss.is_some() && rng.random_bool(r.dispute),
            loss,
            delay_reported: placement_late_days > 0 && rng.random_bool(r.delay_reported),
            placement_late_days,
            collection,
            con_visit_hours: (!rng.random_bool(r.con_no_show)).then(|| rng.random_range(2..=120)),
            not_accepted,
            postamat_change,
            con_instead,
            removed_early,
        }
    }

    /// Whether the courier of this handover comes after 12:00.
    pub fn courier_late(&mut self) -> bool {
        self.rng.random_bool(self.rates.courier_late)
    }

    /// Minutes after the hour something happens, to spread a day's events.
    pub fn minutes(&mut self, up_to: u32) -> u32 {
        self.rng.random_range(0..up_to.max(1))
    }

    /// A valid IIN of a person born between 1960 and 2005.
    pub fn iin(&mut self) -> String {
        let born = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()
            + chrono::Days::new(self.rng.random_range(0..(46 * 365)));
        let century = if born < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() {
            self.rng.random_range(3..=4)
        } else {
            self.rng.random_range(5..=6)
        };
        // Below 9990 the serials tried never wrap past 9999, so a seed draws the IINs it always did.
        let serial: u32 = self.rng.random_range(0..9990);
        synthetic_iin(&born.format("%y%m%d").to_string(), century, serial)
    }

    /// A Kazakhstan mobile number (code 701, 702, 705, 707, 747, 771, 775, 777, 778).
    pub fn phone(&mut self) -> String {
        const CODES: [u32; 9] = [701, 702, 705, 707, 747, 771, 775, 777, 778];
        let code = CODES[self.rng.random_range(0..CODES.len())];
        format!("+7{code}{:07}", self.rng.random_range(0..10_000_000u32))
    }

    pub fn name(&mut self) -> &'static str {
        const NAMES: [&str; 8] = [
            "Нұрланова Айгерім",
            "Серіков Нұрлан",
            "Ахметова Дана",
            "Омаров Ерлан",
            "Жақсыбекова Гүлнар",
            "Касымов Арман",
            "Иванова Мария",
            "Тұрсынов Бауыржан",
        ];
        NAMES[self.rng.random_range(0..NAMES.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifiers::Iin;

    #[test]
    fn the_same_seed_draws_the_same_fates() {
        let draw = |seed| {
            let mut m = Model::new(seed, 0, Rates::default());
            (0..200).map(|_| m.fate(5)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // Each branch has a stream of its own under the run's seed.
        let stream = |n| {
            let mut m = Model::new(7, n, Rates::default());
            (0..200).map(|_| m.fate(5)).collect::<Vec<_>>()
        };
        assert_eq!(stream(0), draw(7));
        assert_ne!(stream(1), stream(0));
        assert_eq!(stream(1), stream(1));
    }

    #[test]
    fn generated_identifiers_are_valid() {
        let mut m = Model::new(1, 0, Rates::default());
        for _ in 0..500 {
            Iin::try_from(m.iin()).unwrap();
            crate::domain::identifiers::Phone::try_from(m.phone()).unwrap();
        }
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        let mut rates = Rates::default();
        assert!(rates.check().is_ok());
        rates.loss = 1.5;
        assert!(rates.check().unwrap_err().contains("--loss"));
        let rates = Rates {
            no_show: 0.7,
            late_collection: 0.5,
            ..Rates::default()
        };
        assert!(rates.check().is_err());
    }

    #[test]
    fn rates_shape_the_fates() {
        let rates = Rates {
            con_share: 1.0,
            ..Rates::default()
        };
        let mut m = Model::new(3, 0, rates);
        assert!((0..100).all(|_| m.fate(3).at_con));
        let rates = Rates {
            no_show: 1.0,
            late_collection: 0.0,
            ..Rates::default()
        };
        let mut m = Model::new(3, 0, rates);
        assert!((0..100).all(|_| m.fate(3).collection == Collection::Never));
    }
}
