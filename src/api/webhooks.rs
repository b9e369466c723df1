//! The calls the service makes (OpenAPI 3.1 `webhooks`): what the dispatcher POSTs to the 1414
//! gateway, the Kaspi-app gateway, Kaspi's API and the registry office's API, with their headers
//! and how it treats the answer (`jobs::dispatcher`). The bodies are the very types the
//! workflows write to the outboxes, so the document cannot drift from what is sent.

use crate::domain::notification::{GatewayMessage, KaspiRequest, LossActCopy};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{Object, PathsBuilder, Ref, Required, ResponseBuilder, Type};
use utoipa::{PartialSchema, ToSchema};

/// The Standard Webhooks test vectors (`webhook-signature` for a given secret, id, timestamp
/// and body), published beside the document for integrators to check their code against.
pub const TEST_VECTORS: &str = include_str!("../../openapi/standard-webhooks-test-vectors.json");

fn header(name: &str, required: bool, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(Object::with_type(Type::String)))
        .build()
}

fn idempotency_key() -> utoipa::openapi::path::Parameter {
    header(
        "Idempotency-Key",
        true,
        "Our key of the message: a repeat after a lost answer or a dispatcher restart carries \
         the same key and must change nothing.",
    )
}

fn bearer(setting: &str) -> utoipa::openapi::path::Parameter {
    header(
        "Authorization",
        false,
        &format!("`Bearer <token>`, when `{setting}` is set."),
    )
}

/// Sent whenever `POSTAMAT_KASPI_WEBHOOK_SECRETS` is set, which a production service needs for
/// Kaspi's own events anyway; without a secret the requests go unsigned (a test setup).
fn signature_headers() -> [utoipa::openapi::path::Parameter; 3] {
    [
        header(
            "webhook-id",
            false,
            "Standard Webhooks message id: the same as `Idempotency-Key`.",
        ),
        header(
            "webhook-timestamp",
            false,
            "Standard Webhooks: Unix seconds when signed.",
        ),
        header(
            "webhook-signature",
            false,
            "Standard Webhooks: `v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">` keyed with the \
             first secret of `POSTAMAT_KASPI_WEBHOOK_SECRETS` (the one Kaspi signs its events \
             with). The three signature headers are sent whenever that setting is set (a \
             service without it refuses Kaspi's events too). Test vectors: \
             `openapi/standard-webhooks-test-vectors.json`.",
        ),
    ]
}

/// One outbound call: a POST of `T` as JSON.
fn call<T: ToSchema>(
    operation_id: &str,
    summary: &str,
    description: &str,
    headers: Vec<utoipa::openapi::path::Parameter>,
) -> Operation {
    let answer = |text: &str| ResponseBuilder::new().description(text).build();
    OperationBuilder::new()
        .operation_id(Some(operation_id))
        .summary(Some(summary))
        .description(Some(description))
        .tag("outbound")
        .parameters(Some(headers))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(T::name())))
                        .build(),
                )
                .build(),
        ))
        .response("2XX", answer("Taken: the message is marked sent."))
        .response(
            "429",
            answer("Retried later, with exponential backoff and jitter."),
        )
        .response(
            "5XX",
            answer(
                "Retried later, with exponential backoff and jitter; so are timeouts and \
                 network errors. After `POSTAMAT_DISPATCH_MAX_ATTEMPTS` the message is dead, \
                 for a supervisor.",
            ),
        )
        .response(
            "4XX",
            answer("Any other 4xx is final: the message is dead at once, for a supervisor."),
        )
        .build()
}

/// Adds the `webhooks` section and the schemas it names.
pub fn document(api: &mut OpenApiDoc) {
    let citizen = |setting_url: &str, setting_token: &str, channel: &str| {
        call::<GatewayMessage>(
            &format!("send_{channel}"),
            &format!("A message to a citizen, to `{setting_url}`"),
            "The citizen's message (DOMAIN.md §7) in their language, sent outside the quiet \
             hours for SMS. Without the setting, messages go to the service's log.",
            vec![idempotency_key(), bearer(setting_token)],
        )
    };
    let mut kaspi_headers = vec![idempotency_key()];
    kaspi_headers.extend(signature_headers());
    let webhooks = PathsBuilder::new()
        .path(
            "sms1414",
            PathItem::new(
                HttpMethod::Post,
                citizen(
                    "POSTAMAT_SMS_GATEWAY_URL",
                    "POSTAMAT_SMS_GATEWAY_TOKEN",
                    "sms_1414",
                ),
            ),
        )
        .path(
            "kaspiApp",
            PathItem::new(
                HttpMethod::Post,
                citizen(
                    "POSTAMAT_KASPI_APP_GATEWAY_URL",
                    "POSTAMAT_KASPI_APP_GATEWAY_TOKEN",
                    "kaspi_app",
                ),
            ),
        )
        .path(
            "kaspiRequest",
            PathItem::new(
                HttpMethod::Post,
                call::<KaspiRequest>(
                    "request_kaspi",
                    "A request to Kaspi, to `POSTAMAT_KASPI_API_URL`",
                    "`create_order` when the registry office executes a postamat application \
                     (п.8); `cancel_delivery` when a document goes to the ЦОН instead (issue 23, \
                     п.3, 8, 14). Signed as Kaspi signs its own events (Standard Webhooks).",
                    kaspi_headers,
                ),
            ),
        )
        .path(
            "registryOfficeLossAct",
            PathItem::new(
                HttpMethod::Post,
                call::<LossActCopy>(
                    "send_loss_act",
                    "The loss act's second copy, to `POSTAMAT_REGISTRY_OFFICE_API_URL`",
                    "п.24: drawn by the branch; the registry office keeps the second copy.",
                    vec![
                        idempotency_key(),
                        bearer("POSTAMAT_REGISTRY_OFFICE_API_TOKEN"),
                    ],
                ),
            ),
        )
        .build();
    api.webhooks = Some(webhooks);
    let components = api.components.get_or_insert_with(Default::default);
    let mut schemas = vec![
        (
            GatewayMessage::name().into_owned(),
            GatewayMessage::schema(),
        ),
        (KaspiRequest::name().into_owned(), KaspiRequest::schema()),
        (LossActCopy::name().into_owned(), LossActCopy::schema()),
    ];
    GatewayMessage::schemas(&mut schemas);
    KaspiRequest::schemas(&mut schemas);
    LossActCopy::schemas(&mut schemas);
    components.schemas.extend(schemas);
}

#[cfg(test)]
mod tests {
    use crate::domain::webhook::{WebhookSecret, verify};
    use chrono::DateTime;

    /// Every published vector is what our signer makes, and what our verifier accepts at its
    /// own timestamp (the service signs Kaspi requests and verifies Kaspi events with it).
    #[test]
    fn the_published_test_vectors_are_what_we_sign_and_accept() {
        let vectors: serde_json::Value = serde_json::from_str(super::TEST_VECTORS).unwrap();
        let vectors = vectors["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 2);
        for v in vectors {
            let text = |field: &str| v[field].as_str().unwrap().to_owned();
            let secret = WebhookSecret::parse(&text("secret")).unwrap();
            let timestamp = v["timestamp"].as_i64().unwrap();
            let body = text("payload");
            let signature = secret.sign(&text("msg_id"), timestamp, body.as_bytes());
            assert_eq!(signature, text("signature"), "{}", text("name"));
            let at = DateTime::from_timestamp(timestamp, 0).unwrap();
            verify(
                &text("msg_id"),
                &timestamp.to_string(),
                &signature,
                body.as_bytes(),
                &[secret],
                at,
            )
            .unwrap();
        }
    }
}
