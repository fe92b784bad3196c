//! The output format of the commands that report to people or scripts (`list`, `verify`): one `-o`
//! flag and one pair of values; each command's long help lists its JSON fields.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// JSON for scripts; its field names are stable (listed in the command's --help).
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
}
