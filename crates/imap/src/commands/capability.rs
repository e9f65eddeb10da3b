//! CAPABILITY (RFC 9051 §6.1.1): what this session may use, which depends on TLS and login.

use crate::session::{Done, Session, State};

/// The capability list for the session's current state.
pub fn list(s: &Session<'_>) -> Vec<String> {
    let mut caps: Vec<String> = vec!["IMAP4rev1".into(), "IMAP4rev2".into()];
    let logged_in = !matches!(s.state, State::NotAuthenticated);
    if !logged_in {
        if s.starttls.is_some() && !s.conn.is_tls() {
            caps.push("STARTTLS".into());
        }
        if s.plaintext_allowed() {
            caps.extend(["AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"].map(String::from));
        } else {
            // RFC 9051 §6.2.3: no passwords over plaintext.
            caps.push("LOGINDISABLED".into());
        }
    }
    caps.extend(["LITERAL+", "ENABLE", "ID", "UTF8=ACCEPT"].map(String::from));
    if logged_in {
        caps.extend(
            [
                "IDLE",
                "NAMESPACE",
                "UIDPLUS",
                "MOVE",
                "UNSELECT",
                "CHILDREN",
                "SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "ESEARCH",
                "SORT",
                "SORT=DISPLAY",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "CONDSTORE",
                "QRESYNC",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "BINARY",
                "WITHIN",
                "STATUS=SIZE",
            ]
            .map(String::from),
        );
        caps.push(format!("APPENDLIMIT={}", s.server.config.append_limit));
        if !s.conn.is_compressed() {
            caps.push("COMPRESS=DEFLATE".into());
        }
    }
    caps
}

/// CAPABILITY.
pub fn run(s: &mut Session<'_>) -> Done {
    let line = format!("* CAPABILITY {}", list(s).join(" "));
    s.conn.send_line(&line);
    Done::ok("CAPABILITY completed")
}
