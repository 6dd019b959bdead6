//! `--email`: each part as a `text/csv` attachment (an encrypted `.pgp` one as
//! `application/octet-stream`) of its own message, to the event type's
//! unique impact.com address (`To:` holds only that address; copies go in `Cc:`). STARTTLS is
//! required unless configured otherwise, the certificate is verified, and a part counts as
//! delivered only on the server's final `250` after DATA. Failures name the SMTP stage.

use super::{
    DeliveryError, FailureKind, Holding, Transport, ca_certificate, certificate_rejected,
    error_chain, resolve,
};
use crate::secret::Secret;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, Message};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connect, then STARTTLS, which the server must offer (the default).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption, for a relay on the local network; configured explicitly.
    None,
}

/// How to reach the SMTP server and whom to write to.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// SMTP host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// Encryption.
    pub tls: TlsMode,
    /// Login and password, when the server needs them.
    pub login: Option<(String, Secret)>,
    /// An extra CA certificate to trust (PEM).
    pub ca_file: Option<PathBuf>,
    /// Sender.
    pub from: Mailbox,
    /// The event type's unique address at impact.com.
    pub to: Mailbox,
    /// Copies.
    pub cc: Vec<Mailbox>,
    /// Largest attachment.
    pub max_attachment_bytes: u64,
}

/// The email transport.
pub struct Email {
    settings: EmailSettings,
    conn: Option<SmtpConnection>,
}

impl Email {
    /// A transport that connects on [`Transport::connect`].
    pub fn new(settings: EmailSettings) -> Email {
        Email {
            settings,
            conn: None,
        }
    }

    fn tls_parameters(&self) -> Result<TlsParameters, DeliveryError> {
        let mut b = TlsParameters::builder(self.settings.host.clone());
        if let Some(path) = &self.settings.ca_file {
            let cert = ca_certificate(path, Certificate::from_pem)?;
            b = b.add_root_certificate(cert);
        }
        b.build()
            .map_err(|e| DeliveryError::permanent("TLS", e.to_string()))
    }

    fn open(&self, timeout: Duration) -> Result<SmtpConnection, DeliveryError> {
        let s = &self.settings;
        let addr = resolve(&s.host, s.port)?;
        let hello = ClientId::default();
        let mut conn = match s.tls {
            TlsMode::Implicit => {
                let params = self.tls_parameters()?;
                SmtpConnection::connect(addr, Some(timeout), &hello, Some(&params), None).map_err(
                    |e| {
                        let tls = e.is_tls() || certificate_rejected(&error_chain(&e));
                        classify(if tls { "TLS" } else { "connect" }, &e)
                    },
                )?
            }
            TlsMode::StartTls | TlsMode::None => {
                SmtpConnection::connect(addr, Some(timeout), &hello, None, None)
                    .map_err(|e| classify("connect", &e))?
            }
        };
        if s.tls == TlsMode::StartTls {
            if !conn.can_starttls() {
                conn.abort();
                return Err(DeliveryError::permanent(
                    "TLS",
                    format!("{}:{} does not offer STARTTLS", s.host, s.port),
                )
                .help("convsubmit does not send passwords and data in clear text unless told to: use the server's TLS port with tls = \"implicit\", or, only for a relay on your own network, tls = \"none\" under [email]"));
            }
            let params = self.tls_parameters()?;
            conn.starttls(&params, &hello)
                .map_err(|e| classify("TLS", &e))?;
        }
        if let Some((user, password)) = &s.login {
            let credentials = Credentials::new(user.clone(), password.expose().to_string());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .map_err(|e| {
                    let err = classify("AUTH", &e);
                    if err.kind == FailureKind::Permanent {
                        err.help("check the username and the password variable or file named under [email]")
                    } else {
                        err
                    }
                })?;
        }
        Ok(conn)
    }

