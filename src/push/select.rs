//! Turns `--sftp|--ftp|--ftps|--email|--dir|--api`, the connection flags and the config
//! file into a channel. Flags override the config; secrets come only from the config's
//! sources.

use super::api::Api;
use super::channel::{Channel, Files};
use super::encrypt::Recipient;
use super::retry::Policy;
use super::route::ByEventType;
use super::watchdog::io_timeout;
use crate::cli::{ChannelArgs, ServerArgs};
use crate::config::{Config, DEFAULT_HOST, Server};
use crate::deliver::Transport;
use crate::deliver::dir::Dir;
use crate::deliver::email::{Email, EmailSettings, TlsMode};
use crate::deliver::ftp::{Ftp, FtpSettings};
use crate::deliver::sftp::{Auth, HostKeyCheck, KeyFile, Sftp, SftpSettings};
use crate::secret::Secret;
use anyhow::{Context, Result, bail};
use std::sync::Arc;

/// Builds the channel. With `read_secrets` false (`--dry-run`), no secret is read.
pub fn channel(
    api: bool,
    channel: &ChannelArgs,
    server: &ServerArgs,
    config: &Config,
    read_secrets: bool,
    policy: &Policy,
    as_of: crate::values::date::Day,
) -> Result<Box<dyn Channel>> {
    if api {
        let settings = crate::api::settings::settings(config, read_secrets)?;
        let api = Api::new(
            settings,
            io_timeout(policy),
            policy.deadline,
            as_of,
            read_secrets,
        )?;
        return Ok(Box::new(api));
    }
    // The key parts are encrypted to, judged before anything is read or sent.
    let recipient = recipient(channel, config)?;
    if channel.email {
        // One transport per address: each event type's parts go to its own.
        let routes = emails(server, config, read_secrets)?
            .into_iter()
            .map(|(event_type, s)| {
                let files = Files::new(Box::new(Email::new(s))).encrypting(recipient.clone());
                (event_type, files)
            })
            .collect();
        return Ok(Box::new(ByEventType::new(routes)));
    }
    let transport = transport(channel, server, config, read_secrets)?;
    Ok(Box::new(Files::new(transport).encrypting(recipient)))
}

/// The key that the channel's section (`[dir]`, `[sftp]`, `[ftp]`, `[email]`) names in
/// `encrypt_to`, loaded and judged usable now.
pub fn recipient(channel: &ChannelArgs, config: &Config) -> Result<Option<Arc<Recipient>>> {
    let (section, value) = if channel.dir.is_some() {
        ("dir", &config.dir.encrypt_to)
    } else if channel.sftp {
        ("sftp", &config.sftp.encrypt_to)
    } else if channel.email {
        ("email", &config.email.encrypt_to)
    } else {
        ("ftp", &config.ftp.encrypt_to)
    };
    let Some(value) = value else {
        return Ok(None);
    };
    let what = format!("[{section}] encrypt_to");
    let key = Recipient::load(&config.resolve(value), &what, std::time::SystemTime::now())?;
    Ok(Some(Arc::new(key)))
}

/// What the channel's settings risk, said by `push` (without `--quiet`) and `doctor`.
pub fn warnings(channel: &ChannelArgs, config: &Config) -> Vec<String> {
    let mut out = vec![];
    if channel.email && config.email.tls.as_deref() == Some("none") {
        out.push("[email] tls = \"none\": the password and the data travel in clear text".into());
    }
    let addresses = config.email.to.as_ref().map(|t| t.addresses());
    for (event_type, to) in addresses.into_iter().flatten() {
        if channel.email && !to.to_ascii_lowercase().ends_with("@batch.impact.com") {
            let key = event_type.map_or("to".to_string(), |t| format!("to.{t}"));
            out.push(format!(
                "[email] {key} = \"{to}\" is not an impact.com batch address (…@batch.impact.com)"
            ));
        }
    }
    if channel.ftp {
        out.push(
            "--ftp sends the password and the data in clear text; use --ftps if the server offers it"
                .into(),
        );
    }
    out
}

