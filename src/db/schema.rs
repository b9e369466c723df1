// One schema for both backends. Ids use the custom `Uuid` SQL type (`uuid` on PostgreSQL,
// text on SQLite); instants use `UtcTime` (see `db::time`).

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    api_keys (id) {
        id -> Uuid,
        name -> Text,
        role -> Text,
        branch_id -> Nullable<Uuid>,
        token_prefix -> Text,
        token_hash -> Text,
        created_at -> UtcTime,
        revoked_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    branches (id) {
        id -> Uuid,
        code -> Text,
        name_kk -> Text,
        name_ru -> Text,
        city -> Text,
        address_kk -> Text,
        address_ru -> Text,
        time_zone -> Text,
        created_at -> UtcTime,
        updated_at -> UtcTime,
        city_code -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    postamats (id) {
        id -> Uuid,
        kaspi_id -> Text,
        city -> Text,
        city_key -> Text,
        address_kk -> Text,
        address_ru -> Text,
        created_at -> UtcTime,
        updated_at -> UtcTime,
        city_code -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    service_bootstrap (id) {
        id -> Integer,
        admin_key_id -> Uuid,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::time::UtcTime;

    calendar_years (year) {
        year -> Integer,
        kurban_ait -> Nullable<Date>,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    calendar_edits (version) {
        version -> BigInt,
        year -> Integer,
        action -> Text,
        date -> Nullable<Date>,
        kind -> Nullable<Text>,
        name_kk -> Nullable<Text>,
        name_ru -> Nullable<Text>,
        reason -> Text,
        key_id -> Uuid,
        actor_name -> Text,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    force_majeure_periods (id) {
        id -> Uuid,
        branch_id -> Nullable<Uuid>,
        starts_at -> UtcTime,
        ends_at -> Nullable<UtcTime>,
        reason -> Text,
        document_ref -> Nullable<Text>,
        created_by -> Uuid,
        created_at -> UtcTime,
        ended_by -> Nullable<Uuid>,
        end_recorded_at -> Nullable<UtcTime>,
        notice_reference -> Nullable<Text>,
        notice_recorded_at -> Nullable<UtcTime>,
        notice_recorded_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    applications (id) {
        id -> Uuid,
        number -> Text,
        registry_office_code -> Text,
        applicant_iin -> Text,
        applicant_name -> Text,
        phone -> Text,
        language -> Text,
        delivery_method -> Text,
        postamat_id -> Nullable<Uuid>,
        branch_id -> Uuid,
        status -> Text,
        submitted_at -> UtcTime,
        payload_hash -> Text,
        created_at -> UtcTime,
        updated_at -> UtcTime,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    shipments (id) {
        id -> Uuid,
        application_id -> Uuid,
        kind -> Text,
        branch_id -> Uuid,
        delivery_method -> Text,
        status -> Text,
        kaspi_order_id -> Nullable<Text>,
        waybill -> Nullable<Text>,
        registry_office_registry -> Nullable<Text>,
        issued_to -> Nullable<Text>,
        recipient_iin -> Nullable<Text>,
        recipient_name -> Nullable<Text>,
        power_of_attorney -> Nullable<Text>,
        postamat_cell -> Nullable<Text>,
        version -> Integer,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    status_events (id) {
        id -> Uuid,
        application_id -> Uuid,
        shipment_id -> Nullable<Uuid>,
        event -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_role -> Nullable<Text>,
        actor_key_id -> Nullable<Uuid>,
        actor_name -> Text,
        source -> Text,
        external_event_id -> Nullable<Text>,
        details -> Nullable<Text>,
        occurred_at -> UtcTime,
        recorded_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::time::UtcTime;

    data_revisions (name) {
        name -> Text,
        applied_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    deadlines (id) {
        id -> Uuid,
        shipment_id -> Uuid,
        kind -> Text,
        started_at -> UtcTime,
        due_at -> UtcTime,
        calendar_version -> BigInt,
        state -> Text,
        resolved_at -> Nullable<UtcTime>,
        sweep_attempts -> Integer,
        sweep_after -> Nullable<UtcTime>,
        sweep_error -> Nullable<Text>,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::time::UtcTime;

    integration_events (source, event_id) {
        source -> Text,
        event_id -> Text,
        kind -> Text,
        application_number -> Text,
        payload_hash -> Text,
        response_status -> Integer,
        response -> Text,
        received_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    registries (id) {
        id -> Uuid,
        branch_id -> Uuid,
        kind -> Text,
        state -> Text,
        number -> Nullable<Text>,
        created_by -> Uuid,
        created_at -> UtcTime,
        sealed_by -> Nullable<Uuid>,
        sealed_at -> Nullable<UtcTime>,
        handed_over_by -> Nullable<Uuid>,
        handed_over_at -> Nullable<UtcTime>,
        courier_name -> Nullable<Text>,
        kaspi_registry_number -> Nullable<Text>,
        accepted_at -> Nullable<UtcTime>,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    registry_items (registry_id, shipment_id) {
        registry_id -> Uuid,
        shipment_id -> Uuid,
        registry_kind -> Text,
        application_number -> Text,
        waybill -> Text,
        added_by -> Uuid,
        added_at -> UtcTime,
        withdrawn_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    number_sequences (branch_id, year, series) {
        branch_id -> Uuid,
        year -> Integer,
        series -> Text,
        last_value -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    kaspi_events (event_id) {
        event_id -> Text,
        event_type -> Text,
        waybill -> Nullable<Text>,
        occurred_at -> UtcTime,
        payload -> Text,
        payload_hash -> Text,
        outcome -> Text,
        reason_code -> Nullable<Text>,
        detail -> Nullable<Text>,
        shipment_id -> Nullable<Uuid>,
        received_at -> UtcTime,
        resolved_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    discrepancies (id) {
        id -> Uuid,
        branch_id -> Nullable<Uuid>,
        registry_id -> Nullable<Uuid>,
        shipment_id -> Nullable<Uuid>,
        kind -> Text,
        waybill -> Nullable<Text>,
        detail -> Text,
        kaspi_event_id -> Nullable<Text>,
        detected_at -> UtcTime,
        resolved_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    loss_acts (id) {
        id -> Uuid,
        shipment_id -> Uuid,
        branch_id -> Uuid,
        side -> Text,
        kaspi_act_number -> Nullable<Text>,
        number -> Nullable<Text>,
        state -> Text,
        cause -> Text,
        circumstances -> Text,
        responsible_employee -> Text,
        kaspi_event_id -> Nullable<Text>,
        recorded_by -> Nullable<Uuid>,
        drawn_by -> Nullable<Uuid>,
        drawn_at -> Nullable<UtcTime>,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    notifications (id) {
        id -> Uuid,
        application_id -> Uuid,
        shipment_id -> Nullable<Uuid>,
        kind -> Text,
        channel -> Text,
        recipient -> Text,
        language -> Text,
        body -> Text,
        dedup_key -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> UtcTime,
        last_error -> Nullable<Text>,
        lease_token -> Nullable<Text>,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    outbound_messages (id) {
        id -> Uuid,
        destination -> Text,
        kind -> Text,
        payload -> Text,
        dedup_key -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> UtcTime,
        last_error -> Nullable<Text>,
        lease_token -> Nullable<Text>,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    disputes (id) {
        id -> Uuid,
        shipment_id -> Uuid,
        loss_act_id -> Nullable<Uuid>,
        branch_id -> Uuid,
        parties -> Text,
        subject -> Text,
        opened_on -> Date,
        commission_protocol -> Nullable<Text>,
        outcome -> Nullable<Text>,
        settled_on -> Nullable<Date>,
        recorded_by -> Uuid,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;
    use crate::db::time::UtcTime;

    console_sessions (id) {
        id -> Uuid,
        token_hash -> Text,
        api_key_id -> Uuid,
        csrf_token -> Text,
        created_at -> UtcTime,
        last_seen_at -> UtcTime,
        expires_at -> UtcTime,
    }
}

diesel::joinable!(api_keys -> branches (branch_id));
diesel::joinable!(console_sessions -> api_keys (api_key_id));
diesel::joinable!(applications -> branches (branch_id));
diesel::joinable!(applications -> postamats (postamat_id));
diesel::joinable!(shipments -> applications (application_id));
diesel::joinable!(shipments -> branches (branch_id));
diesel::joinable!(notifications -> applications (application_id));
diesel::joinable!(loss_acts -> shipments (shipment_id));
diesel::joinable!(deadlines -> shipments (shipment_id));
diesel::joinable!(registry_items -> registries (registry_id));
diesel::joinable!(registry_items -> shipments (shipment_id));
diesel::joinable!(calendar_edits -> calendar_years (year));
diesel::joinable!(force_majeure_periods -> branches (branch_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    data_revisions,
    applications,
    branches,
    calendar_edits,
    calendar_years,
    console_sessions,
    deadlines,
    discrepancies,
    disputes,
    force_majeure_periods,
    integration_events,
    kaspi_events,
    loss_acts,
    notifications,
    number_sequences,
    outbound_messages,
    postamats,
    registries,
    registry_items,
    service_bootstrap,
    shipments,
    status_events,
);
