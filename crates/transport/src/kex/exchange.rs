//! The algorithm-independent entry points: [`KexClient`] and [`server_reply`].

use super::dh::{self, DhGroup, Fixed};
use super::ecdh::{self, Curve};
use super::hybrid::{self, Pq};
use super::{KexAlg, KexError, SharedSecret, curve25519};
use rand_core::CryptoRng;

/// The client's ephemeral secret state for one key exchange.
///
/// Made by [`KexClient::start`] (or [`KexClient::start_gex`]) and consumed by
/// [`KexClient::finish`]. Every secret it holds is zeroized when it is dropped, whether or
/// not the exchange finished.
pub struct KexClient {
    alg: KexAlg,
    state: State,
}

enum State {
    Hybrid(hybrid::Client),
    X25519(curve25519::Client),
    Ecdh(ecdh::Client),
    Dh(dh::Client),
}

/// How an algorithm is computed.
enum Method {
    Hybrid(Pq),
    X25519,
    Ecdh(Curve),
    Dh(Fixed),
    Gex,
}

fn method(alg: KexAlg) -> Method {
    match alg {
        KexAlg::MlKem768X25519Sha256 => Method::Hybrid(Pq::MlKem768),
        KexAlg::Sntrup761X25519Sha512 | KexAlg::Sntrup761X25519Sha512OpenSsh => {
            Method::Hybrid(Pq::Sntrup761)
        }
        KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256LibSsh => Method::X25519,
        KexAlg::EcdhSha2Nistp256 => Method::Ecdh(Curve::P256),
        KexAlg::EcdhSha2Nistp384 => Method::Ecdh(Curve::P384),
        KexAlg::DhGroup14Sha256 => Method::Dh(Fixed::Group14),
        KexAlg::DhGroup16Sha512 => Method::Dh(Fixed::Group16),
        KexAlg::DhGroup18Sha512 => Method::Dh(Fixed::Group18),
        KexAlg::DhGexSha256 => Method::Gex,
    }
}

impl KexClient {
    /// Starts an exchange with `alg` and returns the client state and the content of the
    /// public value field of the client's init message.
    ///
    /// The value is `C_INIT` for the hybrids, `Q_C` for curve25519 and ECDH, and the `mpint`
    /// content of `e` for finite-field DH; write it with `Writer::string`. Group exchange
    /// ([`KexAlg::DhGexSha256`]) needs the server's group: use [`KexClient::start_gex`];
    /// here it is [`KexError::Unsupported`].
    pub fn start(alg: KexAlg, rng: &mut dyn CryptoRng) -> Result<(KexClient, Vec<u8>), KexError> {
        let (state, public) = match method(alg) {
            Method::Hybrid(pq) => {
                let (c, v) = hybrid::Client::start(pq, rng);
                (State::Hybrid(c), v)
            }
            Method::X25519 => {
                let (c, v) = curve25519::Client::start(rng);
                (State::X25519(c), v)
            }
            Method::Ecdh(curve) => {
                let (c, v) = ecdh::Client::start(curve, rng);
                (State::Ecdh(c), v)
            }
            Method::Dh(which) => {
                let (c, v) = dh::Client::start(dh::fixed_group(which)?, rng)?;
                (State::Dh(c), v)
            }
            Method::Gex => return Err(KexError::Unsupported),
        };
        Ok((KexClient { alg, state }, public))
    }

    /// Starts a `diffie-hellman-group-exchange-sha256` exchange in the server's `group`
    /// (validated by [`DhGroup::from_wire`]) and returns the state and the `mpint` content of
    /// `e` for `SSH_MSG_KEX_DH_GEX_INIT`.
    pub fn start_gex(
        group: &DhGroup,
        rng: &mut dyn CryptoRng,
    ) -> Result<(KexClient, Vec<u8>), KexError> {
        let (c, v) = dh::Client::start(group, rng)?;
        Ok((
            KexClient {
                alg: KexAlg::DhGexSha256,
                state: State::Dh(c),
            },
            v,
        ))
    }

    /// The algorithm of this exchange.
    pub fn alg(&self) -> KexAlg {
        self.alg
    }

    /// Validates the server's public value (the content of its field: `S_REPLY`, `Q_S` or
    /// the `mpint` content of `f`) and computes the shared secret.
    pub fn finish(self, server_public: &[u8]) -> Result<SharedSecret, KexError> {
        match self.state {
            State::Hybrid(c) => c.finish(server_public),
            State::X25519(c) => c.finish(server_public),
            State::Ecdh(c) => c.finish(server_public),
            State::Dh(c) => c.finish(server_public),
        }
    }
}

