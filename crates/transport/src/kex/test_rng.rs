//! The deterministic test generator, shared with the other crates' tests.

pub(crate) use sshwire_keys::testing::TestRng;
