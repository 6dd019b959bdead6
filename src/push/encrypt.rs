//! PGP-encrypted parts (`encrypt_to` under `[sftp]`, `[ftp]`, `[email]` or `[dir]`): a
//! Connection with encryption on takes only files encrypted to its public key (2048-bit RSA,
//! valid two years).
//!
//! Encryption is a step of the part, not a transport. The key is loaded and judged once,
//! when the channel is built ([`Recipient::load`]: before any input is read or anything
//! sent; a bad, secret, revoked or expired key is a configuration error). [`Files`]'s
//! `units` then seals each part — after email's cutting by event type and attachment size,
//! so that each attachment is one encrypted file — with [`Recipient::seal`]: binary
//! OpenPGP (SEIPD, AES-256, uncompressed) written beside the part in the work folder, its
//! digest and size kept in [`Sealed`]. The part keeps its plain name, sha256 and size, which
//! is what the ledger keys it by: encryption is not deterministic, so a re-run (which
//! encrypts again, to other bytes) finds the part by its plain digest and stays silent. What
//! goes out is the sealed file, under the part's name + `.pgp`; the ledger notes and records
//! the sealed digest and size too, so that a run killed between send and record is resolved
//! by comparing the destination's file with the *noted* sealed digest.
//!
//! [`Files`]: super::channel::Files

use super::part::{PartFile, Sealed};
use crate::digest::HashingWriter;
use crate::values::date::format_day;
use anyhow::{Context, Result, bail};
use pgp::composed::{Deserializable, MessageBuilder, SignedPublicKey, SignedSecretKey};
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, PublicParams, Timestamp};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The extension of an encrypted part's name.
pub const EXTENSION: &str = ".pgp";

/// The smallest RSA key accepted (impact.com's are 2048 bits).
const MIN_RSA_BITS: u32 = 2048;

/// Room an encrypted part takes over its plain bytes (session key, packet headers, the
/// integrity check), for cutting parts to an attachment limit.
pub const OVERHEAD: u64 = 2048;

/// A public key parts are encrypted to, judged usable.
pub struct Recipient {
    key: SignedPublicKey,
    /// Which key encrypts: `None` the primary, else that subkey.
    subkey: Option<usize>,
    /// The encrypting key's fingerprint (hex), for people and the ledger.
    fingerprint: String,
}

