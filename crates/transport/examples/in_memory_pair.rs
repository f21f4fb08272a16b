//! A client and a server `Transport` engine driven against each other in memory.
//!
//! `cargo run -p sshwire-transport --example in_memory_pair`
//!
//! The transport is sans-I/O: it takes bytes, gives bytes and reports events, and never
//! touches a socket or a clock. So two engines need no network at all: this program moves
//! the bytes one engine produces into the other by hand. It runs the identification
//! exchange and the first key exchange (host key check included), asks for a service, and
//! then sends one message each way, printing each step. `docs/transport.md` explains what
//! happens underneath.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use sshwire_keys::rand_core::{CryptoRng, UnwrapErr};
use sshwire_keys::{KeyType, PrivateKey};
use sshwire_transport::{Config, Event, Transport};

/// A message number of the "local extensions" range (RFC 4250 §4.1.2: 192 to 255). Payloads
/// numbered 50 and above belong to the layers above the transport (authentication uses
/// 50..=79, the connection protocol 80..=127); the transport carries them without looking.
const HELLO: u8 = 200;

fn main() -> Result<(), Box<dyn Error>> {
    // Randomness is injected, never taken from a global: here the operating system's.
    let mut rng = UnwrapErr(getrandom::SysRng);
    let host_key = Arc::new(PrivateKey::generate(KeyType::Ed25519, None, &mut rng)?);
    println!(
        "server host key: {}",
        host_key.public_key().fingerprint_sha256()
    );

    // Both sides offer the default algorithms, strongest first.
    let config = Arc::new(Config::default());
    let mut client = Transport::client(config.clone(), boxed_rng());
    let mut server = Transport::server(config, vec![host_key.clone()], boxed_rng());

    // The engines read no clock: time is an argument. A fixed instant is enough here.
    let now = Instant::now();
    let mut wire = Wire::default();

    // 1. Identification and key exchange. Each engine queued its identification line and
    //    its KEXINIT when it was created; shuttling bytes does the rest.
    let mut established = false;
    while !established {
        wire.shuttle(&mut client, &mut server, now)?;
        let mut progress = false;
        while let Some(event) = client.poll_event() {
            progress = true;
            match event {
                // The host key signed the exchange hash; whether to trust it is our
                // decision (an application checks known_hosts). We pin the key we made.
                Event::HostKey(key) => {
                    let trusted = key == host_key.public_key();
                    println!("client: the server's host key is {key}: trusted = {trusted}");
                    client.host_key_verdict(now, trusted)?;
                }
                Event::KexComplete { algorithms, .. } => {
                    let c2s = algorithms.client_to_server;
                    println!(
                        "client: key exchange done: {}, host key {}, cipher {}{}, strict kex {}",
                        algorithms.kex.name(),
                        algorithms.host_key.name(),
                        c2s.cipher,
                        c2s.mac
                            .map(|m| format!(" + {}", m.name()))
                            .unwrap_or_default(),
                        algorithms.strict_kex,
                    );
                    established = true;
                }
                other => println!("client: {}", short(&other)),
            }
        }
        while let Some(event) = server.poll_event() {
            progress = true;
            println!("server: {}", short(&event));
        }
        if !progress && !client.wants_transmit() && !server.wants_transmit() {
            return Err("the engines stopped before the key exchange finished".into());
        }
    }
    println!(
        "session id: {} bytes (the first exchange hash)",
        client.session_id().map_or(0, <[u8]>::len)
    );

    // 2. A service request (RFC 4253 §10): the transport reports it, the caller answers.
    client.request_service("ssh-userauth")?;
    wire.shuttle(&mut client, &mut server, now)?;
    while let Some(event) = server.poll_event() {
        if let Event::ServiceRequest(name) = event {
            println!("server: the client asks for {name:?}; accepting");
            server.accept_service(&name)?;
        } else {
            println!("server: {}", short(&event));
        }
    }
    wire.shuttle(&mut client, &mut server, now)?;
    while let Some(event) = client.poll_event() {
        println!("client: {}", short(&event));
    }

    // 3. One message each way, encrypted and authenticated by the negotiated cipher.
    client.send(&[&[HELLO][..], b"hello, server"].concat())?;
    server.send(&[&[HELLO + 1][..], b"hello, client"].concat())?;
    wire.shuttle(&mut client, &mut server, now)?;
    let got_server = expect_message(&mut server, "server")?;
    let got_client = expect_message(&mut client, "client")?;
    if got_server != b"hello, server" || got_client != b"hello, client" {
        return Err("a message arrived changed".into());
    }
    println!("done: both messages arrived intact");
    Ok(())
}

/// A boxed operating-system random generator, as the engines take one.
fn boxed_rng() -> Box<dyn CryptoRng + Send> {
    Box::new(UnwrapErr(getrandom::SysRng))
}

/// Bytes on their way between the two engines: the "network".
#[derive(Default)]
struct Wire {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
}

impl Wire {
    /// Moves bytes between the engines until neither has anything more to send or take.
    ///
    /// This loop is all a real driver does too, with a socket in the middle: write what
    /// `poll_transmit` gives, feed what arrives to `handle_input`.
    fn shuttle(
        &mut self,
        client: &mut Transport,
        server: &mut Transport,
        now: Instant,
    ) -> Result<(), Box<dyn Error>> {
        loop {
            client.poll_transmit(&mut self.to_server);
            server.poll_transmit(&mut self.to_client);
            // An engine may take less than it is given: while it waits for its caller (the
            // client, for the host key verdict) it holds at most one packet, and the rest
            // stays here until it is offered again.
            let to_server = server.handle_input(now, &self.to_server)?;
            self.to_server.drain(..to_server);
            let to_client = client.handle_input(now, &self.to_client)?;
            self.to_client.drain(..to_client);
            if to_server == 0 && to_client == 0 {
                return Ok(());
            }
        }
    }
}

/// Takes the next upper-layer message an engine received, printing it.
fn expect_message(engine: &mut Transport, who: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    while let Some(event) = engine.poll_event() {
        if let Event::Message(payload) = event {
            let Some((&number, body)) = payload.split_first() else {
                return Err("an empty payload".into());
            };
            println!(
                "{who}: message {number}: {:?}",
                String::from_utf8_lossy(body)
            );
            return Ok(body.to_vec());
        }
        println!("{who}: {}", short(&event));
    }
    Err(format!("{who} received no message").into())
}

/// An event in one line (the negotiated algorithms are long).
fn short(event: &Event) -> String {
    match event {
        Event::KexComplete { algorithms, first } => {
            format!(
                "key exchange done ({}, first: {first})",
                algorithms.kex.name()
            )
        }
        Event::ExtInfo(pairs) => {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
                .collect();
            format!("extensions (RFC 8308): {}", pairs.join(" "))
        }
        other => format!("{other:?}"),
    }
}
