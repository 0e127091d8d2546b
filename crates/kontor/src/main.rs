use std::process::ExitCode;

use clap::Parser;
use kontor::app::AppError;
use kontor::cli::Cli;
use kontor::config::ConfigError;

fn exit_code(error: &anyhow::Error) -> u8 {
    if let Some(app) = error.downcast_ref::<AppError>() {
        return app.exit_code();
    }
    if error.downcast_ref::<ConfigError>().is_some() {
        return 2;
    }
    1
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(kontor::cli::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}
