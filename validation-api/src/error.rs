//! Requests the service refuses to validate, and their HTTP form: a status
//! code and a JSON body `{"error": {"code": ..., "message": ...}}`.
//!
//! A validation verdict, valid or not, is never an `ApiError`: it is a
//! 200 answer ([`crate::verdict::Verdict`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Why a request was refused before or instead of validating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not the expected JSON document.
    #[error("bad JSON body: {0}")]
    BadJson(String),
    /// A certificate field is neither PEM nor base64.
    #[error("{field}: {reason}")]
    BadEncoding { field: String, reason: String },
    /// A certificate field decodes but is not a usable certificate encoding.
    #[error("{field}: {error}")]
    BadCertificate {
        field: String,
        error: pki_core::Error,
    },
    /// A field has a value outside its domain.
    #[error("{field}: {reason}")]
    BadField { field: String, reason: String },
    #[error("more than {max} intermediate certificates")]
    TooManyIntermediates { max: usize },
    #[error("batch of {items} items is over the limit of {max}")]
    BatchTooLarge { items: usize, max: usize },
    #[error("request body is over the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("request body did not arrive within {seconds} s")]
    BodyTimeout { seconds: f64 },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("client {client:?} already has {limit} requests in flight")]
    ConcurrencyLimit { client: String, limit: usize },
    #[error("no route for {0}")]
    NotFound(String),
    /// The path exists, not with this method (the `Allow` header lists
    /// those it has).
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The stable machine-readable code of a refused request (`error.code`),
/// an enum in the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body is not JSON, or not the expected document.
    BadJson,
    /// A certificate field is neither PEM nor base64.
    BadEncoding,
    /// A certificate is not DER.
    BadDer,
    /// A PEM certificate field is malformed.
    BadPem,
    /// A certificate is over the size limit.
    TooLarge,
    /// An intermediate has an extension that does not decode.
    BadExtension,
    /// An intermediate's serial number is not a valid INTEGER.
    InvalidSerial,
    /// Any other certificate that does not decode.
    BadCertificate,
    /// A field has a value outside its domain.
    BadField,
    TooManyIntermediates,
    BatchTooLarge,
    BodyTooLarge,
    BodyTimeout,
    UnsupportedMediaType,
    Unauthorized,
    TooManyRequests,
    NotFound,
    MethodNotAllowed,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::BadEncoding => "bad_encoding",
            Self::BadDer => "bad_der",
            Self::BadPem => "bad_pem",
            Self::TooLarge => "too_large",
            Self::BadExtension => "bad_extension",
            Self::InvalidSerial => "invalid_serial",
            Self::BadCertificate => "bad_certificate",
            Self::BadField => "bad_field",
            Self::TooManyIntermediates => "too_many_intermediates",
            Self::BatchTooLarge => "batch_too_large",
            Self::BodyTooLarge => "body_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unauthorized => "unauthorized",
            Self::TooManyRequests => "too_many_requests",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal => "internal",
        }
    }

    /// The code of a certificate that does not decode: pki-core's code
    /// when it is one of the decoding codes above.
    fn of_certificate(e: &pki_core::Error) -> Self {
        match e {
            pki_core::Error::BadDer { .. } => Self::BadDer,
            pki_core::Error::BadPem(_) => Self::BadPem,
            pki_core::Error::TooLarge { .. } => Self::TooLarge,
            pki_core::Error::BadExtension { .. } => Self::BadExtension,
            pki_core::Error::InvalidSerial { .. } => Self::InvalidSerial,
            _ => Self::BadCertificate,
        }
    }
}

impl ApiError {
    /// The same refusal for item `i` of a batch (`items[i].field`).
    #[must_use]
    pub fn in_item(self, i: usize) -> Self {
        match self {
            Self::BadField { field, reason } => Self::BadField {
                field: format!("items[{i}].{field}"),
                reason,
            },
            Self::BadEncoding { field, reason } => Self::BadEncoding {
                field: format!("items[{i}].{field}"),
                reason,
            },
            other => other,
        }
    }

    /// The stable machine-readable code.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::BadJson(_) => ErrorCode::BadJson,
            Self::BadEncoding { .. } => ErrorCode::BadEncoding,
            Self::BadCertificate { error, .. } => ErrorCode::of_certificate(error),
            Self::BadField { .. } => ErrorCode::BadField,
            Self::TooManyIntermediates { .. } => ErrorCode::TooManyIntermediates,
            Self::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
            Self::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            Self::BodyTimeout { .. } => ErrorCode::BodyTimeout,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::ConcurrencyLimit { .. } => ErrorCode::TooManyRequests,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// [`ApiError::error_code`] as text.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadJson(_)
            | Self::BadEncoding { .. }
            | Self::BadCertificate { .. }
            | Self::BadField { .. }
            | Self::TooManyIntermediates { .. } => StatusCode::BAD_REQUEST,
            Self::BatchTooLarge { .. } | Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ConcurrencyLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The request field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadEncoding { field, .. }
            | Self::BadCertificate { field, .. }
            | Self::BadField { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.error_code(),
                message: self.to_string(),
                field: self.field().map(ToOwned::to_owned),
            },
        }
    }
}

/// What went wrong, machine-readable and in words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, e.g. `intermediates[1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Body of every 4xx/5xx answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(examples(
    crate::openapi_examples::error_unauthorized,
    crate::openapi_examples::error_bad_der,
    crate::openapi_examples::error_bad_json
))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status(), axum::Json(self.body())).into_response();
        service_kit::ResultCode::set(&mut r, self.code());
        if matches!(self, Self::Unauthorized) {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}
