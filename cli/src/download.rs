//! Writing a task's artifacts into a folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::{client::Brown, view::ArtifactLink};

/// Downloads every artifact into `dir` (created if missing) and returns the files written.
/// Each file is written under a temporary name and renamed, so a file that exists is whole.
pub async fn artifacts(
    brown: &Brown,
    artifacts: &[ArtifactLink],
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::with_capacity(artifacts.len());
    for artifact in artifacts {
        let name = file_name(&artifact.name)?;
        let body = brown
            .download(&artifact.url)
            .await
            .with_context(|| format!("downloading {name}"))?;
        let path = dir.join(name);
        let partial = dir.join(format!(".{name}.part"));
        tokio::fs::write(&partial, &body)
            .await
            .with_context(|| format!("writing {}", partial.display()))?;
        tokio::fs::rename(&partial, &path)
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// An artifact's name becomes a file name: a plain name only, never a path out of `dir`.
fn file_name(name: &str) -> anyhow::Result<&str> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !plain {
        bail!("Brown named an artifact {name:?}, which is not a plain file name");
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_names_stay_inside_the_folder() {
        assert!(file_name("output_payload.json").is_ok());
        for name in ["", "../x", "a/b", "..", ".hidden", "/etc/passwd", "a\\b"] {
            assert!(file_name(name).is_err(), "{name} accepted");
        }
    }
}
