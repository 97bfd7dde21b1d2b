//! Labelled data sets for training and evaluation: the built-in Yin-Yang generator and a
//! loader for user data sets stored as CSV files.

pub mod csv;
pub mod yinyang;

use std::path::PathBuf;

/// A labelled data set: `len()` samples of `n_features` f64 features each (row-major) and a class label each.
///
/// Every label is below `n_classes`, and `features.len() == len() * n_features`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub n_features: usize,
    pub n_classes: usize,
    pub features: Vec<f64>,
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Returns the number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Returns true if the data set has no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Returns the features and the label of sample `i`.
    ///
    /// # Panics
    /// Panics if `i >= self.len()`.
    pub fn sample(&self, i: usize) -> (&[f64], usize) {
        let start = i * self.n_features;
        (
            &self.features[start..start + self.n_features],
            self.labels[i],
        )
    }

    /// Counts the samples of each class. The result has `n_classes` entries.
    ///
    /// # Panics
    /// Panics if a label is not below `n_classes`. The generator and the loaders in this
    /// module never produce such a data set.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &label in &self.labels {
            counts[label] += 1;
        }
        counts
    }
}

/// The three standard splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Dataset,
    pub validation: Dataset,
    pub test: Dataset,
}

/// An error while loading a data set from CSV files.
///
/// Each message names the file, and where it applies the 1-based line and column and the
/// offending value, and suggests a fix.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be read.
    #[error("failed to read {}: {source}. Check the path and the file permissions.", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A data set directory lacks a required split file.
    #[error(
        "data set directory {} has no {file_name}. A data set directory needs train.csv and \
         test.csv and may also contain validation.csv.",
        .dir.display()
    )]
    MissingSplitFile { dir: PathBuf, file_name: String },

    /// A line is not valid UTF-8.
    #[error(
        "{}, line {line}: invalid UTF-8 at byte {byte} of the line. Save the file as UTF-8 text.",
        .path.display()
    )]
    InvalidUtf8 {
        path: PathBuf,
        line: usize,
        byte: usize,
    },

    /// The file has no data rows: it is empty or contains only a header or blank lines.
    #[error(
        "{} contains no data rows. Add rows of feature values, each followed by an integer \
         class label.",
        .path.display()
    )]
    NoData { path: PathBuf },

    /// A blank line comes before a data row. Blank lines are allowed only at the end.
    #[error(
        "{}, line {line}: blank line before a data row. Remove it, because blank lines are \
         allowed only at the end of the file.",
        .path.display()
    )]
    BlankLine { path: PathBuf, line: usize },

    /// The first row has fewer than two columns, so there is no feature column.
    #[error(
        "{}, line {line}: found {found} column, but a row needs at least one feature column \
         and a class label, separated by commas.",
        .path.display()
    )]
    TooFewColumns {
        path: PathBuf,
        line: usize,
        found: usize,
    },

    /// A row has a different number of columns than the first row.
    #[error(
        "{}, line {line}: expected {expected} columns, found {found}. Every row needs the same \
         feature columns followed by one class label.",
        .path.display()
    )]
    ColumnCount {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
    },

    /// A feature field is not a number.
    #[error(
        "{}, line {line}, column {column}: invalid number \"{value}\". Features must be decimal \
         numbers such as 0.25 or -1.5e-3.",
        .path.display()
    )]
    InvalidNumber {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
    },

    /// A feature is NaN or infinite, or too large for an f64.
    #[error(
        "{}, line {line}, column {column}: feature value \"{value}\" is not finite. Replace \
         missing, NaN and infinite values with numbers, or remove the row.",
        .path.display()
    )]
    NonFiniteFeature {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
    },

    /// A class label is not a non-negative integer.
    #[error(
        "{}, line {line}, column {column}: invalid class label \"{value}\". The last column \
         must contain non-negative integer class labels (0, 1, 2, ...).",
        .path.display()
    )]
    InvalidLabel {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
    },

    /// A class label is not below the class count that the caller gave.
    #[error(
        "{}, line {line}, column {column}: class label {value} is out of range. With {n_classes} \
         classes the labels must be between 0 and {}. Fix the label or raise the class count.",
        .path.display(),
        .n_classes.saturating_sub(1)
    )]
    LabelOutOfRange {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
        n_classes: usize,
    },

    /// A class label exceeds the largest supported label.
    #[error(
        "{}, line {line}, column {column}: class label {value} is larger than the maximum \
         supported label {max_label}. Number the classes from 0 without gaps.",
        .path.display()
    )]
    LabelTooLarge {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
        max_label: usize,
    },

    /// The given class count is 0.
    #[error("invalid class count 0. A classification data set needs at least one class.")]
    ZeroClasses,

    /// Two files of one data set have different header rows.
    #[error(
        "header of {} differs from the header of {} at column {column}: expected {expected}, \
         found {found}. All files of one data set need the same header row, or none.",
        .second.display(),
        .first.display()
    )]
    HeaderMismatch {
        first: PathBuf,
        second: PathBuf,
        column: usize,
        expected: String,
        found: String,
    },

    /// Two files of one data set have different column counts.
    #[error(
        "{} has {second_columns} columns, but {} has {first_columns}. All files of one data set \
         need the same feature columns followed by one class label.",
        .second.display(),
        .first.display()
    )]
    ColumnCountMismatch {
        first: PathBuf,
        second: PathBuf,
        first_columns: usize,
        second_columns: usize,
    },

    /// A file has too few rows to split off validation (and test) samples.
    #[error(
        "{} is too small to split: it has {rows} data rows, and at least {min_rows} are needed \
         so that no split is empty. Add rows, or supply the held-out rows as validation.csv \
         (and test.csv) in a data set directory.",
        .path.display()
    )]
    TooFewRows {
        path: PathBuf,
        rows: usize,
        min_rows: usize,
    },
}

/// Hashes every feature's bits and every label of the three splits with 64-bit FNV-1a and returns
/// 16 hex digits. Equal data gives equal fingerprints. It detects changes but is not cryptographic.
pub fn fingerprint(splits: &Splits) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |word: u64| {
        for byte in word.to_le_bytes() {
            hash = (hash ^ byte as u64).wrapping_mul(PRIME);
        }
    };
    for dataset in [&splits.train, &splits.validation, &splits.test] {
        feed(dataset.len() as u64);
        feed(dataset.n_features as u64);
        dataset.features.iter().for_each(|x| feed(x.to_bits()));
        dataset.labels.iter().for_each(|&y| feed(y as u64));
    }
    format!("{hash:016x}")
}
