//! Real protocol servers on 127.0.0.1, in the test process: the peers the transports are
//! tested against.

pub mod api;
pub mod ftp;
pub mod raw;
pub mod sftp;
pub mod smtp;
