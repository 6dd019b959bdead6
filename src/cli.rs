//! The command line: one `Args` struct per subcommand; doc comments are the `--help` text.

use crate::values::date::{self, Day};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Validate impact.com batch conversion files, and split them into files impact.com accepts.
#[derive(Debug, Parser)]
#[command(name = "convsubmit", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Print timings and throughput on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print errors only (text format): no warnings, info, summaries or progress.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The config file (default: ./convsubmit.toml, else ~/.config/convsubmit/convsubmit.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
    /// Colour the output: auto (when it is a terminal; NO_COLOR turns it off, CLICOLOR_FORCE
    /// on), always or never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check files against an impact.com template; report every problem; change nothing.
    Validate(ValidateArgs),
    /// Validate, set rejected rows aside, and write parts of at most --max-rows rows each,
    /// never cutting an order, plus manifest.json.
    Split(SplitArgs),
    /// Rewrite a file to fix what can be fixed mechanically (order grouping, header
    /// spelling, plain emails, spaces around values, currency case, unambiguous thousands
    /// separators, UTF-16/32 with a BOM, BOM, line breaks), then report what is left.
    Fix(FixArgs),
    /// Validate, set rejected rows aside, split, and deliver every part not delivered yet.
    Push(PushArgs),
    /// List the deliveries the ledger records.
    History(HistoryArgs),
    /// Ask impact.com what became of what was pushed, errors mapped to input lines.
    Status(StatusArgs),
    /// Check a channel: connect, log in, verify the host key or certificate, and write,
    /// rename and remove a probe file. Sends no data.
    Doctor(DoctorArgs),
    /// List the built-in templates, or print one as a blank CSV (or its schema).
    Templates(TemplatesArgs),
    /// Print a completion script for a shell (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the convsubmit(1) man page, or write one page per command into a folder.
    Man(ManArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: `path:line: severity[code] message` and a help line.
    Text,
    /// One JSON document (documented in docs/output-formats.md).
    Json,
    /// One JSON object per diagnostic, then a summary object.
    Jsonl,
    /// GitHub Actions annotations, plus the full table in $GITHUB_STEP_SUMMARY.
    Github,
    /// JUnit XML: a test case per file and code.
    Junit,
    /// SARIF 2.1.0, for code-scanning uploads.
    Sarif,
    /// One self-contained page for people: verdict, findings, charts (validate, split).
    Html,
}

/// When to colour output (decided in [`crate::color`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When the output is a terminal; NO_COLOR (set, not empty) turns it off, CLICOLOR_FORCE
    /// (set, not empty, not 0) on.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How findings are shown (shared by every command that checks files).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Text format: show at most N diagnostics of one code per file, then a count (0: all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_diagnostics: usize,
}

/// Where the report goes (validate and split: `fix` and `push` have an `--output` or an
/// `--out` of their own).
#[derive(Debug, Args)]
pub struct ReportFileArgs {
    /// Write the report (any --format) to FILE instead of standard output.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// What the rows are checked against (shared by every command that checks files).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// `auto` (detect per file), a built-in name (item-level, order-level, chained,
    /// modification), or the path of your own template file.
    #[arg(short, long, default_value = "auto", value_name = "auto|NAME|PATH")]
    pub template: String,
    /// Count event ages to this UTC date instead of today (makes runs reproducible).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_as_of)]
    pub as_of: Option<Day>,
    /// Most data rows per file impact.com is sent (an order cannot be split across files,
    /// so this is also the most rows one order may have).
    #[arg(long, value_name = "N", default_value_t = crate::validate::DEFAULT_MAX_ROWS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: u64,
}

/// `convsubmit validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// CSV files to check (`-` reads standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub check: CheckArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report: ReportArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report_file: ReportFileArgs,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,
}

/// `convsubmit split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// CSV files to split (`-` reads standard input, named `stdin`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Folder for the parts, the rejects and manifest.json (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub out: std::path::PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub check: CheckArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report: ReportArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report_file: ReportFileArgs,
}

/// `convsubmit fix`.
#[derive(Debug, Args)]
pub struct FixArgs {
    /// The CSV file to fix (`-` reads standard input).
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Where to write the fixed file (may be FILE itself; written atomically).
    #[arg(short, long, value_name = "OUT")]
    pub output: std::path::PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub check: CheckArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report: ReportArgs,
}

