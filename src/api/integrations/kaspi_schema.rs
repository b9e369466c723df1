//! The OpenAPI schema of one Kaspi event, as client generators read it.
//!
//! On the wire an event is one flat object: `event_id`, `occurred_at`, `type` and the fields of
//! its type (`#[serde(flatten)]` over the tagged `KaspiEventBody`). Derived, that is `allOf` over
//! a `oneOf`, which mainstream generators cannot model: `openapi-python-client` dropped both
//! Kaspi operations. So the document names one object schema per event type
//! (`KaspiEventPlacedInCell`, …), each with the common fields, and `KaspiEvent` is a `oneOf` of
//! them with a `type` discriminator. Everything is built from the derived schemas of
//! `KaspiEventBody` and [`Envelope`] (the fields beside the body, checked against `KaspiEvent`
//! by a test), so a new field or event type cannot be forgotten here.

use crate::domain::identifiers::ExternalId;
use crate::domain::kaspi::{KaspiEvent, KaspiEventBody};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use utoipa::openapi::{Discriminator, Object, OneOf, Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The fields every event carries, for their derived schemas and descriptions.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Envelope {
    /// Kaspi's id of the event: unique; a repeat changes nothing.
    event_id: ExternalId,
    /// When it happened (not when it was sent).
    occurred_at: DateTime<Utc>,
}

/// `placed_in_cell` → `KaspiEventPlacedInCell`.
fn variant_name(tag: &str) -> String {
    let camel: String = tag
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    format!("KaspiEvent{camel}")
}

fn object(schema: RefOr<Schema>) -> Object {
    match schema {
        RefOr::T(Schema::Object(object)) => object,
        _ => panic!("expected an inline object schema"),
    }
}

/// The `type` value of one derived variant.
fn tag(variant: &Object) -> String {
    let Some(RefOr::T(Schema::Object(tag))) = variant.properties.get("type") else {
        panic!("a Kaspi event variant without `type`");
    };
    let value = tag
        .enum_values
        .as_ref()
        .and_then(|values| values.first())
        .and_then(|value| value.as_str())
        .expect("`type` is a one-value enum");
    value.to_owned()
}

/// Each event type as a complete object: (`type`, schema name, schema).
fn variants() -> Vec<(String, String, Object)> {
    let RefOr::T(Schema::OneOf(body)) = KaspiEventBody::schema() else {
        panic!("KaspiEventBody is a tagged enum, derived as oneOf");
    };
    let envelope = object(Envelope::schema());
    body.items
        .into_iter()
        .map(|item| {
            let mut variant = object(item);
            let tag = tag(&variant);
            let mut properties = envelope.properties.clone();
            properties.append(&mut variant.properties);
            variant.properties = properties;
            let mut required = envelope.required.clone();
            required.append(&mut variant.required);
            variant.required = required;
            (tag.clone(), variant_name(&tag), variant)
        })
        .collect()
}

impl PartialSchema for KaspiEvent {
    fn schema() -> RefOr<Schema> {
        let variants = variants();
        let mut one_of = OneOf::new();
        one_of.description = Some("One event from Kaspi, by `type`.".to_owned());
        let mut discriminator = Discriminator::new("type");
        for (tag, name, _) in &variants {
            one_of
                .items
                .push(Ref::from_schema_name(name.as_str()).into());
            discriminator
                .mapping
                .insert(tag.clone(), format!("#/components/schemas/{name}"));
        }
        one_of.discriminator = Some(discriminator);
        Schema::OneOf(one_of).into()
    }
}

impl ToSchema for KaspiEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("KaspiEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (_, name, variant) in variants() {
            schemas.push((name, Schema::Object(variant).into()));
        }
        <KaspiEventBody as ToSchema>::schemas(schemas);
        <Envelope as ToSchema>::schemas(schemas);
        schemas.push((ExternalId::name().into_owned(), ExternalId::schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_one_named_object_with_the_common_fields() {
        let variants = variants();
        assert_eq!(variants.len(), 8);
        for (tag, name, variant) in &variants {
            assert_eq!(*name, variant_name(tag));
            for field in ["event_id", "occurred_at", "type"] {
                assert!(
                    variant.properties.contains_key(field),
                    "{name} lacks {field}"
                );
                assert!(
                    variant.required.iter().any(|r| r == field),
                    "{name}: {field}"
                );
            }
        }
        assert_eq!(variant_name("placed_in_cell"), "KaspiEventPlacedInCell");
    }

    /// The schema's fields are exactly an event's on the wire: a field added to `KaspiEvent`
    /// beside its body and not to `Envelope` fails here.
    #[test]
    fn the_schema_names_exactly_the_fields_an_event_has_on_the_wire() {
        let sent = serde_json::json!({
            "event_id": "e-1", "occurred_at": "2026-12-07T09:35:00Z", "type": "placed_in_cell",
            "waybill": "WB-1", "postamat_id": "PST-ALA-0042", "cell": "C-17"
        });
        let event: KaspiEvent = serde_json::from_value(sent).unwrap();
        let wire = serde_json::to_value(&event).unwrap();
        let mut on_wire: Vec<&String> = wire.as_object().unwrap().keys().collect();
        on_wire.sort();
        let (_, _, schema) = variants()
            .into_iter()
            .find(|(tag, _, _)| tag == "placed_in_cell")
            .unwrap();
        let mut in_schema: Vec<&String> = schema.properties.keys().collect();
        in_schema.sort();
        assert_eq!(on_wire, in_schema);
    }
}
