//! Sans-I/O protocol state machines (SMTP/LMTP). Work in progress.
