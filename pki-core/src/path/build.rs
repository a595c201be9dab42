//! Depth-first path building from the end entity towards the anchors
//! (RFC 4158 sections 2.3 and 3), with loop detection and a work budget.

use std::sync::Arc;

use super::{validate, ValidatedPath, ValidationOptions, Validator, MAX_PATH_LEN};
use crate::cert::Cert;
use crate::Error;

pub(super) struct Builder<'v, 'o> {
    validator: &'v Validator,
    pool: &'v [Arc<Cert>],
    opts: &'v ValidationOptions<'o>,
    signatures_left: usize,
    candidates_left: usize,
    /// The most informative failure so far.
    best: Option<(u8, Error)>,
    /// What the end-entity checks found, for the path's result.
    end_entity: validate::EndEntityNotes,
}

/// How informative an error is, to pick the one to report when no path works:
/// a complete path that failed a check beats a broken signature, which
/// beats running out of budget or depth, which beats "no issuer".
fn rank(e: &Error) -> u8 {
    match e {
        Error::IssuerNotFound { .. } => 0,
        Error::MaxDepthExceeded { .. } | Error::BudgetExceeded { .. } => 1,
        Error::SignatureInvalid { .. } | Error::KeyAlgorithmMismatch { .. } => 2,
        _ => 3,
    }
}

impl<'v, 'o> Builder<'v, 'o> {
    pub(super) fn new(
        validator: &'v Validator,
        pool: &'v [Arc<Cert>],
        opts: &'v ValidationOptions<'o>,
        end_entity: validate::EndEntityNotes,
    ) -> Self {
        Self {
            end_entity,
            validator,
            pool,
            opts,
            signatures_left: opts.budget.signatures,
            candidates_left: opts.budget.candidates,
            best: None,
        }
    }

    fn note(&mut self, e: Error) {
        let r = rank(&e);
        if self.best.as_ref().is_none_or(|(br, _)| r > *br) {
            self.best = Some((r, e));
        }
    }

