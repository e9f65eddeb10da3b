//! Validators for single options (named after `=>` in `sections.rs`) and the checks that span
//! several options (two services on one address). Each returns what is wrong and how to fix it;
//! locating the problem in the file is `locate.rs`'s job.

use std::net::{IpAddr, SocketAddr};

use super::schema::{Finding, Invalid};
use super::sections::{Listen, OFF, TlsCert};

const HOSTNAME_FIX: &str =
    "set the fully qualified name of this machine, e.g. hostname = \"mail.example.com\"";

/// A host name for SMTP greetings: a DNS name of letter-digit-hyphen labels (RFC 1123 §2.1,
/// RFC 5321 §2.3.5), not an IP address.
pub fn dns_name(name: &str) -> Result<(), Invalid> {
    let bad =
        |why: &str| Err(Invalid::new(format!("\"{name}\" is not a valid DNS name: {why}"), HOSTNAME_FIX));
    if name.is_empty() {
        return bad("it is empty");
    }
    if !name.is_ascii() {
        return Err(Invalid::new(
            format!("\"{name}\" is not a valid DNS name: it contains non-ASCII characters"),
            "write an internationalized name in its ASCII (\"xn--\") form",
        ));
    }
    if name.ends_with('.') {
        return bad("it ends with a dot (write it without the trailing dot)");
    }
    if name.len() > 253 {
        return bad("it is longer than 253 characters");
    }
    if name.parse::<IpAddr>().is_ok() {
        return bad("it is an IP address, not a host name");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad("it has an empty label (two dots in a row or a leading dot)");
        }
        if label.len() > 63 {
            return bad(&format!("the label \"{label}\" is longer than 63 characters"));
        }
        if let Some(c) = label.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
            return bad(&format!("'{c}' is not allowed (only letters, digits and '-')"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(&format!("the label \"{label}\" starts or ends with '-'"));
        }
    }
    if name.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return bad("its last label is all digits");
    }
    Ok(())
}

/// A listen address: `"IP:port"` or `"off"`.
pub fn listen_addr(value: &str) -> Result<(), Invalid> {
    const FIX: &str =
        "write \"IP:port\" such as \"0.0.0.0:25\" or \"[::]:25\", or \"off\" to disable the service";
    if value == OFF || value.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let why = if value.parse::<IpAddr>().is_ok() {
        "the port is missing"
    } else if value.chars().any(|c| c.is_ascii_alphabetic()) && !value.contains('[') {
        "host names cannot be bound, only IP addresses (0.0.0.0 means every IPv4 address)"
    } else {
        "expected IP:port"
    };
    Err(Invalid::new(format!("\"{value}\" is not a listen address: {why}"), FIX))
}

/// Two enabled services must not bind the same address. On Linux a wildcard address
/// (`0.0.0.0:25`) also collides with a specific address of the same family and port.
pub fn listen_conflicts(listen: &Listen) -> Vec<Finding> {
    let enabled = listen.enabled();
    let mut out = Vec::new();
    for (i, (name_a, a)) in enabled.iter().enumerate() {
        for (name_b, b) in &enabled[i + 1..] {
            if a.port() == 0 || a.port() != b.port() || a.is_ipv4() != b.is_ipv4() {
                continue;
            }
            let problem = if a.ip() == b.ip() {
                format!("{name_a} and {name_b} both listen on {a}")
            } else if a.ip().is_unspecified() || b.ip().is_unspecified() {
                format!(
                    "{name_a} ({a}) and {name_b} ({b}) overlap: {} covers every address",
                    unspecified(a, b)
                )
            } else {
                continue;
            };
            let fix = "give each service its own port, or set one of them to \"off\"";
            out.push(Finding {
                section: "listen",
                key: name_b,
                alt_key: Some(name_a),
                invalid: Invalid::new(problem, fix),
            });
        }
    }
    out
}

