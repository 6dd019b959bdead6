//! `convsubmit.toml`: where to deliver, and how to log in. Looked for at `--config PATH`, else
//! `./convsubmit.toml`, else `$XDG_CONFIG_HOME/convsubmit/convsubmit.toml` (by default
//! `~/.config/convsubmit/convsubmit.toml`); with none, every key has its default. Relative
//! paths are relative to the config file's folder and `~` is the home folder. Unknown keys are
//! errors, so that a typo never silently falls back to a default.

use crate::secret::Source;
use anyhow::{Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// impact.com's batch host.
pub const DEFAULT_HOST: &str = "batch.impact.com";

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[sftp]`.
    #[serde(default)]
    pub sftp: Server,
    /// `[ftp]` (also `--ftps`).
    #[serde(default)]
    pub ftp: Server,
    /// `[email]`.
    #[serde(default)]
    pub email: EmailConfig,
    /// `[dir]` (for `--dir`).
    #[serde(default)]
    pub dir: DirConfig,
    /// `[api]`.
    #[serde(default)]
    pub api: ApiConfig,
    /// `[ledger]`.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Where the file was read from (`None`: no file, all defaults).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// `[sftp]` and `[ftp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Default `batch.impact.com`.
    pub host: Option<String>,
    /// Default 22 (SFTP) or 21 (FTP).
    pub port: Option<u16>,
    /// The login.
    pub username: Option<String>,
    /// Password from this environment variable.
    pub password_env: Option<String>,
    /// Password from this file.
    pub password_file: Option<String>,
    /// Password from this command's output.
    pub password_command: Option<String>,
    /// SFTP: private key file instead of a password.
    pub key_file: Option<String>,
    /// SFTP: passphrase of the key, from this environment variable.
    pub key_passphrase_env: Option<String>,
    /// SFTP: known_hosts file (default `~/.ssh/known_hosts`).
    pub known_hosts: Option<String>,
    /// SFTP: the server's key fingerprint, `SHA256:…` (instead of known_hosts).
    pub host_key: Option<String>,
    /// FTPS: extra CA certificate (PEM) to trust.
    pub ca_file: Option<String>,
    /// Folder on the server (default `/`).
    pub remote_dir: Option<String>,
    /// Upload under a temporary name, then rename (default true). `false` writes straight to
    /// the final name, for servers that refuse rename.
    pub rename: Option<bool>,
    /// Encrypt each part to the OpenPGP public key in this file (a Connection's key).
    pub encrypt_to: Option<String>,
}

/// `[dir]`: settings of `--dir`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirConfig {
    /// Encrypt each part to the OpenPGP public key in this file.
    pub encrypt_to: Option<String>,
}

/// `[email] to`: impact.com gives each event type a unique address.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    /// `to = "…@batch.impact.com"`: every row must carry one event type.
    One(String),
    /// `[email.to]` with `27015 = "…@batch.impact.com"`: from the event type (the
    /// ActionTrackerId, EventTypeId or EventTypeCode value) to its address.
    ByEventType(std::collections::BTreeMap<String, String>),
}

impl Recipients {
    /// Every address, with the event type it is for (`None` for the one address).
    pub fn addresses(&self) -> Vec<(Option<&str>, &str)> {
        match self {
            Recipients::One(to) => vec![(None, to.as_str())],
            Recipients::ByEventType(map) => map
                .iter()
                .map(|(t, to)| (Some(t.as_str()), to.as_str()))
                .collect(),
        }
    }
}

/// `[email]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server.
    pub smtp_host: Option<String>,
    /// SMTP port (default 587).
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `implicit` or `none`.
    pub tls: Option<String>,
    /// SMTP login.
    pub username: Option<String>,
    /// Password from this environment variable.
    pub password_env: Option<String>,
    /// Password from this file.
    pub password_file: Option<String>,
    /// Password from this command's output.
    pub password_command: Option<String>,
    /// Extra CA certificate (PEM) to trust.
    pub ca_file: Option<String>,
    /// Sender.
    pub from: Option<String>,
    /// The event type's unique address, or one per event type.
    pub to: Option<Recipients>,
    /// Copies.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Largest attachment.
    pub max_attachment_bytes: Option<u64>,
    /// Encrypt each part to the OpenPGP public key in this file (a Connection's key).
    pub encrypt_to: Option<String>,
}

