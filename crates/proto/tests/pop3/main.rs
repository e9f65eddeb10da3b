//! Tests of the POP3 session (`mailstead_proto::pop3`), in one test binary: readable
//! dialogue transcripts for every command and error path (`dialogs`, `hostile`) driven by
//! `transcript`, and properties over random input (`props`).

mod dialogs;
#[path = "../common/escape.rs"]
mod escape;
mod hostile;
mod props;
mod transcript;
