//! Tests of loading, validation messages, the template round trip and the generated reference.

use std::path::{Path, PathBuf};

use super::sections::TlsCert;
use super::*;

const FILE: &str = "/data/mailstead.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new(FILE))
}

/// The error text for `text`, which must be invalid.
fn error(text: &str) -> String {
    match parse(text) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "missing {part:?} in:\n{message}");
    }
}

#[test]
fn empty_file_is_the_defaults() {
    assert_eq!(parse("").expect("valid"), Config::default());
}

#[test]
fn template_round_trips_in_production_and_dev() {
    for dev in [false, true] {
        let text = Config::template("mail.example.com", dev);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Config::file_path(dir.path());
        std::fs::write(&path, &text).expect("write");
        let loaded = Config::load(&path).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
        assert_eq!(loaded, Config::template_config("mail.example.com", dev));
        assert_eq!(loaded.server.dev, dev);
        assert!(text.starts_with("# mailstead.toml: configuration of the Mailstead mail server."));
    }
    let dev = Config::template("localhost", true);
    assert_has(&dev, &["dev = true", "smtp = \"127.0.0.1:2525\"", "# (default: \"0.0.0.0:25\")"]);
}

#[test]
fn template_writes_extra_certificates_as_table_arrays() {
    let mut config = Config::default();
    config.tls.extra.push(TlsCert { cert: "tls/b.pem".into(), key: "tls/b.key".into() });
    let text = render::template(&config);
    assert_has(&text, &["[[tls.extra]]\ncert = \"tls/b.pem\"\nkey = \"tls/b.key\""]);
    assert_eq!(parse(&text).expect("valid"), config);
}

#[test]
fn dev_listen_values() {
    let ports: Vec<u16> = Listen::dev().enabled().iter().map(|(_, a)| a.port()).collect();
    assert_eq!(ports, [2525, 2587, 2465, 2143, 2993, 2110, 2995, 2024, 8080, 8443]);
    assert!(Listen::dev().enabled().iter().all(|(_, a)| a.ip().is_loopback()));
}

#[test]
fn services_cover_every_listen_option() {
    let names: Vec<&str> = Listen::default().services().iter().map(|(n, _)| *n).collect();
    let keys: Vec<&str> = Listen::doc().options.iter().map(|o| o.key).collect();
    assert_eq!(names, keys);
}

#[test]
fn off_disables_a_listener_and_port_zero_is_valid() {
    let config =
        parse("[listen]\nsmtp = \"off\"\nimap = \"127.0.0.1:0\"\npop3 = \"127.0.0.1:0\"\n").expect("valid");
    let enabled = config.listen.enabled();
    assert!(enabled.iter().all(|(name, _)| *name != "smtp"));
    assert_eq!(enabled.len(), 9);
    assert!(enabled.contains(&("imap", "127.0.0.1:0".parse().expect("addr"))));
}

#[test]
fn missing_file() {
    let e = Config::load(Path::new("/nonexistent/dir/mailstead.toml")).expect_err("missing");
    assert_eq!(
        e.to_string(),
        "/nonexistent/dir/mailstead.toml: not found — run `mailstead init --data /nonexistent/dir \
         --domain example.com` to create it"
    );
}

#[test]
fn unknown_key_lists_the_valid_keys() {
    let e = error("[server]\nhostname = \"mail.example.com\"\n\nhostnme = \"x\"\n");
    assert_has(
        &e,
        &[
            "/data/mailstead.toml:4:1: unknown key `hostnme` in [server]",
            "    4 | hostnme = \"x\"",
            "      | ^^^^^^^",
            "fix: did you mean `hostname`? Valid keys in [server]: hostname, dev",
        ],
    );
}

#[test]
fn unknown_key_as_dotted_key_and_unknown_section() {
    assert_has(&error("limits.max_conections = 3\n"), &[":1:", "did you mean `max_connections`?"]);
    let e = error("[server]\n[lisen]\nsmtp = \"off\"\n");
    assert_has(
        &e,
        &[FILE, ":2:", "unknown section `lisen`", "did you mean `listen`? Valid sections: server"],
    );
}

#[test]
fn wrong_type_names_type_and_example() {
    let e = error("[limits]\nmax_errors = 10\nidle_timeout_secs = \"5m\"\n");
    assert_has(
        &e,
        &[
            "/data/mailstead.toml:3:21: [limits] idle_timeout_secs: wrong type",
            "fix: `idle_timeout_secs` expects integer (seconds), e.g. idle_timeout_secs = 300",
        ],
    );
    assert_has(&error("[limits]\nmax_errors = -1\n"), &[":2:", "e.g. max_errors = 10"]);
    assert_has(&error("server = 5\n"), &[":1:", "`server` is a section: write it as a [server] table"]);
}

#[test]
fn unknown_enum_value_lists_the_allowed_values() {
    let e = error("[log]\nformat = \"xml\"\n");
    assert_has(&e, &[":2:", "use one of \"text\", \"json\", e.g. format = \"text\""]);
    let e = error("[store]\nbackend = \"postgres\"\n");
    assert_has(&e, &[":2:", "use one of \"sqlite\""]);
}

