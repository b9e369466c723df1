//! Request extractors whose failures are problem documents: JSON bodies with the path of the
//! offending field, and the handlers for actix's own path and query errors.

use crate::api::error::{ApiError, ErrorCode};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// The largest body a route accepts (from `POSTAMAT_MAX_BODY_BYTES`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body. Errors: 415 if not JSON, 413 if over the limit, 400 `malformed_json` if not
/// well-formed, 400 `invalid_body` naming the field otherwise.
///
/// The error is held until the handler asks for the body with [`ApiJson::into_inner`]: actix
/// runs extractors side by side, and a caller without a valid key must get 401, not a verdict
/// on its body.
#[derive(Debug)]
pub struct ApiJson<T>(Result<T, ApiError>);

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit(1024 * 1024))
            .0;
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            Ok(ApiJson(
                read_json(json, declared, limit, &mut payload).await,
            ))
        })
    }
}

async fn read_json<T: DeserializeOwned>(
    json: bool,
    declared: Option<usize>,
    limit: usize,
    payload: &mut Payload,
) -> Result<T, ApiError> {
    if !json {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ));
    }
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(ErrorCode::InvalidBody, format!("cannot read the body: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    parse_json(&body)
}

/// Parses a JSON document, naming the field that failed.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })?;
    de.end().map_err(|e| json_error(".", &e))?;
    Ok(value)
}

fn json_error(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {err}"),
        ),
        Category::Data if path == "." => ApiError::invalid_body(err.to_string()),
        Category::Data => ApiError::invalid_body(format!("{path}: {err}")),
    }
}

/// Any extractor whose failure waits, like [`ApiJson`]'s, until the handler asks: path and
/// query errors must not answer before authentication does.
pub struct Deferred<T>(Result<T, ApiError>);

impl<T> Deferred<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

/// A path parameter whose error is deferred.
pub type ApiPath<T> = Deferred<web::Path<T>>;

/// Query parameters, parsed by us so an error names the parameter and the form it takes
/// (`from: input is out of range; expected a date such as 2026-03-01`), deferred like
/// [`ApiJson`]'s.
pub struct ApiQuery<T>(Result<web::Query<T>, ApiError>);

impl<T> ApiQuery<T> {
    pub fn into_inner(self) -> Result<web::Query<T>, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(ApiQuery(
            parse_query(req.query_string()).map(web::Query),
        )))
    }
}

/// Parses a query string into `T`; an error names the parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        ApiError::new(ErrorCode::InvalidQuery, query_problem(&path, &message))
    })
}

/// `name: what is wrong[; the form expected]`, from the parser's words.
fn query_problem(path: &str, message: &str) -> String {
    // Missing and unknown parameters are reported at the top: the name is in the message.
    let quoted = message.split('`').nth(1);
    if let Some(name) = quoted.filter(|_| message.starts_with("missing field")) {
        return format!("{name}: this query parameter is required");
    }
    if let Some(name) = quoted.filter(|_| message.starts_with("unknown field")) {
        let known = message.split_once("expected ").map_or("", |(_, k)| k);
        return format!("{name}: no such query parameter here (known: {known})");
    }
    // chrono's words for a date or time it cannot read.
    let chrono = [
        "input is out of range",
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
        "bad or unsupported format string",
    ];
    let hint = if chrono.iter().any(|c| message.contains(c)) {
        "; expected a date such as 2026-03-01, or a time such as 2026-03-01T09:00:00+05:00"
    } else {
        ""
    };
    format!("{path}: {message}{hint}")
}

impl<T> FromRequest for Deferred<T>
where
    T: FromRequest + 'static,
    T::Error: Into<actix_web::Error>,
{
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let extraction = T::from_request(req, payload);
        Box::pin(async move {
            Ok(Deferred(extraction.await.map_err(|e| {
                let e: actix_web::Error = e.into();
                // Our path and query error handlers (below) already made a problem of it.
                match e.as_error::<ApiError>() {
                    Some(api) => ApiError::new(api.code(), api.detail()),
                    None => ApiError::new(ErrorCode::InvalidPath, e.to_string()),
                }
            })))
        })
    }
}

pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorCode::InvalidPath, err.to_string()).into()
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::new(ErrorCode::InvalidQuery, err.to_string()).into()
}

/// How many items a list in a request body may hold: checked by the handler ([`Bounds::check`],
/// a 422 `validation_failed` naming the field) and documented by the field's `schema_with`
/// ([`Bounds::array_of`]), from the one constant.
pub struct Bounds {
    pub field: &'static str,
    pub min: usize,
    pub max: usize,
}

impl Bounds {
    pub fn check(&self, len: usize) -> Result<(), ApiError> {
        if (self.min..=self.max).contains(&len) {
            Ok(())
        } else {
            Err(ApiError::validation(format!(
                "{}: {} to {} items, got {len}",
                self.field, self.min, self.max
            )))
        }
    }

    /// An array of `T` (a named schema) within the bounds.
    pub fn array_of<T: utoipa::ToSchema>(&self) -> utoipa::openapi::Array {
        utoipa::openapi::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name(T::name()))
            .min_items(Some(self.min))
            .max_items(Some(self.max))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: crate::domain::reference::Text,
        nested: Nested,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        count: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Period {
        from: chrono::NaiveDate,
        limit: Option<i64>,
    }

    #[test]
    fn query_errors_name_the_parameter_and_its_form() {
        let detail = |q: &str| parse_query::<Period>(q).unwrap_err().detail().to_owned();
        assert_eq!(
            detail("from=2026-13-01"),
            "from: input is out of range; expected a date such as 2026-03-01, or a time such as 2026-03-01T09:00:00+05:00"
        );
        assert_eq!(detail("limit=5"), "from: this query parameter is required");
        assert!(detail("from=2026-03-01&limit=many").starts_with("limit: invalid digit"));
        assert!(
            detail("from=2026-03-01&sort=asc").starts_with("sort: no such query parameter here"),
            "{}",
            detail("from=2026-03-01&sort=asc")
        );
        let ok: Period = parse_query("from=2026-03-01").unwrap();
        assert_eq!(
            ok.from,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
    }

    #[test]
    fn json_errors_name_the_field_and_tell_syntax_from_data() {
        let err = parse_json::<Body>(br#"{"name":"x","nested":{"count":"many"}}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidBody);
        assert!(
            err.detail().starts_with("nested.count:"),
            "{}",
            err.detail()
        );

        let err = parse_json::<Body>(br#"{"name":"  ","nested":{"count":1}}"#).unwrap_err();
        assert!(err.detail().starts_with("name:"), "{}", err.detail());

        let err = parse_json::<Body>(br#"{"name": "x""#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedJson);

        let err = parse_json::<Body>(br#"{"name":"x","nested":{"count":1}} trailing"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedJson);
    }
}