impl core::fmt::Debug for KexClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KexClient")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The server side of a key exchange: validates the client's public value (the content of
/// its field: `C_INIT`, `Q_C` or the `mpint` content of `e`), and returns the content of the
/// server's public value field (`S_REPLY`, `Q_S` or `f`) and the shared secret.
///
/// Not for group exchange ([`KexError::Unsupported`]), whose group comes from the client's
/// request: see [`server_reply_gex`].
pub fn server_reply(
    alg: KexAlg,
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError> {
    match method(alg) {
        Method::Hybrid(pq) => hybrid::server_reply(pq, client_public, rng),
        Method::X25519 => curve25519::server_reply(client_public, rng),
        Method::Ecdh(curve) => ecdh::server_reply(curve, client_public, rng),
        Method::Dh(which) => dh::server_reply(dh::fixed_group(which)?, client_public, rng),
        Method::Gex => Err(KexError::Unsupported),
    }
}

/// The server side of a group exchange (RFC 4419 §3) in `group`, chosen with
/// [`DhGroup::for_request`]: validates the client's `e` (mpint content) and returns the
/// content of `f` and the shared secret.
pub fn server_reply_gex(
    group: &DhGroup,
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), KexError> {
    dh::server_reply(group, client_public, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kex::test_rng::TestRng;
    use proptest::prelude::*;

    fn non_gex() -> impl Iterator<Item = KexAlg> {
        KexAlg::all().iter().copied().filter(|a| !a.is_gex())
    }

    #[test]
    fn every_algorithm_agrees() {
        let mut rng = TestRng::new(40);
        for alg in non_gex() {
            let (client, c_pub) = KexClient::start(alg, &mut rng).unwrap();
            assert_eq!(client.alg(), alg);
            let (s_pub, k_s) = server_reply(alg, &c_pub, &mut rng).unwrap();
            let k_c = client.finish(&s_pub).unwrap();
            assert_eq!(k_c, k_s, "{}", alg.name());
            let mut rng2 = TestRng::new(41);
            let (_, k_other) = server_reply(alg, &c_pub, &mut rng2).unwrap();
            assert_ne!(k_other, k_s, "{}: fresh server secret", alg.name());
        }
    }

    #[test]
    fn group_exchange_agrees() {
        let mut rng = TestRng::new(42);
        let group = dh::fixed_group(Fixed::Group14).unwrap();
        let (client, e) = KexClient::start_gex(group, &mut rng).unwrap();
        assert_eq!(client.alg(), KexAlg::DhGexSha256);
        let (f, k_s) = dh::server_reply(group, &e, &mut rng).unwrap();
        assert_eq!(client.finish(&f).unwrap(), k_s);
    }

    #[test]
    fn group_exchange_needs_a_group() {
        let mut rng = TestRng::new(43);
        assert_eq!(
            KexClient::start(KexAlg::DhGexSha256, &mut rng).unwrap_err(),
            KexError::Unsupported
        );
        assert_eq!(
            server_reply(KexAlg::DhGexSha256, &[2], &mut rng).unwrap_err(),
            KexError::Unsupported
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut rng = TestRng::new(44);
        let (client, _) = KexClient::start(KexAlg::Curve25519Sha256, &mut rng).unwrap();
        assert_eq!(
            format!("{client:?}"),
            "KexClient { alg: Curve25519Sha256, .. }"
        );
    }

    /// The lengths of the fixed-size public values, to aim random inputs at the parsers
    /// behind the length checks.
    fn exact_len(alg: KexAlg, server: bool) -> usize {
        match (alg, server) {
            (KexAlg::MlKem768X25519Sha256, false) => 1184 + 32,
            (KexAlg::MlKem768X25519Sha256, true) => 1088 + 32,
            (KexAlg::Sntrup761X25519Sha512 | KexAlg::Sntrup761X25519Sha512OpenSsh, false) => {
                1158 + 32
            }
            (KexAlg::Sntrup761X25519Sha512 | KexAlg::Sntrup761X25519Sha512OpenSsh, true) => {
                1039 + 32
            }
            (KexAlg::Curve25519Sha256 | KexAlg::Curve25519Sha256LibSsh, _) => 32,
            (KexAlg::EcdhSha2Nistp256, _) => 65,
            (KexAlg::EcdhSha2Nistp384, _) => 97,
            (KexAlg::DhGroup14Sha256, _) => 257,
            (KexAlg::DhGroup16Sha512, _) => 513,
            (KexAlg::DhGroup18Sha512 | KexAlg::DhGexSha256, _) => 1025,
        }
    }

    fn alg_strategy() -> impl Strategy<Value = KexAlg> {
        proptest::sample::select(non_gex().collect::<Vec<_>>())
    }

    /// Arbitrary bytes, of arbitrary length or of the exact expected length (with the first
    /// byte kept as generated, so ECDH gets `0x04` some of the time).
    fn input(alg: KexAlg, server: bool) -> impl Strategy<Value = Vec<u8>> {
        let n = exact_len(alg, server);
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..1300),
            proptest::collection::vec(any::<u8>(), n..=n),
            proptest::collection::vec(any::<u8>(), n..=n).prop_map(|mut v| {
                if let Some(b) = v.first_mut() {
                    *b = if *b & 1 == 0 { 4 } else { 0 };
                }
                v
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_client_values_never_panic(
            (alg, bytes) in alg_strategy().prop_flat_map(|a| (Just(a), input(a, false))),
            seed: u64,
        ) {
            let _ = server_reply(alg, &bytes, &mut TestRng::new(seed));
        }

        #[test]
        fn arbitrary_server_values_never_panic(
            (alg, bytes) in alg_strategy().prop_flat_map(|a| (Just(a), input(a, true))),
            seed: u64,
        ) {
            let (client, _) = KexClient::start(alg, &mut TestRng::new(seed)).unwrap();
            let _ = client.finish(&bytes);
        }

        #[test]
        fn arbitrary_groups_never_panic(
            p in proptest::collection::vec(any::<u8>(), 0..1100),
            g in proptest::collection::vec(any::<u8>(), 0..8),
            min in 0u32..10000,
            max in 0u32..10000,
        ) {
            let _ = DhGroup::from_wire(&p, &g, min, max);
        }
    }
}