/// `[api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Default `https://api.impact.com`.
    pub base_url: Option<String>,
    /// The account SID.
    pub account_sid: Option<String>,
    /// Auth token from this environment variable.
    pub auth_token_env: Option<String>,
    /// Auth token from this file.
    pub auth_token_file: Option<String>,
    /// Auth token from this command's output.
    pub auth_token_command: Option<String>,
    /// Requests in flight.
    pub concurrency: Option<usize>,
    /// Lets the token travel over plain `http://` (a loopback test rig); default false.
    pub allow_insecure_http: Option<bool>,
}

/// `[ledger]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The ledger database (default: the user's state folder).
    pub path: Option<String>,
    /// A PostgreSQL ledger instead, shared by several machines: `postgresql://USER@HOST/DB`.
    pub url: Option<String>,
    /// Its password from this environment variable.
    pub password_env: Option<String>,
    /// Its password from this file.
    pub password_file: Option<String>,
    /// Its password from this command's output.
    pub password_command: Option<String>,
    /// Extra CA certificate (PEM) to trust for its TLS.
    pub ca_file: Option<String>,
}

impl Config {
    /// Loads the config file `explicit`, else the first that exists of `./convsubmit.toml`
    /// and the user's config file; defaults when there is none.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            // `exists`, not `is_file`: a `./convsubmit.toml` that is a device or a folder is
            // an error, not silently no config.
            None => [Some(PathBuf::from("convsubmit.toml")), user_config()]
                .into_iter()
                .flatten()
                .find(|p| p.exists()),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        // Refused before anything in it is used: it names the commands run for secrets.
        let text = crate::trust::read(&path, "the config file")?;
        let mut config = Config::parse(&text).map_err(|e| {
            anyhow::anyhow!("the config file {} is not valid: {e:#}", path.display())
        })?;
        config.path = Some(path);
        config.check_files()?;
        Ok(config)
    }

    /// Parses the text of a config file (no file system access; `path` is left unset).
    /// Any text gives a config or an error, never a panic. The error gives the line, column
    /// and key, never a line's text nor a value: a secret typed under the wrong key would
    /// otherwise be printed back.
    pub fn parse(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!(parse_error::describe(text, &e)))
    }

    /// The files the config names that hold a secret or decide whom a secret is sent to
    /// (known hosts, CA certificates, the keys parts are encrypted to), as `(key, value)`.
    fn trusted_files(&self) -> Vec<(&'static str, &str)> {
        [
            ("[sftp] password_file", &self.sftp.password_file),
            ("[sftp] key_file", &self.sftp.key_file),
            ("[sftp] known_hosts", &self.sftp.known_hosts),
            ("[ftp] password_file", &self.ftp.password_file),
            ("[ftp] ca_file", &self.ftp.ca_file),
            ("[email] password_file", &self.email.password_file),
            ("[email] ca_file", &self.email.ca_file),
            ("[api] auth_token_file", &self.api.auth_token_file),
            ("[ledger] password_file", &self.ledger.password_file),
            ("[ledger] ca_file", &self.ledger.ca_file),
            ("[sftp] encrypt_to", &self.sftp.encrypt_to),
            ("[ftp] encrypt_to", &self.ftp.encrypt_to),
            ("[email] encrypt_to", &self.email.encrypt_to),
            ("[dir] encrypt_to", &self.dir.encrypt_to),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.as_deref()?)))
        .collect()
    }

    /// Refuses (crate::trust) each file of [`Config::trusted_files`] that exists, before any
    /// command runs, secret is read or connection made. A missing one is left to the read
    /// that needs it, which says so.
    fn check_files(&self) -> Result<()> {
        for (key, value) in self.trusted_files() {
            let path = self.resolve(value);
            if path.exists() {
                crate::trust::check(&path, &format!("the {key}"))?;
            }
        }
        Ok(())
    }

    /// The folder relative paths in the file are relative to.
    fn base(&self) -> PathBuf {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(PathBuf::new, Path::to_path_buf)
    }

    /// A path from the file: `~` expanded, relative ones made relative to the file's folder.
    pub fn resolve(&self, value: &str) -> PathBuf {
        let expanded = match value.strip_prefix("~/") {
            Some(rest) => home().join(rest),
            None if value == "~" => home(),
            None => PathBuf::from(value),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base().join(expanded)
        }
    }

    /// Where the secret named by `env`/`file`/`command` keys comes from (exactly one may be
    /// set). `what` names the section for messages, e.g. `[sftp] password`.
    pub fn secret_source(
        &self,
        what: &str,
        env: &Option<String>,
        file: &Option<String>,
        command: &Option<String>,
    ) -> Result<Option<Source>> {
        let sources: Vec<Source> = [
            env.clone().map(Source::Env),
            file.as_deref().map(|f| Source::File(self.resolve(f))),
            command.clone().map(Source::Command),
        ]
        .into_iter()
        .flatten()
        .collect();
        match sources.len() {
            0 => Ok(None),
            1 => Ok(sources.into_iter().next()),
            _ => bail!("{what}: set only one of _env, _file and _command"),
        }
    }

    /// The ledger's path: `--ledger`, else `[ledger] path`, else the user's state folder.
    pub fn ledger_path(&self, flag: Option<&Path>) -> PathBuf {
        match (flag, &self.ledger.path) {
            (Some(p), _) => p.to_path_buf(),
            (None, Some(p)) => self.resolve(p),
            (None, None) => state_dir().join("convsubmit").join("ledger.sqlite"),
        }
    }

    /// Where the ledger is: `--ledger PATH` or `--ledger-url URL`, else `[ledger] url`, else
    /// [`Config::ledger_path`]. A URL holding a password is refused, wherever it is written.
    pub fn ledger_location(
        &self,
        path: Option<&Path>,
        url: Option<&str>,
    ) -> Result<crate::ledger::Location> {
        use crate::ledger::{Location, PgUrl};
        let l = &self.ledger;
        if l.path.is_some() && l.url.is_some() {
            bail!("[ledger]: set path (an SQLite file) or url (PostgreSQL), not both");
        }
        let (url, what) = match (path, url, &l.url) {
            (Some(p), _, _) => return Ok(Location::File(p.to_path_buf())),
            (None, Some(u), _) => (u, "--ledger-url"),
            (None, None, Some(u)) => (u.as_str(), "[ledger] url"),
            (None, None, None) => return Ok(Location::File(self.ledger_path(None))),
        };
        let password = self.secret_source(
            "[ledger] password",
            &l.password_env,
            &l.password_file,
            &l.password_command,
        )?;
        let ca_file = l.ca_file.as_deref().map(|f| self.resolve(f));
        Ok(Location::Postgres(Box::new(
            PgUrl::parse(url, what)?.with(ca_file, password),
        )))
    }

    /// Warnings about secret files others can read, and about this file when it names one
    /// and others can read or change it (they would learn where the secret is, or point the
    /// setting at a file of their own). Each names the file and the fix, never a secret.
    pub fn warnings(&self) -> Vec<String> {
        let files: Vec<&String> = [
            &self.sftp.password_file,
            &self.ftp.password_file,
            &self.email.password_file,
            &self.api.auth_token_file,
            &self.ledger.password_file,
            &self.sftp.key_file,
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut warnings: Vec<String> = files
            .iter()
            .filter_map(|f| crate::secret::check_private(&self.resolve(f)))
            .collect();
        if let Some(path) = self.path.as_deref().filter(|_| !files.is_empty()) {
            warnings.extend(crate::secret::check_config(path));
        }
        warnings
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn user_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| home().join(".config"), PathBuf::from);
    Some(base.join("convsubmit").join("convsubmit.toml"))
}

fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| home().join(".local").join("state"), PathBuf::from)
}

/// Config parse errors in words of our own: toml's own message shows the offending line and
/// serde's names the value (`invalid type: string "hunter2", expected u16`).
mod parse_error {
    /// `line L, column C: key `K`: what is wrong and what is expected`.
    pub fn describe(text: &str, e: &toml::de::Error) -> String {
        let start = e.span().map_or(text.len(), |s| s.start).min(text.len());
        let before = text.get(..start).unwrap_or(text);
        let line = before.matches('\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let place = match key_path(text, line) {
            Some((key, true)) => format!(": key `{key}`"),
            Some((table, false)) => format!(": in [{table}]"),
            None => String::new(),
        };
        let what = redact_values(text, &problem(e.message()));
        format!("line {}, column {column}{place}: {what}", line + 1)
    }

    /// The key on line `line` (0-based) with its table, `(path, true)`; else the table the
    /// line is in, `(table, false)`. Only plain keys: a quoted one could be anything.
    fn key_path(text: &str, line: usize) -> Option<(String, bool)> {
        let lines: Vec<&str> = text.split('\n').collect();
        let here = lines.get(line)?.trim();
        if let Some(h) = header(here) {
            return Some((h, true));
        }
        let table = lines[..line].iter().rev().find_map(|l| header(l.trim()));
        let key = here
            .split_once('=')
            .map(|(k, _)| k.trim())
            .filter(|k| plain_key(k));
        match (table, key) {
            (Some(t), Some(k)) => Some((format!("{t}.{k}"), true)),
            (None, Some(k)) => Some((k.to_string(), true)),
            (Some(t), None) => Some((t, false)),
            (None, None) => None,
        }
    }

