//! The HTTP transport (RFC 6960 appendix A, RFC 5019 5 and 6): knows
//! requests, bodies and headers, nothing about stores or HSMs.
//!
//! - `GET {base_path}/{base64 DER}`, and `GET {path}/{base64 DER}` under each
//!   issuer's `path` (its AIA OCSP URL's): URL-decoded (`%2B`, `%2F`, `%3D`), then standard
//!   base64 with or without padding; `+` and `/` stay as they are.
//! - `POST /` with `Content-Type: application/ocsp-request`; bodies over the
//!   configured cap (10,000 bytes) get 413, other content types 415.
//! - A GET path longer than any request can encode to gets 414; other
//!   methods get 405 with `Allow: GET, POST`.
//! - `GET /health/live`, `GET /health/ready` (503 until the cache is loaded,
//!   and while the HSM or the database fail), `GET /metrics`.
//!
//! Unparseable requests get the OCSP `malformedRequest` status (HTTP 200,
//! as RFC 6960 A.1 responses always carry an OCSPResponse).

use std::sync::Arc;
use std::time::SystemTime;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, EXPIRES, IF_NONE_MATCH, LAST_MODIFIED,
};
use http::{HeaderValue, Method as HttpMethod, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use pki_core::ocsp::{parse_request, RequestLimits, ResponseStatus};

use crate::config::Settings;
use crate::core::Health;
use crate::issuer::Ready;
use crate::metrics::{GaugeSource, Method, Metrics, Outcome};
use crate::source::{Answer, Query, Source};

const OCSP_REQUEST: &str = "application/ocsp-request";
/// Longest wait for a POST body once its headers are in.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const OCSP_RESPONSE: HeaderValue = HeaderValue::from_static("application/ocsp-response");

/// Standard base64 that accepts input with or without `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HTTP side of a responder (Boulder's responder handler: a source,
/// counters, and nothing else): answers from its [`Source`], counts in
/// [`Metrics`], and shows [`Health`] and the [`GaugeSource`]'s gauges on
/// `/health/ready` and `/metrics`.
#[derive(Debug)]
pub struct Handler<S> {
    source: S,
    paths: Paths,
    limits: RequestLimits,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    gauges: Arc<dyn GaugeSource>,
}

/// Where GET requests arrive.
#[derive(Debug, Clone, Default)]
struct Paths {
    /// Prefix of GET request paths, `""` or `/name`.
    base_path: String,
    /// Each issuer's OCSP URL path.
    issuer_paths: Vec<String>,
}

impl<S: Source> Handler<S> {
    /// `settings`: only the request paths and size limits are read.
    pub fn new(
        source: S,
        settings: &Settings,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        gauges: Arc<dyn GaugeSource>,
    ) -> Self {
        Self {
            source,
            paths: Paths {
                base_path: settings.base_path.clone(),
                issuer_paths: settings.issuer_paths.clone(),
            },
            limits: settings.limits,
            metrics,
            health,
            gauges,
        }
    }

    /// Answers one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body + Send,
        B::Data: Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let started = std::time::Instant::now();
        let method = match *req.method() {
            HttpMethod::GET => Method::Get,
            HttpMethod::POST => Method::Post,
            _ => Method::Other,
        };
        let (response, outcome) = match method {
            Method::Get => match req.uri().path() {
                "/health/live" => return text(StatusCode::OK, "live\n"),
                "/health" | "/health/ready" => return readiness(&self.health),
                "/metrics" => {
                    let body = self.metrics.render(&self.gauges.gauges());
                    let mut r = Response::new(Full::new(Bytes::from(body)));
                    r.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static(service_kit::exposition::CONTENT_TYPE),
                    );
                    return r;
                }
                path => {
                    let if_none_match = req.headers().get(IF_NONE_MATCH).cloned();
                    self.get(path, if_none_match.as_ref()).await
                }
            },
            Method::Post => self.post(req).await,
            Method::Other => {
                let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "GET or POST\n");
                // RFC 9110 15.5.6: a 405 names the methods the resource has.
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, POST"));
                (r, Outcome::MethodNotAllowed)
            }
        };
        self.metrics.request(method, outcome);
        self.metrics.observe_latency(outcome, started.elapsed());
        let mut response = response;
        service_kit::ResultCode::set(&mut response, outcome.label());
        response
    }

    /// Counts the request a connection ended on when hyper answered it
    /// itself: a request line longer than its 65,534-byte URI limit gets
    /// 414 before any handler runs.
    pub(crate) fn connection_failed(&self, err: &hyper::Error) {
        if service_kit::access::refused_status(err) == Some(StatusCode::URI_TOO_LONG) {
            self.metrics.request(Method::Other, Outcome::UriTooLong);
        }
    }

    async fn get(
        &self,
        path: &str,
        if_none_match: Option<&HeaderValue>,
    ) -> (Response<Full<Bytes>>, Outcome) {
        let Some(encoded) = strip_get_prefix(&self.paths, path) else {
            return (
                text(StatusCode::NOT_FOUND, "not an OCSP path\n"),
                Outcome::NotFound,
            );
        };
        if encoded.is_empty() {
            return (
                text(StatusCode::NOT_FOUND, "no request\n"),
                Outcome::NotFound,
            );
        }
        // Base64 of the largest request, percent-encoded at worst, plus slack.
        let max_path = self.limits.max_len.div_ceil(3) * 4 * 3 + 16;
        if encoded.len() > max_path {
            return (
                text(
                    StatusCode::URI_TOO_LONG,
                    "request too long for GET, use POST\n",
                ),
                Outcome::UriTooLong,
            );
        }
        let Some(b64) = percent_decode(encoded.as_bytes()) else {
            return status(ResponseStatus::MalformedRequest);
        };
        let Ok(der) = BASE64.decode(&b64) else {
            return status(ResponseStatus::MalformedRequest);
        };
        if der.len() > self.limits.max_len {
            return (
                text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n"),
                Outcome::TooLarge,
            );
        }
        self.answer(&der, if_none_match).await
    }

    async fn post<B>(&self, req: Request<B>) -> (Response<Full<Bytes>>, Outcome)
    where
        B: hyper::body::Body + Send,
        B::Data: Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim);
        if !content_type.is_some_and(|t| t.eq_ignore_ascii_case(OCSP_REQUEST)) {
            return (
                text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Content-Type must be application/ocsp-request\n",
                ),
                Outcome::BadContentType,
            );
        }
        let max = self.limits.max_len;
        let too_large = || {
            (
                text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n"),
                Outcome::TooLarge,
            )
        };
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return too_large();
        }
        let if_none_match = req.headers().get(IF_NONE_MATCH).cloned();
        // A body trickling in must not hold the connection for long.
        let collect = Limited::new(req.into_body(), max).collect();
        let body = match tokio::time::timeout(BODY_TIMEOUT, collect).await {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
            Ok(Err(_)) => return status(ResponseStatus::MalformedRequest),
            Err(_) => {
                return (
                    text(StatusCode::REQUEST_TIMEOUT, "request body too slow\n"),
                    Outcome::Malformed,
                )
            }
        };
        self.answer(&body, if_none_match.as_ref()).await
    }

    async fn answer(
        &self,
        der: &[u8],
        if_none_match: Option<&HeaderValue>,
    ) -> (Response<Full<Bytes>>, Outcome) {
        let request = match parse_request(der, &self.limits) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "malformed request");
                return status(ResponseStatus::MalformedRequest);
            }
        };
        match self.source.answer(Query::new(request)).await {
            Answer::Cached(ready) => signed(&ready, true, if_none_match, Outcome::Cached),
            Answer::Live {
                ready, cacheable, ..
            } => signed(&ready, cacheable, if_none_match, Outcome::Live),
            Answer::Status(s) => status(s),
        }
    }
}

