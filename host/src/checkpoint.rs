//! Training checkpoints (checkpoint.json) and the atomic file writes that keep run outputs whole.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use leap_model::{Config, Snapshot};
use serde::{Deserialize, Serialize};

use crate::metrics::MetricsRow;

/// Version of the checkpoint layout. Raise it when a field changes meaning or is removed.
pub const FORMAT_VERSION: u32 = 1;

/// File name of the checkpoint inside a run directory.
pub const FILE_NAME: &str = "checkpoint.json";

/// Advice for a damaged checkpoint, appended to every error about its contents.
const DAMAGED_HINT: &str =
    "The file is damaged: restore a backup of it, or train again without --resume.";

/// Everything needed to continue a training run bit for bit or to evaluate its network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Layout version, [`FORMAT_VERSION`] when written by this program.
    pub format_version: u32,
    /// Version of the `leap` program that wrote the checkpoint.
    pub leap_version: String,
    /// Device name: "software-fixed", "software-float" or "link".
    pub device: String,
    /// For a run on a device behind a link, the link it last trained over, such as
    /// "serial:/dev/ttyUSB1@3000000"; `leap train --resume` reconnects to it unless --port or
    /// --link gives another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The `--data` value, with an absolute path for CSV data sets.
    pub data: String,
    /// Fingerprint of the loaded splits ([`crate::data::fingerprint`]), to notice a data set
    /// that changed before a resume.
    #[serde(default)]
    pub data_fingerprint: Option<String>,
    /// The effective configuration, with `training.epochs` equal to `epochs_total`.
    pub config: Config,
    pub epochs_completed: usize,
    pub epochs_total: usize,
    /// Metrics of every completed epoch: train, validation and test rows per epoch.
    pub metrics: Vec<MetricsRow>,
    /// Device state after the training pass of the last completed epoch.
    pub snapshot: Snapshot,
}

/// Reads only the version, so that a checkpoint of another layout gets a version error rather
/// than a confusing field error.
#[derive(Deserialize)]
struct VersionProbe {
    format_version: Option<u32>,
}

/// Returns the checkpoint file of a run: `path` itself if it is a file, else `path/checkpoint.json`.
pub fn checkpoint_file(path: &Path) -> PathBuf {
    if path.is_file() {
        path.to_path_buf()
    } else {
        path.join(FILE_NAME)
    }
}

impl Checkpoint {
    /// Reads and checks the checkpoint of the run in `path`, a run directory or a checkpoint file.
    ///
    /// Every error names the file and states what is wrong. JSON errors give serde_json's line and
    /// column.
    pub fn load(path: &Path) -> anyhow::Result<Checkpoint> {
        if !path.exists() {
            bail!(
                "run directory {} not found. Pass the --out directory of an earlier `leap train` run.",
                path.display()
            );
        }
        let file = checkpoint_file(path);
        if !file.exists() {
            bail!(
                "{} contains no checkpoint: {} not found. Pass the --out directory of an earlier \
                 `leap train` run, which writes its checkpoint after each epoch.",
                path.display(),
                file.display()
            );
        }
        let text = fs::read_to_string(&file)
            .with_context(|| format!("failed to read checkpoint {}", file.display()))?;
        if text.trim().is_empty() {
            bail!("checkpoint {} is empty. {DAMAGED_HINT}", file.display());
        }

        let probe: VersionProbe = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {} is not valid JSON: {e}. {DAMAGED_HINT}",
                file.display()
            )
        })?;
        match probe.format_version {
            Some(FORMAT_VERSION) => {}
            Some(version) => bail!(
                "checkpoint {} has format version {version}, but this leap {} reads version {FORMAT_VERSION}. \
                 Use the leap version that wrote it.",
                file.display(),
                env!("CARGO_PKG_VERSION")
            ),
            None => bail!("checkpoint {} has no `format_version` field. {DAMAGED_HINT}", file.display()),
        }

        let checkpoint: Checkpoint = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {} does not match the checkpoint format: {e}. {DAMAGED_HINT}",
                file.display()
            )
        })?;
        checkpoint.check_consistency().map_err(|reason| {
            anyhow::anyhow!(
                "checkpoint {} is inconsistent: {reason}. {DAMAGED_HINT}",
                file.display()
            )
        })?;
        Ok(checkpoint)
    }

    /// Checks the relations between fields that the JSON schema cannot express.
    fn check_consistency(&self) -> Result<(), String> {
        if self.epochs_completed > self.epochs_total {
            return Err(format!(
                "`epochs_completed` is {}, more than `epochs_total` ({})",
                self.epochs_completed, self.epochs_total
            ));
        }
        let expected_rows = 3 * self.epochs_completed;
        if self.metrics.len() != expected_rows {
            return Err(format!(
                "`metrics` has {} rows, but {} completed epochs need {expected_rows}",
                self.metrics.len(),
                self.epochs_completed
            ));
        }
        if self.config.training.epochs != self.epochs_total {
            return Err(format!(
                "`config.training.epochs` is {}, but `epochs_total` is {}",
                self.config.training.epochs, self.epochs_total
            ));
        }
        Ok(())
    }

    /// Writes the checkpoint to `dir/checkpoint.json` atomically, then reads it back and checks
    /// that it equals `self`, so that a checkpoint that cannot be resumed exactly is never kept
    /// silently.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let file = dir.join(FILE_NAME);
        let mut text =
            serde_json::to_string_pretty(self).context("failed to serialise the checkpoint")?;
        text.push('\n');
        write_atomic(&file, text.as_bytes())?;

        // serde_json writes NaN and infinity as `null`, which does not read back as a number.
        let reread: Result<Checkpoint, _> = serde_json::from_str(&text);
        match reread {
            Ok(reread) if reread == *self => Ok(()),
            Ok(_) => bail!(
                "checkpoint {} does not read back as written, so resuming from it would not be exact",
                file.display()
            ),
            Err(e) => bail!(
                "checkpoint {} cannot be read back ({e}). A weight or state value is probably NaN or \
                 infinite because training diverged: lower `learning.eta` or `learning.beta`.",
                file.display()
            ),
        }
    }
}

