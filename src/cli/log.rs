//! The global logging flags.

use clap::{Args, ValueEnum};

use crate::logging;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` lines, one event per line.
    Plain,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`.
    #[arg(long, global = true, env = "ETCDBAK_LOG", default_value = "info")]
    pub log_level: String,
    /// Log line format.
    #[arg(long, global = true, env = "ETCDBAK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
}

impl LogArgs {
    pub fn init(&self) {
        let format = match self.log_format {
            LogFormat::Plain => logging::Format::Plain,
            LogFormat::Json => logging::Format::Json,
        };
        logging::init(&self.log_level, format);
    }
}
