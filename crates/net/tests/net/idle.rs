//! A silent client is disconnected after the idle timeout; a talking one is not.

use std::time::{Duration, Instant};

use mailstead_net::{ConnectionLimits, TlsMode};

use crate::common::*;

#[tokio::test]
async fn silent_connection_is_closed_after_idle_timeout() {
    let idle = Duration::from_millis(300);
    let server = start(TlsMode::Plain, None, ConnectionLimits { idle_timeout: idle, ..limits() }).await;
    let mut c = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));

    // Talking more often than the timeout keeps the session alive.
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        send(&mut c, &format!("ping {i}")).await;
        assert_eq!(read_line(&mut c).await, Some(format!("250 echo ping {i}")));
    }

    let silent_since = Instant::now();
    assert_eq!(read_line(&mut c).await.as_deref(), Some("421 idle timeout"));
    let waited = silent_since.elapsed();
    assert!(waited >= Duration::from_millis(250), "closed too early: {waited:?}");
    assert_eq!(read_line(&mut c).await, None);
}
