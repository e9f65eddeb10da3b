//! Spam rules on hand-made messages and an in-memory DNS table: each content rule fires on the
//! message made to trigger it and stays quiet on an ordinary one; blocklist answers (listed,
//! refused, rewritten NXDOMAIN); HELO/PTR; the headers; the deadline.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mailstead_dns::{DnsErrorKind, MemoryResolver};

use super::*;

const NOW: i64 = 1_800_000_000;

fn rfc2822(ts: i64) -> String {
    // Enough of a date formatter for tests: days since the epoch to a civil date.
    let days = ts.div_euclid(86400);
    let secs = ts.rem_euclid(86400);
    let (y, m, d) = civil(days);
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{d} {} {y} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn ordinary(extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: Lunch on Friday\r\n\
         Date: {}\r\nMessage-ID: <1@example.org>\r\n{extra_headers}\r\n{body}",
        rfc2822(NOW - 60)
    )
    .into_bytes()
}

fn rules(raw: &[u8]) -> Vec<String> {
    content::analyze(raw, NOW).hits.into_iter().map(|h| h.rule).collect()
}

#[test]
fn an_ordinary_message_matches_nothing() {
    assert_eq!(
        rules(&ordinary("", "Shall we meet at noon? https://example.org/menu\r\n")),
        Vec::<String>::new()
    );
}

#[test]
fn gtube_is_spam_by_definition() {
    let raw = ordinary("", &format!("test\r\n{}\r\n", content::GTUBE));
    let a = content::analyze(&raw, NOW);
    assert!(a.hits.iter().any(|h| h.rule == "GTUBE" && h.score >= 1000.0));
    let report = Report { hits: a.hits };
    assert_eq!(report.verdict(&Thresholds::default()), Verdict::Reject);
}

#[test]
fn header_rules() {
    let raw = format!("From: x@example.org\r\nSubject: x\r\nDate: {}\r\n\r\nhi\r\n", rfc2822(NOW));
    assert_eq!(rules(raw.as_bytes()), ["MISSING_MID"]);
    let raw = "From: x@example.org\r\nSubject: x\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n";
    assert_eq!(rules(raw.as_bytes()), ["MISSING_DATE"]);
    let raw = format!(
        "From: x@example.org\r\nSubject: x\r\nMessage-ID: <a@b>\r\nDate: {}\r\n\r\nhi\r\n",
        rfc2822(NOW + 3 * 86400)
    );
    assert_eq!(rules(raw.as_bytes()), ["DATE_IN_FUTURE"]);
    let raw = format!(
        "From: x@example.org\r\nSubject: x\r\nMessage-ID: <a@b>\r\nDate: {}\r\n\r\nhi\r\n",
        rfc2822(NOW - 30 * 86400)
    );
    assert_eq!(rules(raw.as_bytes()), ["DATE_IN_PAST"]);
    let raw = format!(
        "To: y@example.test\r\nSubject: x\r\nMessage-ID: <a@b>\r\nDate: {}\r\n\r\nhi\r\n",
        rfc2822(NOW)
    );
    assert_eq!(rules(raw.as_bytes()), ["MISSING_FROM"]);
    let raw = format!(
        "From: \"service@paypal.com\" <billing@evil.example>\r\nSubject: URGENT ACCOUNT NOTICE!!!\r\nMessage-ID: <a@b>\r\nDate: {}\r\n\r\nhi\r\n",
        rfc2822(NOW)
    );
    assert_eq!(rules(raw.as_bytes()), ["FROM_DISPLAY_SPOOF", "SUBJ_ALL_CAPS", "SUBJ_EXCESS_PUNCT"]);
    // A display name with the same domain is fine.
    let raw = ordinary("", "hi\r\n");
    let same = String::from_utf8(raw).unwrap().replace("Alice <", "\"alice@example.org\" <");
    assert_eq!(rules(same.as_bytes()), Vec::<String>::new());
}

