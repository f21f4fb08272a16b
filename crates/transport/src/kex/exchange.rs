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
/// Not for group exchange, which this crate implements on the client side only
/// ([`KexError::Unsupported`]).
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
