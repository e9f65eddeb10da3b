//! In-process tests of mailstead-net over real sockets on 127.0.0.1:0.
//!
//! One test binary (fewer links on 2-core CI) with a module per feature. `common` holds a tiny
//! line-based test protocol (`LineHandler`), certificate helpers and rustls clients.

#![allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.

mod common;
mod idle;
mod limits;
mod shutdown;
mod sni;
mod starttls;
mod tls;
