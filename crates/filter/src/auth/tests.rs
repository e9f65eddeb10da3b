//! Sender authentication against an in-memory DNS table: every SPF result, DKIM pass and fail
//! with a key made in the test, DMARC alignment and policy, the forwarder exception, and the
//! `Authentication-Results:` text.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use mailstead_dns::{DnsErrorKind, MemoryResolver};

use super::*;

const CLIENT: &str = "192.0.2.10";

fn client() -> IpAddr {
    CLIENT.parse().unwrap()
}

/// A zone with one domain per SPF outcome, DMARC records, and a DKIM key for `signed.test`.
fn zone() -> MemoryResolver {
    let r = MemoryResolver::new();
    r.add_txt("pass.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .add_txt("_dmarc.pass.test", "v=DMARC1; p=reject")
        .add_txt("fail.test", "v=spf1 -all")
        .add_txt("softfail.test", "v=spf1 ~all")
        .add_txt("neutral.test", "v=spf1 ?all")
        .add_ip("none.test", "198.51.100.1".parse().unwrap())
        .add_txt("permerror.test", "v=spf1 include:missing.test -all")
        .add_txt("viamx.test", "v=spf1 mx -all")
        .add_mx("viamx.test", 10, "mx.viamx.test")
        .add_ip("mx.viamx.test", client())
        .add_txt("strict.test", "v=spf1 -all")
        .add_txt("_dmarc.strict.test", "v=DMARC1; p=reject")
        .add_txt("careful.test", "v=spf1 -all")
        .add_txt("_dmarc.careful.test", "v=DMARC1; p=quarantine")
        .add_txt("relaxed.test", "v=spf1 -all")
        .add_txt("_dmarc.relaxed.test", "v=DMARC1; p=none")
        .add_txt("bounces.test", "v=spf1 -all")
        .add_txt("signed.test", "v=spf1 -all")
        .add_txt("_dmarc.signed.test", "v=DMARC1; p=reject");
    r.fail("temperror.test", "TXT", DnsErrorKind::Temporary);
    r
}

async fn authenticator(zone: MemoryResolver, forwarders: &[&str]) -> Authenticator {
    let mut config = AuthConfig::new("mx.example.net");
    config.forwarders = Forwarders::parse(forwarders).unwrap();
    Authenticator::new(Arc::new(zone), config).await.unwrap()
}

fn message(from: &str, body: &str) -> String {
    format!(
        "From: Sender <{from}>\r\nTo: rcpt@example.net\r\nSubject: hello\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@test>\r\n\r\n{body}\r\n"
    )
}

/// Signs `msg` for `domain`/`sel` with a new Ed25519 key and publishes the key in `zone`.
fn sign(zone: &MemoryResolver, domain: &str, msg: &str) -> String {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    zone.add_txt(&format!("sel._domainkey.{domain}"), &format!("v=DKIM1; k=ed25519; p={public}"));
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector("sel")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(msg.as_bytes())
        .unwrap();
    format!("{}{msg}", signature.to_header())
}

async fn spf_of(domain: &str) -> SpfStatus {
    let auth = authenticator(zone(), &[]).await;
    let from = format!("user@{domain}");
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: &from };
    let res = auth.verify(&env, message(&from, "hi").as_bytes()).await;
    assert_eq!(res.spf_domain, domain);
    res.spf
}

#[tokio::test]
async fn spf_results() {
    assert_eq!(spf_of("pass.test").await, SpfStatus::Pass);
    assert_eq!(spf_of("viamx.test").await, SpfStatus::Pass);
    assert_eq!(spf_of("fail.test").await, SpfStatus::Fail);
    assert_eq!(spf_of("softfail.test").await, SpfStatus::SoftFail);
    assert_eq!(spf_of("neutral.test").await, SpfStatus::Neutral);
    assert_eq!(spf_of("none.test").await, SpfStatus::None);
    assert_eq!(spf_of("nxdomain.test").await, SpfStatus::None);
    assert_eq!(spf_of("temperror.test").await, SpfStatus::TempError);
    assert_eq!(spf_of("permerror.test").await, SpfStatus::PermError);
}

