//! Links the `spa` binary with packed relative relocations (`DT_RELR`) where the C
//! library that will load it reads them.
//!
//! `spa` is a position-independent executable (ASLR): about 92,000 of its dynamic
//! relocations are relative ones, 2.2 MB of `.rela.dyn` that the loader reads at every
//! start, resident for the whole process (a fifth of `spa --version`'s memory, a tenth
//! of `spa handle`'s). As `DT_RELR` they take a few kilobytes. glibc reads them since
//! 2.36, and a binary that has them asks for it (`GLIBC_ABI_DT_RELR`): on an older glibc
//! it would not start at all. So only a native build for Linux and glibc, on a glibc
//! that says it is 2.36 or later (`getconf GNU_LIBC_VERSION`), gets them; a cross build,
//! another C library or an older one links as before. GNU ld has the option since 2.38,
//! lld since 15; an older GNU ld ignores it with a warning. Only the `spa` binary: the
//! Lambda's `bootstrap` (spa-handlers) is built for the Lambda runtime's glibc, 2.34.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if native && linux_gnu && glibc_reads_relr() {
        println!("cargo:rustc-link-arg-bin=spa=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc is 2.36 or later.
fn glibc_reads_relr() -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    // "glibc 2.36"
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(version) = text.split_whitespace().nth(1) else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (2, 36),
        _ => false,
    }
}
