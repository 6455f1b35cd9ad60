//! An OpenSSH `known_hosts` reader: does a server's host key match what the user trusts?
//!
//! libssh2 (under git2) checks no host key at all, so this is the only check between us and a
//! man-in-the-middle. Follows the `SSH_KNOWN_HOSTS FILE FORMAT` of sshd(8): comma-separated host
//! patterns with `*`/`?` wildcards and `!` negation, `[host]:port` for ports other than 22,
//! hashed host names (`|1|salt|hash`, as `ssh-keygen -H` and `HashKnownHosts yes` write them),
//! `@revoked` honoured, `@cert-authority` lines skipped (we check plain host keys only).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// Salt and hash of a hashed host name are SHA-1 sized; ssh refuses other lengths.
const SHA1_LEN: usize = 20;

/// One usable line of a `known_hosts` file.
#[derive(Debug)]
struct Entry {
    /// 1-based line number, for error messages.
    line: usize,
    revoked: bool,
    hosts: Hosts,
    key_type: String,
    key: Vec<u8>,
}

#[derive(Debug)]
enum Hosts {
    Patterns(Vec<String>),
    /// `|1|salt|hash` (HashKnownHosts): `hash` is the HMAC-SHA1 of one host name (as
    /// [`host_name`] writes it) keyed with `salt`.
    Hashed {
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

/// A parsed `known_hosts` file. Malformed lines are ignored, as ssh does.
#[derive(Debug, Default)]
pub(crate) struct KnownHosts {
    entries: Vec<Entry>,
}

/// What the file says about a host key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A line for this host lists exactly this key.
    Trusted,
    /// The key is marked `@revoked` (at that line).
    Revoked { line: usize },
    /// The host is known with another key of the same type (first such line).
    Changed { line: usize },
    /// No line for this host has a key of this type.
    Unknown,
}

impl KnownHosts {
    pub(crate) fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| parse_line(i + 1, line))
            .collect();
        Self { entries }
    }

    /// Check `key` (the SSH wire-format public key blob) of type `key_type` (`ssh-ed25519`, …)
    /// presented by `host` on `port`.
    pub(crate) fn check(&self, host: &str, port: u16, key_type: &str, key: &[u8]) -> Verdict {
        let name = host_name(host, port);
        let mut changed = None;
        for entry in &self.entries {
            let matches = match &entry.hosts {
                Hosts::Patterns(patterns) => hosts_match(patterns, &name),
                Hosts::Hashed { salt, hash } => hashed_match(salt, hash, &name),
            };
            if entry.revoked && entry.key == key {
                // A revoked key is refused for every host: never weaker than ssh.
                return Verdict::Revoked { line: entry.line };
            }
            if !matches || entry.revoked {
                continue;
            }
            if entry.key == key {
                return Verdict::Trusted;
            }
            if entry.key_type == key_type {
                changed.get_or_insert(entry.line);
            }
        }
        match changed {
            Some(line) => Verdict::Changed { line },
            None => Verdict::Unknown,
        }
    }
}