#[tokio::test]
async fn null_sender_checks_the_helo_identity() {
    let auth = authenticator(zone(), &[]).await;
    let env = Envelope { remote_ip: client(), helo: "pass.test", mail_from: "" };
    let res = auth.verify(&env, message("mailer-daemon@pass.test", "bounce").as_bytes()).await;
    assert_eq!((res.spf, res.spf_domain.as_str()), (SpfStatus::Pass, "pass.test"));
    assert!(res.header().contains("smtp.mailfrom=<>"), "{}", res.header());
}

#[tokio::test]
async fn dkim_pass_and_fail_on_tampered_body_or_headers() {
    let zone = zone();
    let signed = sign(&zone, "signed.test", &message("a@signed.test", "the original body"));
    let tampered = signed.replace("the original body", "the altered body");
    let forged = signed.replace("Subject: hello", "Subject: urgent");
    let auth = authenticator(zone, &[]).await;
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: "a@signed.test" };

    let good = auth.verify(&env, signed.as_bytes()).await;
    assert_eq!(good.dkim.len(), 1);
    assert_eq!(good.dkim[0].status, DkimStatus::Pass, "{:?}", good.dkim[0]);
    assert_eq!((good.dkim[0].domain.as_str(), good.dkim[0].selector.as_str()), ("signed.test", "sel"));

    // mail-auth reports a body-hash mismatch as `neutral` (with the reason), a bad signature
    // over the headers as `fail`: neither passes, so neither can align for DMARC.
    let bad = auth.verify(&env, tampered.as_bytes()).await;
    assert_eq!(bad.dkim[0].status, DkimStatus::Neutral);
    assert!(bad.dkim[0].reason.as_deref().is_some_and(|r| r.contains("body hash")), "{:?}", bad.dkim[0]);
    assert!(bad.header().contains("dkim=neutral"), "{}", bad.header());
    let forged = auth.verify(&env, forged.as_bytes()).await;
    assert_eq!(forged.dkim[0].status, DkimStatus::Fail, "{:?}", forged.dkim[0]);
    assert!(forged.header().contains("dkim=fail"), "{}", forged.header());
    // SPF fails too (signed.test is -all), so DMARC p=reject refuses it.
    assert_eq!(bad.dmarc.status, DmarcStatus::Fail);
    assert_eq!(bad.disposition, Disposition::Reject);
}

#[tokio::test]
async fn dmarc_passes_through_spf_alignment() {
    let auth = authenticator(zone(), &[]).await;
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: "bounce@pass.test" };
    let res = auth.verify(&env, message("boss@pass.test", "hi").as_bytes()).await;
    assert_eq!(res.spf, SpfStatus::Pass);
    assert_eq!(res.dmarc.status, DmarcStatus::Pass);
    assert_eq!(res.dmarc.policy, Some(DmarcPolicy::Reject));
    assert_eq!(res.disposition, Disposition::Accept);
    assert_eq!(res.reject_reply(), None);
}

#[tokio::test]
async fn dmarc_passes_through_dkim_alignment() {
    let zone = zone();
    let signed = sign(&zone, "signed.test", &message("a@signed.test", "hello"));
    let auth = authenticator(zone, &[]).await;
    // An unrelated, SPF-failing envelope domain: only DKIM can align.
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: "x@bounces.test" };
    let res = auth.verify(&env, signed.as_bytes()).await;
    assert_eq!(res.spf, SpfStatus::Fail);
    assert_eq!(res.dmarc.status, DmarcStatus::Pass);
    assert_eq!(res.disposition, Disposition::Accept);
}

#[tokio::test]
async fn dmarc_fail_applies_reject_quarantine_and_none() {
    let auth = authenticator(zone(), &[]).await;
    for (domain, policy, disposition) in [
        ("strict.test", DmarcPolicy::Reject, Disposition::Reject),
        ("careful.test", DmarcPolicy::Quarantine, Disposition::Junk),
        ("relaxed.test", DmarcPolicy::None, Disposition::Accept),
    ] {
        let from = format!("ceo@{domain}");
        let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: &from };
        let res = auth.verify(&env, message(&from, "wire money").as_bytes()).await;
        assert_eq!(res.dmarc.status, DmarcStatus::Fail, "{domain}");
        assert_eq!(res.dmarc.policy, Some(policy), "{domain}");
        assert_eq!(res.disposition, disposition, "{domain}");
    }
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: "ceo@strict.test" };
    let res = auth.verify(&env, message("ceo@strict.test", "x").as_bytes()).await;
    let reply = res.reject_reply().unwrap();
    assert_eq!((reply.code, reply.status), (550, "5.7.1"));
    assert!(reply.text.contains("strict.test"));
}