/// Builds the transport. With `read_secrets` false (`--dry-run`), no secret is read: the
/// transport can name its destination but not connect.
pub fn transport(
    channel: &ChannelArgs,
    server: &ServerArgs,
    config: &Config,
    read_secrets: bool,
) -> Result<Box<dyn Transport>> {
    if let Some(dir) = &channel.dir {
        return Ok(Box::new(Dir::new(dir)));
    }
    if channel.sftp {
        return Ok(Box::new(Sftp::new(sftp(server, config, read_secrets)?)));
    }
    if channel.email {
        // `doctor` checks the SMTP server, the same for every address.
        let (_, settings) = emails(server, config, read_secrets)?.swap_remove(0);
        return Ok(Box::new(Email::new(settings)));
    }
    Ok(Box::new(Ftp::new(ftp(
        server,
        config,
        channel.ftps,
        read_secrets,
    )?)))
}

fn user(server: &ServerArgs, section: &Server, name: &str) -> Result<String> {
    match server.user.clone().or_else(|| section.username.clone()) {
        Some(u) => Ok(u),
        None => {
            bail!("no login name: set `username` under [{name}] in convsubmit.toml, or pass --user")
        }
    }
}

fn password(config: &Config, section: &Server, name: &str, read: bool) -> Result<Option<Secret>> {
    let source = config.secret_source(
        &format!("[{name}] password"),
        &section.password_env,
        &section.password_file,
        &section.password_command,
    )?;
    match (source, read) {
        (Some(s), true) => {
            Ok(Some(s.read().with_context(|| {
                format!("cannot read the [{name}] password")
            })?))
        }
        (Some(_), false) => Ok(Some(Secret::new(""))),
        (None, _) => Ok(None),
    }
}

fn sftp(server: &ServerArgs, config: &Config, read: bool) -> Result<SftpSettings> {
    let s = &config.sftp;
    // A key, a password, or both (a server may require both: the key is offered first).
    let key = match &s.key_file {
        Some(key) => Some(KeyFile {
            path: config.resolve(key),
            passphrase: match (&s.key_passphrase_env, read) {
                (Some(var), true) => Some(
                    crate::secret::Source::Env(var.clone())
                        .read()
                        .context("cannot read the [sftp] key passphrase")?,
                ),
                _ => None,
            },
        }),
        None => None,
    };
    let password = password(config, s, "sftp", read)?;
    if key.is_none() && password.is_none() {
        bail!(
            "no way to log in: set password_env (or password_file, password_command) or key_file (or both) under [sftp] in convsubmit.toml"
        );
    }
    let auth = Auth { key, password };
    let host_key = match &s.host_key {
        Some(pin) if pin.starts_with("SHA256:") => HostKeyCheck::Pinned(pin.clone()),
        Some(pin) => bail!("[sftp] host_key must be a fingerprint like SHA256:…, not `{pin}`"),
        None => HostKeyCheck::KnownHosts(
            config.resolve(s.known_hosts.as_deref().unwrap_or("~/.ssh/known_hosts")),
        ),
    };
    Ok(SftpSettings {
        host: server
            .host
            .clone()
            .or_else(|| s.host.clone())
            .unwrap_or_else(|| DEFAULT_HOST.into()),
        port: server.port.or(s.port).unwrap_or(22),
        user: user(server, s, "sftp")?,
        auth,
        host_key,
        remote_dir: server
            .remote_dir
            .clone()
            .or_else(|| s.remote_dir.clone())
            .unwrap_or_else(|| "/".into()),
        rename: s.rename.unwrap_or(true),
    })
}