impl Recipient {
    /// Loads the public key in `path` (armored or binary) and judges it as of `now`: it must
    /// hold a key or subkey that may encrypt, neither expired nor revoked, RSA of at least
    /// 2048 bits. `what` names the setting for messages (`[sftp] encrypt_to`).
    pub fn load(path: &Path, what: &str, now: SystemTime) -> Result<Recipient> {
        let bytes = crate::trust::read_bytes(path, &format!("the {what} key file"))?;
        let fix = "download the Connection's public key again from impact.com (Settings → Connections, the encryption key)";
        let key = match SignedPublicKey::from_reader_single(&bytes[..]) {
            Ok((key, _)) => key,
            Err(_) if SignedSecretKey::from_reader_single(&bytes[..]).is_ok() => bail!(
                "{what}: {} holds a secret (private) key, not a public key: parts are encrypted to the Connection's public key, which impact.com gives; point encrypt_to at that file, and keep secret keys out of the configuration",
                path.display()
            ),
            Err(e) => bail!(
                "{what}: {} is not an OpenPGP public key ({}): {fix}",
                path.display(),
                e
            ),
        };
        key.verify_bindings().map_err(|e| {
            anyhow::anyhow!(
                "{what}: the key in {} does not verify ({}): {fix}",
                path.display(),
                e
            )
        })?;
        let now = secs(now);
        if !key.details.revocation_signatures.is_empty() {
            bail!(
                "{what}: the key in {} was revoked: download the Connection's new public key from impact.com",
                path.display()
            );
        }
        let created = key.primary_key.created_at().as_secs() as i64;
        let primary_sig = latest(
            key.details
                .users
                .iter()
                .flat_map(|u| u.signatures.iter())
                .chain(key.details.direct_signatures.iter())
                .filter(|s| !matches!(s.typ(), Some(SignatureType::CertRevocation))),
        );
        let primary_expiry = primary_sig.and_then(|s| expiry(created, s));
        if let Some(at) = primary_expiry.filter(|&at| at <= now) {
            bail!(expired(what, path, at));
        }
        // The subkeys that may encrypt, then the primary key if it may.
        let mut expired_at = None;
        let mut weak = None;
        let mut candidates: Vec<Option<usize>> = vec![];
        for (i, sub) in key.public_subkeys.iter().enumerate() {
            if sub
                .signatures
                .iter()
                .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
            {
                continue;
            }
            let Some(binding) = latest(
                sub.signatures
                    .iter()
                    .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding)),
            ) else {
                continue;
            };
            let flags = binding.key_flags();
            if !(flags.encrypt_comms() || flags.encrypt_storage()) {
                continue;
            }
            if let Some(at) = expiry(sub.key.created_at().as_secs() as i64, binding)
                && at <= now
            {
                expired_at = expired_at.max(Some(at));
                continue;
            }
            candidates.push(Some(i));
        }
        if primary_sig.is_some_and(|s| {
            let f = s.key_flags();
            f.encrypt_comms() || f.encrypt_storage()
        }) {
            candidates.push(None);
        }
        let mut chosen = None;
        for c in candidates {
            let (algorithm, params) = match c {
                Some(i) => (
                    key.public_subkeys[i].key.algorithm(),
                    key.public_subkeys[i].key.public_params(),
                ),
                None => (key.primary_key.algorithm(), key.primary_key.public_params()),
            };
            match rsa_bits(algorithm, params) {
                Some(bits) if bits < MIN_RSA_BITS => weak = Some(bits),
                _ if algorithm.can_encrypt() => {
                    chosen = Some(c);
                    break;
                }
                _ => {}
            }
        }
        let Some(subkey) = chosen else {
            if let Some(at) = expired_at {
                bail!(expired(what, path, at));
            }
            if let Some(bits) = weak {
                bail!(
                    "{what}: the key in {} is RSA of {bits} bits, fewer than the {MIN_RSA_BITS} accepted: use the Connection's public key (impact.com generates 2048-bit RSA)",
                    path.display()
                );
            }
            bail!(
                "{what}: the key in {} has no key that may encrypt: {fix}",
                path.display()
            );
        };
        let fingerprint = match subkey {
            Some(i) => key.public_subkeys[i].key.fingerprint(),
            None => key.primary_key.fingerprint(),
        };
        Ok(Recipient {
            fingerprint: format!("{fingerprint:X}"),
            key,
            subkey,
        })
    }

    /// The encrypting key's fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `part` with its sealed file: encrypted beside it in the work folder.
    pub fn seal(&self, mut part: PartFile) -> Result<PartFile> {
        let local = PathBuf::from(format!("{}{EXTENSION}", part.local.display()));
        let write = || -> Result<(String, u64)> {
            let plain = std::fs::File::open(&part.local)?;
            let mut out = HashingWriter::new(BufWriter::new(std::fs::File::create(&local)?));
            let mut rng = rand_08::thread_rng();
            let mut builder = MessageBuilder::from_reader(part.name.clone(), plain)
                .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
            match self.subkey {
                Some(i) => builder.encrypt_to_key(&mut rng, &self.key.public_subkeys[i])?,
                None => builder.encrypt_to_key(&mut rng, &self.key.primary_key)?,
            };
            builder.to_writer(&mut rng, &mut out)?;
            let (file, sha256, bytes) = out.finish()?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            Ok((sha256, bytes))
        };
        let (sha256, bytes) = write()
            .with_context(|| format!("cannot encrypt {} to {}", part.name, local.display()))?;
        part.sealed = Some(Sealed {
            local,
            sha256,
            bytes,
        });
        Ok(part)
    }
}

/// The newest of `sigs` by creation time.
fn latest<'a>(sigs: impl Iterator<Item = &'a Signature>) -> Option<&'a Signature> {
    sigs.max_by_key(|s| s.created().map_or(0, Timestamp::as_secs))
}

/// When a key created at `created` expires by `sig` (`None`: never).
fn expiry(created: i64, sig: &Signature) -> Option<i64> {
    let d: std::time::Duration = sig.key_expiration_time()?.into();
    (d.as_secs() > 0).then(|| created + d.as_secs() as i64)
}

fn expired(what: &str, path: &Path, at: i64) -> String {
    format!(
        "{what}: the key in {} expired on {}: download the Connection's new public key from impact.com (Settings → Connections; its keys are valid two years) and point encrypt_to at it",
        path.display(),
        format_day(at.div_euclid(86_400))
    )
}

/// The size of an RSA key's modulus, in bits (`None` for other algorithms).
fn rsa_bits(algorithm: PublicKeyAlgorithm, params: &PublicParams) -> Option<u32> {
    if !matches!(
        algorithm,
        PublicKeyAlgorithm::RSA | PublicKeyAlgorithm::RSAEncrypt
    ) {
        return None;
    }
    // The serialised parameters start with the modulus as an MPI: its bit count first.
    let bytes = params.to_bytes().ok()?;
    Some(u32::from(u16::from_be_bytes([
        *bytes.first()?,
        *bytes.get(1)?,
    ])))
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
