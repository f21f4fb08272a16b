//! A deterministic random generator for tests and fuzzing; compiled only with the `testing`
//! feature, which no release build enables.

use core::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};

/// SplitMix64: the same bytes for the same seed, every time.
///
/// NOT cryptographically secure. It implements `CryptoRng` only so that tests and fuzzers can
/// drive the engines deterministically; nothing outside tests may use it.
#[derive(Debug, Clone)]
pub struct TestRng(pub u64);

impl TestRng {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        TestRng(seed)
    }
}

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(v) {
                *d = s;
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}