#[test]
fn syntax_error_suggests_quotes() {
    let e = error("# comment\n[server]\nhostname = mail.example.com\n");
    assert_has(
        &e,
        &[
            "/data/mailstead.toml:3:",
            "invalid TOML",
            "    3 | hostname = mail.example.com",
            "fix: strings must be quoted: hostname = \"mail.example.com\"",
        ],
    );
    assert_has(&error("[server\n"), &[":1:", "fix: fix the TOML syntax"]);
    assert_has(&error("[listen]\nsmtp = \"off\"\nsmtp = \"off\"\n"), &[":3:", "duplicate key", "only once"]);
}

#[test]
fn tls_extra_needs_cert_and_key() {
    let ok = parse("[[tls.extra]]\ncert = \"a.pem\"\nkey = \"a.key\"\n").expect("valid");
    assert_eq!(ok.tls.extra.len(), 1);
    assert_has(&error("[[tls.extra]]\ncert = \"a.pem\"\n"), &["missing field `key`", "needs both"]);
    assert_has(
        &error("[[tls.extra]]\ncert = \"a\"\nkey = \"b\"\nchain = \"c\"\n"),
        &[":4:", "[[tls.extra]]"],
    );
}

#[test]
fn duplicate_listen_address() {
    let e = error("[listen]\nsmtp = \"0.0.0.0:2525\"\nsubmission = \"0.0.0.0:2525\"\n");
    assert_has(
        &e,
        &[
            "/data/mailstead.toml:3:14: [listen] submission: smtp and submission both listen on 0.0.0.0:2525",
            "fix: give each service its own port, or set one of them to \"off\"",
        ],
    );
    // Only smtp is written; the clash is with submission's default, reported at smtp's line.
    assert_has(&error("\n[listen]\nsmtp = \"0.0.0.0:587\"\n"), &[":3:8: [listen] smtp:"]);
    // A wildcard overlaps a specific address on the same port.
    assert_has(&error("[listen]\nlmtp = \"127.0.0.1:25\"\n"), &[":2:", "0.0.0.0 covers every address"]);
    // Port 0 never clashes.
    parse("[listen]\nsmtp = \"127.0.0.1:0\"\nimap = \"127.0.0.1:0\"\n").expect("valid");
}

#[test]
fn bad_hostname() {
    let e = error("[server]\ndev = false\nhostname = \"mail_1.example.com\"\n");
    assert_has(
        &e,
        &[
            "/data/mailstead.toml:3:12: [server] hostname: \"mail_1.example.com\" is not a valid DNS name",
            "fix: set the fully qualified name of this machine, e.g. hostname = \"mail.example.com\"",
        ],
    );
    for bad in ["", "-a.com", "a..b", "a.b.", "1.2.3.4", "é.com", &"x".repeat(64)] {
        assert!(checks::dns_name(bad).is_err(), "{bad:?} accepted");
    }
    for good in ["localhost", "mail.example.com", "xn--bcher-kva.de", "a-1.b2"] {
        assert!(checks::dns_name(good).is_ok(), "{good:?} rejected");
    }
}

#[test]
fn all_semantic_errors_are_reported_together() {
    let text = "[server]\nhostname = \"bad..name\"\n[listen]\nhttp = \"example.com:80\"\n\
                [limits]\nmax_errors = 0\nmax_line_length = 512\n[delivery]\nplus_separator = \"++\"\n\
                [log]\nlevel = \"verbose\"\n";
    let e = parse(text).expect_err("invalid");
    let lines: Vec<usize> = e.problems().iter().filter_map(|p| p.location.as_ref().map(|l| l.line)).collect();
    assert_eq!(lines, [2, 4, 6, 7, 9, 11]);
    assert_has(
        &e.to_string(),
        &[
            "host names cannot be bound",
            "[limits] max_errors: must not be 0",
            "below 1000",
            "\"++\" is not a plus-addressing separator",
            "\"verbose\" is not a log level",
        ],
    );
}