/// The part of a GET path after its OCSP prefix: an issuer's own path
/// (its AIA OCSP URL's) or `base_path`, the longest that matches first (a
/// request under `/ca` is not base64 `ca/...` under an empty base path).
fn strip_get_prefix<'p>(paths: &Paths, path: &'p str) -> Option<&'p str> {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
    };
    let mut best: Option<(usize, &'p str)> = None;
    for prefix in paths
        .issuer_paths
        .iter()
        .chain(std::iter::once(&paths.base_path))
    {
        if let Some(rest) = under(prefix) {
            if best.is_none_or(|(len, _)| prefix.len() > len) {
                best = Some((prefix.len(), rest));
            }
        }
    }
    best.map(|(_, rest)| rest)
}

fn signed(
    ready: &Ready,
    cacheable: bool,
    if_none_match: Option<&HeaderValue>,
    outcome: Outcome,
) -> (Response<Full<Bytes>>, Outcome) {
    let not_modified = cacheable && if_none_match.is_some_and(|v| etag_matches(v, &ready.etag()));
    let mut r = if not_modified {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Full::new(ready.der()))
    };
    let h = r.headers_mut();
    if !not_modified {
        h.insert(CONTENT_TYPE, OCSP_RESPONSE);
    }
    if cacheable {
        // RFC 5019 6.2.
        let max_age = ready
            .next_update()
            .duration_since(SystemTime::now())
            .map_or(0, |d| d.as_secs());
        let cc = format!("max-age={max_age}, public, no-transform, must-revalidate");
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_str(&cc).unwrap_or(HeaderValue::from_static("no-cache")),
        );
        h.insert(ETAG, ready.etag());
        h.insert(LAST_MODIFIED, ready.last_modified());
        h.insert(EXPIRES, ready.expires());
    } else {
        // Answers a nonce: for this client only.
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(LAST_MODIFIED, ready.last_modified());
    }
    (
        r,
        if not_modified {
            Outcome::NotModified
        } else {
            outcome
        },
    )
}

