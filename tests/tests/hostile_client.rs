//! Hostile peer against sshwire's client: the attacker plays the server. Identification
//! lines, packet framing, a forged host key signature, messages out of order, a window
//! overflow and a decompression bomb. Each case asserts what the client sent as its last word
//! (the DISCONNECT reason) and that it returned an error instead of hanging or panicking.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sshwire::client::{AuthOptions, Client, ClientConfig, Identity, NoPrompts};
use sshwire::keys::{KeyType, PrivateKey, PublicKey};
use sshwire::{Channel, Error};
use sshwire_tests::hostile::messages::payload;
use sshwire_tests::hostile::{Hostile, ServerKex, ServerKexOptions, msg, reason};
use tokio::io::{AsyncReadExt, DuplexStream};

type Attacker = Hostile<DuplexStream>;

fn auth() -> AuthOptions {
    let key = PrivateKey::generate(KeyType::Ed25519, None, &mut *sshwire::system_rng()).unwrap();
    let mut auth = AuthOptions::new("alice");
    auth.use_agent = false;
    auth.identities = vec![Identity::Key(Arc::new(key), "alice".into())];
    auth
}

/// Runs sshwire's client (logging in, then `then` on the session) against `script`.
async fn against_client<T, Fut>(
    trust: bool,
    then: impl AsyncFnOnce(&Client) -> T,
    script: impl FnOnce(Attacker) -> Fut,
) -> (Result<T, Error>, Fut::Output)
where
    Fut: Future,
{
    let (a, b) = tokio::io::duplex(512 * 1024);
    let client = async move {
        let mut verify = |_: &PublicKey| trust;
        let client = Client::over(
            a,
            "hostile",
            &ClientConfig::default(),
            &mut verify,
            &auth(),
            &mut NoPrompts,
        )
        .await?;
        Ok(then(&client).await)
    };
    tokio::join!(client, script(Hostile::new(b)))
}

/// The honest server steps up to a logged-in client: the handshake, the service, and
/// SUCCESS for the client's first request (its `none`).
async fn serve_login(h: &mut Attacker, opts: &ServerKexOptions) {
    let mut kex = ServerKex::default();
    h.serve_handshake(&mut kex, opts).await;
    h.accept_userauth().await;
    h.expect(msg::USERAUTH_REQUEST, "the client's first request")
        .await;
    h.send(&[msg::USERAUTH_SUCCESS]).await.unwrap();
}

/// Confirms the client's next CHANNEL_OPEN; returns (the client's number, its window).
async fn confirm_channel(h: &mut Attacker) -> (u32, u32) {
    let open = h
        .expect(msg::CHANNEL_OPEN, "the client's CHANNEL_OPEN")
        .await;
    let mut r = sshwire_wire::Reader::new(&open);
    r.u8().unwrap();
    r.string().unwrap();
    let (sender, window) = (r.u32().unwrap(), r.u32().unwrap());
    h.send(&payload(msg::CHANNEL_OPEN_CONFIRMATION, |w| {
        w.u32(sender).u32(7).u32(1 << 20).u32(32 * 1024);
    }))
    .await
    .unwrap();
    (sender, window)
}

/// Reads the client's last word and checks it is DISCONNECT `reason`.
async fn last_word(mut h: Attacker, reason: u32, case: &str) {
    h.expect_disconnect(reason, case).await;
}

