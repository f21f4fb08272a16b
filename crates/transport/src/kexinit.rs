//! `SSH_MSG_KEXINIT`: its codec and the negotiation of RFC 4253 §7.1.

use sshwire_wire::{Reader, Writer};

use crate::msg::MessageNumber;

/// The contents of an `SSH_MSG_KEXINIT` message (RFC 4253 §7.1).
///
/// The name-lists are kept as owned strings: a KEXINIT arrives once per key exchange, and the
/// engine keeps both sides' copies until the exchange hash is computed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KexInit {
    /// `byte[16] cookie (random bytes)`.
    pub cookie: [u8; 16],
    /// `name-list kex_algorithms`.
    pub kex_algorithms: Vec<String>,
    /// `name-list server_host_key_algorithms`.
    pub server_host_key_algorithms: Vec<String>,
    /// `name-list encryption_algorithms_client_to_server`.
    pub encryption_client_to_server: Vec<String>,
    /// `name-list encryption_algorithms_server_to_client`.
    pub encryption_server_to_client: Vec<String>,
    /// `name-list mac_algorithms_client_to_server`.
    pub mac_client_to_server: Vec<String>,
    /// `name-list mac_algorithms_server_to_client`.
    pub mac_server_to_client: Vec<String>,
    /// `name-list compression_algorithms_client_to_server`.
    pub compression_client_to_server: Vec<String>,
    /// `name-list compression_algorithms_server_to_client`.
    pub compression_server_to_client: Vec<String>,
    /// `name-list languages_client_to_server`.
    pub languages_client_to_server: Vec<String>,
    /// `name-list languages_server_to_client`.
    pub languages_server_to_client: Vec<String>,
    /// `boolean first_kex_packet_follows`.
    pub first_kex_packet_follows: bool,
    /// `uint32 0 (reserved for future extension)`.
    pub reserved: u32,
}

impl KexInit {
    /// Appends the whole message, message number first.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(MessageNumber::KEXINIT.0).raw(&self.cookie);
        for list in self.lists() {
            w.name_list(list.iter().map(String::as_str));
        }
        w.bool(self.first_kex_packet_follows).u32(self.reserved);
    }

    /// Decodes a whole message, message number first.
    pub fn decode(payload: &[u8]) -> Result<Self, sshwire_wire::Error> {
        let mut r = Reader::new(payload);
        if r.u8()? != MessageNumber::KEXINIT.0 {
            return Err(sshwire_wire::Error::Invalid("not a KEXINIT"));
        }
        let mut m = KexInit {
            cookie: r.array()?,
            ..KexInit::default()
        };
        for list in m.lists_mut() {
            *list = r.name_list()?.iter().map(str::to_owned).collect();
        }
        m.first_kex_packet_follows = r.bool()?;
        m.reserved = r.u32()?;
        // RFC 4253 §7.1 ends the message with the reserved field; anything after it is not
        // a KEXINIT we understand.
        r.finish()?;
        Ok(m)
    }

    fn lists(&self) -> [&Vec<String>; 10] {
        [
            &self.kex_algorithms,
            &self.server_host_key_algorithms,
            &self.encryption_client_to_server,
            &self.encryption_server_to_client,
            &self.mac_client_to_server,
            &self.mac_server_to_client,
            &self.compression_client_to_server,
            &self.compression_server_to_client,
            &self.languages_client_to_server,
            &self.languages_server_to_client,
        ]
    }

    fn lists_mut(&mut self) -> [&mut Vec<String>; 10] {
        [
            &mut self.kex_algorithms,
            &mut self.server_host_key_algorithms,
            &mut self.encryption_client_to_server,
            &mut self.encryption_server_to_client,
            &mut self.mac_client_to_server,
            &mut self.mac_server_to_client,
            &mut self.compression_client_to_server,
            &mut self.compression_server_to_client,
            &mut self.languages_client_to_server,
            &mut self.languages_server_to_client,
        ]
    }
}

/// Picks the algorithm of one category.
///
/// RFC 4253 §7.1: "The chosen encryption algorithm to each direction MUST be the first algorithm
/// on the client's name-list that is also on the server's name-list." The same rule is stated
/// for every category.
pub fn choose<'a>(client: &'a [String], server: &[String]) -> Option<&'a str> {
    client
        .iter()
        .find(|c| server.iter().any(|s| s == *c))
        .map(String::as_str)
}

/// Whether a `first_kex_packet_follows` guess by the peer was wrong.
///
/// RFC 4253 §7.1: the guess is wrong "if the kex algorithm and/or the host key algorithm is
/// guessed wrong (server and client have different preferred algorithm)", and then "the next
/// packet MUST be silently ignored".
pub fn guess_was_wrong(client: &KexInit, server: &KexInit) -> bool {
    client.kex_algorithms.first() != server.kex_algorithms.first()
        || client.server_host_key_algorithms.first() != server.server_host_key_algorithms.first()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(|n| n.to_string()).collect()
    }

    fn sample() -> KexInit {
        KexInit {
            cookie: [7; 16],
            kex_algorithms: names(&["curve25519-sha256", "ext-info-c"]),
            server_host_key_algorithms: names(&["ssh-ed25519"]),
            encryption_client_to_server: names(&["aes128-gcm@openssh.com"]),
            encryption_server_to_client: names(&["aes128-gcm@openssh.com"]),
            mac_client_to_server: names(&["hmac-sha2-256"]),
            mac_server_to_client: names(&["hmac-sha2-256"]),
            compression_client_to_server: names(&["none"]),
            compression_server_to_client: names(&["none", "zlib"]),
            ..KexInit::default()
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let m = sample();
        let mut w = Writer::new();
        m.encode(&mut w);
        assert_eq!(KexInit::decode(w.as_slice()).unwrap(), m);
    }

    #[test]
    fn truncation_at_every_length_is_an_error() {
        let mut w = Writer::new();
        sample().encode(&mut w);
        let v = w.into_vec();
        for cut in 0..v.len() {
            assert!(KexInit::decode(&v[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut w = Writer::new();
        sample().encode(&mut w);
        w.u8(0);
        assert!(KexInit::decode(w.as_slice()).is_err());
    }

    #[test]
    fn client_preference_wins() {
        let c = names(&["a", "b", "c"]);
        let s = names(&["c", "b"]);
        assert_eq!(choose(&c, &s), Some("b"));
        assert_eq!(choose(&c, &names(&["x"])), None);
    }

    #[test]
    fn guesses() {
        let c = sample();
        let mut s = sample();
        assert!(!guess_was_wrong(&c, &s));
        s.kex_algorithms = names(&["ecdh-sha2-nistp256", "curve25519-sha256"]);
        assert!(guess_was_wrong(&c, &s));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = KexInit::decode(&v);
        }

        #[test]
        fn round_trips(lists in proptest::collection::vec(
            proptest::collection::vec("[a-z0-9-]{1,12}(@[a-z.]{1,8})?", 0..5), 10),
            follows: bool, reserved: u32, cookie: [u8; 16]) {
            let mut m = KexInit { cookie, first_kex_packet_follows: follows, reserved, ..KexInit::default() };
            for (slot, list) in m.lists_mut().into_iter().zip(lists) {
                *slot = list;
            }
            let mut w = Writer::new();
            m.encode(&mut w);
            prop_assert_eq!(KexInit::decode(w.as_slice()).unwrap(), m);
        }
    }
}
