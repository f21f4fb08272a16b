//! Directory listings that a server cannot make endless.

use sshwire_sftp::Attrs;

use super::{MAX_LISTING_BYTES, MAX_LISTING_ENTRIES};
use crate::sftp_client::{SftpClient, SftpError};

/// The entries of a remote directory, `.` and `..` included when the server lists them,
/// each as its name and attributes.
///
/// Unlike [`SftpClient::list`], this gives up on a listing of more than
/// [`MAX_LISTING_ENTRIES`] entries or [`MAX_LISTING_BYTES`] bytes of names, so that a server
/// that never answers EOF cannot exhaust the client's memory. Long names and extended
/// attributes are dropped as they arrive.
pub(crate) async fn list_bounded(
    sftp: &SftpClient,
    path: &[u8],
) -> Result<Vec<(Vec<u8>, Attrs)>, SftpError> {
    let handle = sftp.opendir(path).await?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let result = loop {
        match sftp.readdir(&handle).await {
            Ok(Some(entries)) => {
                for e in entries {
                    bytes = bytes.saturating_add(e.filename.len());
                    let attrs = Attrs {
                        extended: Vec::new(),
                        ..e.attrs
                    };
                    out.push((e.filename, attrs));
                }
                if out.len() > MAX_LISTING_ENTRIES || bytes > MAX_LISTING_BYTES {
                    break Err(SftpError::Protocol(format!(
                        "the listing of {} holds more than {MAX_LISTING_ENTRIES} entries or \
                         {MAX_LISTING_BYTES} bytes of names",
                        String::from_utf8_lossy(path)
                    )));
                }
            }
            Ok(None) => break Ok(out),
            Err(e) => break Err(e),
        }
    };
    let closed = sftp.close(&handle).await;
    let out = result?;
    closed?;
    Ok(out)
}
