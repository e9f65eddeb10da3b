//! `mailstead spam train|stats`: an account's spam classifier from the command line. `train`
//! learns messages as spam or ham from files, Maildirs (`cur/` and `new/`) or directories of
//! message files (one message per file); training the same message again is free, and training
//! it as the other class moves it. `stats` shows what the classifier knows. Both open the store
//! in tool mode beside a possibly running server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use mailstead_filter::bayes::{self, Class, MIN_TRAINED, TrainOutcome};
use mailstead_store::Store;
use mailstead_store::model::BlobId;
use mailstead_types::Address;

use crate::commands::open_store;
use crate::datadir::DataDir;

/// Trainings in flight at once (they share the store's group commits).
const PARALLEL: usize = 16;

/// `mailstead spam …`
#[derive(Debug, Subcommand)]
pub enum SpamAction {
    /// Train an account's classifier on messages: files, Maildirs (cur/ and new/) or directories
    /// of message files.
    Train {
        /// The account whose classifier learns.
        #[arg(long)]
        account: String,
        #[command(flatten)]
        class: ClassArg,
        /// Message files, Maildirs or directories of message files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show what an account's classifier has learned.
    Stats {
        /// The account.
        #[arg(long)]
        account: String,
    },
}

/// `--spam` or `--ham`, exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ClassArg {
    /// The messages are spam.
    #[arg(long)]
    spam: bool,
    /// The messages are wanted mail.
    #[arg(long)]
    ham: bool,
}

/// Runs `mailstead spam …`.
pub async fn run(data: &DataDir, action: SpamAction) -> Result<()> {
    let store: Arc<dyn Store> = Arc::new(open_store(data)?);
    match action {
        SpamAction::Train { account, class, paths } => {
            let class = if class.spam { Class::Spam } else { Class::Ham };
            train(store, &account, class, &paths).await
        }
        SpamAction::Stats { account } => stats(store.as_ref(), &account).await,
    }
}

async fn account_id(store: &dyn Store, address: &str) -> Result<i64> {
    let parsed = Address::parse(address).with_context(|| format!("{address:?} is not an address"))?;
    match store.get_account(&parsed).await? {
        Some(a) => Ok(a.id),
        None => bail!("no account {parsed}"),
    }
}

async fn train(store: Arc<dyn Store>, address: &str, class: Class, paths: &[PathBuf]) -> Result<()> {
    let account = account_id(store.as_ref(), address).await?;
    let mut files = Vec::new();
    for path in paths {
        message_files(path, &mut files)?;
    }
    let mut tally = [0usize; 3];
    let mut tasks = tokio::task::JoinSet::new();
    for file in files {
        while tasks.len() >= PARALLEL {
            count(&mut tally, tasks.join_next().await)?;
        }
        let store = store.clone();
        tasks.spawn(async move {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let outcome = bayes::train(store.as_ref(), account, &BlobId::of(&bytes), &bytes, class)
                .await
                .with_context(|| format!("training {}", file.display()))?;
            Ok::<_, anyhow::Error>(outcome)
        });
    }
    while !tasks.is_empty() {
        count(&mut tally, tasks.join_next().await)?;
    }
    let [learned, relearned, known] = tally;
    println!(
        "{address}: learned {learned} messages as {}, relearned {relearned} (trained before as the other class), {known} already known",
        class.as_str()
    );
    Ok(())
}

type Joined = Option<std::result::Result<Result<TrainOutcome>, tokio::task::JoinError>>;

fn count(tally: &mut [usize; 3], joined: Joined) -> Result<()> {
    let Some(joined) = joined else { return Ok(()) };
    let index = match joined.context("training task failed")?? {
        TrainOutcome::Learned => 0,
        TrainOutcome::Relearned => 1,
        TrainOutcome::AlreadyKnown => 2,
    };
    tally[index] += 1;
    Ok(())
}

/// The message files of a path: the file itself; a Maildir's `cur/` and `new/`; or the plain
/// files of a directory (not descending, skipping hidden files), in name order.
fn message_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let maildir: Vec<PathBuf> = ["cur", "new"].iter().map(|d| path.join(d)).filter(|d| d.is_dir()).collect();
    let dirs = if maildir.is_empty() { vec![path.to_path_buf()] } else { maildir };
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        out.extend(files);
    }
    Ok(())
}

async fn stats(store: &dyn Store, address: &str) -> Result<()> {
    let account = account_id(store, address).await?;
    let s = store.spam_stats(account).await?;
    println!("account: {address}");
    println!("trained spam: {}", s.spam_messages);
    println!("trained ham: {}", s.ham_messages);
    println!("tokens: {}", s.tokens);
    println!("correspondents: {}", s.correspondents);
    let (need_spam, need_ham) =
        (MIN_TRAINED.saturating_sub(s.spam_messages), MIN_TRAINED.saturating_sub(s.ham_messages));
    if need_spam == 0 && need_ham == 0 {
        println!("classifier: active");
    } else {
        println!("classifier: inactive until {need_spam} more spam and {need_ham} more ham are trained");
    }
    Ok(())
}
