//! Writing a header and a block of data to a stream as one vectored write, so that neither
//! is copied to join them: SFTP's WRITE requests (client) and DATA replies (server).

use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Writes `head` then `body`, in as few writes as the stream allows.
pub(crate) async fn write_both<W: AsyncWrite + Unpin>(
    writer: &mut W,
    mut head: &[u8],
    mut body: &[u8],
) -> io::Result<()> {
    while !head.is_empty() || !body.is_empty() {
        let n = writer
            .write_vectored(&[io::IoSlice::new(head), io::IoSlice::new(body)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = head.get(from_head..).unwrap_or_default();
        body = body.get(n - from_head..).unwrap_or_default();
    }
    Ok(())
}