fn ftp(server: &ServerArgs, config: &Config, tls: bool, read: bool) -> Result<FtpSettings> {
    let s = &config.ftp;
    let Some(password) = password(config, s, "ftp", read)? else {
        bail!(
            "no password: set password_env (or password_file, password_command) under [ftp] in convsubmit.toml"
        );
    };
    Ok(FtpSettings {
        host: server
            .host
            .clone()
            .or_else(|| s.host.clone())
            .unwrap_or_else(|| DEFAULT_HOST.into()),
        port: server.port.or(s.port).unwrap_or(21),
        user: user(server, s, "ftp")?,
        password,
        tls,
        ca_file: s.ca_file.as_deref().map(|f| config.resolve(f)),
        remote_dir: server
            .remote_dir
            .clone()
            .or_else(|| s.remote_dir.clone())
            .unwrap_or_else(|| "/".into()),
        rename: s.rename.unwrap_or(true),
    })
}

fn mailbox(key: &str, value: &str) -> Result<lettre::message::Mailbox> {
    value
        .parse()
        .with_context(|| format!("[email] {key}: `{value}` is not an email address"))
}

/// The settings for each address of `[email] to`, with the event type it is for (`None` for
/// the one address).
fn emails(
    server: &ServerArgs,
    config: &Config,
    read: bool,
) -> Result<Vec<(Option<String>, EmailSettings)>> {
    let Some(to) = &config.email.to else {
        bail!(
            "no recipient: set `to` under [email] to the event type's unique address (…@batch.impact.com)"
        );
    };
    let mut recipients = to.addresses().into_iter().map(|(event_type, address)| {
        let key = event_type.map_or("to".to_string(), |t| format!("to.{t}"));
        anyhow::Ok((event_type.map(str::to_string), mailbox(&key, address)?))
    });
    let Some(first) = recipients.next() else {
        bail!(
            "[email.to] names no event type: add a line such as 27015 = \"…@batch.impact.com\" for each event type"
        );
    };
    let (event_type, to) = first?;
    // The secret is read once; the other addresses share the settings.
    let settings = email(server, config, read, to)?;
    let mut out = vec![(event_type, settings.clone())];
    for r in recipients {
        let (event_type, to) = r?;
        out.push((
            event_type,
            EmailSettings {
                to,
                ..settings.clone()
            },
        ));
    }
    Ok(out)
}

/// The settings of `[email]`, writing to `to`.
fn email(
    server: &ServerArgs,
    config: &Config,
    read: bool,
    to: lettre::message::Mailbox,
) -> Result<EmailSettings> {
    let e = &config.email;
    let Some(host) = server.host.clone().or_else(|| e.smtp_host.clone()) else {
        bail!("no SMTP server: set smtp_host under [email] in convsubmit.toml, or pass --host");
    };
    let tls = match e.tls.as_deref() {
        None | Some("starttls") => TlsMode::StartTls,
        Some("implicit") => TlsMode::Implicit,
        Some("none") => TlsMode::None,
        Some(other) => bail!("[email] tls = \"{other}\": use starttls, implicit or none"),
    };
    let port = server.port.or(e.smtp_port).unwrap_or(match tls {
        TlsMode::Implicit => 465,
        _ => 587,
    });
    let password = config.secret_source(
        "[email] password",
        &e.password_env,
        &e.password_file,
        &e.password_command,
    )?;
    let login = match (server.user.clone().or_else(|| e.username.clone()), password) {
        (Some(user), Some(source)) => {
            let secret = if read {
                source.read().context("cannot read the [email] password")?
            } else {
                Secret::new("")
            };
            Some((user, secret))
        }
        (Some(_), None) => bail!(
            "[email] has a username but no password: set password_env (or password_file, password_command)"
        ),
        (None, Some(_)) => bail!("[email] has a password but no username"),
        (None, None) => None,
    };
    let Some(from) = &e.from else {
        bail!("no sender: set `from` under [email]");
    };
    Ok(EmailSettings {
        host,
        port,
        tls,
        login,
        ca_file: e.ca_file.as_deref().map(|f| config.resolve(f)),
        from: mailbox("from", from)?,
        to,
        cc: e
            .cc
            .iter()
            .map(|c| mailbox("cc", c))
            .collect::<Result<_>>()?,
        max_attachment_bytes: e.max_attachment_bytes.unwrap_or(10_000_000),
    })
}
