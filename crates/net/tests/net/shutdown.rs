//! Graceful shutdown: no new connections, the session in flight finishes its work.

use mailstead_net::{ListenerSpec, TlsMode, bind, drain};
use tokio::net::TcpStream;

use crate::common::*;

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_the_session_finish() {
    let server = start(TlsMode::Plain, None, limits()).await;
    let mut c = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
    send(&mut c, "SLOW").await;
    // Let the handler start its 300 ms of work before shutting down.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    server.shutdown.cancel();
    tokio::time::timeout(WAIT, server.accept_loop).await.unwrap().unwrap().unwrap();
    let refused = TcpStream::connect(server.addr).await;
    assert!(refused.is_err(), "listener still accepting after shutdown");

    assert_eq!(read_line(&mut c).await.as_deref(), Some("250 done"));
    assert_eq!(read_line(&mut c).await.as_deref(), Some("421 shutting down"));
    assert_eq!(read_line(&mut c).await, None);
    assert!(drain(&server.tasks, WAIT).await, "sessions did not end");
    assert_eq!(server.tracker.active(), 0);
}

#[tokio::test]
async fn bind_error_names_service_and_address() {
    let first =
        bind(&ListenerSpec::new("imap", "127.0.0.1:0".parse().unwrap(), TlsMode::StartTls)).await.unwrap();
    let addr = first.local_addr();
    let err = bind(&ListenerSpec::new("imap", addr, TlsMode::StartTls)).await.unwrap_err();
    assert!(err.to_string().starts_with(&format!("imap: cannot listen on {addr}: ")), "{err}");
}
