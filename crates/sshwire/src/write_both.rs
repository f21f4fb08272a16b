//! Writing a header and a block of data to a stream as one vectored write, so that neither
//! is copied to join them: SFTP's WRITE requests (client) and DATA replies (server). On an
//! SSH channel, a block read after room for the headers goes out as the packet itself.

use std::io;

use sshwire_sftp::Block;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::session::OwnedSender;

/// Writes `head` then `data` and gives the block's buffer back to the pool.
///
/// When `owned` is the channel's sender and the block was read after exactly
/// [`OwnedSender::ROOM`] plus `head.len()` bytes of room, `head` goes into the room and the
/// buffer is sent as the channel packet, so the data is never copied; should the peer's
/// window or packet size cut it, it is written as any other data. Otherwise `head` and the
/// data go out in one vectored write.
pub(crate) async fn send_block<W: AsyncWrite + Unpin>(
    writer: &mut W,
    owned: Option<&OwnedSender>,
    head: &[u8],
    data: Block,
) -> io::Result<()> {
    let room = OwnedSender::ROOM + head.len();
    if let Some(sender) = owned
        && !data.is_empty()
        && data.front() == room
    {
        let (mut buf, _) = data.into_parts();
        if let Some(slot) = buf.get_mut(OwnedSender::ROOM..room) {
            slot.copy_from_slice(head);
        }
        let Some(back) = sender.send(buf).await? else {
            return Ok(());
        };
        let written = writer
            .write_all(back.get(OwnedSender::ROOM..).unwrap_or_default())
            .await;
        sshwire_sftp::buffers::give(back);
        return written;
    }
    let written = write_both(writer, head, &data).await;
    sshwire_sftp::buffers::give(data.into_parts().0);
    written
}

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