#[tokio::test]
async fn listed_forwarders_are_not_rejected() {
    // By network: the client's address is listed.
    let auth = authenticator(zone(), &["192.0.2.0/28"]).await;
    let env = Envelope { remote_ip: client(), helo: "relay.test", mail_from: "ceo@strict.test" };
    let res = auth.verify(&env, message("ceo@strict.test", "forwarded").as_bytes()).await;
    assert_eq!(res.dmarc.status, DmarcStatus::Fail);
    assert_eq!(res.dmarc.overridden, Some(DmarcOverride::ForwarderAddress(client())));
    assert_eq!(res.disposition, Disposition::Accept);

    // By domain: a mailing list re-signs with DKIM as lists.relay.test; the author's DMARC fails.
    let zone = zone();
    let signed = sign(&zone, "lists.relay.test", &message("ceo@strict.test", "list post"));
    let auth = authenticator(zone, &["relay.test"]).await;
    let env = Envelope { remote_ip: client(), helo: "lists.relay.test", mail_from: "owner@lists.relay.test" };
    let res = auth.verify(&env, signed.as_bytes()).await;
    assert_eq!(res.dkim[0].status, DkimStatus::Pass);
    assert_eq!(res.dmarc.status, DmarcStatus::Fail);
    assert_eq!(res.dmarc.overridden, Some(DmarcOverride::ForwarderDomain("relay.test".into())));
    assert_eq!(res.disposition, Disposition::Accept);

    // An unlisted HELO name claiming to be the forwarder does not help.
    let auth = authenticator(self::zone(), &["relay.test"]).await;
    let env = Envelope { remote_ip: client(), helo: "lists.relay.test", mail_from: "ceo@strict.test" };
    let res = auth.verify(&env, message("ceo@strict.test", "spoof").as_bytes()).await;
    assert_eq!(res.disposition, Disposition::Reject);
}

#[tokio::test]
async fn authentication_results_header_text() {
    let auth = authenticator(zone(), &[]).await;
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: "bounce@pass.test" };
    let res = auth.verify(&env, message("boss@pass.test", "hi").as_bytes()).await;
    assert_eq!(
        res.header(),
        "Authentication-Results: mx.example.net;\r\n\
         \tspf=pass (mx.example.net: domain of bounce@pass.test designates 192.0.2.10 as permitted sender) smtp.mailfrom=bounce@pass.test;\r\n\
         \tarc=none smtp.remote-ip=192.0.2.10;\r\n\
         \tdmarc=pass header.from=pass.test policy.dmarc=reject\r\n"
    );

    let zone = zone();
    let signed = sign(&zone, "signed.test", &message("a@signed.test", "hello"));
    let auth = authenticator(zone, &[]).await;
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: "a@signed.test" };
    let res = auth.verify(&env, signed.as_bytes()).await;
    let h = res.header();
    assert!(h.starts_with("Authentication-Results: mx.example.net;\r\n\tdkim=pass header.d=signed.test header.s=sel header.b="), "{h}");
    assert!(h.contains("\tspf=fail "), "{h}");
    assert!(h.contains("\tdmarc=pass header.from=signed.test policy.dmarc=reject"), "{h}");
}

#[tokio::test]
async fn unparsable_messages_still_get_spf() {
    let auth = authenticator(zone(), &[]).await;
    let env = Envelope { remote_ip: client(), helo: "client.test", mail_from: "a@pass.test" };
    let res = auth.verify(&env, b"").await;
    assert_eq!(res.spf, SpfStatus::Pass);
    assert_eq!(res.dmarc.status, DmarcStatus::None);
    assert_eq!(res.disposition, Disposition::Accept);
}
