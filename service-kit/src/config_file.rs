//! Strict TOML configuration files: size-capped, UTF-8, and parsed into
//! types that reject unknown keys. Every table type read through here
//! carries `#[serde(deny_unknown_fields)]`, so a typo is an error naming
//! the key and its line instead of a setting silently ignored.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::de::DeserializeOwned;

/// Largest configuration file read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why a configuration file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFileError {
    #[error("cannot read configuration {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration {path} is {size} bytes, the limit is {limit}")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("configuration {path} is not UTF-8")]
    NotUtf8 { path: PathBuf },
    /// Bad TOML, an unknown key, a missing key or a value of the wrong type.
    #[error("{path}: {message}{}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

/// A configuration file as read.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub value: T,
    /// Modification time and size when it was read, to notice a change.
    pub stamp: Option<(SystemTime, u64)>,
}

/// Reads `path` (at most [`MAX_CONFIG_BYTES`]) and parses it.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Loaded<T>, ConfigFileError> {
    use std::io::Read as _;
    let read = |source| ConfigFileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigFileError::TooLarge {
            path: path.to_owned(),
            size: meta.len().max(bytes.len() as u64),
            limit: MAX_CONFIG_BYTES,
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| ConfigFileError::NotUtf8 {
        path: path.to_owned(),
    })?;
    Ok(Loaded {
        value: parse(&text, path)?,
        stamp: meta.modified().ok().map(|m| (m, meta.len())),
    })
}

/// Parses TOML `text`; `path` only names it in errors.
pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigFileError> {
    toml::from_str(text).map_err(|e| ConfigFileError::Syntax {
        path: path.to_owned(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().trim_end().to_owned(),
    })
}

/// The directory relative paths in the file at `path` are taken from.
pub fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Small {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn unknown_keys_name_their_line() {
        let err = parse::<Small>("name = \"x\"\n\nnmae = 1\n", Path::new("a.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("a.toml: unknown field `nmae`"), "{text}");
        assert!(text.ends_with("(line 3)"), "{text}");
    }

    #[test]
    fn files_are_capped_and_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "name = \"x\"\n").unwrap();
        let loaded = load::<Small>(&p).unwrap();
        assert_eq!(loaded.stamp.unwrap().1, 11);
        std::fs::write(&p, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            load::<Small>(&p),
            Err(ConfigFileError::TooLarge { .. })
        ));
        let missing = load::<Small>(&dir.path().join("none.toml")).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read configuration"));
        assert_eq!(base_dir(Path::new("c.toml")), Path::new("."));
    }
}
