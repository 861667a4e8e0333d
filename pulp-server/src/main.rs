//! `pulp-server`: the pulp-rs binary. One process can be the API, the content app, a worker,
//! or all three (`serve`, the embedded default on SQLite and a local directory).

mod check;
mod cli;
mod logging;
mod roles;
mod webserver;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pulp-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pulp-server: {e}");
            ExitCode::FAILURE
        }
    }
}
