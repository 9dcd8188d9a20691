//! The Lambda package: one zip holding the `bootstrap` binary (mode 0755) and the
//! buildspec files the settings name, at the paths the settings name them with (the
//! functions read them beside `LAMBDA_TASK_ROOT/settings.yaml`).
//!
//! The zip is deterministic (fixed timestamps, sorted entries), so the same code makes
//! the same bytes and the same S3 key.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;

/// The name of the binary Lambda runs on `provided.al2023`.
pub const BOOTSTRAP: &str = "bootstrap";

/// The cargo profile `spa package` builds by default, what is deployed: the release
/// profile with `panic = "abort"` (the root `Cargo.toml` says why).
pub const PROFILE: &str = "lambda-release";

/// The feature of `spa-handlers` every package is built with (`handlers/Cargo.toml`
/// says what it does: in an optimized build, the `trace` lines of the dependencies are
/// compiled out).
pub const FEATURES: &str = "lambda";

/// A Lambda architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Graviton (`aarch64`).
    Arm64,
    /// Intel and AMD.
    X86_64,
}

impl Arch {
    /// As Lambda names it (`arm64`, `x86_64`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// From Lambda's name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "arm64" | "aarch64" => Some(Arch::Arm64),
            "x86_64" | "amd64" => Some(Arch::X86_64),
            _ => None,
        }
    }

    /// The Rust target cargo-lambda builds for.
    pub const fn rust_target(self) -> &'static str {
        match self {
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }

    /// The ELF `e_machine` of binaries for this architecture.
    pub const fn elf_machine(self) -> u16 {
        match self {
            Arch::Arm64 => 0xB7,
            Arch::X86_64 => 0x3E,
        }
    }
}

/// Why a package cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The zip library failed.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Reading or writing bytes failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The zip has no `bootstrap`.
    #[error("the zip holds no `bootstrap`")]
    NoBootstrap,
    /// `bootstrap` is not a 64-bit little-endian ELF executable of the architecture.
    #[error("`bootstrap` is {found}, not a Linux {expected} executable")]
    WrongBinary {
        /// The architecture expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its path in the zip.
    pub name: String,
    /// Its Unix mode (`0o100755` for `bootstrap`).
    pub mode: Option<u32>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The zip of `bootstrap` (mode 0755) and `files` (mode 0644), entries sorted.
pub fn zip(bootstrap: &[u8], files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, PackageError> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    writer.start_file(BOOTSTRAP, options.unix_permissions(0o755))?;
    writer.write_all(bootstrap)?;
    let mut files: Vec<&(String, Vec<u8>)> = files.iter().filter(|(n, _)| n != BOOTSTRAP).collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    for (name, data) in files {
        writer.start_file(
            name.trim_start_matches("./"),
            options.unix_permissions(0o644),
        )?;
        writer.write_all(data)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Every entry of a zip.
pub fn entries(zip: &[u8]) -> Result<Vec<Entry>, PackageError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))?;
    let mut out = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut file = archive.by_index(index)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        out.push(Entry {
            name: file.name().to_owned(),
            mode: file.unix_mode(),
            data,
        });
    }
    Ok(out)
}

/// The `bootstrap` of a zip, checked: executable, and an ELF binary for `arch`.
pub fn bootstrap_of(zip: &[u8], arch: Arch) -> Result<Entry, PackageError> {
    let entry = entries(zip)?
        .into_iter()
        .find(|e| e.name == BOOTSTRAP)
        .ok_or(PackageError::NoBootstrap)?;
    let wrong = |found: String| PackageError::WrongBinary {
        expected: arch.as_str(),
        found,
    };
    if entry.mode.is_none_or(|m| m & 0o111 == 0) {
        return Err(wrong(format!(
            "not executable (mode {:o})",
            entry.mode.unwrap_or(0)
        )));
    }
    match elf_machine(&entry.data) {
        Some(machine) if machine == arch.elf_machine() => Ok(entry),
        Some(machine) => Err(wrong(format!("an ELF binary for machine {machine:#x}"))),
        None => Err(wrong("not a 64-bit little-endian ELF file".into())),
    }
}