fn unspecified(a: &SocketAddr, b: &SocketAddr) -> IpAddr {
    if a.ip().is_unspecified() { a.ip() } else { b.ip() }
}

/// A count or duration that must be positive.
pub fn nonzero<T: Copy + Default + PartialEq>(value: &T) -> Result<(), Invalid> {
    if *value == T::default() {
        return Err(Invalid::new("must not be 0", "use a positive number (0 would refuse everything)"));
    }
    Ok(())
}

/// RFC 5321 §4.5.3.1.6: a text line may be 1000 octets including CRLF; we must accept that.
pub fn line_length(value: &usize) -> Result<(), Invalid> {
    if *value < 1000 {
        return Err(Invalid::new(
            format!("{value} is below 1000, the line length SMTP requires (RFC 5321 §4.5.3.1.6)"),
            "use 1000 or more",
        ));
    }
    Ok(())
}

/// A file path that must be given.
pub fn not_empty(value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(Invalid::new("the path is empty", "give a file path, relative to the data directory"));
    }
    Ok(())
}

/// Every `[[tls.extra]]` entry names both files.
pub fn tls_extra(extra: &[TlsCert]) -> Result<(), Invalid> {
    match extra.iter().position(|c| c.cert.is_empty() || c.key.is_empty()) {
        Some(i) => Err(Invalid::new(
            format!("entry {} has an empty cert or key path", i + 1),
            "give both files, e.g. cert = \"tls/example.org.pem\" and key = \"tls/example.org.key\"",
        )),
        None => Ok(()),
    }
}

/// The mail log: a path or `"off"`.
pub fn mail_log(value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(Invalid::new(
            "the path is empty",
            "give a file path such as \"log/mail.log\", or \"off\"",
        ));
    }
    Ok(())
}

/// Plus-addressing separator: one of `+ - _ =` or empty.
pub fn plus_separator(value: &str) -> Result<(), Invalid> {
    if value.is_empty() || (value.chars().count() == 1 && "+-_=".contains(value)) {
        return Ok(());
    }
    Err(Invalid::new(
        format!("\"{value}\" is not a plus-addressing separator"),
        "use one of \"+\", \"-\", \"_\", \"=\", or \"\" to disable plus-addressing",
    ))
}

/// POP3 retention (RFC 2449 §6.7): `"off"`, `"never"`, or a whole number of days.
pub fn pop3_expire(value: &str) -> Result<(), Invalid> {
    if value == OFF || value == "never" || value.parse::<u32>().is_ok() {
        return Ok(());
    }
    Err(Invalid::new(
        format!("\"{value}\" is not a retention policy"),
        "use \"off\" (announce nothing), \"never\", or a number of days such as \"30\"",
    ))
}

const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// A log level, or a tracing filter directive (`info,mailstead_smtp=debug`). A bare word must be
/// a level: tracing would read `inf` as "everything from target `inf`", surely a typo.
pub fn log_level(value: &str) -> Result<(), Invalid> {
    const FIX: &str = "use one of error, warn, info, debug, trace, or a directive such as \
                       \"info,mailstead_smtp=debug\"";
    for part in value.split(',').map(str::trim) {
        let is_directive = part.contains('=') || part.contains('[');
        if !is_directive && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(part)) && part != OFF {
            return Err(Invalid::new(format!("\"{part}\" is not a log level"), FIX));
        }
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(value) {
        return Err(Invalid::new(format!("\"{value}\" is not a valid log filter: {e}"), FIX));
    }
    Ok(())
}

/// `[antivirus] clamd`: `"off"`, a socket path, or `host:port`.
pub fn clamd_addr(value: &str) -> Result<(), Invalid> {
    if value == OFF || mailstead_antivirus::ClamdAddr::parse(value).is_ok() {
        return Ok(());
    }
    Err(Invalid::new(
        format!("\"{value}\" is not a clamd address"),
        "use a unix socket path such as \"/run/clamav/clamd.ctl\", \"127.0.0.1:3310\", or \"off\"",
    ))
}

