//! The operating system's random number generator, as the engines want it.

use std::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};

/// Random bytes from the operating system (`getrandom`).
///
/// The engines take their randomness as an argument; this is what real connections use.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRng;

impl TryRng for SystemRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        // A machine without a working entropy source cannot run SSH safely; there is no
        // fallback that would be anything but a silent weakness.
        #[allow(clippy::panic)]
        if let Err(e) = getrandom::fill(dst) {
            panic!("the operating system's random number generator failed: {e}");
        }
        Ok(())
    }
}

impl TryCryptoRng for SystemRng {}

/// A boxed [`SystemRng`], ready for `Transport::client` and `Transport::server`.
pub fn system_rng() -> Box<SystemRng> {
    Box::new(SystemRng)
}
