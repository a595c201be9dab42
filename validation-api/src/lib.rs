//! HTTP JSON validation service for the identity broker.
