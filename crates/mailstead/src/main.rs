//! `mailstead`: the binary. Parses the command line ([`cli`]), loads the configuration
//! ([`config`]) and runs the subcommand ([`commands`], [`serve`]). The only crate that uses
//! `anyhow`; everything below it has typed errors.

mod cli;
mod commands;
mod config;
mod datadir;
mod logging;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
