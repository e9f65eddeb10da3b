//! `mailstead dns [--domain D]`: the DNS records each local domain needs, in zone-file syntax
//! to paste into the zone or the DNS provider's form: MX, SPF, both DKIM keys and DMARC.
//! A domain without DKIM keys gets them first (the signer picks them up at its next message).
//!
//! Choices (docs/architecture.md, "Submission and DKIM"):
//! - SPF `v=spf1 mx -all`: the MX host sends; with the SMTP listener on a specific public
//!   address, that address is named too (`ip4:`/`ip6:`). `-all`: nobody else.
//! - DMARC `p=quarantine`: unauthenticated mail claiming the domain goes to the receiver's spam
//!   folder; aggregate reports (`rua`) go to postmaster@ the domain. Tighten to `p=reject` once
//!   the reports show only your own mail.
//! - TXT data longer than 255 octets is split into several strings (RFC 1035 §3.3.14); DNS
//!   joins them again for DKIM (RFC 6376 §3.6.2.2).
//! - A TLSA record (`3 1 1`: DANE-EE, the key's SHA-256, RFC 7672 §3.1.1) for the host's
//!   current certificate is printed commented out: it only helps in a DNSSEC-signed zone, and
//!   a published record must change before the key does, or DANE senders stop delivering.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result, bail};

use mailstead_filter::dkim::{KeyDir, PublicKey};
use mailstead_store::DirectoryStore;
use mailstead_types::Domain;

use crate::commands::{load_config, now, open_store};
use crate::datadir::DataDir;

/// The TTL written on every record.
const TTL: u32 = 3600;

/// Runs `dns`.
pub async fn run(data: &DataDir, only: Option<&str>) -> Result<()> {
    let config = load_config(data)?;
    let store = open_store(data)?;
    let domains = match only {
        Some(d) => {
            let d = Domain::parse(d).with_context(|| format!("{d:?} is not a valid domain name"))?;
            if !store.is_local_domain(&d).await? {
                bail!("{d} is not a local domain; add it first: mailstead domain add {d}");
            }
            vec![d]
        }
        None => store.list_domains().await?,
    };
    let keys = KeyDir::new(data.dkim_dir());
    let hostname = &config.server.hostname;
    let ip = config.listen.smtp.parse::<SocketAddr>().ok().map(|a| a.ip()).filter(|ip| is_public(*ip));
    println!("; DNS records for Mailstead on {hostname}, in zone-file syntax.");
    println!("; Also needed: the address record of {hostname} and a reverse (PTR) record for that");
    println!("; address giving back {hostname} (set by whoever provides the address).");
    if let Some(ip) = ip {
        let kind = if ip.is_ipv4() { "A" } else { "AAAA" };
        println!("{hostname}.\t{TTL}\tIN\t{kind}\t{ip}");
    }
    let cert = config.resolve_path(data.root(), &config.tls.cert);
    match std::fs::read(&cert).ok().and_then(|pem| tlsa_record(hostname, &pem)) {
        Some(tlsa) => {
            println!("; DANE, only if the zone of {hostname} is DNSSEC-signed: senders that check DANE");
            println!("; then accept only this key for it. Publish the record of a new key before using it.");
            println!("; {tlsa}");
        }
        None => println!("; (no TLSA record: cannot read the certificate {})", cert.display()),
    }
    for domain in domains {
        keys.ensure(&domain, now()).with_context(|| format!("making DKIM keys for {domain}"))?;
        let public = keys.public_keys(&domain).with_context(|| format!("reading DKIM keys of {domain}"))?;
        print!("\n{}", records(&domain, hostname, ip, &public));
    }
    Ok(())
}

