//! dispatchctl: the command-line client of dispatchd. Everything lives in the library
//! (`dispatch_cli::run`), so tests run the same commands in-process.

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("dispatchctl: cannot start the async runtime: {error}");
            return ExitCode::from(dispatch_cli::exit::LOCAL);
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = runtime.block_on(dispatch_cli::run(std::env::args_os(), &mut out, &mut err));
    ExitCode::from(code)
}