/// `[smtp] trusted_networks`: every entry a network or address.
pub fn networks(entries: &[String]) -> Result<(), Invalid> {
    match entries.iter().find(|e| mailstead_types::IpNetwork::parse(e).is_err()) {
        Some(bad) => Err(Invalid::new(
            format!("\"{bad}\" is not an IP network or address"),
            "write networks as \"192.0.2.0/24\" or \"2001:db8::/32\", or single addresses",
        )),
        None => Ok(()),
    }
}

/// `[dns] nameservers`: `"IP"` or `"IP:port"`.
pub fn nameservers(entries: &[String]) -> Result<(), Invalid> {
    match entries.iter().find(|e| super::sections::nameserver_addr(e).is_none()) {
        Some(bad) => Err(Invalid::new(
            format!("\"{bad}\" is not a name server address"),
            "write \"127.0.0.1\", \"127.0.0.1:5353\" or \"[2001:db8::53]:53\"",
        )),
        None => Ok(()),
    }
}

/// `[dmarc] trusted_forwarders`: domains or networks.
pub fn forwarders(entries: &[String]) -> Result<(), Invalid> {
    mailstead_filter::auth::Forwarders::parse(entries).map(|_| ()).map_err(|e| {
        Invalid::new(e.to_string(), "write domains (\"lists.example.org\") or networks (\"192.0.2.0/24\")")
    })
}

/// `[spam] junk_threshold` and `reject_threshold`: finite numbers.
pub fn score(value: &super::sections::Score) -> Result<(), Invalid> {
    if value.0.is_finite() && value.0.abs() <= 10_000.0 {
        Ok(())
    } else {
        Err(Invalid::new(format!("{} is not a usable score", value.0), "use a number such as 5.0"))
    }
}

/// `[spam] dnsbl` and `uribl`: `"zone"` or `"zone=score"`.
pub fn blocklists(entries: &[String]) -> Result<(), Invalid> {
    match entries.iter().find(|e| super::sections::parse_blocklist(e, 0.0).is_none()) {
        Some(bad) => Err(Invalid::new(
            format!("\"{bad}\" is not a blocklist entry"),
            "write a DNS zone such as \"zen.spamhaus.org\", optionally with a score: \"bl.spamcop.net=2\"",
        )),
        None => Ok(()),
    }
}

/// A TCP port: 1 to 65535.
pub fn port(value: &u32) -> Result<(), Invalid> {
    if (1..=65535).contains(value) {
        Ok(())
    } else {
        Err(Invalid::new(format!("{value} is not a TCP port"), "use a number from 1 to 65535 (25 for SMTP)"))
    }
}

/// `[relay] host`: `"off"` or `"host:port"`.
pub fn relay_host(value: &str) -> Result<(), Invalid> {
    if value == OFF || super::sections::relay_addr(value).is_some() {
        return Ok(());
    }
    Err(Invalid::new(
        format!("\"{value}\" is not a relay address"),
        "write \"smtp.provider.example:587\" (with the port), or \"off\"",
    ))
}

/// `[queue] source_addresses`: IP addresses, at most one of each family.
pub fn source_addresses(entries: &[String]) -> Result<(), Invalid> {
    let fix = "list this host's outgoing addresses, e.g. [\"203.0.113.10\", \"2001:db8::10\"]";
    let mut parsed = Vec::new();
    for e in entries {
        match e.parse::<IpAddr>() {
            Ok(ip) => parsed.push(ip),
            Err(_) => return Err(Invalid::new(format!("\"{e}\" is not an IP address"), fix)),
        }
    }
    if parsed.iter().filter(|a| a.is_ipv4()).count() > 1 || parsed.iter().filter(|a| a.is_ipv6()).count() > 1
    {
        return Err(Invalid::new("more than one address of the same family", fix));
    }
    Ok(())
}