/// The records of one domain.
fn records(domain: &Domain, hostname: &str, ip: Option<IpAddr>, keys: &[PublicKey]) -> String {
    let spf = match ip {
        Some(IpAddr::V4(v4)) => format!("v=spf1 mx ip4:{v4} -all"),
        Some(IpAddr::V6(v6)) => format!("v=spf1 mx ip6:{v6} -all"),
        None => "v=spf1 mx -all".to_string(),
    };
    let line = |name: &str, kind: &str, value: &str| format!("{name}.\t{TTL}\tIN\t{kind}\t{value}\n");
    let mut out = format!("; {domain}\n");
    out.push_str(&line(domain.as_str(), "MX", &format!("10 {hostname}.")));
    out.push_str(&line(domain.as_str(), "TXT", &txt(&spf)));
    for key in keys {
        out.push_str(&line(&key.name(domain), "TXT", &txt(&key.record)));
    }
    let dmarc = format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}");
    out.push_str(&line(&format!("_dmarc.{domain}"), "TXT", &txt(&dmarc)));
    out
}

/// The `3 1 1` TLSA record for the first certificate of `pem`, as a zone-file line.
fn tlsa_record(hostname: &str, pem: &[u8]) -> Option<String> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
    let cert = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
    let data = mailstead_queue::dane::spki_sha256(&cert)?;
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("_25._tcp.{hostname}.\t{TTL}\tIN\tTLSA\t3 1 1 {hex}"))
}

/// TXT record data: quoted character-strings of at most 255 octets each.
fn txt(value: &str) -> String {
    let strings: Vec<String> = value
        .as_bytes()
        .chunks(255)
        .map(|chunk| {
            let s = String::from_utf8_lossy(chunk);
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        })
        .collect();
    strings.join(" ")
}

/// An address others can reach (not loopback, private, link-local or unspecified).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_loopback() || v4.is_private() || v4.is_link_local()),
        IpAddr::V6(v6) => {
            !(v6.is_unspecified() || v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailstead_filter::dkim::KeyAlgorithm;

    #[test]
    fn zone_lines_split_long_txt_data() {
        let long = format!("v=DKIM1; k=rsa; p={}", "A".repeat(392));
        let keys = [
            PublicKey {
                selector: "ms202611e".into(),
                algorithm: KeyAlgorithm::Ed25519,
                record: "v=DKIM1; k=ed25519; p=xyz".into(),
            },
            PublicKey { selector: "ms202611r".into(), algorithm: KeyAlgorithm::Rsa, record: long.clone() },
        ];
        let domain = Domain::parse("example.com").unwrap();
        let out = records(&domain, "mail.example.com", None, &keys);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "example.com.\t3600\tIN\tMX\t10 mail.example.com.");
        assert_eq!(lines[2], "example.com.\t3600\tIN\tTXT\t\"v=spf1 mx -all\"");
        assert_eq!(
            lines[3],
            "ms202611e._domainkey.example.com.\t3600\tIN\tTXT\t\"v=DKIM1; k=ed25519; p=xyz\""
        );
        let rsa = lines[4].split('\t').nth(4).unwrap();
        assert_eq!(rsa, format!("\"{}\" \"{}\"", &long[..255], &long[255..]));
        assert_eq!(
            lines[5],
            "_dmarc.example.com.\t3600\tIN\tTXT\t\"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com\""
        );
        let with_ip = records(&domain, "mail.example.com", Some("192.0.2.25".parse().unwrap()), &[]);
        assert!(with_ip.contains("\"v=spf1 mx ip4:192.0.2.25 -all\""), "{with_ip}");
        assert!(!is_public("0.0.0.0".parse().unwrap()) && !is_public("10.1.2.3".parse().unwrap()));
        assert_eq!(txt("say \"hi\""), "\"say \\\"hi\\\"\"");
    }

    #[test]
    fn tlsa_record_of_the_certificate() {
        let cert = rcgen::generate_simple_self_signed(vec!["mail.example.com".to_string()]).unwrap();
        let line = tlsa_record("mail.example.com", cert.cert.pem().as_bytes()).unwrap();
        let hex = line.rsplit(' ').next().unwrap();
        assert!(line.starts_with("_25._tcp.mail.example.com.\t3600\tIN\tTLSA\t3 1 1 "), "{line}");
        assert_eq!(hex.len(), 64);
        let der = cert.cert.der();
        let want: String =
            mailstead_queue::dane::spki_sha256(der).unwrap().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want);
        assert_eq!(tlsa_record("mail.example.com", b"no PEM here"), None);
    }
}
