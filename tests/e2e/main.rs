//! End-to-end tests of the windtunnel binary.