/// Name prefix of the temporary files of [`write_atomic`]. A process killed while writing leaves
/// one behind; [`remove_partial_files`] deletes them.
pub const PARTIAL_PREFIX: &str = ".leap-partial-";

/// Deletes temporary files that an interrupted [`write_atomic`] left in `dir`. Failures are
/// logged and otherwise ignored, because the files only take space.
pub fn remove_partial_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
            match fs::remove_file(entry.path()) {
                Ok(()) => tracing::debug!("removed partial file {}", entry.path().display()),
                Err(error) => tracing::warn!("failed to remove partial file {}: {error}", entry.path().display()),
            }
        }
    }
}

/// Replaces `path` with `contents` so that readers see either the old or the new file, never a
/// partial one: the data goes to a temporary file in the same directory, is flushed to disk and
/// then renamed over `path`.
///
/// A symbolic link stays, and the file it points to is replaced. A path that exists but is not
/// a regular file or a directory, such as `/dev/null` or a FIFO, cannot be replaced by a rename,
/// so `contents` is written into it directly.
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let context = || format!("failed to write {}", path.display());
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => bail!(
            "failed to write {}: it is a directory. Give the path of a file, new or to be replaced.",
            path.display()
        ),
        Ok(metadata) if !metadata.is_file() => {
            let mut file = fs::OpenOptions::new().write(true).open(path).with_context(context)?;
            file.write_all(contents).with_context(context)?;
            return file.flush().with_context(context);
        }
        _ => {}
    }
    // A dangling link cannot be resolved, and the rename then replaces the link itself.
    let resolved = match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => fs::canonicalize(path).ok(),
        _ => None,
    };
    let path = resolved.as_deref().unwrap_or(path);
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };

    let mut temporary = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "failed to write {}: cannot create a temporary file in directory {}",
                path.display(),
                dir.display()
            )
        })?;
    temporary.write_all(contents).with_context(context)?;
    temporary.flush().with_context(context)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Temporary files are created with mode 0600, but run outputs are ordinary readable files.
        temporary
            .as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .with_context(context)?;
    }
    temporary.as_file().sync_all().with_context(context)?;
    temporary
        .persist(path)
        .map_err(|e| e.error)
        .with_context(context)?;

    // Flushing the directory makes the rename itself durable. Some file systems reject fsync on a
    // directory, and the file is complete either way, so that failure is ignored.
    if let Ok(directory) = fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    use std::process::Command;

    use super::*;

    #[test]
    fn write_atomic_into_fifo_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("weights.fifo");
        let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(status.success(), "mkfifo {} failed", fifo.display());
        // Opened for reading and writing, the FIFO has a reader, so neither the open in
        // write_atomic nor the read below waits.
        let mut reader = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();

        write_atomic(&fifo, b"{\"words\": [1, 2]}\n").unwrap();

        let file_type = fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(file_type.is_fifo(), "the FIFO was replaced by {file_type:?}");
        let mut buffer = [0u8; 64];
        let count = reader.read(&mut buffer).expect("nothing was written into the FIFO");
        assert_eq!(&buffer[..count], b"{\"words\": [1, 2]}\n");
    }

    #[test]
    fn write_atomic_through_symlink_keeps_link() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("weights.json");
        let link = dir.path().join("latest.json");
        fs::write(&file, "old\n").unwrap();
        std::os::unix::fs::symlink(&file, &link).unwrap();

        write_atomic(&link, b"new\n").unwrap();

        let link_type = fs::symlink_metadata(&link).unwrap().file_type();
        assert!(link_type.is_symlink(), "the link was replaced by {link_type:?}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "new\n");
    }

    #[test]
    fn write_atomic_rejects_directory() {
        let dir = tempfile::tempdir().unwrap();

        let error = write_atomic(dir.path(), b"{}\n").unwrap_err().to_string();

        assert!(error.contains("it is a directory"), "{error}");
        assert!(error.contains(&dir.path().display().to_string()), "{error}");
        assert!(dir.path().is_dir());
    }
}
