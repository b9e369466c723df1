// One schema for both backends. Ids use the custom `Uuid` SQL type (`uuid` on PostgreSQL,
// text on SQLite); every `Timestamp` holds UTC.

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;

    api_keys (id) {
        id -> Uuid,
        name -> Text,
        role -> Text,
        branch_id -> Nullable<Uuid>,
        token_prefix -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;

    branches (id) {
        id -> Uuid,
        code -> Text,
        name_kk -> Text,
        name_ru -> Text,
        city -> Text,
        address_kk -> Text,
        address_ru -> Text,
        time_zone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;

    postamats (id) {
        id -> Uuid,
        kaspi_id -> Text,
        city -> Text,
        city_key -> Text,
        address_kk -> Text,
        address_ru -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;

    service_bootstrap (id) {
        id -> Integer,
        admin_key_id -> Uuid,
        created_at -> Timestamp,
    }
}

diesel::table! {
    calendar_years (year) {
        year -> Integer,
        kurban_ait -> Nullable<Date>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;

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
        created_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::id::Uuid;

    force_majeure_periods (id) {
        id -> Uuid,
        branch_id -> Nullable<Uuid>,
        starts_at -> Timestamp,
        ends_at -> Nullable<Timestamp>,
        reason -> Text,
        document_ref -> Nullable<Text>,
        created_by -> Uuid,
        created_at -> Timestamp,
        ended_by -> Nullable<Uuid>,
        end_recorded_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(api_keys -> branches (branch_id));
diesel::joinable!(calendar_edits -> calendar_years (year));
diesel::joinable!(force_majeure_periods -> branches (branch_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    branches,
    calendar_edits,
    calendar_years,
    force_majeure_periods,
    postamats,
    service_bootstrap,
);