/// The `e_machine` of a 64-bit little-endian ELF executable (`ET_EXEC` or `ET_DYN`).
pub fn elf_machine(bytes: &[u8]) -> Option<u16> {
    let header = bytes.get(..20)?;
    if header[..4] != [0x7f, b'E', b'L', b'F'] || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let kind = u16::from_le_bytes([header[16], header[17]]);
    if kind != 2 && kind != 3 {
        return None;
    }
    Some(u16::from_le_bytes([header[18], header[19]]))
}

/// The zip with the buildspec `files` replacing the ones it had (the `bootstrap` kept).
pub fn with_files(zip: &[u8], files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, PackageError> {
    let entries = entries(zip)?;
    let bootstrap = entries
        .iter()
        .find(|e| e.name == BOOTSTRAP)
        .ok_or(PackageError::NoBootstrap)?;
    self::zip(&bootstrap.data, files)
}

/// A key for the package's content: `bootstrap/<16 hex digits>.zip`.
pub fn content_key(zip: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    zip.hash(&mut hasher);
    zip.len().hash(&mut hasher);
    format!("bootstrap/{:016x}.zip", hasher.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The first 20 bytes of an ELF executable for `machine`.
    pub fn elf(machine: u16) -> Vec<u8> {
        let mut bytes = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        bytes.extend([0; 8]);
        bytes.extend(3u16.to_le_bytes());
        bytes.extend(machine.to_le_bytes());
        bytes.extend([0; 44]);
        bytes
    }

    #[test]
    fn the_zip_holds_an_executable_bootstrap_and_the_buildspecs() {
        let zip = zip(
            &elf(0xB7),
            &[(
                "deploy/buildspecs/prepare.yaml".into(),
                b"version: 0.2".to_vec(),
            )],
        )
        .unwrap();
        let entry = bootstrap_of(&zip, Arch::Arm64).unwrap();
        assert_eq!(entry.mode.map(|m| m & 0o777), Some(0o755));
        let names: Vec<String> = entries(&zip).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["bootstrap", "deploy/buildspecs/prepare.yaml"]);
        assert_eq!(
            zip,
            self::zip(
                &elf(0xB7),
                &[(
                    "deploy/buildspecs/prepare.yaml".into(),
                    b"version: 0.2".to_vec()
                )]
            )
            .unwrap(),
            "deterministic"
        );
    }

    #[test]
    fn a_bootstrap_for_another_machine_or_not_elf_is_refused() {
        let zip = zip(&elf(0x3E), &[]).unwrap();
        assert!(bootstrap_of(&zip, Arch::X86_64).is_ok());
        let error = bootstrap_of(&zip, Arch::Arm64).unwrap_err().to_string();
        assert_eq!(
            error,
            "`bootstrap` is an ELF binary for machine 0x3e, not a Linux arm64 executable"
        );
        let script = self::zip(b"#!/bin/sh\necho hi\n", &[]).unwrap();
        assert!(
            bootstrap_of(&script, Arch::X86_64)
                .unwrap_err()
                .to_string()
                .contains("not a 64-bit")
        );
        let empty = {
            let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
            writer
                .start_file("other", SimpleFileOptions::default())
                .unwrap();
            writer.finish().unwrap().into_inner()
        };
        assert!(matches!(
            bootstrap_of(&empty, Arch::X86_64),
            Err(PackageError::NoBootstrap)
        ));
    }

    #[test]
    fn files_are_replaced_and_the_key_follows_the_content() {
        let first = zip(&elf(0xB7), &[("a.yaml".into(), b"1".to_vec())]).unwrap();
        let second = with_files(&first, &[("b.yaml".into(), b"2".to_vec())]).unwrap();
        let names: Vec<String> = entries(&second)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["bootstrap", "b.yaml"]);
        assert_ne!(content_key(&first), content_key(&second));
        assert_eq!(content_key(&first), content_key(&first.clone()));
        assert!(
            content_key(&first).starts_with("bootstrap/") && content_key(&first).ends_with(".zip")
        );
    }
}