#[test]
fn html_and_link_rules() {
    let html = "<html><body><a href=\"http://login.evil.example/paypal\">https://www.paypal.com/signin</a>\
                <img src=\"cid:1\"><a href=\"http://192.0.2.7/x\">here</a> <a href=https://bit.ly/abc>more</a></body></html>";
    let raw = ordinary("MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n", html);
    let a = content::analyze(&raw, NOW);
    let names: Vec<&str> = a.hits.iter().map(|h| h.rule.as_str()).collect();
    assert_eq!(
        names,
        ["HTML_ONLY", "HTML_IMAGE_ONLY", "URI_IP_LITERAL", "URI_SHORTENER", "URI_TEXT_MISMATCH"]
    );
    let mismatch = a.hits.iter().find(|h| h.rule == "URI_TEXT_MISMATCH").unwrap();
    assert_eq!(mismatch.detail, "shows www.paypal.com, goes to login.evil.example");
    assert_eq!(a.link_domains, ["evil.example", "bit.ly"]);

    // multipart/alternative with a text part: not HTML-only; matching anchor text is fine.
    let raw = ordinary(
        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nSee www.example.org/menu\r\n--b\r\nContent-Type: text/html\r\n\r\n\
         <p>See <a href=\"https://www.example.org/menu\">www.example.org/menu</a></p>\r\n--b--\r\n",
    );
    assert_eq!(rules(&raw), Vec::<String>::new());
}

#[test]
fn registered_domains() {
    assert_eq!(content::registered_domain("a.b.example.com"), "example.com");
    assert_eq!(content::registered_domain("shop.example.co.uk"), "example.co.uk");
    assert_eq!(content::registered_domain("example.com"), "example.com");
    assert_eq!(content::registered_domain("localhost"), "localhost");
}

#[test]
fn hostile_input_is_bounded() {
    assert_eq!(rules(b""), ["MIME_UNPARSABLE"]);
    assert_eq!(
        rules(b"\r\nbody only\r\n"),
        ["MISSING_MID", "MISSING_DATE", "MISSING_FROM", "MISSING_SUBJECT"]
    );
    let mut big = ordinary("Content-Type: text/html\r\n", "");
    for i in 0..50_000 {
        big.extend_from_slice(format!("<a href=\"http://h{i}.example/\">x</a>").as_bytes());
    }
    let a = content::analyze(&big, NOW);
    assert!(a.link_domains.len() <= content::MAX_LINKS);
    let a = content::analyze(&[0xff, 0xfe, b'\r', b'\n', 0, 0, b'<', b'a'], NOW);
    assert!(a.hits.len() < 10);
}

fn lists() -> Vec<Blocklist> {
    vec![
        Blocklist { zone: "zen.example".into(), kind: BlocklistKind::Ip, score: 3.0 },
        Blocklist { zone: "dbl.example".into(), kind: BlocklistKind::Domain, score: 2.5 },
    ]
}

#[tokio::test]
async fn blocklists_listed_refused_and_rewritten() {
    let r = MemoryResolver::new();
    r.add_ip("7.2.0.192.zen.example", "127.0.0.4".parse().unwrap())
        .add_ip("8.2.0.192.zen.example", "127.255.255.254".parse().unwrap())
        .add_ip("9.2.0.192.zen.example", "203.0.113.1".parse().unwrap())
        .add_ip("2.0.0.127.zen.example", "127.0.0.2".parse().unwrap())
        .add_ip("evil.example.dbl.example", "127.0.1.2".parse().unwrap())
        .add_ip("refused.example.dbl.example", "127.255.255.252".parse().unwrap());
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let hits = dnsbl::check_ip(&r, &lists(), ip("192.0.2.7")).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule, "DNSBL_ZEN_EXAMPLE");
    assert_eq!(hits[0].detail, "192.0.2.7 listed by zen.example (127.0.0.4)");
    assert!(dnsbl::check_ip(&r, &lists(), ip("192.0.2.8")).await.is_empty(), "127.255.255.x means refused");
    assert!(
        dnsbl::check_ip(&r, &lists(), ip("192.0.2.9")).await.is_empty(),
        "answers outside 127/8 are ignored"
    );
    assert!(dnsbl::check_ip(&r, &lists(), ip("192.0.2.10")).await.is_empty(), "NXDOMAIN: not listed");
    assert_eq!(dnsbl::check_ip(&r, &lists(), ip("127.0.0.2")).await.len(), 1, "the RFC 5782 test entry");
    let before = r.queries();
    assert!(dnsbl::check_ip(&r, &lists(), ip("10.1.2.3")).await.is_empty());
    assert_eq!(r.queries(), before, "private addresses are not looked up");

    let domains = vec!["good.example".to_string(), "evil.example".to_string(), "refused.example".into()];
    let hits = dnsbl::check_domains(&r, &lists(), &domains).await;
    assert_eq!(hits.iter().map(|h| h.rule.as_str()).collect::<Vec<_>>(), ["URIBL_DBL_EXAMPLE"]);
    assert_eq!(
        dnsbl::interpret(&["127.255.255.254".parse().unwrap()]),
        dnsbl::Listing::Refused("127.255.255.254".parse().unwrap())
    );
}

