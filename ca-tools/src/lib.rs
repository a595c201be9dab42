//! The pki CLI: ceremonies, issuance, revocation, CRLs, validation, audit.
