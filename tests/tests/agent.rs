//! Our ssh-agent client against OpenSSH's `ssh-agent`: it lists the keys `ssh-add` loaded and
//! gets valid signatures for every algorithm.

use sshwire::agent::{Agent, AgentError};
use sshwire::keys::{PrivateKey, PublicKey, SignatureAlgorithm};
use sshwire_tests::{openssh_available, ssh_add, ssh_keygen, start_agent};

#[tokio::test]
async fn lists_and_signs_with_openssh_agent() {
    if !openssh_available("lists_and_signs_with_openssh_agent") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_agent, sock) = start_agent(dir.path());
    let mut expected = Vec::new();
    for (t, bits) in [
        ("ed25519", "256"),
        ("ecdsa", "256"),
        ("ecdsa", "384"),
        ("rsa", "2048"),
    ] {
        let file = dir.path().join(format!("{t}{bits}"));
        ssh_keygen(&[
            "-q",
            "-t",
            t,
            "-b",
            bits,
            "-N",
            "",
            "-C",
            t,
            "-f",
            file.to_str().unwrap(),
        ]);
        ssh_add(&sock, &file);
        let public = std::fs::read_to_string(format!("{}.pub", file.display())).unwrap();
        expected.push(PublicKey::from_openssh(&public).unwrap().0);
    }
    let mut agent = Agent::connect(&sock).await.unwrap();
    let listed: Vec<PublicKey> = agent
        .identities()
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(listed, expected);
    for key in &listed {
        for &alg in key.signature_algorithms() {
            let sig = agent.sign(key, alg, b"data to sign").await.unwrap();
            key.verify(alg, b"data to sign", &sig).unwrap();
        }
    }
    // A key the agent does not hold is refused.
    let stranger = PrivateKey::from_ed25519_seed(&[9; 32]).public_key();
    assert_eq!(
        agent
            .sign(&stranger, SignatureAlgorithm::Ed25519, b"x")
            .await,
        Err(AgentError::Refused)
    );
}
