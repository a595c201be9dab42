//! What the OCSP load drivers (`ocsp_load`, `scale`) send and accept: the
//! shape of a request (GET, POST, POST with a fresh nonce), the check of its
//! answer, and the ceiling they are compared with, a bare hyper server
//! returning a fixed body.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use der::Encode as _;
use http_body_util::Full;
use hyper::server::conn::http1 as server;
use hyper_util::rt::TokioIo;
use pki_core::ocsp::{build_request, HashAlgorithm, IssuerHashes};
use tokio::net::TcpListener;

/// One in this many live responses is decoded in full and its signature
/// verified; every one has its nonce checked.
pub const VERIFY_EVERY: u64 = 32;

/// What one request looks like.
#[derive(Clone)]
pub enum Shape {
    /// GET of these paths (see [`get_path`]), round-robin.
    Get(Arc<Vec<String>>),
    /// POST of these DER requests, round-robin.
    Post(Arc<Vec<Bytes>>),
    /// POST with a fresh nonce per request, for this issuer and serials:
    /// it cannot be answered from a cache. Responses must echo the nonce
    /// (every one checked) and carry a signature by this responder key (one
    /// in [`VERIFY_EVERY`] fully verified).
    PostNonce(Arc<NonceSpec>),
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Get(paths) => write!(f, "Get({} paths)", paths.len()),
            Self::Post(bodies) => write!(f, "Post({} bodies)", bodies.len()),
            Self::PostNonce(spec) => write!(f, "PostNonce({} serials)", spec.serials.len()),
        }
    }
}

/// The requests of [`Shape::PostNonce`].
pub struct NonceSpec {
    pub issuer: IssuerHashes,
    /// DER content octets of the serials asked for, round-robin.
    pub serials: Vec<Vec<u8>>,
    /// Uncompressed P-256 point of the responder key.
    pub responder_key: Vec<u8>,
}

impl std::fmt::Debug for NonceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceSpec")
            .field("serials", &self.serials.len())
            .finish_non_exhaustive()
    }
}

/// RFC 6960 A.1: the path of a GET request, `/` then the base64 of the DER
/// `OCSPRequest`, URL-encoded.
pub fn get_path(request_der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(request_der);
    format!(
        "/{}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    )
}

impl Shape {
    /// Request number `n`, and the nonce it carries.
    pub fn request(&self, n: u64) -> (hyper::Request<Full<Bytes>>, Option<[u8; 32]>) {
        let b = hyper::Request::builder().header("host", "127.0.0.1");
        let mut sent = None;
        let req = match self {
            Self::Get(paths) => b
                .method("GET")
                .uri(&paths[n as usize % paths.len()])
                .body(Full::new(Bytes::new())),
            Self::Post(bodies) => b
                .method("POST")
                .uri("/")
                .header("content-type", "application/ocsp-request")
                .body(Full::new(bodies[n as usize % bodies.len()].clone())),
            Self::PostNonce(spec) => {
                let id = spec
                    .issuer
                    .cert_id(
                        HashAlgorithm::Sha1,
                        &spec.serials[n as usize % spec.serials.len()],
                    )
                    .expect("the bench's serials are valid DER INTEGER contents");
                let mut nonce = [0u8; 32];
                nonce[..8].copy_from_slice(&n.to_be_bytes());
                nonce[8..16].copy_from_slice(&std::process::id().to_be_bytes().repeat(2));
                let der = build_request(&[id], Some(&nonce)).expect("one CertID encodes");
                sent = Some(nonce);
                b.method("POST")
                    .uri("/")
                    .header("content-type", "application/ocsp-request")
                    .body(Full::new(Bytes::from(der)))
            }
        }
        .expect("the bench's paths and headers are valid");
        (req, sent)
    }

    /// Whether `body` answers request `n`, which carried `nonce`: a
    /// `successful` OCSP response when `ocsp`, any non-empty body otherwise
    /// (the bare server).
    pub fn answered(&self, n: u64, body: &[u8], nonce: Option<&[u8; 32]>, ocsp: bool) -> bool {
        let expected = if ocsp {
            successful(body)
        } else {
            !body.is_empty()
        };
        if !expected {
            return false;
        }
        let (Self::PostNonce(spec), Some(nonce)) = (self, nonce) else {
            return true;
        };
        // The nonce is unique to this request: finding its 32 bytes in the
        // response means it was echoed (the full decode below checks where).
        if !body.windows(nonce.len()).any(|w| w == nonce) {
            return false;
        }
        if n % VERIFY_EVERY != 0 {
            return true;
        }
        let Ok(decoded) = pki_core::ocsp::decode_response(body) else {
            return false;
        };
        let Some(basic) = decoded.basic else {
            return false;
        };
        if basic
            .nonce()
            .is_none_or(|echoed| echoed.0.as_bytes() != nonce)
        {
            return false;
        }
        let Ok(tbs) = basic.tbs_response_data.to_der() else {
            return false;
        };
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            &spec.responder_key,
        )
        .verify(&tbs, basic.signature.raw_bytes())
        .is_ok()
    }
}

/// RFC 6960 4.2.1: an `OCSPResponse` whose `responseStatus` is
/// `successful` (0), read from the first bytes without decoding the rest.
pub fn successful(body: &[u8]) -> bool {
    if body.len() < 8 || body[0] != 0x30 {
        return false;
    }
    let h = if body[1] < 0x80 {
        2
    } else {
        2 + usize::from(body[1] & 0x7f)
    };
    body.get(h..h + 3) == Some(&[0x0a, 0x01, 0x00])
}

/// The ceiling: hyper answering every request with the same `body_len`
/// bytes, on the current tokio runtime. Its address.
pub async fn bare_server(body_len: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let body = Bytes::from(vec![0x42u8; body_len]);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        let mut r = hyper::Response::new(Full::new(body));
                        r.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("application/ocsp-response"),
                        );
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = server::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}
