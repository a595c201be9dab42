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
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadJson(_) => "bad_json",
            Self::BadEncoding { .. } => "bad_encoding",
            Self::BadCertificate { error, .. } => error.code(),
            Self::BadField { .. } => "bad_field",
            Self::TooManyIntermediates { .. } => "too_many_intermediates",
            Self::BatchTooLarge { .. } => "batch_too_large",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unauthorized => "unauthorized",
            Self::ConcurrencyLimit { .. } => "too_many_requests",
            Self::NotFound(_) => "not_found",
            Self::Internal(_) => "internal",
        }
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
                code: self.code().to_owned(),
                message: self.to_string(),
                field: self.field().map(ToOwned::to_owned),
            },
        }
    }
}

/// What went wrong, machine-readable and in words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `bad_json`, `unauthorized`, `body_too_large`.
    pub code: String,
    pub message: String,
    /// The request field at fault, e.g. `intermediates[1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Body of every 4xx/5xx answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
