//! `mailstead`: the binary. Parses the command line ([`cli`]), loads the configuration
//! ([`config`]) and runs the subcommand ([`commands`], [`serve`]). The only crate that uses
//! `anyhow`; everything below it has typed errors.

mod cli;
mod commands;
mod config;
mod datadir;
mod local_submit;
mod log_buffer;
mod logging;
mod mail_log;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: in profiles of SMTP delivery the C library's allocator took a tenth of the CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Invoked as `sendmail` (a symlink), or as `mailstead sendmail`: Sendmail's own command
    // line, which clap cannot describe (-oi, -fADDR, recipients mixed with options).
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = args.first().and_then(|a| std::path::Path::new(a).file_name()).and_then(|n| n.to_str());
    if invoked_as == Some("sendmail") {
        return commands::sendmail::main(&args[1..]);
    }
    if args.get(1).map(String::as_str) == Some("sendmail") {
        return commands::sendmail::main(&args[2..]);
    }
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailstead: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(&datadir::DataDir::new(&cli.data.data), cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailstead: {e:#}");
            ExitCode::FAILURE
        }
    }
}
