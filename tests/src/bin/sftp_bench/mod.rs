//! The parts of `sftp-bench`.

pub mod args;
pub mod client;
pub mod idle;
pub mod limits;
pub mod memory;
pub mod sections;
pub mod table;