/// The client's result must be an error; `then` results are not looked at.
fn assert_failed<T>(r: &Result<T, Error>, case: &str) -> String {
    match r {
        Ok(_) => panic!("{case}: the client carried on"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn identification_lines_from_a_server() {
    // RFC 4253 §4.2: "The server MAY send other lines of data before sending the version
    // string"; sshwire's client takes up to 1024 (IdentLimits).
    let lines = |n| "hello from a chatty server\r\n".repeat(n).into_bytes();
    let case = "1024 lines before the identification";
    let (client, ()) = against_client(
        true,
        async |_| (),
        async |mut h| {
            h.send_raw(&lines(1024)).await.unwrap();
            serve_login(&mut h, &ServerKexOptions::default()).await;
        },
    )
    .await;
    assert!(client.is_ok(), "{case}: {:?}", client.err());

    let cases: [(&str, Vec<u8>, u32); 4] = [
        (
            "1025 lines before the identification",
            lines(1025),
            reason::PROTOCOL_ERROR,
        ),
        (
            "8 KiB without a newline",
            vec![b'x'; 8192],
            reason::PROTOCOL_ERROR,
        ),
        (
            "protocol version 1.5",
            b"SSH-1.5-old\r\n".to_vec(),
            reason::PROTOCOL_VERSION_NOT_SUPPORTED,
        ),
        (
            "a NUL in a line before the identification",
            b"hello\0\r\n".to_vec(),
            reason::PROTOCOL_ERROR,
        ),
    ];
    for (case, bytes, r) in cases {
        let (client, ()) = against_client(
            true,
            async |_| (),
            async |mut h| {
                h.read_ident().await.unwrap();
                h.send_raw(&bytes).await.unwrap();
                last_word(h, r, case).await;
            },
        )
        .await;
        assert_failed(&client, case);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_identifies_itself_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        // Accepts, reads nothing, says nothing.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    });
    let config = ClientConfig {
        connect_timeout: Some(Duration::from_millis(300)),
        ..ClientConfig::default()
    };
    let mut trust = |_: &PublicKey| true;
    let r = Client::connect(
        "127.0.0.1",
        port,
        &config,
        &mut trust,
        &auth(),
        &mut NoPrompts,
    )
    .await;
    assert!(matches!(r, Err(Error::Timeout)), "{:?}", r.err());
    silent.abort();
}

#[tokio::test]
async fn bad_packet_framing_from_a_server() {
    // Frames right after the identification (plaintext), as in hostile_framing.rs.
    let cases: [(&str, u32, u8, usize); 5] = [
        ("packet_length 0", 0, 0, 0),
        ("packet_length 2^32-1", u32::MAX, 4, 11),
        ("packet_length not a multiple of 8", 13, 4, 12),
        ("padding_length 3", 12, 3, 11),
        ("padding_length 255", 12, 255, 11),
    ];
    for (case, len, pad, rest) in cases {
        let (client, ()) = against_client(
            true,
            async |_| (),
            async |mut h| {
                h.exchange_idents().await;
                h.send_frame(len, pad, &vec![msg::IGNORE; rest])
                    .await
                    .unwrap();
                last_word(h, reason::PROTOCOL_ERROR, case).await;
            },
        )
        .await;
        assert_failed(&client, case);
    }

    let case = "a wrong tag after NEWKEYS";
    let (client, ()) = against_client(
        true,
        async |_| (),
        async |mut h| {
            let mut kex = ServerKex::default();
            h.serve_handshake(&mut kex, &ServerKexOptions::default())
                .await;
            h.send_with_bad_tag(&[msg::IGNORE, 0, 0, 0, 0])
                .await
                .unwrap();
            last_word(h, reason::MAC_ERROR, case).await;
        },
    )
    .await;
    assert_failed(&client, case);
}

#[tokio::test]
async fn forged_and_refused_host_keys() {
    // RFC 4253 §8: "The client [...] verifies the signature s on H."
    let case = "a host key signature over something other than H";
    let (client, ()) = against_client(
        true,
        async |_| (),
        async |mut h| {
            let opts = ServerKexOptions {
                bad_signature: true,
                ..ServerKexOptions::default()
            };
            let mut kex = ServerKex::default();
            h.exchange_idents().await;
            h.server_send_kexinit(&mut kex, &opts).await;
            h.server_recv_kexinit(&mut kex, &opts).await;
            h.server_kex_reply(&mut kex, &opts).await;
            last_word(h, reason::KEY_EXCHANGE_FAILED, case).await;
        },
    )
    .await;
    assert_failed(&client, case);

    let case = "a host key the verifier does not trust";
    let (client, ()) = against_client(
        false,
        async |_| (),
        async |mut h| {
            let opts = ServerKexOptions::default();
            let mut kex = ServerKex::default();
            h.exchange_idents().await;
            h.server_send_kexinit(&mut kex, &opts).await;
            h.server_recv_kexinit(&mut kex, &opts).await;
            h.server_kex_reply(&mut kex, &opts).await;
            // RFC 4253 §11.1: SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE.
            last_word(h, 9, case).await;
        },
    )
    .await;
    assert_failed(&client, case);
}

/// Messages a server sends out of order, before the client is logged in.
#[tokio::test]
async fn messages_out_of_order_from_a_server() {
    let fatal = reason::PROTOCOL_ERROR;
    type Script = fn() -> Vec<Vec<u8>>;
    let after_newkeys: [(&str, Script); 4] = [
        (
            "SERVICE_REQUEST (a client's message) from the server",
            || {
                vec![payload(msg::SERVICE_REQUEST, |w| {
                    w.string(b"ssh-userauth");
                })]
            },
        ),
        ("KEX_ECDH_INIT (a client's message) from the server", || {
            vec![payload(msg::KEX_ECDH_INIT, |w| {
                w.string(&[9; 32]);
            })]
        }),
        // The client asked for nothing yet: no USERAUTH_SUCCESS can answer anything.
        ("USERAUTH_SUCCESS before SERVICE_ACCEPT", || {
            vec![vec![msg::USERAUTH_SUCCESS]]
        }),
        ("SERVICE_ACCEPT for a service nobody asked for", || {
            vec![payload(msg::SERVICE_ACCEPT, |w| {
                w.string(b"ssh-connection");
            })]
        }),
    ];
    for (case, send) in after_newkeys {
        let (client, ()) = against_client(
            true,
            async |_| (),
            async |mut h| {
                let mut kex = ServerKex::default();
                h.serve_handshake(&mut kex, &ServerKexOptions::default())
                    .await;
                for p in send() {
                    h.send(&p).await.unwrap();
                }
                last_word(h, fatal, case).await;
            },
        )
        .await;
        assert_failed(&client, case);
    }

    // RFC 4252 §6: messages of the connection protocol before USERAUTH_SUCCESS.
    let during_auth: [(&str, Script); 2] = [
        ("CHANNEL_OPEN before USERAUTH_SUCCESS", || {
            vec![payload(msg::CHANNEL_OPEN, |w| {
                w.string(b"session").u32(0).u32(1 << 20).u32(32768);
            })]
        }),
        ("GLOBAL_REQUEST before USERAUTH_SUCCESS", || {
            vec![payload(msg::GLOBAL_REQUEST, |w| {
                w.string(b"hostkeys-00@openssh.com").bool(false);
            })]
        }),
    ];
    for (case, send) in during_auth {
        let (client, ()) = against_client(
            true,
            async |_| (),
            async |mut h| {
                let mut kex = ServerKex::default();
                h.serve_handshake(&mut kex, &ServerKexOptions::default())
                    .await;
                h.accept_userauth().await;
                h.expect(msg::USERAUTH_REQUEST, case).await;
                for p in send() {
                    h.send(&p).await.unwrap();
                }
                last_word(h, fatal, case).await;
            },
        )
        .await;
        assert_failed(&client, case);
    }
}

/// Runs `exec hello` on the client and reads its output to the end.
async fn exec_and_read(client: &Client) -> Result<Vec<u8>, Error> {
    let mut channel: Channel = client.exec("hello").await?;
    let mut out = Vec::new();
    channel.read_to_end(&mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn a_session_channel_opened_by_the_server_is_refused() {
    // RFC 4254 §6.1: "Client implementations SHOULD reject any session channel open requests
    // to make it more difficult for a corrupt server to attack the client."
    let case = "CHANNEL_OPEN session from the server";
    let (out, ()) = against_client(true, exec_and_read, async |mut h| {
        serve_login(&mut h, &ServerKexOptions::default()).await;
        h.send(&payload(msg::CHANNEL_OPEN, |w| {
            w.string(b"session").u32(3).u32(1 << 20).u32(32768);
        }))
        .await
        .unwrap();
        // The refusal, and the client's own exec (which may come first) served as usual.
        let mut sender = None;
        let mut refused = false;
        while sender.is_none() || !refused {
            let p = h.recv().await.unwrap();
            match p.first().copied() {
                Some(msg::CHANNEL_OPEN_FAILURE) => {
                    assert_eq!(p.get(1..5), Some(&3u32.to_be_bytes()[..]), "{case}");
                    refused = true;
                }
                Some(msg::CHANNEL_OPEN) => {
                    let mut r = sshwire_wire::Reader::new(&p);
                    r.u8().unwrap();
                    r.string().unwrap();
                    let id = r.u32().unwrap();
                    h.send(&payload(msg::CHANNEL_OPEN_CONFIRMATION, |w| {
                        w.u32(id).u32(7).u32(1 << 20).u32(32 * 1024);
                    }))
                    .await
                    .unwrap();
                    sender = Some(id);
                }
                other => panic!("{case}: unexpected message {other:?}"),
            }
        }
        let sender = sender.unwrap();
        h.expect(msg::CHANNEL_REQUEST, case).await;
        h.send(&payload(msg::CHANNEL_SUCCESS, |w| {
            w.u32(sender);
        }))
        .await
        .unwrap();
        h.send(&payload(msg::CHANNEL_DATA, |w| {
            w.u32(sender).string(b"hello\n");
        }))
        .await
        .unwrap();
        for m in [msg::CHANNEL_EOF, msg::CHANNEL_CLOSE] {
            h.send(&payload(m, |w| {
                w.u32(sender);
            }))
            .await
            .unwrap();
        }
        h.expect(msg::CHANNEL_CLOSE, case).await;
    })
    .await;
    assert_eq!(out.unwrap().unwrap(), b"hello\n", "{case}");
}

#[tokio::test]
async fn a_server_overflowing_the_window_is_disconnected() {
    let case = "data beyond the window the client granted";
    // The client runs a command and reads nothing: its window is not given back.
    let hold = async |c: &Client| {
        let _channel = c.exec("hello").await;
        c.session().closed().await
    };
    let (end, ()) = against_client(true, hold, async |mut h| {
        serve_login(&mut h, &ServerKexOptions::default()).await;
        let (sender, window) = confirm_channel(&mut h).await;
        h.expect(msg::CHANNEL_REQUEST, case).await;
        h.send(&payload(msg::CHANNEL_SUCCESS, |w| {
            w.u32(sender);
        }))
        .await
        .unwrap();
        let mut left = window as usize + 1;
        while left > 0 {
            let n = left.min(32 * 1024);
            if h.send(&payload(msg::CHANNEL_DATA, |w| {
                w.u32(sender).string(&vec![b'x'; n]);
            }))
            .await
            .is_err()
            {
                break;
            }
            left -= n;
        }
        // RFC 4254 §5.2: the window bounds what the server may send.
        last_word(h, reason::PROTOCOL_ERROR, case).await;
    })
    .await;
    let end = end.unwrap();
    assert!(
        matches!(end, Error::Connection(_)),
        "{case}: the session ended with {end}"
    );
}

#[tokio::test]
async fn a_decompression_bomb_from_a_server_is_refused() {
    let case = "zlib from the server: 1 KiB inflating to 64 MiB";
    let opts = ServerKexOptions {
        compression: "zlib",
        ..ServerKexOptions::default()
    };
    let (client, ()) = against_client(
        true,
        async |_| (),
        async |mut h| {
            let mut kex = ServerKex::default();
            h.serve_handshake(&mut kex, &opts).await;
            h.send(&payload(msg::IGNORE, |w| {
                w.string(&vec![0; 64 << 20]);
            }))
            .await
            .unwrap();
            last_word(h, reason::COMPRESSION_ERROR, case).await;
        },
    )
    .await;
    assert_failed(&client, case);
}
