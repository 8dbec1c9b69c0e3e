//! Build script: the version `gcorr --version` prints (`GCORR_VERSION`), with the git commit
//! (and `-dirty` for uncommitted changes to tracked files) when built from a checkout; the plain
//! package version without git or outside a checkout (a crates.io download, a tarball).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let full = match commit(&dir) {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=GCORR_VERSION={full}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// `abc1234` or `abc1234-dirty`; None unless `dir` is the top of a git checkout and git runs.
fn commit(dir: &Path) -> Option<String> {
    // Only our own checkout: a package unpacked inside some other repository is not one.
    if !dir.join(".git").exists() {
        return None;
    }
    watch(dir);
    let hash = git(dir, &["rev-parse", "--short", "HEAD"])?;
    let dirty = git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{hash}-dirty") } else { hash })
}

/// Reruns this script when HEAD moves (checkout, commit) or the sources change (dirty or not).
/// Only existing files are named: Cargo reruns on every build for a missing one.
fn watch(dir: &Path) {
    let mut paths = vec!["src".into(), "Cargo.toml".into()];
    for name in ["HEAD", "packed-refs"] {
        paths.extend(git(dir, &["rev-parse", "--git-path", name]));
    }
    if let Some(head) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.extend(git(dir, &["rev-parse", "--git-path", &head]));
    }
    for p in paths {
        let path = dir.join(p);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// The trimmed stdout of `git ARGS` run in `dir`, if git exists and succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