#[tokio::test]
async fn helo_and_reverse_dns() {
    let r = MemoryResolver::new();
    let good: IpAddr = "192.0.2.20".parse().unwrap();
    r.add_ptr(good, "mail.example.org").add_ip("mail.example.org", good);
    let unconfirmed: IpAddr = "192.0.2.21".parse().unwrap();
    r.add_ptr(unconfirmed, "dyn-21.isp.example");
    let temp: IpAddr = "192.0.2.22".parse().unwrap();
    r.fail(&mailstead_dns::reverse_name(temp), "PTR", DnsErrorKind::Temporary);
    let names = |hits: Vec<Hit>| hits.into_iter().map(|h| h.rule).collect::<Vec<_>>();
    assert!(helo::check(&r, good, "mail.example.org", "mx.example.test").await.is_empty());
    assert_eq!(
        names(helo::check(&r, unconfirmed, "mail.example.org", "mx.example.test").await),
        ["RDNS_NOT_CONFIRMED"]
    );
    let nothing: IpAddr = "192.0.2.23".parse().unwrap();
    assert_eq!(
        names(helo::check(&r, nothing, "laptop", "mx.example.test").await),
        ["HELO_NOT_FQDN", "RDNS_NONE"]
    );
    assert_eq!(
        names(helo::check(&r, temp, "mx.example.test", "mx.example.test").await),
        ["HELO_FORGED_LOCAL"]
    );
    assert_eq!(
        names(helo::check(&r, good, "[192.0.2.99]", "mx.example.test").await),
        ["HELO_LITERAL_MISMATCH"]
    );
    assert!(helo::check(&r, good, "[192.0.2.20]", "mx.example.test").await.is_empty());
    assert_eq!(names(helo::check(&r, good, "192.0.2.20", "mx.example.test").await), ["HELO_BARE_IP"]);
}

#[test]
fn headers_list_every_rule_and_fold() {
    let report =
        Report { hits: (0..12).map(|i| Hit::new(format!("SOME_LONG_RULE_NAME_{i}"), 0.5, "x")).collect() };
    let h = report.headers(&Thresholds::default());
    assert!(h.starts_with("X-Spam-Score: 6.0\r\nX-Spam-Status: Yes, score=6.0 required=5.0 tests=SOME_LONG_RULE_NAME_0=0.5,\r\n\tSOME"), "{h}");
    for line in h.split("\r\n") {
        assert!(line.len() <= 78, "{line}");
    }
    for i in 0..12 {
        assert!(h.contains(&format!("SOME_LONG_RULE_NAME_{i}=0.5")));
    }
    assert!(h.ends_with("\r\n") && !h.ends_with("\r\n\r\n"));
    let empty = Report::default().headers(&Thresholds::default());
    assert_eq!(empty, "X-Spam-Score: 0.0\r\nX-Spam-Status: No, score=0.0 required=5.0 tests=none\r\n");
    assert_eq!(report.journal(&Thresholds::default())["verdict"], "junk");
}

#[test]
fn bayes_bands() {
    assert_eq!(account::bayes_hit(None), None);
    assert_eq!(account::bayes_hit(Some(0.999)).unwrap().rule, "BAYES_99");
    assert_eq!(account::bayes_hit(Some(0.5)).unwrap().score, 0.0);
    assert!(account::bayes_hit(Some(0.01)).unwrap().score < 0.0);
}

