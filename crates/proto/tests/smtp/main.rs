//! Tests of the SMTP/LMTP session (`mailstead_proto::smtp`), in one test binary:
//! readable dialogue transcripts (`dialogs`, `hostile`) driven by `transcript`, and
//! properties over random input (`props`).

mod dialogs;
#[path = "../common/escape.rs"]
mod escape;
mod hostile;
mod props;
mod transcript;
