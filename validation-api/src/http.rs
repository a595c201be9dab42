//! The HTTP JSON API (axum): routes, authentication and metrics layers,
//! and the OpenAPI document generated from the handlers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use service_kit::access::Access;
use service_kit::ResultCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::config::RevocationPolicy;
use crate::error::{ApiError, ErrorBody, ErrorCode, ErrorDetail};
use crate::request::{BatchRequest, DottedOid, Level, PolicyRequest, PurposeName, ValidateRequest};
use crate::service::Service;
use crate::verdict::{
    CertRef, CertStatus, FindingInfo, PathCert, Rendered, StatusSourceInfo, Verdict, VerdictCode,
    VerdictError,
};

/// One batch item: a verdict, or why the item could not be validated.
#[derive(Debug)]
pub enum BatchItem {
    Verdict(Arc<Rendered>),
    Refused(RefusedItem),
}

impl Serialize for BatchItem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Verdict(v) => v.verdict.serialize(s),
            Self::Refused(r) => r.serialize(s),
        }
    }
}

impl utoipa::PartialSchema for BatchItem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{OneOfBuilder, Ref};
        OneOfBuilder::new()
            .item(Ref::from_schema_name("Verdict"))
            .item(Ref::from_schema_name("RefusedItem"))
            .description(Some(
                "A verdict, or a refused item (valid false, status and error)",
            ))
            .into()
    }
}

impl ToSchema for BatchItem {}

/// A batch item that was not validated (what a single request would have
/// answered with a 4xx).
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedItem {
    /// Always false.
    pub valid: bool,
    /// The HTTP status the same request alone would have received.
    pub status: u16,
    pub error: ErrorDetail,
}

/// `POST /v1/validate/batch` answer: one result per item, in order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(examples(crate::openapi_examples::batch_response))]
pub struct BatchResponse {
    pub results: Vec<BatchItem>,
}

/// A trust anchor of a tier.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnchorInfo {
    pub subject: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    pub not_after: String,
}

/// A configured tier.
#[derive(Debug, Serialize, ToSchema)]
pub struct TierInfo {
    pub name: String,
    /// Highest level reachable in this tier.
    pub level: &'static str,
    /// Certificate policy OID -> level.
    pub policy_levels: BTreeMap<String, &'static str>,
    pub revocation: RevocationPolicy,
    pub anchors: Vec<AnchorInfo>,
    /// Configured intermediates offered to every path build.
    pub intermediates: Vec<AnchorInfo>,
}

/// `GET /v1/tiers` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(examples(crate::openapi_examples::tiers_response))]
pub struct TiersResponse {
    /// Configuration generation (1 at start, +1 per reload).
    pub generation: u64,
    pub tiers: Vec<TierInfo>,
}

/// Readiness as `/health` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// HTTP 200.
    Ok,
    /// HTTP 503.
    NotReady,
}

/// `GET /health` and `GET /health/ready` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(examples(
    crate::openapi_examples::health_ok,
    crate::openapi_examples::health_not_ready
))]
pub struct Health {
    pub status: HealthStatus,
    pub generation: u64,
    pub tiers: usize,
    /// CRL distribution points followed by the refresher.
    pub crl_feeds: usize,
    /// Why the service is not ready: a hard-fail tier holds a CRL past its
    /// nextUpdate or its `max_age_seconds` (empty when ready).
    pub reasons: Vec<String>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3.1 document served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "validation-api", description = "Certificate path validation for the national identity broker: tier, assurance level, path and revocation status of a chain."),
    paths(validate, validate_batch, tiers, health, health_ready, health_live, metrics, openapi_json),
    components(schemas(ValidateRequest, PolicyRequest, DottedOid, PurposeName, Level, BatchRequest, Verdict, PathCert, CertStatus, StatusSourceInfo, VerdictError, CertRef, FindingInfo, BatchResponse, BatchItem, RefusedItem, TiersResponse, TierInfo, AnchorInfo, Health, HealthStatus, ErrorBody, ErrorDetail, ErrorCode, VerdictCode, RevocationPolicy)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
#[derive(Debug)]
pub struct ApiDoc;

fn json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    json_content_type(headers)?;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(ApiError::BodyTooLarge { limit });
        }
    }
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| ApiError::BodyTimeout {
            seconds: timeout.as_secs_f64(),
        })?;
    read.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(<dyn std::error::Error>::is::<http_body_util::LengthLimitError>)
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::BodyTooLarge { limit }
        } else {
            ApiError::BadJson(format!("cannot read body: {e}"))
        }
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadJson(e.to_string()))
}