    pub(super) fn run(mut self, leaf: &Arc<Cert>) -> Result<ValidatedPath, Error> {
        let mut chain = Vec::with_capacity(4);
        chain.push(leaf.clone());
        // Direct trust: the end entity is itself a configured anchor (a
        // self-signed certificate trusted as such), a path of one. The
        // anchor is an input (RFC 5280 6.1.1 (d)): nothing is verified
        // above it, so it needs neither cA nor keyCertSign.
        if let Some(tier) = self.direct_anchor_tier(leaf) {
            match validate::check_path(self.validator, &chain, tier, self.opts, &self.end_entity) {
                Ok(p) => return Ok(p),
                Err(e) => self.note(e),
            }
        }
        match self.extend(&mut chain, 0) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(self.best.map_or_else(
                || Error::IssuerNotFound {
                    index: 0,
                    subject: leaf.subject_string(),
                },
                |(_, e)| e,
            )),
            Err(fatal) => Err(fatal),
        }
    }

    /// Checks the signature of `child` (at `index` in the path) under `issuer`,
    /// through the verified-edge cache.
    fn edge_ok(&mut self, child: &Cert, issuer: &Cert, index: usize) -> Result<bool, Error> {
        let policy = self.opts.algorithm_policy;
        // A DSA issuer key that inherits its parameters (RFC 3279 2.3.2)
        // can be checked only once the certificates above it are known:
        // `check_path` verifies this edge on the complete path, uncached.
        if issuer
            .public_key()
            .is_ok_and(crate::signature::PublicKey::inherits_dsa_params)
        {
            return Ok(true);
        }
        let validator = self.validator;
        validator
            .edges
            .contains_or_verify(issuer, child, policy, || {
                if self.signatures_left == 0 {
                    return Err(Error::BudgetExceeded {
                        what: "signature checks",
                    });
                }
                self.signatures_left -= 1;
                match child.verify_signed_by(issuer, policy) {
                    Ok(()) => Ok(true),
                    Err(e) => {
                        self.note(e.at_index(index));
                        Ok(false)
                    }
                }
            })
    }

    /// `intermediates` is the number of non-self-issued intermediates in
    /// `chain` so far. Returns `Ok(Some)` on success, `Ok(None)` when no path
    /// exists below this point, `Err` when the budget is gone.
    fn extend(
        &mut self,
        chain: &mut Vec<Arc<Cert>>,
        intermediates: usize,
    ) -> Result<Option<ValidatedPath>, Error> {
        let index = chain.len() - 1;
        let child = chain[index].clone();

        // RFC 4158 3.5.12: prefer trust anchors, then intermediates.
        let validator = self.validator;
        for a in validator.trust.anchors_issuing(&child) {
            let anchor = &a.cert;
            if !key_ids_compatible(&child, anchor) || in_chain(chain, anchor) {
                continue;
            }
            self.spend_candidate()?;
            if !self.edge_ok(&child, anchor, index)? {
                continue;
            }
            chain.push(anchor.clone());
            let result =
                validate::check_path(validator, chain, a.tier, self.opts, &self.end_entity);
            chain.pop();
            match result {
                Ok(p) => return Ok(Some(p)),
                Err(e) => self.note(e),
            }
        }

        if chain.len() + 1 >= MAX_PATH_LEN {
            self.note(Error::MaxDepthExceeded {
                max: MAX_PATH_LEN - 2,
            });
            return Ok(None);
        }
        let pool = self.pool;
        for cand in pool {
            if !cand.subject_names_issuer_of(&child)
                || !key_ids_compatible(&child, cand)
                || in_chain(chain, cand)
                || self
                    .validator
                    .trust
                    .anchors()
                    .iter()
                    .any(|a| a.cert.der() == cand.der())
            {
                continue;
            }
            // Self-issued intermediates do not count towards the depth (RFC 5280 6.1.4 (l)).
            let counted = intermediates + usize::from(!cand.is_self_issued());
            if counted > self.opts.max_intermediates {
                self.note(Error::MaxDepthExceeded {
                    max: self.opts.max_intermediates,
                });
                continue;
            }
            self.spend_candidate()?;
            if !self.edge_ok(&child, cand, index)? {
                continue;
            }
            chain.push(cand.clone());
            let found = self.extend(chain, counted)?;
            chain.pop();
            if found.is_some() {
                return Ok(found);
            }
        }
        if index == 0 || self.best.is_none() {
            self.note(Error::IssuerNotFound {
                index,
                subject: child.subject_string(),
            });
        }
        Ok(None)
    }

    /// The tier of the anchor that is this very certificate, if any.
    fn direct_anchor_tier(&self, leaf: &Cert) -> Option<usize> {
        // (Self-signed only: the common case costs one flag test.)
        if !leaf.is_self_issued() {
            return None;
        }
        self.validator
            .trust
            .anchors_with_subject(leaf.subject_der())
            .into_iter()
            .find(|a| a.cert.der() == leaf.der())
            .map(|a| a.tier)
    }

    fn spend_candidate(&mut self) -> Result<(), Error> {
        if self.candidates_left == 0 {
            return Err(Error::BudgetExceeded {
                what: "candidate issuers",
            });
        }
        self.candidates_left -= 1;
        Ok(())
    }
}

/// RFC 4158 3.5.12 / RFC 5280 4.2.1.1: when the child names its issuer's key
/// and the candidate states its own, they must agree. Absent identifiers do
/// not exclude a candidate (names still have to match).
fn key_ids_compatible(child: &Cert, issuer: &Cert) -> bool {
    let aki = child
        .extensions()
        .authority_key_id
        .as_ref()
        .and_then(|a| a.key_identifier.as_ref());
    match (aki, &issuer.extensions().subject_key_id) {
        (Some(aki), Some(ski)) => aki.as_bytes() == ski.as_slice(),
        _ => true,
    }
}

/// Loop detection (RFC 4158 2.4.2): the same certificate, or the same
/// subject with the same key, is already in the path.
fn in_chain(chain: &[Arc<Cert>], cand: &Cert) -> bool {
    chain.iter().any(|c| {
        c.der() == cand.der()
            || (c.spki_der() == cand.spki_der()
                && crate::name::names_equal(c.subject(), cand.subject()))
    })
}
