//! `Pilot`: a [`TestApp`] with the pilot's two branches and postamats and a key for every
//! role, and the steps the tests take through it, gathered by what they do.

mod applications;
mod database;
mod jobs;
mod kaspi;
mod reads;
mod registries;

pub use database::applied;
pub use kaspi::{EVENTS, accepted_event, event, placed_event};
pub use reads::{Note, deadline, deadline_state};

use crate::common::TestApp;
use postamat::domain::identifiers::synthetic_iin;
use postamat::domain::role::Role;
use serde_json::json;

/// A valid IIN for a serial number (born 1987-04-12).
pub fn iin(serial: u32) -> String {
    synthetic_iin("870412", 3, serial)
}

pub struct Pilot {
    pub app: TestApp,
    pub kaspi: String,
    pub registry_office: String,
    pub clerk: String,
    pub courier: String,
    pub issuance: String,
    pub other_clerk: String,
}

impl Pilot {
    pub async fn new() -> Pilot {
        let app = TestApp::new().await;
        let admin = app.admin().await;
        app.branch(&admin, "ALM01", "Алматы").await;
        app.branch(&admin, "AST01", "Астана").await;
        for (id, city) in [("PST-ALA-1", "Алматы"), ("PST-AST-1", "Астана")] {
            app.put(
                &format!("/api/v1/postamats/{id}"),
                Some(&admin),
                &json!({"city": city, "city_code": crate::common::kato(city), "address_kk": "Абай даңғ., 1", "address_ru": "пр. Абая, 1"}),
            )
            .await
            .assert_status(201);
        }
        Pilot {
            kaspi: app.token(Role::Kaspi, None).await,
            registry_office: app.token(Role::RegistryOffice, None).await,
            clerk: app.token(Role::AccumulationClerk, Some("ALM01")).await,
            courier: app.token(Role::StateCourier, Some("ALM01")).await,
            issuance: app.token(Role::IssuanceClerk, Some("ALM01")).await,
            other_clerk: app.token(Role::AccumulationClerk, Some("AST01")).await,
            app,
        }
    }

    pub fn set_clock(&self, rfc3339: &str) {
        self.app.clock.set(rfc3339.parse().unwrap());
    }

    /// A second postamat in Almaty.
    pub async fn second_postamat(&self) {
        let admin = self.app.admin().await;
        self.app
            .put(
                "/api/v1/postamats/PST-ALA-2",
                Some(&admin),
                &json!({"city": "Алматы", "city_code": crate::common::kato("Алматы"),
                        "address_kk": "Достық даңғ., 5", "address_ru": "пр. Достык, 5"}),
            )
            .await
            .assert_status(201);
    }
}
