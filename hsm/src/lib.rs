//! PKCS#11 HSM access: module, sessions, keys, signers.