fn verdict_response(v: &Rendered, cached: bool) -> Response {
    let mut r = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        v.json.clone(),
    )
        .into_response();
    r.headers_mut().insert(
        "x-result-cache",
        HeaderValue::from_static(if cached { "hit" } else { "miss" }),
    );
    ResultCode::set(&mut r, v.outcome());
    r
}

/// Validate one chain.
#[utoipa::path(post, path = "/v1/validate",
    request_body(content = ValidateRequest, examples(
        ("amina" = (summary = "A citizen's authentication certificate with its CA", value = json!(crate::openapi_examples::validate_request()))),
    )),
    responses(
        (status = 200, description = "Verdict, valid or not", body = Verdict, examples(
            ("valid" = (summary = "Valid: tier, level, path, CRL status", value = json!(crate::openapi_examples::verdict_valid()))),
            ("revoked" = (summary = "Revoked: code and the certificate at fault", value = json!(crate::openapi_examples::verdict_revoked()))),
        )),
        (status = 400, description = "Malformed request (bad JSON, encoding or field)", body = ErrorBody, examples(
            ("bad_der" = (summary = "A leaf that is not DER", value = json!(crate::openapi_examples::error_bad_der()))),
            ("bad_json" = (summary = "A misspelt field", value = json!(crate::openapi_examples::error_bad_json()))),
        )),
        (status = 401, description = "Missing or unknown bearer token", body = ErrorBody, example = json!(crate::openapi_examples::error_unauthorized())),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 405, description = "Method other than POST (`Allow: POST`)", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 429, description = "Client concurrency limit reached", body = ErrorBody),
    ))]
async fn validate(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (limit, timeout) = {
        let snap = svc.snapshot();
        (snap.config.max_body_bytes, snap.config.body_timeout)
    };
    let bytes = read_body(&headers, body, limit, timeout).await?;
    let req: ValidateRequest = parse_json(&bytes)?;
    let response = if let Some(v) = svc.cached_request(&req) {
        verdict_response(&v, true)
    } else {
        let decoded = req.decode()?;
        let s = svc.clone();
        let v = tokio::task::spawn_blocking(move || s.compute(&decoded))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        verdict_response(&v, false)
    };
    svc.metrics.validate_latency.observe(started.elapsed());
    Ok(response)
}

/// Validate up to `batch_max` chains in parallel; results in request order.
#[utoipa::path(post, path = "/v1/validate/batch",
    request_body(content = BatchRequest, example = json!(crate::openapi_examples::batch_request())),
    responses(
        (status = 200, description = "One result per item, in order", body = BatchResponse, example = json!(crate::openapi_examples::batch_response())),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
        (status = 413, description = "Body or item count over the limit", body = ErrorBody),
        (status = 405, description = "Method other than POST (`Allow: POST`)", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 429, description = "Client concurrency limit reached", body = ErrorBody),
    ))]
