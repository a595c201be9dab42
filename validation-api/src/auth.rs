//! Access control for `/v1`: bearer tokens checked against their SHA-256
//! in the config with a constant-time comparison, and a per-client limit
//! on requests in flight.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{AuthConfig, Client};
use crate::error::ApiError;

#[derive(Debug)]
struct ClientSlot {
    client: Client,
    in_flight: Arc<Semaphore>,
}

/// The clients of one configuration snapshot and their concurrency slots.
#[derive(Debug)]
pub struct Access {
    clients: Vec<ClientSlot>,
    anonymous: Option<(usize, Arc<Semaphore>)>,
}

/// An authenticated request: who it is, and its slot, released on drop.
#[derive(Debug)]
pub struct Admitted {
    pub client: String,
    _permit: OwnedSemaphorePermit,
}

impl Access {
    pub fn new(auth: &AuthConfig) -> Self {
        Self {
            clients: auth
                .clients
                .iter()
                .map(|c| ClientSlot {
                    client: c.clone(),
                    in_flight: Arc::new(Semaphore::new(c.max_concurrent)),
                })
                .collect(),
            anonymous: auth.allow_anonymous.then(|| {
                (
                    auth.anonymous_max_concurrent,
                    Arc::new(Semaphore::new(auth.anonymous_max_concurrent)),
                )
            }),
        }
    }

    /// Requests in flight and the limit, per client (configured clients in
    /// config order, then `anonymous` when allowed).
    pub fn in_flight(&self) -> Vec<(&str, usize, usize)> {
        let used = |limit: usize, sem: &Semaphore| limit.saturating_sub(sem.available_permits());
        let mut out: Vec<(&str, usize, usize)> = self
            .clients
            .iter()
            .map(|c| {
                let limit = c.client.max_concurrent;
                (c.client.name.as_str(), used(limit, &c.in_flight), limit)
            })
            .collect();
        if let Some((limit, sem)) = &self.anonymous {
            out.push(("anonymous", used(*limit, sem), *limit));
        }
        out
    }

    /// Checks the `Authorization` header value and takes a slot.
    ///
    /// Every configured hash is compared, in constant time each, whatever
    /// matches, so the answer time does not tell which client nearly matched.
    /// `peer_cert` is the SHA-256 of the TLS client certificate, when the
    /// connection is mutual TLS; a client whose `cert_sha256` matches is
    /// admitted without a token.
    pub fn admit(
        &self,
        authorization: Option<&[u8]>,
        peer_cert: Option<&[u8; 32]>,
    ) -> Result<Admitted, ApiError> {
        let token = authorization.and_then(|h| {
            let h = std::str::from_utf8(h).ok()?;
            let (scheme, rest) = h.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim())
                .filter(|t| !t.is_empty())
        });
        let matches = |a: &[u8; 32], b: Option<&[u8; 32]>| {
            b.is_some_and(|b| aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok())
        };
        let mut found = None;
        if let Some(fp) = peer_cert {
            for c in &self.clients {
                if matches(fp, c.client.cert_sha256.as_ref()) {
                    found = Some(c);
                }
            }
        }
        if let (None, Some(t)) = (found, token) {
            let hash = crate::config::token_hash(t);
            for c in &self.clients {
                if matches(&hash, c.client.token_sha256.as_ref()) {
                    found = Some(c);
                }
            }
        }
        let slot = found.map(|c| (c.client.name.clone(), c.client.max_concurrent, &c.in_flight));
        let (name, limit, sem) = match (slot, &self.anonymous) {
            (Some(s), _) => s,
            // A wrong token is refused even when anonymous calls are allowed.
            (None, Some((limit, sem))) if token.is_none() => ("anonymous".to_owned(), *limit, sem),
            (None, _) => return Err(ApiError::Unauthorized),
        };
        let permit = sem
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::ConcurrencyLimit {
                client: name.clone(),
                limit,
            })?;
        Ok(Admitted {
            client: name,
            _permit: permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(limit: usize, anonymous: bool) -> Access {
        Access::new(&AuthConfig {
            allow_anonymous: anonymous,
            anonymous_max_concurrent: 1,
            clients: vec![Client {
                name: "broker".into(),
                token_sha256: Some(crate::config::token_hash("s3cret")),
                cert_sha256: Some([7; 32]),
                max_concurrent: limit,
            }],
        })
    }

    #[test]
    fn tokens_are_checked_against_their_hash() {
        let a = access(4, false);
        assert_eq!(
            a.admit(Some(b"Bearer s3cret"), None).unwrap().client,
            "broker"
        );
        assert_eq!(
            a.admit(Some(b"bearer s3cret"), None).unwrap().client,
            "broker"
        );
        for bad in [
            &b"Bearer s3cre"[..],
            b"Bearer S3cret",
            b"Basic s3cret",
            b"s3cret",
            b"Bearer ",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(a.admit(Some(bad), None), Err(ApiError::Unauthorized)),
                "{bad:?}"
            );
        }
        assert!(matches!(a.admit(None, None), Err(ApiError::Unauthorized)));
    }

    #[test]
    fn per_client_concurrency_limit() {
        let a = access(2, false);
        let p1 = a.admit(Some(b"Bearer s3cret"), None).unwrap();
        let _p2 = a.admit(Some(b"Bearer s3cret"), None).unwrap();
        assert_eq!(a.in_flight(), vec![("broker", 2, 2)]);
        match a.admit(Some(b"Bearer s3cret"), None) {
            Err(e @ ApiError::ConcurrencyLimit { .. }) => {
                assert_eq!(e.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
            }
            other => panic!("expected the limit, got {other:?}"),
        }
        drop(p1);
        assert_eq!(
            a.in_flight(),
            vec![("broker", 1, 2)],
            "refusal took no slot"
        );
        assert!(
            a.admit(Some(b"Bearer s3cret"), None).is_ok(),
            "slot released on drop"
        );
    }

    #[test]
    fn client_certificate_admits_without_token() {
        let a = access(4, false);
        assert_eq!(a.admit(None, Some(&[7; 32])).unwrap().client, "broker");
        assert!(matches!(
            a.admit(None, Some(&[8; 32])),
            Err(ApiError::Unauthorized)
        ));
        // An unknown certificate does not stop a valid token.
        assert_eq!(
            a.admit(Some(b"Bearer s3cret"), Some(&[8; 32]))
                .unwrap()
                .client,
            "broker"
        );
    }

    #[test]
    fn anonymous_only_without_a_token() {
        let a = access(1, true);
        assert_eq!(a.admit(None, None).unwrap().client, "anonymous");
        assert!(matches!(
            a.admit(Some(b"Bearer wrong"), None),
            Err(ApiError::Unauthorized)
        ));
    }
}