    fn message(&self, local: &Path, name: &str) -> Result<Vec<u8>, DeliveryError> {
        let s = &self.settings;
        let bytes = std::fs::read(local)
            .map_err(|e| DeliveryError::permanent("read part", e.to_string()))?;
        if bytes.is_empty() {
            return Err(DeliveryError::permanent(
                "read part",
                format!("{name} is empty"),
            ));
        }
        // An encrypted part (`.pgp`) is binary OpenPGP, no longer CSV.
        let (kind, what) = match name.ends_with(".pgp") {
            true => (
                "application/octet-stream",
                "an impact.com batch conversion file encrypted with OpenPGP",
            ),
            false => ("text/csv", "an impact.com batch conversion file"),
        };
        let content_type = ContentType::parse(kind)
            .map_err(|e| DeliveryError::permanent("build message", e.to_string()))?;
        let mut builder = Message::builder()
            .from(s.from.clone())
            .to(s.to.clone())
            .subject(format!("impact.com batch file {name}"));
        for cc in &s.cc {
            builder = builder.cc(cc.clone());
        }
        // Base64 keeps the bytes exact: a 7bit body would carry bare LFs, which some mail
        // servers treat as line ends (and then strip a leading dot from a CSV line).
        let attachment = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
            .map_err(|_| DeliveryError::permanent("build message", "cannot encode the part"))?;
        let body = MultiPart::mixed()
            .singlepart(SinglePart::plain(format!(
                "The attached file {name} is {what}, sent by convsubmit.\n"
            )))
            .singlepart(Attachment::new(name.to_string()).body(attachment, content_type));
        let message = builder
            .multipart(body)
            .map_err(|e| DeliveryError::permanent("build message", e.to_string()))?;
        Ok(message.formatted())
    }

    fn send(&mut self, formatted: &[u8]) -> Result<(), DeliveryError> {
        let s = &self.settings;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| DeliveryError::temporary("MAIL", "not connected"))?;
        conn.command(Mail::new(Some(s.from.email.clone()), vec![]))
            .map_err(|e| classify("MAIL", &e))?;
        let recipients: Vec<&Address> = std::iter::once(&s.to.email)
            .chain(s.cc.iter().map(|m| &m.email))
            .collect();
        for rcpt in recipients {
            conn.command(Rcpt::new(rcpt.clone(), vec![]))
                .map_err(|e| classify("RCPT", &e))?;
        }
        conn.command(Data).map_err(|e| classify("DATA", &e))?;
        let reply = conn.message(formatted).map_err(|e| classify("DATA", &e))?;
        if !reply.has_code(250) {
            return Err(DeliveryError::temporary(
                "DATA",
                format!("the server answered {} instead of 250", reply.code()),
            ));
        }
        Ok(())
    }
}

/// 4xx replies, timeouts, lost connections and broken TLS handshakes are temporary; 5xx
/// replies, a certificate that does not verify and a refused login permanent.
fn classify(stage: &'static str, e: &lettre::transport::smtp::Error) -> DeliveryError {
    let certificate = certificate_rejected(&error_chain(e));
    let kind = if e.is_permanent() || e.is_client() || certificate {
        FailureKind::Permanent
    } else {
        FailureKind::Temporary
    };
    let mut message = e.to_string();
    if let Some(code) = e.status() {
        message = format!("{message} (reply {code})");
    }
    let err = DeliveryError {
        kind,
        stage,
        message,
        help: None,
        wait: None,
    };
    if certificate {
        err.help("the server's certificate is not trusted or does not name the host; if it is signed by your own CA, set ca_file under [email]")
    } else {
        err
    }
}

impl Transport for Email {
    fn destination(&self) -> String {
        format!("mailto:{}", self.settings.to.email)
    }

    fn max_part_bytes(&self) -> Option<u64> {
        Some(self.settings.max_attachment_bytes)
    }

    fn label(&self) -> String {
        format!(
            "{} (via {}:{})",
            self.settings.to.email, self.settings.host, self.settings.port
        )
    }

    fn connect(&mut self, timeout: Duration) -> Result<(), DeliveryError> {
        self.disconnect();
        self.conn = Some(self.open(timeout)?);
        Ok(())
    }

    fn put(
        &mut self,
        local: &Path,
        name: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), DeliveryError> {
        let formatted = self.message(local, name)?;
        let result = self.send(&formatted);
        match &result {
            Ok(()) => progress(std::fs::metadata(local).map_or(0, |m| m.len())),
            Err(e) if e.kind == FailureKind::Temporary => {
                // The connection is in an unknown state: start afresh on the next attempt.
                if let Some(mut c) = self.conn.take() {
                    c.abort();
                }
            }
            Err(_) => {}
        }
        result
    }

    fn holds(&mut self, _: &str, _: u64, _: &str) -> Result<Holding, DeliveryError> {
        // A sent message cannot be looked at again, nor replaced by another.
        Ok(Holding::Absent)
    }

    fn probe(&mut self, step: &mut dyn FnMut(&str)) -> Result<(), DeliveryError> {
        step("no message sent: impact.com would read any message to this address as a batch file");
        Ok(())
    }

    fn disconnect(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = c.quit();
        }
    }
}