/// A resolver that never answers.
struct Silent;

#[async_trait::async_trait]
impl mailstead_dns::Resolver for Silent {
    async fn txt(&self, _: &str) -> mailstead_dns::DnsResult<mailstead_dns::TxtRecord> {
        std::future::pending().await
    }
    async fn mx(&self, _: &str) -> mailstead_dns::DnsResult<mailstead_dns::MxRecord> {
        std::future::pending().await
    }
    async fn ipv4(&self, _: &str) -> mailstead_dns::DnsResult<std::net::Ipv4Addr> {
        std::future::pending().await
    }
    async fn ipv6(&self, _: &str) -> mailstead_dns::DnsResult<std::net::Ipv6Addr> {
        std::future::pending().await
    }
    async fn ptr(&self, _: IpAddr) -> mailstead_dns::DnsResult<String> {
        std::future::pending().await
    }
    async fn tlsa(&self, _: &str) -> mailstead_dns::DnsResult<mailstead_dns::TlsaRecord> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_silent_dns_server_costs_the_deadline_not_the_message() {
    let mut config = SpamConfig::new("mx.example.test");
    config.blocklists = lists();
    config.deadline = Duration::from_millis(200);
    let checker = Checker::new(Arc::new(Silent), config);
    let raw = ordinary("", &format!("{}\r\n", content::GTUBE));
    let started = std::time::Instant::now();
    let report = checker
        .check(&Context {
            parsed: None,
            remote_ip: "192.0.2.7".parse().unwrap(),
            helo: "mail.example.org",
            mail_from: "alice@example.org",
            message: &raw,
            auth: None,
            received_at: NOW,
        })
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.hits.iter().map(|h| h.rule.as_str()).collect::<Vec<_>>(), ["GTUBE"]);
}

#[test]
fn phrase_rules_need_several_phrases() {
    let names = |text: &str| phrases::hits(text).into_iter().map(|h| h.rule).collect::<Vec<_>>();
    assert!(names("Click here to see the photos from Saturday.").is_empty());
    assert_eq!(
        names(
            "I NEED YOUR ASSISTANCE as next of kin to move the fund to a foreign account. Strictly confidential."
        ),
        ["ADVANCE_FEE"]
    );
    assert_eq!(names("Earn $5000 a week! Financial freedom, work from home."), ["MONEY_PROMISE"]);
    assert_eq!(names("Act now: limited time special offer, 100% free, no obligation."), ["SALES_PITCH"]);
    let shouting = "THIS IS A VERY IMPORTANT MESSAGE FOR YOU ".repeat(8);
    assert_eq!(names(&shouting), ["BODY_SHOUTING"]);
    // Phrases that overlap ("to be removed" and "removed from our list") both count, each
    // phrase once however often it appears, in any case.
    let pitch = phrases::hits("CLICK HERE, click here, or reply To Be Removed From Our List.");
    assert_eq!(pitch.iter().map(|h| h.rule.as_str()).collect::<Vec<_>>(), ["SALES_PITCH"]);
    assert_eq!(pitch[0].detail, r#""click here", "to be removed", "removed from our list""#);
    // Capitals are counted in every script, not only ASCII.
    let greek = "ΑΥΤΟ ΕΙΝΑΙ ΕΝΑ ΠΟΛΥ ΣΗΜΑΝΤΙΚΟ ΜΗΝΥΜΑ για σας ".repeat(8);
    let shout = phrases::hits(&greek);
    assert_eq!(shout.iter().map(|h| h.rule.as_str()).collect::<Vec<_>>(), ["BODY_SHOUTING"]);
    assert_eq!(shout[0].detail, "248 of 296 letters in capitals");
    assert!(names(&"Ordinary Greek text: αυτό είναι ένα μήνυμα. ".repeat(10)).is_empty());
    let subject = format!(
        "From: a@example.org\r\nSubject: Printer ink from $1.21\r\nDate: {}\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n",
        rfc2822(NOW)
    );
    assert_eq!(rules(subject.as_bytes()), ["SUBJ_MONEY"]);
}