async fn validate_batch(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let snap = svc.snapshot();
    let bytes = read_body(
        &headers,
        body,
        snap.config.max_batch_body_bytes,
        snap.config.body_timeout,
    )
    .await?;
    let req: BatchRequest = parse_json(&bytes)?;
    for (i, item) in req.items.iter().enumerate() {
        item.check_schema().map_err(|e| e.in_item(i))?;
    }
    if req.items.len() > snap.config.batch_max {
        return Err(ApiError::BatchTooLarge {
            items: req.items.len(),
            max: snap.config.batch_max,
        });
    }
    drop(snap);
    let s = svc.clone();
    let results = tokio::task::spawn_blocking(move || s.validate_batch(&req.items))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // `BatchResponse`, written from the verdicts' pre-rendered JSON.
    let mut out = Vec::with_capacity(results.len() * 2048 + 16);
    out.extend_from_slice(b"{\"results\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match r {
            Ok((v, _)) => out.extend_from_slice(&v.json),
            Err(e) => {
                let item = RefusedItem {
                    valid: false,
                    status: e.status().as_u16(),
                    error: e.body().error,
                };
                serde_json::to_writer(&mut out, &item)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
            }
        }
    }
    out.extend_from_slice(b"]}");
    svc.metrics.batch_latency.observe(started.elapsed());
    let mut r = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        out,
    )
        .into_response();
    ResultCode::set(&mut r, "batch");
    Ok(r)
}

fn cert_info(c: &pki_core::Cert) -> AnchorInfo {
    AnchorInfo {
        subject: c.subject_string(),
        sha256: pki_core::cert::hex(c.fingerprint()),
        not_after: c.not_after().to_string(),
    }
}

/// Configured trust tiers, their anchors and levels.
#[utoipa::path(get, path = "/v1/tiers",
    responses(
        (status = 200, description = "Tiers in force", body = TiersResponse, example = json!(crate::openapi_examples::tiers_response())),
        (status = 401, description = "Missing or unknown bearer token", body = ErrorBody),
        (status = 405, description = "Method other than GET (`Allow: GET,HEAD`)", body = ErrorBody),
    ))]
async fn tiers(State(svc): State<Arc<Service>>) -> Json<TiersResponse> {
    let snap = svc.snapshot();
    Json(TiersResponse {
        generation: snap.generation,
        tiers: snap
            .config
            .tiers
            .iter()
            .map(|t| TierInfo {
                name: t.name.clone(),
                level: t.level.as_str(),
                policy_levels: t
                    .policy_levels
                    .iter()
                    .map(|(o, l)| (o.to_string(), l.as_str()))
                    .collect(),
                revocation: t.revocation.clone(),
                anchors: t.anchors.iter().map(|c| cert_info(c)).collect(),
                intermediates: t.intermediates.iter().map(|c| cert_info(c)).collect(),
            })
            .collect(),
    })
}

/// Readiness: 503 while a hard-fail tier holds a CRL past its nextUpdate
/// or max age (its certificates would all get
/// `revocation_status_unavailable`), with the reasons.
#[utoipa::path(get, path = "/health", security(()),
    responses(
        (status = 200, description = "Ready", body = Health, example = json!(crate::openapi_examples::health_ok())),
        (status = 503, description = "Not ready; `reasons` says why", body = Health, example = json!(crate::openapi_examples::health_not_ready())),
    ))]
async fn health(State(svc): State<Arc<Service>>) -> Response {
    readiness(&svc)
}

/// The same as `/health`.
#[utoipa::path(get, path = "/health/ready", security(()),
    responses(
        (status = 200, description = "Ready", body = Health, example = json!(crate::openapi_examples::health_ok())),
        (status = 503, description = "Not ready; `reasons` says why", body = Health, example = json!(crate::openapi_examples::health_not_ready())),
    ))]
async fn health_ready(State(svc): State<Arc<Service>>) -> Response {
    readiness(&svc)
}

fn readiness(svc: &Service) -> Response {
    let snap = svc.snapshot();
    let reasons = svc.not_ready_reasons();
    let (status, code, result) = if reasons.is_empty() {
        (HealthStatus::Ok, StatusCode::OK, "ok")
    } else {
        (
            HealthStatus::NotReady,
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
        )
    };
    let mut r = (
        code,
        Json(Health {
            status,
            generation: snap.generation,
            tiers: snap.config.tiers.len(),
            crl_feeds: svc.feeds().len(),
            reasons,
        }),
    )
        .into_response();
    ResultCode::set(&mut r, result);
    r
}

