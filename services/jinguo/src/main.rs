use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = jinguo::Cli::parse();
    match jinguo::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole context chain: "error: importing x.csv: line 3: …".
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
