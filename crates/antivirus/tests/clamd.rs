//! Interop with a real ClamAV `clamd` (run by `tests/interop/clamd.sh`, which writes a
//! one-signature database for EICAR and starts clamd on a unix socket and on TCP).
//!
//! The tests are `#[ignore]`d so `cargo test` does not need clamd; the script runs
//! `live_*` while clamd is up and `stopped_*` after stopping it, passing the addresses in
//! `MAILSTEAD_CLAMD_UNIX` and `MAILSTEAD_CLAMD_TCP`. Signature names from a self-written
//! database get a `.UNOFFICIAL` suffix: names are matched by prefix, never exactly.

#[path = "../src/testdata.rs"]
mod testdata;

use mailstead_antivirus::{
    Clamd, ClamdAddr, ClamdConfig, ClamdVerdict, FailMode, ScanConfig, Scanner, Verdict,
};
use testdata::{Attachment, EICAR, ZipFile, message, plain, zip};

/// The signature name the interop script writes into its `.ndb` file.
const SIGNATURE: &str = "Mailstead-Test-EICAR";

fn addrs() -> [ClamdAddr; 2] {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} unset: run tests/interop/clamd.sh"))
    };
    [ClamdAddr::Unix(var("MAILSTEAD_CLAMD_UNIX").into()), ClamdAddr::Tcp(var("MAILSTEAD_CLAMD_TCP"))]
}

fn assert_infected(v: &ClamdVerdict, what: &str) {
    match v {
        ClamdVerdict::Infected { signature } => {
            assert!(signature.starts_with(SIGNATURE), "{what}: unexpected signature {signature}")
        }
        other => panic!("{what}: expected infected, got {other:?}"),
    }
}

fn eicar_cases() -> Vec<(&'static str, Vec<u8>)> {
    let z = zip(&[
        ZipFile::deflated("readme.txt", b"nothing to see"),
        ZipFile::deflated("test/eicar.txt", EICAR),
    ]);
    vec![
        ("plain EICAR", EICAR.to_vec()),
        (
            "EICAR attachment",
            message(
                "see attached",
                &[Attachment {
                    content_type: "application/octet-stream",
                    name: Some("eicar.txt"),
                    data: EICAR,
                }],
            ),
        ),
        (
            "EICAR in a zip attachment",
            message(
                "see attached",
                &[Attachment { content_type: "application/zip", name: Some("files.zip"), data: &z }],
            ),
        ),
    ]
}

#[tokio::test]
#[ignore = "needs a running clamd: tests/interop/clamd.sh"]
async fn live_ping_and_eicar_everywhere() {
    for addr in addrs() {
        let clamd = Clamd::new(ClamdConfig::new(addr.clone()));
        assert_eq!(clamd.ping().await, Ok(()), "PING over {addr}");
        for (what, bytes) in eicar_cases() {
            assert_infected(&clamd.scan(&bytes).await, &format!("{what} over {addr}"));
        }
        assert_eq!(
            clamd.scan(&plain("Hello Bob, lunch at noon?")).await,
            ClamdVerdict::Clean,
            "clean over {addr}"
        );
    }
}

#[tokio::test]
#[ignore = "needs a running clamd: tests/interop/clamd.sh"]
async fn live_scanner_rejects_infected_and_passes_clean() {
    for addr in addrs() {
        let scanner = Scanner::new(ScanConfig { clamd: Some(addr.clone()), ..ScanConfig::default() });
        for (what, bytes) in eicar_cases().into_iter().skip(1) {
            let report = scanner.scan(&bytes).await;
            let Verdict::Infected { signature } = &report.verdict else {
                panic!("{what} over {addr}: {report:?}");
            };
            assert!(signature.starts_with(SIGNATURE));
            let reply = report.verdict.reply().expect("reply");
            assert_eq!((reply.code, reply.enhanced), (554, "5.7.0"));
            assert!(reply.text.contains(SIGNATURE), "{}", reply.text);
        }
        let report = scanner.scan(&plain("Hello Bob")).await;
        assert_eq!(report.verdict, Verdict::Clean);
        assert_eq!(report.clamd, Some(ClamdVerdict::Clean));
    }
}

#[tokio::test]
#[ignore = "needs a running clamd: tests/interop/clamd.sh"]
async fn live_stream_limit_of_clamd_is_too_large() {
    // The script sets StreamMaxLength 1M; we allow more, so clamd itself refuses.
    let [unix, _] = addrs();
    let mut cfg = ClamdConfig::new(unix);
    cfg.max_stream_len = 8 * 1024 * 1024;
    let v = Clamd::new(cfg).scan(&vec![b'a'; 3 * 1024 * 1024]).await;
    assert!(matches!(v, ClamdVerdict::TooLarge { .. }), "{v:?}");
}

#[tokio::test]
#[ignore = "needs a stopped clamd: tests/interop/clamd.sh"]
async fn stopped_clamd_is_unavailable_and_fail_mode_decides() {
    for addr in addrs() {
        let clamd = Clamd::new(ClamdConfig::new(addr.clone()));
        assert!(clamd.ping().await.is_err(), "PING over {addr}");
        let v = clamd.scan(EICAR).await;
        assert!(matches!(v, ClamdVerdict::Unavailable { .. }), "{addr}: {v:?}");

        let closed = ScanConfig {
            clamd: Some(addr.clone()),
            on_unavailable: FailMode::Closed,
            ..ScanConfig::default()
        };
        let report = Scanner::new(closed).scan(&plain("hi")).await;
        let reply = report.verdict.reply().expect("temp-fail");
        assert_eq!((reply.code, reply.enhanced), (451, "4.7.0"), "{addr}");

        let open =
            ScanConfig { clamd: Some(addr.clone()), on_unavailable: FailMode::Open, ..ScanConfig::default() };
        let report = Scanner::new(open).scan(&plain("hi")).await;
        assert_eq!(report.verdict, Verdict::Clean, "{addr}");
        assert!(matches!(report.clamd, Some(ClamdVerdict::Unavailable { .. })));
    }
}