/// The name a host is filed under: `host` on port 22, `[host]:port` otherwise.
pub(crate) fn host_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:<base64>` as `ssh-keygen -l` prints it.
pub(crate) fn fingerprint(key: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(key)))
}

fn parse_line(line: usize, text: &str) -> Option<Entry> {
    let mut fields = text.split_whitespace().peekable();
    if fields.peek()?.starts_with('#') {
        return None;
    }
    let revoked = match fields.peek()? {
        &"@revoked" => true,
        &"@cert-authority" => return None,
        marker if marker.starts_with('@') => return None,
        _ => false,
    };
    if revoked {
        fields.next();
    }
    let hosts = fields.next()?;
    let key_type = fields.next()?.to_string();
    let key = STANDARD.decode(fields.next()?).ok()?;
    let hosts = if let Some(hashed) = hosts.strip_prefix("|1|") {
        parse_hashed(hashed)?
    } else {
        Hosts::Patterns(hosts.split(',').map(str::to_ascii_lowercase).collect())
    };
    Some(Entry {
        line,
        revoked,
        hosts,
        key_type,
        key,
    })
}

/// `salt|hash` (after `|1|`), both base64 of SHA-1 size; anything else makes the line malformed.
fn parse_hashed(text: &str) -> Option<Hosts> {
    let (salt, hash) = text.split_once('|')?;
    let decode = |b64: &str| STANDARD.decode(b64).ok().filter(|b| b.len() == SHA1_LEN);
    Some(Hosts::Hashed {
        salt: decode(salt)?,
        hash: decode(hash)?,
    })
}

/// Whether `hash` is the HMAC-SHA1 of `name` keyed with `salt` (compared in constant time).
fn hashed_match(salt: &[u8], hash: &[u8], name: &str) -> bool {
    let mut mac = Hmac::<Sha1>::new_from_slice(salt).expect("HMAC takes a key of any length");
    mac.update(name.as_bytes());
    mac.verify_slice(hash).is_ok()
}

/// ssh's rule: some positive pattern matches and no negated (`!`) one does.
fn hosts_match(patterns: &[String], name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if glob(pattern.as_bytes(), name.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// `*` matches any run of characters, `?` exactly one; everything else itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real-looking ed25519 blobs are not needed: the reader compares bytes.
    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    /// `ssh-keygen -H` of `[127.0.0.1]:2222`.
    const HASHED: &str = "|1|JeGDAPclqsd+JKD/4knZ/jfQD+w=|DX+5eksM2YPS7UVDxgdqqp0EjC4=";

    fn key(b64: &str) -> Vec<u8> {
        STANDARD.decode(b64).unwrap()
    }

    #[test]
    #[rustfmt::skip] // one case a line reads as a table
    fn verdicts() {
        let ed = "ssh-ed25519";
        let table: &[(&str, &str, u16, &str, Verdict)] = &[
            // (file, host, port, presented key, verdict)
            (&format!("git.example.com {ed} {KEY_A}"), "git.example.com", 22, KEY_A, Verdict::Trusted),
            (&format!("GIT.example.com {ed} {KEY_A}"), "git.example.COM", 22, KEY_A, Verdict::Trusted),
            (&format!("a.example,git.example.com,10.0.0.1 {ed} {KEY_A}"), "10.0.0.1", 22, KEY_A, Verdict::Trusted),
            (&format!("[127.0.0.1]:2222 {ed} {KEY_A}"), "127.0.0.1", 2222, KEY_A, Verdict::Trusted),
            // A port-22 entry does not vouch for another port, nor the other way round.
            (&format!("127.0.0.1 {ed} {KEY_A}"), "127.0.0.1", 2222, KEY_A, Verdict::Unknown),
            (&format!("[127.0.0.1]:2222 {ed} {KEY_A}"), "127.0.0.1", 22, KEY_A, Verdict::Unknown),
            (&format!("*.example.com {ed} {KEY_A}"), "git.example.com", 22, KEY_A, Verdict::Trusted),
            (&format!("git?.example.com {ed} {KEY_A}"), "git1.example.com", 22, KEY_A, Verdict::Trusted),
            (&format!("*.example.com,!git.example.com {ed} {KEY_A}"), "git.example.com", 22, KEY_A, Verdict::Unknown),
            (&format!("# comment\n\ngit.example.com {ed} {KEY_B}"), "git.example.com", 22, KEY_A, Verdict::Changed { line: 3 }),
            // Another key type for the host is not a change: ssh then asks, and so do we.
            (&format!("git.example.com ssh-rsa {KEY_B}"), "git.example.com", 22, KEY_A, Verdict::Unknown),
            // Several keys for one host: any one matching is enough.
            (&format!("h {ed} {KEY_B}\nh {ed} {KEY_A}"), "h", 22, KEY_A, Verdict::Trusted),
            (&format!("@revoked * {ed} {KEY_A}\nh {ed} {KEY_A}"), "h", 22, KEY_A, Verdict::Revoked { line: 1 }),
            (&format!("@cert-authority *.example.com {ed} {KEY_A}"), "git.example.com", 22, KEY_A, Verdict::Unknown),
            // Hashed host names (`ssh-keygen -H`): the hash is of `[127.0.0.1]:2222`.
            (&format!("{HASHED} {ed} {KEY_A}"), "127.0.0.1", 2222, KEY_A, Verdict::Trusted),
            (&format!("{HASHED} {ed} {KEY_A}"), "127.0.0.1", 2223, KEY_A, Verdict::Unknown),
            (&format!("{HASHED} {ed} {KEY_A}"), "127.0.0.1", 22, KEY_A, Verdict::Unknown),
            (&format!("{HASHED} {ed} {KEY_A}"), "127.0.0.2", 2222, KEY_A, Verdict::Unknown),
            (&format!("# hashed\n{HASHED} {ed} {KEY_B}"), "127.0.0.1", 2222, KEY_A, Verdict::Changed { line: 2 }),
            (&format!("@revoked {HASHED} {ed} {KEY_A}"), "127.0.0.1", 2222, KEY_A, Verdict::Revoked { line: 1 }),
            (&format!("h {ed} {KEY_B}\n{HASHED} {ed} {KEY_A}"), "127.0.0.1", 2222, KEY_A, Verdict::Trusted),
            // Malformed lines are skipped, the rest still counts.
            (&format!("h {ed} not-base64!\nh {ed}\nh {ed} {KEY_A}"), "h", 22, KEY_A, Verdict::Trusted),
            ("", "h", 22, KEY_A, Verdict::Unknown),
        ];
        for (file, host, port, presented, want) in table {
            let got = KnownHosts::parse(file).check(host, *port, ed, &key(presented));
            assert_eq!(&got, want, "file {file:?}, host {host}:{port}");
        }
    }

    #[test]
    fn malformed_hashed_lines_are_ignored() {
        // Each would make the host's key look CHANGED (KEY_B) if it were read as a hashed
        // `[127.0.0.1]:2222`; malformed, it is skipped and the plain line after it decides.
        let (salt, hash) = HASHED[3..].split_once('|').unwrap();
        let short = "c2FsdA=="; // 4 bytes: ssh wants 20
        let malformed = [
            "|1|".to_string(),
            "|1||".to_string(),
            format!("|1|{salt}"),
            format!("|1|{salt}|"),
            format!("|1||{hash}"),
            format!("|1|{salt}|not-base64!"),
            format!("|1|not-base64!|{hash}"),
            format!("|1|{short}|{hash}"),
            format!("|1|{salt}|{short}"),
            format!("|1|{salt}|{hash}|"),
            format!("|1|{salt}|{hash}|{hash}"),
            format!("|2|{salt}|{hash}"),
        ];
        for hosts in malformed {
            let file = format!(
                "{hosts} ssh-ed25519 {KEY_B}\n{HASHED}\n[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n"
            );
            let got = KnownHosts::parse(&file).check("127.0.0.1", 2222, "ssh-ed25519", &key(KEY_A));
            assert_eq!(got, Verdict::Trusted, "{file:?}");
        }
    }

    #[test]
    fn fingerprint_is_what_ssh_keygen_prints() {
        // A key made with `ssh-keygen -t ed25519`; `ssh-keygen -lf` printed this fingerprint.
        let blob = key("AAAAC3NzaC1lZDI1NTE5AAAAIC9E1W9B5XkCllxoOP10zjdu7sfpN48kEjZ+zqhSKIEj");
        assert_eq!(
            fingerprint(&blob),
            "SHA256:o0vGrc1SjkAwzMMb4uyZmGRPWdUUOsLigwi5eS+zzvI"
        );
    }
}