    /// `sftp` for a line `[sftp]` or `[[sftp]]`.
    fn header(line: &str) -> Option<String> {
        let inner = line.strip_prefix('[')?;
        let inner = inner.strip_prefix('[').unwrap_or(inner);
        let name = inner[..inner.find(']')?].trim();
        plain_key(name).then(|| name.to_string())
    }

    fn plain_key(k: &str) -> bool {
        !k.is_empty()
            && k.len() <= 64
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    }

    /// What is wrong, from toml's or serde's message, keeping only words that cannot come
    /// from the file (the value in `invalid type: string "…"` is dropped).
    fn problem(message: &str) -> String {
        if message.starts_with("unknown field `") {
            let allowed: Vec<&str> = message
                .split_once(", expected ")
                .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
                .unwrap_or_default();
            if allowed.iter().all(|k| plain_key(k)) && !allowed.is_empty() {
                return format!("unknown key (expected one of: {})", allowed.join(", "));
            }
            return "unknown key".into();
        }
        if message == "duplicate key" {
            return "set twice (a key or a [table] may appear only once)".into();
        }
        for (prefix, what) in [
            ("invalid type: ", "wrong type"),
            ("invalid value: ", "value out of range"),
            ("invalid length ", "wrong number of items"),
            ("unknown variant ", "value not allowed"),
        ] {
            if let Some(rest) = message.strip_prefix(prefix) {
                let expected = rest
                    .rfind(", expected ")
                    .map(|i| expected_words(&rest[i + ", expected ".len()..]));
                let found = found_words(rest).filter(|_| prefix == "invalid type: ");
                return match (expected, found) {
                    (Some(e), Some(f)) => format!("{what}: expected {e}, found {f}"),
                    (Some(e), None) => format!("{what}: expected {e}"),
                    _ => what.into(),
                };
            }
        }
        format!("invalid TOML: {}", redact_quoted(message))
    }

    /// serde's name of the type a key takes, in words.
    fn expected_words(expected: &str) -> String {
        match expected {
            "u16" => "a whole number from 0 to 65535".into(),
            "u64" | "usize" | "u32" => "a whole number from 0".into(),
            "a boolean" => "true or false".into(),
            e if e.starts_with("struct ") => "a table ([name] and keys under it)".into(),
            e => redact_quoted(e),
        }
    }