#[test]
fn log_levels_and_directives() {
    for ok in ["info", "DEBUG", "warn,mailstead_smtp=trace", "info,hyper[span]=debug"] {
        assert!(checks::log_level(ok).is_ok(), "{ok:?} rejected");
    }
    for bad in ["inf", "", "info,mailstead_smtp=loud"] {
        assert!(checks::log_level(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn resolve_path_and_mail_log() {
    let config = Config::default();
    let dir = Path::new("/var/lib/mailstead");
    assert_eq!(config.resolve_path(dir, &config.tls.cert), PathBuf::from("/var/lib/mailstead/tls/cert.pem"));
    assert_eq!(config.resolve_path(dir, "/etc/ssl/c.pem"), PathBuf::from("/etc/ssl/c.pem"));
    assert_eq!(config.mail_log_path(dir), Some(PathBuf::from("/var/lib/mailstead/log/mail.log")));
    let off = parse("[log]\nmail_log = \"off\"\n").expect("valid");
    assert_eq!(off.mail_log_path(dir), None);
}

#[test]
fn every_option_is_documented_and_sections_match_the_file() {
    let defaults = toml::Table::try_from(Config::default()).expect("serializes");
    let names: Vec<&str> = Config::sections().iter().map(|s| s.name).collect();
    let keys: Vec<&str> = defaults.keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, keys, "config_root! field names must match the section names");
    for section in Config::sections() {
        assert!(!section.doc.is_empty(), "[{}] undocumented", section.name);
        for option in section.options {
            assert!(!option.doc.is_empty(), "{}.{} undocumented", section.name, option.key);
        }
    }
}

/// `docs/config.md` is generated; `MAILSTEAD_BLESS=1` rewrites it.
#[test]
fn docs_config_md_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md");
    let generated = Config::reference_markdown();
    if std::env::var_os("MAILSTEAD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, &generated).expect("write docs/config.md");
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/config.md is out of date: run `MAILSTEAD_BLESS=1 cargo test -p mailstead config`"
    );
}

/// Every truncation of a real file either loads or gives a located error; none panics.
#[test]
fn truncated_files_never_panic() {
    let text = Config::template("mail.example.com", true) + "[[tls.extra]]\ncert = \"é\"\nkey = \"k\"\n";
    for end in (0..=text.len()).filter(|i| text.is_char_boundary(*i)).step_by(3) {
        if let Err(e) = parse(&text[..end]) {
            assert!(e.to_string().starts_with(FILE), "{e}");
            assert!(e.to_string().contains("fix: "), "{e}");
        }
    }
}

#[test]
fn pop3_expire_values() {
    assert_eq!(Config::default().pop3.expire_days(), None);
    assert_eq!(parse("[pop3]\nexpire = \"never\"\n").expect("valid").pop3.expire_days(), Some(None));
    assert_eq!(parse("[pop3]\nexpire = \"30\"\n").expect("valid").pop3.expire_days(), Some(Some(30)));
    assert_has(&error("[pop3]\nexpire = \"soon\"\n"), &[":2:", "not a retention policy"]);
}

#[test]
fn antivirus_options() {
    let c = parse(
        "[antivirus]\nclamd = \"/run/clamav/clamd.ctl\"\non_clamd_down = \"accept\"\nmacros = \"block\"\n",
    )
    .expect("valid");
    assert_eq!(c.antivirus.on_clamd_down, ClamdDown::Accept);
    assert_eq!(c.antivirus.macros, MacroAction::Block);
    assert!(parse("[antivirus]\nclamd = \"127.0.0.1:3310\"\n").is_ok());
    assert_has(&error("[antivirus]\nclamd = \"localhost\"\n"), &["not a clamd address", "127.0.0.1:3310"]);
    assert_has(&error("[antivirus]\non_clamd_down = \"maybe\"\n"), &["tempfail", "accept"]);
}

#[test]
fn screening_options() {
    let c = parse(
        "[smtp]\ntrusted_networks = []\n[dns]\nnameservers = [\"127.0.0.1:5353\", \"::1\"]\n\
         [dmarc]\ntrusted_forwarders = [\"lists.example.org\", \"192.0.2.0/24\"]\n\
         [spam]\njunk_threshold = 4.5\nreject_threshold = 12\ndnsbl = [\"zen.spamhaus.org\", \"bl.spamcop.net=2\"]\n",
    )
    .expect("valid");
    assert!(c.smtp.trusted_networks.is_empty());
    assert_eq!(c.spam.junk_threshold.0, 4.5);
    assert_eq!(c.spam.reject_threshold.0, 12.0);
    let ns: Vec<_> = c.dns.nameservers.iter().filter_map(|n| super::nameserver_addr(n)).collect();
    assert_eq!(ns, ["127.0.0.1:5353".parse().unwrap(), "[::1]:53".parse().unwrap()]);
    assert_eq!(super::parse_blocklist("bl.spamcop.net=2", 3.0), Some(("bl.spamcop.net".into(), 2.0)));
    assert_eq!(super::parse_blocklist("zen.spamhaus.org", 3.0), Some(("zen.spamhaus.org".into(), 3.0)));
    assert_eq!(Config::default().smtp.trusted_networks, ["127.0.0.0/8", "::1"]);
    assert_has(
        &error("[spam]\ndnsbl = [\"not a zone\"]\n"),
        &[":2:", "not a blocklist entry", "zen.spamhaus.org"],
    );
    assert_has(&error("[spam]\nuribl = [\"dbl.example=x\"]\n"), &["not a blocklist entry"]);
    assert_has(&error("[dns]\nnameservers = [\"resolver\"]\n"), &["not a name server address"]);
    assert_has(&error("[smtp]\ntrusted_networks = [\"10.0.0.0/33\"]\n"), &["not an IP network"]);
    assert_has(&error("[dmarc]\ntrusted_forwarders = [\"a b\"]\n"), &["not a domain, IP address or network"]);
    assert_has(
        &error("[spam]\njunk_threshold = 20.0\n"),
        &["reject_threshold (15) is not above junk_threshold (20)"],
    );
}
