//! Thin entry point: parse, run, map the error to one sentence and an exit code.
fn main() {
    std::process::exit(etcdbak::cli::main());
}
