//! Certificate, revocation and audit database (SQLite default, PostgreSQL).