    /// The kind of value found (serde's `string "…"` → a string); `None` for any other text.
    fn found_words(rest: &str) -> Option<&'static str> {
        let kinds = [
            ("string", "a string"),
            ("integer", "a number"),
            ("floating point", "a decimal number"),
            ("boolean", "true or false"),
            ("sequence", "an array"),
            ("map", "a table"),
            ("character", "a character"),
        ];
        kinds.into_iter().find_map(|(serde, words)| {
            let after = rest.strip_prefix(serde)?;
            matches!(after.chars().next(), Some(' ' | ',')).then_some(words)
        })
    }

    /// Drops every `…` or "…" part longer than one character that holds a letter or digit:
    /// toml names tokens like `=` or `"` that way, and anything longer could be from the file.
    pub(super) fn redact_quoted(message: &str) -> String {
        let mut out = String::new();
        let mut rest = message;
        while let Some(i) = rest.find(['`', '"']) {
            let quote = rest[i..].chars().next().unwrap_or('`');
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let Some(end) = after.find(quote) else {
                out.push('…');
                return out;
            };
            let inner = &after[..end];
            if inner.chars().count() > 1 && inner.chars().any(char::is_alphanumeric) {
                out.push('…');
            } else {
                out.push(quote);
                out.push_str(inner);
                out.push(quote);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Belt and braces: no value written in the file (4 characters or more) survives in
    /// `what`, whatever a future toml or serde message says.
    fn redact_values(text: &str, what: &str) -> String {
        let mut out = what.to_string();
        for line in text.lines() {
            let Some((_, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'', ' ', '\t']);
            if value.chars().count() >= 4 && out.contains(value) {
                out = out.replace(value, "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        let mut c = Config::parse(text)?;
        c.path = Some(PathBuf::from("/etc/acme/convsubmit.toml"));
        Ok(c)
    }

    #[test]
    fn the_documented_example_parses() {
        let c = parse(
            r#"
            [sftp]
            host = "batch.impact.com"
            port = 22
            username = "acme"
            password_env = "CONVSUBMIT_SFTP_PASSWORD"
            known_hosts = "~/.ssh/known_hosts"
            remote_dir = "/"

            [ftp]
            username = "acme"
            password_env = "CONVSUBMIT_FTP_PASSWORD"
            ca_file = "corp-ca.pem"

            [email]
            smtp_host = "smtp.example.com"
            tls = "starttls"
            to = "1a2b3c@batch.impact.com"
            cc = ["ops@acme.example"]
            max_attachment_bytes = 10000000

            [api]
            account_sid = "IRxxxxxxxx"
            auth_token_env = "IMPACT_AUTH_TOKEN"
            concurrency = 4

            [ledger]
            path = "convsubmit-ledger.sqlite"
            "#,
        )
        .unwrap();
        assert_eq!(c.sftp.username.as_deref(), Some("acme"));
        assert_eq!(
            c.resolve(c.ftp.ca_file.as_deref().unwrap()),
            Path::new("/etc/acme/corp-ca.pem")
        );
        assert_eq!(
            c.ledger_path(None),
            Path::new("/etc/acme/convsubmit-ledger.sqlite")
        );
        assert!(
            c.resolve("~/.ssh/known_hosts")
                .ends_with(".ssh/known_hosts")
        );
    }

    #[test]
    fn typos_are_errors() {
        let e = parse("[sftp]\nhots = \"x\"\n").unwrap_err();
        assert!(
            format!("{e:#}").starts_with(
                "line 2, column 1: key `sftp.hots`: unknown key (expected one of: host, port, "
            ),
            "{e:#}"
        );
        let e = parse("[sfpt]\n").unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "line 1, column 2: key `sfpt`: unknown key (expected one of: sftp, ftp, email, dir, api, ledger)"
        );
    }

    /// Each kind of mistake, with a secret where a value goes: the message has the place,
    /// the key and what is wrong, and never the value (toml's own would print the line).
    #[test]
    fn parse_errors_never_show_a_value() {
        const S: &str = "hunter2-Zx8";
        let cases = [
            (
                format!("[sftp]\nusername = \"a\"\npassword = \"{S}\"\n"),
                "line 3, column 1: key `sftp.password`: unknown key",
            ),
            (
                format!("[api]\nauth_token = \"{S}\"\n"),
                "line 2, column 1: key `api.auth_token`: unknown key",
            ),
            (
                format!("[email]\nsmtp_password='{S}'\n"),
                "line 2, column 1: key `email.smtp_password`: unknown key",
            ),
            (
                format!("[sftp]\nport = \"{S}\"\n"),
                "line 2, column 8: key `sftp.port`: wrong type: expected a whole number from 0 to 65535, found a string",
            ),
            (
                "[sftp]\nport = 99999999\n".into(),
                "line 2, column 8: key `sftp.port`: value out of range: expected a whole number from 0 to 65535",
            ),
            (
                format!("[sftp]\nrename = \"{S}\"\n"),
                "line 2, column 10: key `sftp.rename`: wrong type: expected true or false, found a string",
            ),
            (
                format!("[email]\ncc = \"{S}\"\n"),
                "line 2, column 6: key `email.cc`: wrong type: expected a sequence, found a string",
            ),
            (
                format!("sftp = \"{S}\"\n"),
                "line 1, column 8: key `sftp`: wrong type: expected a table ([name] and keys under it), found a string",
            ),
            (
                format!("[sftp]\npassword = {S}\n"),
                "line 2, column 12: key `sftp.password`: invalid TOML: string values must be quoted, expected literal string",
            ),
            (
                format!("[sftp]\npassword_file = \"{S}\n"),
                "line 2, column 29: key `sftp.password_file`: invalid TOML: invalid basic string, expected `\"`",
            ),
            (
                format!("[sftp]\nhost = '{S}\n"),
                "line 2, column 20: key `sftp.host`: invalid TOML: invalid literal string, expected `'`",
            ),
            (
                format!("[sftp]\nhost = \"a\"\nhost = \"{S}\"\n"),
                "line 3, column 1: key `sftp.host`: set twice",
            ),
            (
                format!("[email]\ncc = [\n  \"a@b.example\",\n  {S},\n]\n"),
                "line 4, column 3: in [email]: invalid TOML",
            ),
            (
                format!("[sftp]\nhost = \"a\\q{S}\"\n"),
                "line 2, column 11: key `sftp.host`: invalid TOML: missing escaped value",
            ),
            (
                format!("[sftp.{S}]\n"),
                "line 1, column 7: key `sftp.hunter2-Zx8`: unknown key",
            ),
        ];
        let mut wrong = vec![];
        for (text, want) in cases {
            let e = format!("{:#}", Config::parse(&text).unwrap_err());
            if !e.starts_with(want) {
                wrong.push(format!("{text:?}\n got: {e}\nwant: {want}"));
            }
            // The last case names a key the file made up: a key, not a value.
            if !text.starts_with("[sftp.") {
                assert!(!e.contains("hunter2"), "{text:?}: {e}");
            }
            assert!(!e.contains('\n'), "{text:?}: {e}");
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Every key of every section (and the usual mistaken ones), each with a secret written
    /// every wrong way: whatever the error, the secret is not in it.
    #[test]
    fn no_mistake_anywhere_shows_the_value() {
        let sections = [
            (
                "sftp",
                "host port username password_env password_file password_command key_file key_passphrase_env known_hosts host_key ca_file remote_dir rename password",
            ),
            (
                "ftp",
                "host port username password_env password_file ca_file remote_dir rename password",
            ),
            (
                "email",
                "smtp_host smtp_port tls username password_env password_file from to cc max_attachment_bytes smtp_password password",
            ),
            (
                "api",
                "base_url account_sid auth_token_env auth_token_file concurrency auth_token",
            ),
            ("ledger", "path password"),
        ];
        let mut errors = 0;
        for secret in ["Hx7secretQ", "p@ss:w0rd!", "se cr\\et#1", "8675309"] {
            let forms = [
                format!("\"{secret}\""),
                format!("'{secret}'"),
                secret.to_string(),
                format!("\"{secret}"),
                format!("'{secret}"),
                format!("\"\"\"{secret}"),
                format!("[\"{secret}\", 1]"),
                format!("[{secret}]"),
                format!("{{ a = \"{secret}\" }}"),
                format!("\"{secret}\" x"),
                format!("\"a\\q{secret}\""),
                format!("1979-05-27T{secret}"),
                format!("{secret}\nhost = 1"),
            ];
            for (section, keys) in sections {
                for key in keys.split(' ') {
                    for form in &forms {
                        for text in [
                            format!("[{section}]\n{key} = {form}\n"),
                            format!("[{section}]\n{key} = \"x\"\n{key} = {form}\n"),
                            format!("{section}.{key} = {form}\n"),
                        ] {
                            if let Err(e) = Config::parse(&text) {
                                errors += 1;
                                let e = format!("{e:#}");
                                assert!(!e.contains(secret), "{text:?}: {e}");
                            }
                        }
                    }
                }
            }
        }
        assert!(errors > 1000, "{errors}");
    }

    #[test]
    fn quoted_words_from_the_file_are_dropped() {
        let s = parse_error::redact_quoted("invalid x `ab1` and \"secret\" but `=` and `\"` stay");
        assert_eq!(s, "invalid x … and … but `=` and `\"` stay");
    }

    #[test]
    fn one_secret_source_at_most() {
        let c = parse("[ftp]\npassword_env = \"A\"\npassword_file = \"f\"\n").unwrap();
        let e = c
            .secret_source(
                "[ftp] password",
                &c.ftp.password_env,
                &c.ftp.password_file,
                &c.ftp.password_command,
            )
            .unwrap_err();
        assert!(e.to_string().contains("only one"));
    }
}
