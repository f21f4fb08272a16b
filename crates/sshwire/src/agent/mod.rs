//! A client for ssh-agent (`SSH_AUTH_SOCK`): list its keys and have it sign.

mod proto;

use std::path::Path;

pub use proto::AgentError;
use sshwire_keys::{PublicKey, SignatureAlgorithm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// A connection to an ssh-agent.
pub struct Agent {
    stream: UnixStream,
}

impl Agent {
    /// Connects to the agent at `SSH_AUTH_SOCK`, if the variable is set.
    pub async fn from_env() -> Result<Option<Agent>, AgentError> {
        match std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
            Some(path) => Agent::connect(Path::new(&path)).await.map(Some),
            None => Ok(None),
        }
    }

    /// Connects to the agent listening on `path`.
    pub async fn connect(path: &Path) -> Result<Agent, AgentError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| AgentError::Io(format!("{}: {e}", path.display())))?;
        Ok(Agent { stream })
    }

    /// The keys the agent holds, with their comments.
    pub async fn identities(&mut self) -> Result<Vec<(PublicKey, String)>, AgentError> {
        let answer = self.exchange(&proto::request_identities()).await?;
        proto::parse_identities(&answer)
    }

    /// Has the agent sign `data` with `key` by `alg`; returns the signature blob.
    pub async fn sign(
        &mut self,
        key: &PublicKey,
        alg: SignatureAlgorithm,
        data: &[u8],
    ) -> Result<Vec<u8>, AgentError> {
        let answer = self.exchange(&proto::sign_request(key, alg, data)).await?;
        let signature = proto::parse_signature(&answer)?;
        // An agent is trusted with keys, not with correctness: check what it made.
        key.verify(alg, data, &signature).map_err(|e| {
            AgentError::Malformed(format!("the agent's signature does not verify: {e}"))
        })?;
        Ok(signature)
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, AgentError> {
        let io = |e: std::io::Error| AgentError::Io(e.to_string());
        self.stream.write_all(request).await.map_err(io)?;
        let mut header = [0u8; 4];
        self.stream.read_exact(&mut header).await.map_err(io)?;
        let len = proto::message_len(header)?;
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).await.map_err(io)?;
        Ok(body)
    }
}
