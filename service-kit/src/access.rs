//! The request id and one access log line per request.
//!
//! Each request gets an id: the client's `x-request-id` when it is sane
//! (1 to 128 characters among `A-Z a-z 0-9 - _ . : + / = @ ~`), else a new
//! one. The id is echoed in the response's `x-request-id` header and
//! written in the access line, a `tracing` event at INFO with target
//! `access` and the fields `request_id`, `client` (peer address),
//! `method`, `path`, `status`, `result` (the service's result or verdict
//! code, `-` when it has none) and `latency_us`. Errors are requests like
//! any other: a 401, 405 or 413 has its line. `RUST_LOG=info,access=off`
//! turns the lines off.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use http::header::HeaderName;
use http::{HeaderValue, Method, Request, Response, StatusCode};

/// The request id header, read from requests and set on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client request id taken as it is.
const MAX_ID_LEN: usize = 128;
/// Longest path written in an access line (an OCSP GET carries the whole
/// request in its path); longer ones end in `...`.
const MAX_LOGGED_PATH: usize = 256;

/// A request's id, in the request's extensions while it is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id when it is sane, else a new one.
    pub fn from_client(value: Option<&HeaderValue>) -> Self {
        match value {
            Some(v) if is_sane(v.as_bytes()) => Self(v.clone()),
            _ => Self::generate(),
        }
    }

    /// A new id: 16 hex digits drawn once per process, then a counter.
    pub fn generate() -> Self {
        static PREFIX: OnceLock<u64> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(random_u64);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("{prefix:016x}{n:08x}");
        // Hex digits are a valid header value.
        Self(HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-")))
    }

    pub fn as_str(&self) -> &str {
        // Sane ids and generated ones are ASCII.
        self.0.to_str().unwrap_or("-")
    }

    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@~".contains(b))
}

/// Randomness without a dependency: std's hasher keys come from the OS.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// The service's result or verdict code for a response (`cached`,
/// `unauthorized`, `revoked`, ...), put in the response's extensions by
/// the handler and written in the access line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultCode(pub &'static str);

impl ResultCode {
    /// Tags `response` with `code`.
    pub fn set<B>(response: &mut Response<B>, code: &'static str) {
        response.extensions_mut().insert(Self(code));
    }
}

/// A request being answered, until its access line is written.
#[derive(Debug)]
pub struct Access {
    id: RequestId,
    peer: SocketAddr,
    method: Method,
    path: String,
    started: Instant,
}

impl Access {
    /// Starts the access line of `req` from `peer`: takes the client's id
    /// or makes one, and puts it in the request's extensions.
    pub fn begin<B>(req: &mut Request<B>, peer: SocketAddr) -> Self {
        let id = RequestId::from_client(req.headers().get(REQUEST_ID));
        req.extensions_mut().insert(id.clone());
        let full = req.uri().path();
        let path = match full.get(..MAX_LOGGED_PATH) {
            Some(head) if full.len() > MAX_LOGGED_PATH => format!("{head}..."),
            _ => full.to_owned(),
        };
        Self {
            id,
            peer,
            method: req.method().clone(),
            path,
            started: Instant::now(),
        }
    }

    /// Echoes the id in `x-request-id` and writes the line with the
    /// response's status and [`ResultCode`].
    pub fn finish<B>(self, resp: &mut Response<B>) {
        resp.headers_mut()
            .insert(REQUEST_ID, self.id.header_value().clone());
        let result = resp.extensions().get::<ResultCode>().map_or("-", |r| r.0);
        line(
            &self.id,
            self.peer,
            self.method.as_str(),
            &self.path,
            resp.status(),
            result,
            self.started.elapsed().as_micros(),
        );
    }
}

fn line(
    id: &RequestId,
    peer: SocketAddr,
    method: &str,
    path: &str,
    status: StatusCode,
    result: &str,
    latency_us: u128,
) {
    tracing::info!(
        target: "access",
        request_id = id.as_str(),
        client = %peer,
        method,
        path,
        status = status.as_u16(),
        result,
        latency_us = u64::try_from(latency_us).unwrap_or(u64::MAX),
        "request"
    );
}

/// The status hyper answered a request with by itself, when a connection
/// ended on one: 414 for a request line over its limit, 431 for oversized
/// headers, 400 for a request it could not parse. Those requests never
/// reach a handler.
pub fn refused_status(err: &hyper::Error) -> Option<StatusCode> {
    if err.is_parse_too_large() {
        // hyper tells the two apart only in its error text.
        Some(if err.to_string().starts_with("URI too long") {
            StatusCode::URI_TOO_LONG
        } else {
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        })
    } else if err.is_parse() && !err.to_string().starts_with("internal") {
        Some(StatusCode::BAD_REQUEST)
    } else {
        None
    }
}

/// Writes the access line of a request hyper refused by itself (see
/// [`refused_status`]); other connection errors are logged at DEBUG.
pub fn refused(peer: SocketAddr, err: &hyper::Error) {
    if let Some(status) = refused_status(err) {
        line(&RequestId::generate(), peer, "-", "-", status, "-", 0);
    } else {
        tracing::debug!(client = %peer, error = %err, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_taken_only_when_sane() {
        let take = |v: &'static str| RequestId::from_client(Some(&HeaderValue::from_static(v)));
        assert_eq!(take("abc-123_X.y:z").as_str(), "abc-123_X.y:z");
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(take(uuid).as_str(), uuid);
        for bad in ["", "two words", "quote\"", "semi;colon", &"x".repeat(129)] {
            let v = HeaderValue::from_str(bad).unwrap();
            let id = RequestId::from_client(Some(&v));
            assert_ne!(id.as_str(), bad);
            assert_eq!(id.as_str().len(), 24, "a generated id instead");
        }
        let a = RequestId::from_client(None);
        let b = RequestId::from_client(None);
        assert_ne!(a, b);
        assert_eq!(a.as_str()[..16], b.as_str()[..16], "same process prefix");
    }

    #[test]
    fn long_paths_are_cut_in_the_line() {
        let mut req = Request::get(format!("/{}", "A".repeat(1000)))
            .body(())
            .unwrap();
        let access = Access::begin(&mut req, "127.0.0.1:1".parse().unwrap());
        assert_eq!(access.path.len(), MAX_LOGGED_PATH + 3);
        assert!(req.extensions().get::<RequestId>().is_some());
        let mut resp = Response::new(());
        ResultCode::set(&mut resp, "ok");
        access.finish(&mut resp);
        assert!(resp.headers().contains_key(REQUEST_ID));
    }
}
