//! Shared fixtures for criterion benches and load drivers.
