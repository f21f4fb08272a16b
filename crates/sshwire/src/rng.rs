//! The operating system's random number generator, as the engines want it.

/// Random bytes from the operating system (`getrandom`), as a `rand_core::CryptoRng`.
///
/// The engines take their randomness as an argument; this is what real connections use. A
/// machine whose entropy source fails cannot run SSH safely, so a failure panics (inside
/// `UnwrapErr`) rather than degrading silently.
pub type SystemRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// A boxed [`SystemRng`], ready for `Transport::client` and `Transport::server`.
pub fn system_rng() -> Box<SystemRng> {
    Box::new(rand_core::UnwrapErr(getrandom::SysRng))
}
