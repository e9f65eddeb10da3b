//! `dnsq`: one DNS lookup through Mailstead's resolvers, for the interop tests and for looking
//! at what the outbound queue would see.
//!
//! `dnsq [--server IP:PORT] [--ad] TYPE NAME` with TYPE one of TXT, MX, A, AAAA, PTR (NAME is
//! then an address) or TLSA. Prints one line per record and a last line `authentic: true|false`;
//! a failed lookup prints `error: KIND: detail` and exits with 2. `--ad` uses
//! [`AdResolver`] (asks for and reports the AD bit), otherwise [`HickoryResolver`]. Without
//! `--server` the system's nameservers are asked.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use mailstead_dns::{AdResolver, DnsError, DnsResult, HickoryResolver, Resolver, ResolverSettings};

const USAGE: &str = "usage: dnsq [--server IP:PORT] [--ad] TXT|MX|A|AAAA|PTR|TLSA NAME";

/// What to look up.
enum Question {
    Txt(String),
    Mx(String),
    A(String),
    Aaaa(String),
    Ptr(IpAddr),
    Tlsa(String),
}

struct Args {
    server: Option<SocketAddr>,
    ad: bool,
    question: Question,
}

fn parse_args() -> Result<Args, String> {
    let mut server = None;
    let mut ad = false;
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => {
                let value = args.next().ok_or("--server needs IP:PORT")?;
                server = Some(value.parse().map_err(|e| format!("--server {value}: {e}"))?);
            }
            "--ad" => ad = true,
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => rest.push(arg),
        }
    }
    let [rtype, name] = <[String; 2]>::try_from(rest).map_err(|_| USAGE.to_string())?;
    let question = match rtype.to_ascii_uppercase().as_str() {
        "TXT" => Question::Txt(name),
        "MX" => Question::Mx(name),
        "A" => Question::A(name),
        "AAAA" => Question::Aaaa(name),
        "PTR" => Question::Ptr(name.parse().map_err(|e| format!("PTR needs an address: {e}"))?),
        "TLSA" => Question::Tlsa(name),
        other => return Err(format!("unknown type {other}\n{USAGE}")),
    };
    Ok(Args { server, ad, question })
}

/// The records of `answer` shown as lines, and its AD verdict.
fn lines<T>(answer: DnsResult<T>, show: impl Fn(&T) -> String) -> Result<(Vec<String>, bool), DnsError> {
    answer.map(|a| (a.records.iter().map(show).collect(), a.authentic))
}

async fn lookup(r: &dyn Resolver, question: &Question) -> Result<(Vec<String>, bool), DnsError> {
    match question {
        Question::Txt(name) => {
            lines(r.txt(name).await, |t| format!("{:?}", String::from_utf8_lossy(&t.joined())))
        }
        Question::Mx(name) => lines(r.mx(name).await, |m| format!("{} {}", m.preference, m.exchange)),
        Question::A(name) => lines(r.ipv4(name).await, ToString::to_string),
        Question::Aaaa(name) => lines(r.ipv6(name).await, ToString::to_string),
        Question::Ptr(ip) => lines(r.ptr(*ip).await, Clone::clone),
        Question::Tlsa(name) => lines(r.tlsa(name).await, |t| {
            let hex = t.data.iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
            format!("{} {} {} {hex}", t.usage, t.selector, t.matching)
        }),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("dnsq: {e}");
            return ExitCode::from(64);
        }
    };
    let settings = ResolverSettings {
        nameservers: args.server.into_iter().collect(),
        cache_size: 0,
        ..Default::default()
    };
    let resolver: Result<Box<dyn Resolver>, DnsError> = if args.ad {
        AdResolver::new(settings).map(|r| Box::new(r) as Box<dyn Resolver>)
    } else {
        HickoryResolver::new(settings).map(|r| Box::new(r) as Box<dyn Resolver>)
    };
    let resolver = match resolver {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dnsq: {e}");
            return ExitCode::from(2);
        }
    };
    match lookup(resolver.as_ref(), &args.question).await {
        Err(e) => {
            println!("error: {:?}: {e}", e.kind());
            ExitCode::from(2)
        }
        Ok((records, authentic)) => {
            for line in records {
                println!("{line}");
            }
            println!("authentic: {authentic}");
            ExitCode::SUCCESS
        }
    }
}