/// Liveness: 200 while the process answers, whatever the CRLs.
#[utoipa::path(get, path = "/health/live", security(()),
    responses((status = 200, description = "Serving", content_type = "text/plain", body = String)))]
async fn health_live() -> &'static str {
    "live\n"
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", security(()),
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
async fn metrics(State(svc): State<Arc<Service>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        svc.render_metrics(),
    )
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!("{} {}", req.method(), req.uri().path()))
}

/// A known path with another method: the JSON error body (axum adds the
/// `Allow` header).
async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} {}", req.method(), req.uri().path()))
}

/// Bearer-token check and per-client slot for `/v1` routes.
async fn authenticate(
    State(svc): State<Arc<Service>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let snap = svc.snapshot();
    let admitted = snap
        .access
        .admit(
            req.headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
            req.extensions().get::<crate::tls::PeerCert>().map(|p| &p.0),
        )
        .inspect_err(|e| match e {
            ApiError::Unauthorized => {
                svc.metrics
                    .unauthorized
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            ApiError::ConcurrencyLimit { .. } => {
                svc.metrics
                    .concurrency_rejected
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            _ => {}
        })?;
    drop(snap);
    let resp = next.run(req).await;
    drop(admitted);
    Ok(resp)
}

/// Counts every answer by route and status.
async fn count(State(svc): State<Arc<Service>>, req: Request, next: Next) -> Response {
    // Static labels: no allocation per request, bounded label set.
    let route = match req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
    {
        Some("/v1/validate") => "/v1/validate",
        Some("/v1/validate/batch") => "/v1/validate/batch",
        Some("/v1/tiers") => "/v1/tiers",
        Some("/health") => "/health",
        Some("/health/ready") => "/health/ready",
        Some("/health/live") => "/health/live",
        Some("/metrics") => "/metrics",
        Some("/openapi.json") => "/openapi.json",
        _ => "unmatched",
    };
    let resp = next.run(req).await;
    svc.metrics.request(route, resp.status().as_u16());
    resp
}

/// The whole application.
pub fn router(svc: Arc<Service>) -> Router {
    let v1 = Router::new()
        .route("/v1/validate", post(validate))
        .route("/v1/validate/batch", post(validate_batch))
        .route("/v1/tiers", get(tiers))
        .route_layer(middleware::from_fn_with_state(svc.clone(), authenticate));
    Router::new()
        .merge(v1)
        .route("/health", get(health))
        .route("/health/ready", get(health_ready))
        .route("/health/live", get(health_live))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(svc.clone(), count))
        .with_state(svc)
}

/// Serves `svc` on `listener` until `shutdown` completes, then drains
/// (at most [`DRAIN`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    svc: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = svc.snapshot().config.header_timeout;
    let router = router(svc);
    service_kit::accept_loop(listener, shutdown, DRAIN, move |tcp, peer, stop| {
        serve_connection(
            hyper_util::rt::TokioIo::new(tcp),
            peer,
            router.clone(),
            None,
            header_timeout,
            stop,
        )
    })
    .await;
    Ok(())
}

/// How long a shutdown waits for connections in flight.
pub const DRAIN: std::time::Duration = service_kit::accept::DEFAULT_DRAIN;

/// One HTTP/1.1 connection from `peer`: headers must arrive within
/// `header_timeout`; `peer_cert` (mutual TLS) is added to every request;
/// each request gets its id and access line; on `stop` the current request
/// finishes and the connection closes.
pub(crate) async fn serve_connection<I>(
    io: I,
    peer: std::net::SocketAddr,
    router: Router,
    peer_cert: Option<crate::tls::PeerCert>,
    header_timeout: std::time::Duration,
    stop: service_kit::Stop,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        if let Some(p) = peer_cert {
            req.extensions_mut().insert(p);
        }
        let access = Access::begin(&mut req, peer);
        let mut r = router.clone();
        async move {
            let mut response = tower_service::Service::call(&mut r, req).await?;
            access.finish(&mut response);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let _ = service_kit::serve_http1(io, peer, svc, header_timeout, stop).await;
}
