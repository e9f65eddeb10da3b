//! Per-IP connection limit over real sockets: the handler's refusal, then a free slot again.

use std::net::IpAddr;
use std::time::Duration;

use mailstead_net::{ConnectionLimits, TlsMode};

use crate::common::*;

#[tokio::test]
async fn third_connection_from_one_ip_is_refused_until_one_closes() {
    let server = start(TlsMode::Plain, None, ConnectionLimits { max_per_ip: 2, ..limits() }).await;
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();

    let mut c1 = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c1).await.as_deref(), Some("220 hello"));
    let mut c2 = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c2).await.as_deref(), Some("220 hello"));

    let mut c3 = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c3).await.as_deref(), Some("421 too many connections from 127.0.0.1"));
    assert_eq!(read_line(&mut c3).await, None, "refused connection must be closed");
    assert_eq!(server.tracker.active_from(localhost), 2);

    send(&mut c1, "QUIT").await;
    assert_eq!(read_line(&mut c1).await.as_deref(), Some("221 bye"));
    assert_eq!(read_line(&mut c1).await, None);
    // The permit is released when the handler task ends, just after the socket closes.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.tracker.active_from(localhost) != 1 {
        assert!(tokio::time::Instant::now() < deadline, "permit not released");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut c4 = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c4).await.as_deref(), Some("220 hello"));
    send(&mut c2, "still here").await;
    assert_eq!(read_line(&mut c2).await.as_deref(), Some("250 echo still here"));
}
