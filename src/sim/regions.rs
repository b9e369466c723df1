//! Kazakhstan's 20 regions — the 17 oblasts and the 3 cities of national significance — each
//! with its administrative centre, that centre's КАТО code (the classifier of administrative-
//! territorial objects, as of its 2022 edition that added the Abai, Zhetysu and Ulytau
//! oblasts and renamed Kapchagay to Konaev) and the IANA zone the tz database gives that
//! part of the country (zone1970.tab, country KZ).
//!
//! `postamat simulate --national` opens one branch in each centre. A branch code of the table
//! given with `--branches` gets its real centre too; any other code a made-up city.
//!
//! Since 1 March 2024 every zone of Kazakhstan keeps UTC+5, so the zones differ only in their
//! history; a branch still carries its own, as the service's reference data does.

use chrono_tz::Tz;

/// One region and the city its branch is simulated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The simulated branch's code.
    pub branch: &'static str,
    /// The region, in Russian.
    pub region: &'static str,
    /// Its centre, in Russian and in Kazakh.
    pub city_ru: &'static str,
    pub city_kk: &'static str,
    /// The centre's КАТО code.
    pub kato: &'static str,
    pub zone: Tz,
}

const fn region(
    branch: &'static str,
    region: &'static str,
    city_ru: &'static str,
    city_kk: &'static str,
    kato: &'static str,
    zone: Tz,
) -> Region {
    Region {
        branch,
        region,
        city_ru,
        city_kk,
        kato,
        zone,
    }
}

/// The 20 regions, the three cities of national significance first (the pilot's own three
/// branch codes), then the oblasts in the order of their КАТО codes.
pub const REGIONS: [Region; 20] = [
    region(
        "ALM01",
        "город Алматы",
        "Алматы",
        "Алматы",
        "750000000",
        Tz::Asia__Almaty,
    ),
    region(
        "AST01",
        "город Астана",
        "Астана",
        "Астана",
        "710000000",
        Tz::Asia__Almaty,
    ),
    region(
        "SHY01",
        "город Шымкент",
        "Шымкент",
        "Шымкент",
        "790000000",
        Tz::Asia__Almaty,
    ),
    region(
        "SEM01",
        "область Абай",
        "Семей",
        "Семей",
        "101010000",
        Tz::Asia__Almaty,
    ),
    region(
        "KOK01",
        "Акмолинская область",
        "Кокшетау",
        "Көкшетау",
        "111010000",
        Tz::Asia__Almaty,
    ),
    region(
        "AKT01",
        "Актюбинская область",
        "Актобе",
        "Ақтөбе",
        "151010000",
        Tz::Asia__Aqtobe,
    ),
    region(
        "KON01",
        "Алматинская область",
        "Конаев",
        "Қонаев",
        "191010000",
        Tz::Asia__Almaty,
    ),
    region(
        "ATY01",
        "Атырауская область",
        "Атырау",
        "Атырау",
        "231010000",
        Tz::Asia__Atyrau,
    ),
    region(
        "URA01",
        "Западно-Казахстанская область",
        "Уральск",
        "Орал",
        "271010000",
        Tz::Asia__Oral,
    ),
    region(
        "TAR01",
        "Жамбылская область",
        "Тараз",
        "Тараз",
        "311010000",
        Tz::Asia__Almaty,
    ),
    region(
        "TAL01",
        "область Жетісу",
        "Талдыкорган",
        "Талдықорған",
        "331010000",
        Tz::Asia__Almaty,
    ),
    region(
        "KAR01",
        "Карагандинская область",
        "Караганда",
        "Қарағанды",
        "351010000",
        Tz::Asia__Almaty,
    ),
    region(
        "KOS01",
        "Костанайская область",
        "Костанай",
        "Қостанай",
        "391010000",
        Tz::Asia__Qostanay,
    ),
    region(
        "KZO01",
        "Кызылординская область",
        "Кызылорда",
        "Қызылорда",
        "431010000",
        Tz::Asia__Qyzylorda,
    ),
    region(
        "AKU01",
        "Мангистауская область",
        "Актау",
        "Ақтау",
        "471010000",
        Tz::Asia__Aqtau,
    ),
    region(
        "PAV01",
        "Павлодарская область",
        "Павлодар",
        "Павлодар",
        "551010000",
        Tz::Asia__Almaty,
    ),
    region(
        "PET01",
        "Северо-Казахстанская область",
        "Петропавловск",
        "Петропавл",
        "591010000",
        Tz::Asia__Almaty,
    ),
    region(
        "TUR01",
        "Туркестанская область",
        "Туркестан",
        "Түркістан",
        "611010000",
        Tz::Asia__Almaty,
    ),
    region(
        "ZHE01",
        "область Ұлытау",
        "Жезказган",
        "Жезқазған",
        "621010000",
        Tz::Asia__Almaty,
    ),
    region(
        "UKA01",
        "Восточно-Казахстанская область",
        "Усть-Каменогорск",
        "Өскемен",
        "631010000",
        Tz::Asia__Almaty,
    ),
];

/// The region whose branch has this code, if the table has it.
pub fn by_branch(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.branch == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reference::{BranchCode, BranchTimeZone, CityCode};
    use std::collections::HashSet;

    #[test]
    fn twenty_regions_each_once_with_valid_reference_values() {
        let mut branches = HashSet::new();
        let mut katos = HashSet::new();
        let mut oblasts = HashSet::new();
        for r in REGIONS {
            assert!(branches.insert(r.branch), "{} twice", r.branch);
            assert!(katos.insert(r.kato), "{} twice", r.kato);
            // The first two digits of a КАТО code are its region's.
            assert!(
                oblasts.insert(&r.kato[..2]),
                "two branches in region {}",
                &r.kato[..2]
            );
            BranchCode::try_from(r.branch.to_owned()).expect("a valid branch code");
            CityCode::try_from(r.kato.to_owned()).expect("a valid КАТО code");
            BranchTimeZone::try_from(r.zone.name().to_owned()).expect("a Kazakhstan zone");
        }
        assert_eq!(REGIONS.len(), 20);
        // Every zone of Kazakhstan has a region in it.
        let zones: HashSet<_> = REGIONS.iter().map(|r| r.zone).collect();
        assert_eq!(zones.len(), BranchTimeZone::KAZAKHSTAN.len());
        assert_eq!(by_branch("KZO01").map(|r| r.city_ru), Some("Кызылорда"));
        assert_eq!(by_branch("XXX01"), None);
    }

    #[test]
    fn every_zone_keeps_utc_plus_five_in_the_pilot_year() {
        use chrono::{NaiveDate, Offset, TimeZone};
        for r in REGIONS {
            for day in [(2026, 1, 15), (2026, 7, 15)] {
                let at = NaiveDate::from_ymd_opt(day.0, day.1, day.2)
                    .and_then(|d| d.and_hms_opt(12, 0, 0))
                    .expect("a valid day");
                let offset = r.zone.offset_from_utc_datetime(&at).fix();
                assert_eq!(offset.local_minus_utc(), 5 * 3600, "{}", r.zone.name());
            }
        }
    }
}
