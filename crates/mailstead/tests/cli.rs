//! The real binary, end to end: `init --dev` then `serve` listening on the dev ports with an
//! SMTP greeting, `check-config` reporting a broken file with its line, refusal of a data
//! directory from a newer version, a second server refused, SIGTERM stopping cleanly, and
//! training the spam classifier with `spam train` / `spam stats`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mailstead");

fn mailstead(args: &[&str], data: &Path) -> Output {
    Command::new(BIN).args(args).arg("--data").arg(data).output().expect("run mailstead")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn wait_ready(data: &Path, child: &mut Child) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(data.join("run/ports.json"))
            && let Ok(v) = serde_json::from_str(&s)
        {
            return v;
        }
        assert!(child.try_wait().expect("wait").is_none(), "serve exited early");
        assert!(start.elapsed() < Duration::from_secs(20), "serve did not become ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill").success();
    assert!(ok);
}

#[test]
fn dev_setup_serves_smtp_on_the_dev_ports_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let o = mailstead(&["init", "--domain", "example.test", "--dev"], &data);
    assert!(o.status.success(), "{}", text(&o));
    let config = std::fs::read_to_string(data.join("mailstead.toml")).expect("config");
    assert!(
        config.contains("smtp = \"127.0.0.1:2525\"") && config.contains("lmtp = \"127.0.0.1:2024\""),
        "{config}"
    );
    assert!(config.contains("dev = true"), "{config}");
    // Port 2024 is taken by a system service on some machines; LMTP's dev port is checked in
    // the file above, and here it gets an ephemeral one.
    std::fs::write(data.join("mailstead.toml"), config.replace("\"127.0.0.1:2024\"", "\"127.0.0.1:0\""))
        .expect("write");
    let o = mailstead(&["check-config"], &data);
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(BIN)
        .args(["account", "add", "alice@example.test", "--password-stdin", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(b"a long password\n")?;
            c.wait_with_output()
        })
        .expect("account add");
    assert!(o.status.success(), "{}", text(&o));

    let mut child =
        Command::new(BIN).arg("serve").arg("--data").arg(&data).stderr(Stdio::null()).spawn().expect("serve");
    let ports = wait_ready(&data, &mut child);
    assert_eq!(ports["smtp"], "127.0.0.1:2525", "{ports}");
    assert!(ports["lmtp"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{ports}");

    let second = mailstead(&["serve"], &data);
    assert!(!second.status.success());
    assert!(text(&second).contains("already running"), "{}", text(&second));

    let stream = TcpStream::connect("127.0.0.1:2525").expect("connect to 2525");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("greeting");
    assert!(line.starts_with("220 localhost ESMTP"), "{line:?}");
    drop(stream);

    sigterm(&child);
    let status = child.wait().expect("wait");
    assert!(status.success(), "serve exit status {status}");
    assert!(!data.join("run/ports.json").exists(), "ports.json removed at stop");
}

#[test]
fn broken_config_and_newer_store_get_clear_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    assert!(mailstead(&["init", "--domain", "example.test", "--dev"], &data).status.success());
    let path = data.join("mailstead.toml");
    let original = std::fs::read_to_string(&path).expect("config");
    let broken = original.replacen("max_recipients = 1000", "max_recipients = \"many\"", 1);
    assert_ne!(broken, original);
    std::fs::write(&path, &broken).expect("write");
    let line = broken.lines().position(|l| l.starts_with("max_recipients = \"many\"")).expect("line") + 1;
    let o = mailstead(&["check-config"], &data);
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(msg.contains(&format!("mailstead.toml:{line}:")), "{msg}");
    assert!(msg.contains("fix:"), "{msg}");
    let o = mailstead(&["serve"], &data);
    assert!(!o.status.success(), "serve must refuse a broken config");

    std::fs::write(&path, &original).expect("restore");
    let db = rusqlite_version_bump(&data.join("mailstead.db"));
    assert!(db, "bumped the store format");
    let o = mailstead(&["check-config"], &data);
    assert!(!o.status.success());
    assert!(text(&o).contains("newer Mailstead"), "{}", text(&o));

    let o = mailstead(&["init", "--domain", "example.test"], &data);
    assert!(!o.status.success() && text(&o).contains("already exists"), "{}", text(&o));
    let o = mailstead(&["account", "add", "bob@nowhere.test"], &data);
    assert!(!o.status.success());
}

/// Raises the store's format version with the sqlite3 command-line tool-free approach: the
/// binary is ours, so use python's sqlite3 module.
fn rusqlite_version_bump(db: &Path) -> bool {
    Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); v=c.execute('PRAGMA user_version').fetchone()[0]; c.execute(f'PRAGMA user_version={v+1}'); c.commit()"])
        .arg(db)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn spam_train_and_stats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    assert!(mailstead(&["init", "--domain", "example.test", "--dev"], &data).status.success());
    assert!(mailstead(&["account", "add", "carol@example.test"], &data).status.success());
    let message =
        |n: u32| format!("From: Deals <deals{n}@spam.example>\nSubject: Offer {n}\n\nBuy now, offer {n}\n");
    let maildir = dir.path().join("Maildir");
    for (sub, n) in [("cur", 1), ("new", 2)] {
        std::fs::create_dir_all(maildir.join(sub)).expect("mkdir");
        std::fs::write(maildir.join(sub).join(format!("{n}.host:2,S")), message(n)).expect("write");
    }
    std::fs::create_dir_all(maildir.join("tmp")).expect("mkdir");
    let loose = dir.path().join("loose.eml");
    std::fs::write(&loose, message(3)).expect("write");
    let maildir = maildir.to_str().expect("utf-8");
    let loose = loose.to_str().expect("utf-8");

    let train = |args: &[&str]| {
        let o = mailstead(&[&["spam", "train", "--account", "carol@example.test"], args].concat(), &data);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let out = train(&["--spam", maildir, loose]);
    assert!(out.contains("learned 3 messages as spam, relearned 0"), "{out}");
    let out = train(&["--spam", maildir]);
    assert!(
        out.contains("learned 0 messages as spam, relearned 0") && out.contains("2 already known"),
        "{out}"
    );
    let out = train(&["--ham", loose]);
    assert!(out.contains("learned 0 messages as ham, relearned 1"), "{out}");

    let o = mailstead(&["spam", "stats", "--account", "carol@example.test"], &data);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("trained spam: 2\n") && out.contains("trained ham: 1\n"), "{out}");
    assert!(out.contains("correspondents: 3\n") && !out.contains("tokens: 0\n"), "{out}");
    assert!(out.contains("inactive until 48 more spam and 49 more ham"), "{out}");

    let o = mailstead(&["spam", "train", "--account", "carol@example.test", loose], &data);
    assert!(!o.status.success(), "--spam or --ham is required");
    let o = mailstead(&["spam", "stats", "--account", "nobody@example.test"], &data);
    assert!(!o.status.success() && text(&o).contains("no account"), "{}", text(&o));
}