fn etag_matches(header: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = header.to_str() else {
        return false;
    };
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
}

fn status(s: ResponseStatus) -> (Response<Full<Bytes>>, Outcome) {
    let outcome = match s {
        ResponseStatus::MalformedRequest => Outcome::Malformed,
        ResponseStatus::Unauthorized | ResponseStatus::SigRequired => Outcome::Unauthorized,
        ResponseStatus::TryLater => Outcome::TryLater,
        ResponseStatus::InternalError | ResponseStatus::Successful => Outcome::InternalError,
    };
    let mut r = Response::new(Full::new(Bytes::copy_from_slice(&s.unsigned_response())));
    r.headers_mut().insert(CONTENT_TYPE, OCSP_RESPONSE);
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (r, outcome)
}

fn readiness(health: &Health) -> Response<Full<Bytes>> {
    let why = health.not_ready();
    if why.is_empty() {
        return text(StatusCode::OK, "ready\n");
    }
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("not ready: {}\n", why.join(", ")),
    )
}

fn text(code: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = code;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// RFC 3986 2.1 percent-decoding; `None` on a bad escape.
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hi = hex_digit(*input.get(i + 1)?)?;
            let lo = hex_digit(*input.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_base64_decoding() {
        assert_eq!(percent_decode(b"MEow%2BA%2f%3D").unwrap(), b"MEow+A/=");
        assert_eq!(percent_decode(b"abc%2"), None);
        assert_eq!(percent_decode(b"abc%zz"), None);
        assert_eq!(BASE64.decode("MA==").unwrap(), vec![0x30]);
        assert_eq!(BASE64.decode("MA").unwrap(), vec![0x30]);
        assert_eq!(BASE64.decode("+/+/").unwrap(), vec![0xfb, 0xff, 0xbf]);
        assert!(BASE64.decode("M!==").is_err());
    }

    #[test]
    fn get_prefixes_longest_first() {
        let settings = Paths {
            issuer_paths: vec!["/cnie-citizen-ca".into(), "/cnie".into()],
            ..Paths::default()
        };
        assert_eq!(
            strip_get_prefix(&settings, "/cnie-citizen-ca/MEow"),
            Some("MEow")
        );
        assert_eq!(strip_get_prefix(&settings, "/cnie/MEow"), Some("MEow"));
        // The empty base path still takes a request at the root (and a
        // path no issuer has, as base64 that will not decode).
        assert_eq!(strip_get_prefix(&settings, "/MEow"), Some("MEow"));
        assert_eq!(
            strip_get_prefix(&settings, "/other/MEow"),
            Some("other/MEow")
        );
        let based = Paths {
            base_path: "/ocsp".into(),
            issuer_paths: vec!["/cnie".into()],
        };
        assert_eq!(strip_get_prefix(&based, "/ocsp/MEow"), Some("MEow"));
        assert_eq!(strip_get_prefix(&based, "/cnie/MEow"), Some("MEow"));
        assert_eq!(strip_get_prefix(&based, "/MEow"), None);
        assert_eq!(strip_get_prefix(&based, "/cnie-x/MEow"), None);
    }

    #[test]
    fn etags() {
        let etag = HeaderValue::from_static("\"abc\"");
        assert!(etag_matches(&HeaderValue::from_static("\"abc\""), &etag));
        assert!(etag_matches(
            &HeaderValue::from_static("\"x\", W/\"abc\""),
            &etag
        ));
        assert!(etag_matches(&HeaderValue::from_static("*"), &etag));
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), &etag));
    }
}
