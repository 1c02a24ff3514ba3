//! `sluice keys generate`: a cosign-compatible key pair, as `cosign generate-key-pair`
//! writes it: `<prefix>.key` (the encrypted private key, mode 0600) and `<prefix>.pub`.
//! The password comes from `COSIGN_PASSWORD` when it is set (empty allowed, as cosign
//! does), else from the terminal, asked twice without echo.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::exit_codes;

/// The variable the password is read from (cosign's).
pub const PASSWORD_VAR: &str = "COSIGN_PASSWORD";

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Writes a new key pair: `<prefix>.key` (encrypted, cosign's format) and `<prefix>.pub`.
    /// The password is `COSIGN_PASSWORD` if set, else asked on the terminal.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Where to write: `<prefix>.key` and `<prefix>.pub`.
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    output_key_prefix: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(command: KeysCommand) -> i32 {
    match command {
        KeysCommand::Generate(args) => match generate(&args) {
            Ok((key, public)) => {
                println!("Private key written to {}", key.display());
                println!("Public key written to {}", public.display());
                exit_codes::PASSED
            }
            Err((code, message)) => {
                eprintln!("error: {message}");
                code
            }
        },
    }
}

fn with_extension(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn generate(args: &GenerateArgs) -> Result<(PathBuf, PathBuf), (i32, String)> {
    let key_path = with_extension(&args.output_key_prefix, ".key");
    let pub_path = with_extension(&args.output_key_prefix, ".pub");
    if !args.force {
        for p in [&key_path, &pub_path] {
            if p.symlink_metadata().is_ok() {
                return Err((
                    exit_codes::INVALID,
                    format!(
                        "{} exists: pass --force to replace it, or choose another --output-key-prefix",
                        p.display()
                    ),
                ));
            }
        }
    }
    let password = password().map_err(|m| (exit_codes::INVALID, m))?;
    let host_err = |m: String| (exit_codes::HOST_ERROR, m);
    let key = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| host_err(format!("no randomness: {e}")))?;
        if let Some(k) = signing::keys::signing_key_from_random(&bytes) {
            break k;
        }
    };
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut salt).map_err(|e| host_err(format!("no randomness: {e}")))?;
    getrandom::fill(&mut nonce).map_err(|e| host_err(format!("no randomness: {e}")))?;
    let pem = signing::keys::encrypt_private_key(&key, password.as_bytes(), salt, nonce)
        .map_err(|e| host_err(e.to_string()))?;
    write_new(&key_path, pem.as_bytes(), 0o600, args.force).map_err(host_err)?;
    let public = signing::keys::public_key_pem(key.verifying_key());
    write_new(&pub_path, public.as_bytes(), 0o644, args.force).map_err(host_err)?;
    Ok((key_path, pub_path))
}

/// Writes a file with `mode` from the start (the private key is never readable by others,
/// not even for a moment), through a temporary file renamed into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let placed = if force {
        std::fs::rename(&tmp, path)
    } else {
        // Never replace a file that appeared meanwhile.
        std::fs::hard_link(&tmp, path).and_then(|()| std::fs::remove_file(&tmp))
    };
    placed.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

fn password() -> Result<zeroize::Zeroizing<String>, String> {
    if let Some(p) = std::env::var_os(PASSWORD_VAR) {
        return p
            .into_string()
            .map(zeroize::Zeroizing::new)
            .map_err(|_| format!("{PASSWORD_VAR} is not UTF-8"));
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            format!("no terminal to ask for the password: set {PASSWORD_VAR} (it may be empty)")
        })?;
    let first = ask(&tty, "Enter password for private key: ")?;
    let second = ask(&tty, "Enter password for private key again: ")?;
    if *first != *second {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}

/// Reads a line from the terminal with echo off (restored afterwards, whatever happens).
fn ask(tty: &std::fs::File, prompt: &str) -> Result<zeroize::Zeroizing<String>, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let mut out = tty;
    out.write_all(prompt.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot ask for the password: {e}"))?;
    let saved = tcgetattr(tty).map_err(|e| format!("cannot ask for the password: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(tty, OptionalActions::Flush, &quiet)
        .map_err(|e| format!("cannot ask for the password: {e}"))?;
    let mut line = zeroize::Zeroizing::new(String::new());
    let read = std::io::BufReader::new(tty).read_line(&mut line);
    let _ = tcsetattr(tty, OptionalActions::Flush, &saved);
    let _ = out.write_all(b"\n");
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    let trimmed = line.trim_end_matches(['\n', '\r']).to_string();
    Ok(zeroize::Zeroizing::new(trimmed))
}