/// Where to deliver files: exactly one channel (with `push`'s `--api`, [`CHANNEL`]). `doctor`
/// checks these; it cannot check the API, so it has no `--api`.
#[derive(Debug, Args)]
#[group(id = CHANNEL, required = true, multiple = false)]
pub struct ChannelArgs {
    /// SFTP ([sftp] in the config; default host batch.impact.com:22).
    #[arg(long)]
    pub sftp: bool,
    /// Plain FTP ([ftp]); the password and data travel in clear text.
    #[arg(long)]
    pub ftp: bool,
    /// FTP with explicit TLS ([ftp]), certificate verified.
    #[arg(long)]
    pub ftps: bool,
    /// Email to the event type's unique impact.com address ([email]): push sends a message
    /// per part; doctor connects and logs in, and sends none.
    #[arg(long)]
    pub email: bool,
    /// A local folder (written atomically: a temporary name, then rename).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// The group of the channel flags: exactly one of them.
pub const CHANNEL: &str = "channel";

/// Connection settings that override the config file.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Server host (overrides the config).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Server port (overrides the config).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Login name (overrides the config).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Folder on the server (overrides the config).
    #[arg(long, value_name = "PATH")]
    pub remote_dir: Option<String>,
}

/// `convsubmit push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// CSV files to deliver (`-` reads standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub channel: ChannelArgs,
    /// impact.com's Conversions API ([api]), a request per order.
    #[arg(long, group = CHANNEL)]
    pub api: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArgs,
    /// The ledger of deliveries (overrides the config).
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<std::path::PathBuf>,
    /// A PostgreSQL ledger that several machines share, postgresql://USER@HOST/DB (overrides
    /// the config; the password comes from [ledger] password_env, _file or _command).
    #[arg(long, value_name = "URL", conflicts_with = "ledger")]
    pub ledger_url: Option<String>,
    /// Print what would be sent where; connect to nothing, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send parts again even when the ledger says they were delivered.
    #[arg(long)]
    pub force: bool,
    /// Send nothing if any row would be set aside.
    #[arg(long)]
    pub fail_on_reject: bool,
    /// Retries of a temporary failure, per part.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,
    /// Give up after this many seconds in all (nothing is left half-sent; re-run to go on).
    #[arg(long, value_name = "SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_time: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub check: CheckArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report: ReportArgs,
}

/// What `history` and `status` share: the ledger they read, from which day, and how they
/// report.
#[derive(Debug, Args)]
pub struct LedgerReportArgs {
    /// The ledger (overrides the config).
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<std::path::PathBuf>,
    /// A PostgreSQL ledger, postgresql://USER@HOST/DB (overrides the config).
    #[arg(long, value_name = "URL", conflicts_with = "ledger")]
    pub ledger_url: Option<String>,
    /// Only what was pushed on or after this date (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_as_of)]
    pub since: Option<Day>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = LedgerFormat::Text)]
    pub format: LedgerFormat,
}

/// `convsubmit history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report: LedgerReportArgs,
}

/// `convsubmit status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub report: LedgerReportArgs,
    /// Give up after this many seconds in all (nothing is changed; re-run to ask again).
    #[arg(long, value_name = "SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_time: u64,
}

/// `history` and `status` output formats (documented in docs/output-formats.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LedgerFormat {
    /// For people: a line per delivery (`history`), per error and a summary (`status`).
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per line: a delivery (`history`), an item then the totals (`status`).
    Jsonl,
}

/// `convsubmit doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub channel: ChannelArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArgs,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_time: u64,
}

/// `convsubmit templates`.
#[derive(Debug, Args)]
pub struct TemplatesArgs {
    /// What to show.
    #[command(subcommand)]
    pub action: TemplatesAction,
}

/// `templates list|show`.
#[derive(Debug, Subcommand)]
pub enum TemplatesAction {
    /// List the built-in templates.
    List,
    /// Print a template as a blank CSV to copy (or, with --schema, its schema file).
    Show {
        /// A built-in name, or the path of a template file.
        name: String,
        /// Print the TOML schema instead of the blank CSV.
        #[arg(long)]
        schema: bool,
    },
}

/// `convsubmit completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `convsubmit man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write convsubmit.1 and a page per command (convsubmit-validate.1 and so on) into this folder
    /// (created if missing) instead of printing convsubmit(1).
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

fn parse_as_of(s: &str) -> Result<Day, String> {
    date::parse_day(s).map_err(|e| match e {
        date::DateError::Shape => format!("`{s}` is not a date; write YYYY-MM-DD"),
        date::DateError::Range(why) => format!("`{s}` is not a real date ({why})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn as_of_is_checked() {
        assert!(parse_as_of("2026-06-30").is_ok());
        assert!(
            parse_as_of("2026-02-30")
                .unwrap_err()
                .contains("not a real date")
        );
        assert!(
            parse_as_of("30/06/2026")
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
    }
}
