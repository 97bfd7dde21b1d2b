//! Loader for user data sets stored as CSV files.
//!
//! Each row contains the feature values followed by one non-negative integer class label,
//! separated by commas. Fields may be surrounded by whitespace, and quoted fields are not
//! supported. The loader accepts what spreadsheets and numeric tools usually write: a
//! UTF-8 byte order mark, CRLF line ends, an optional header row and blank lines at the
//! end of the file. The first non-blank row is a header if any of its fields is not a
//! number, so a header made only of numbers is read as data.

use std::io;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{DataError, Dataset, Splits};

/// Maximum number of classes when the caller gives no class count. A larger label is
/// almost certainly a wrong column, and it would make per-class tables huge.
pub const MAX_CLASSES: usize = 1 << 16;

/// Minimum number of rows in a file that is split into training and validation (and test)
/// samples, so that each split gets at least one row.
const MIN_ROWS_TO_SPLIT: usize = 10;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Options for reading CSV data sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Number of classes. Every label must be below it. `None` sets it to the maximum
    /// label plus one, and then labels above `MAX_CLASSES − 1` are rejected.
    pub n_classes: Option<usize>,
}

/// Loads one CSV file and returns the data set and the header row, if the file has one.
///
/// The data set is named after the file name. Its class count is `opts.n_classes`, or the
/// maximum label plus one when that is `None`.
pub fn load_file(path: &Path, opts: &CsvOptions) -> Result<(Dataset, Option<Vec<String>>), DataError> {
    check_class_count(opts)?;
    let table = read_table(path, opts.n_classes)?;
    let n_classes = opts.n_classes.unwrap_or_else(|| table.min_class_count());
    let header = table.header.clone();
    Ok((table.into_dataset(dataset_name(path), n_classes), header))
}

/// Loads the training, validation and test splits of a data set from a directory or a
/// single CSV file.
///
/// A directory must contain train.csv and test.csv and may contain validation.csv. When
/// validation.csv is missing, train.csv is shuffled with `seed` and its last 10 % become
/// the validation split. A single file is shuffled with `seed` and split 80/10/10 into
/// training, validation and test rows.
///
/// Each held-out split gets `rows / 10` rows, rounded down, and training gets the rest,
/// so a file that is split needs at least 10 rows. Shuffled splits keep the shuffled
/// order. All files must have the same header row, or all none, and the same column
/// count. The class count is `opts.n_classes`, or else the maximum label over all files
/// plus one. All splits are named after the file or directory.
pub fn load_splits(path: &Path, opts: &CsvOptions, seed: u64) -> Result<Splits, DataError> {
    check_class_count(opts)?;
    let metadata = std::fs::metadata(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })?;
    let name = dataset_name(path);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    if metadata.is_dir() {
        load_directory(path, name, opts, &mut rng)
    } else {
        load_single_file(path, name, opts, &mut rng)
    }
}

/// Loads train.csv, test.csv and the optional validation.csv from `dir`.
fn load_directory(dir: &Path, name: String, opts: &CsvOptions, rng: &mut ChaCha8Rng) -> Result<Splits, DataError> {
    let train_path = dir.join("train.csv");
    let validation_path = dir.join("validation.csv");
    let test_path = dir.join("test.csv");

    let train = read_split_file(&train_path, opts)?
        .ok_or_else(|| DataError::MissingSplitFile { dir: dir.to_path_buf(), file_name: "train.csv".to_string() })?;
    let validation = read_split_file(&validation_path, opts)?;
    let test = read_split_file(&test_path, opts)?
        .ok_or_else(|| DataError::MissingSplitFile { dir: dir.to_path_buf(), file_name: "test.csv".to_string() })?;

    if let Some(validation) = &validation {
        check_same_layout(&train, validation)?;
    }
    check_same_layout(&train, &test)?;

    let n_classes = opts.n_classes.unwrap_or_else(|| {
        let tables = [Some(&train), validation.as_ref(), Some(&test)];
        tables.into_iter().flatten().map(CsvTable::min_class_count).max().unwrap_or(1)
    });

    let test = test.into_dataset(name.clone(), n_classes);
    match validation {
        Some(validation) => Ok(Splits {
            train: train.into_dataset(name.clone(), n_classes),
            validation: validation.into_dataset(name, n_classes),
            test,
        }),
        None => {
            let rows = train.len();
            check_rows_to_split(&train_path, rows)?;
            let order = shuffled_indices(rows, rng);
            let (train_rows, validation_rows) = order.split_at(rows - rows / 10);
            let all_train = train.into_dataset(name, n_classes);
            Ok(Splits { train: select_rows(&all_train, train_rows), validation: select_rows(&all_train, validation_rows), test })
        }
    }
}

/// Loads one file and splits it 80/10/10 after shuffling.
fn load_single_file(path: &Path, name: String, opts: &CsvOptions, rng: &mut ChaCha8Rng) -> Result<Splits, DataError> {
    let table = read_table(path, opts.n_classes)?;
    let rows = table.len();
    check_rows_to_split(path, rows)?;

    let n_classes = opts.n_classes.unwrap_or_else(|| table.min_class_count());
    let all = table.into_dataset(name, n_classes);
    let order = shuffled_indices(rows, rng);
    let n_held_out = rows / 10;
    let (train_rows, held_out) = order.split_at(rows - 2 * n_held_out);
    let (validation_rows, test_rows) = held_out.split_at(n_held_out);

    Ok(Splits {
        train: select_rows(&all, train_rows),
        validation: select_rows(&all, validation_rows),
        test: select_rows(&all, test_rows),
    })
}

/// Reads one split file of a data set directory, or returns `None` if it does not exist.
fn read_split_file(path: &Path, opts: &CsvOptions) -> Result<Option<CsvTable>, DataError> {
    match read_table(path, opts.n_classes) {
        Ok(table) => Ok(Some(table)),
        Err(DataError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn check_class_count(opts: &CsvOptions) -> Result<(), DataError> {
    match opts.n_classes {
        Some(0) => Err(DataError::ZeroClasses),
        _ => Ok(()),
    }
}

fn check_rows_to_split(path: &Path, rows: usize) -> Result<(), DataError> {
    if rows < MIN_ROWS_TO_SPLIT {
        return Err(DataError::TooFewRows { path: path.to_path_buf(), rows, min_rows: MIN_ROWS_TO_SPLIT });
    }
    Ok(())
}

/// Checks that `second` has the same header (or none) and the same column count as `first`.
fn check_same_layout(first: &CsvTable, second: &CsvTable) -> Result<(), DataError> {
    let mismatch = |column: usize, expected: String, found: String| DataError::HeaderMismatch {
        first: first.path.clone(),
        second: second.path.clone(),
        column,
        expected,
        found,
    };
    let quote = |name: Option<&String>| match name {
        Some(name) => format!("\"{name}\""),
        None => "no column".to_string(),
    };

    match (&first.header, &second.header) {
        (Some(first_names), Some(second_names)) => {
            let n_columns = first_names.len().max(second_names.len());
            if let Some(column) = (0..n_columns).find(|&i| first_names.get(i) != second_names.get(i)) {
                return Err(mismatch(column + 1, quote(first_names.get(column)), quote(second_names.get(column))));
            }
        }
        (Some(first_names), None) => {
            return Err(mismatch(1, quote(first_names.first()), "no header row".to_string()));
        }
        (None, Some(second_names)) => {
            return Err(mismatch(1, "no header row".to_string(), quote(second_names.first())));
        }
        (None, None) => {}
    }

    if first.n_columns != second.n_columns {
        return Err(DataError::ColumnCountMismatch {
            first: first.path.clone(),
            second: second.path.clone(),
            first_columns: first.n_columns,
            second_columns: second.n_columns,
        });
    }
    Ok(())
}

/// Names a data set after the last component of its path, or after the whole path when
/// it has none (such as `.`).
fn dataset_name(path: &Path) -> String {
    let canonical = path.canonicalize().ok();
    let file_name = path.file_name().or_else(|| canonical.as_deref().and_then(Path::file_name));
    match file_name {
        Some(name) => name.to_string_lossy().into_owned(),
        None => path.display().to_string(),
    }
}

fn shuffled_indices(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    indices.shuffle(rng);
    indices
}

/// Copies the rows `indices` of `data`, in that order, into a new data set.
fn select_rows(data: &Dataset, indices: &[usize]) -> Dataset {
    let mut features = Vec::with_capacity(indices.len() * data.n_features);
    let mut labels = Vec::with_capacity(indices.len());
    for &i in indices {
        let (row, label) = data.sample(i);
        features.extend_from_slice(row);
        labels.push(label);
    }
    Dataset { name: data.name.clone(), n_features: data.n_features, n_classes: data.n_classes, features, labels }
}

/// The parsed contents of one CSV file.
#[derive(Debug)]
struct CsvTable {
    path: PathBuf,
    header: Option<Vec<String>>,
    /// Number of columns including the label column.
    n_columns: usize,
    features: Vec<f64>,
    labels: Vec<usize>,
}

impl CsvTable {
    fn len(&self) -> usize {
        self.labels.len()
    }

    /// Returns the smallest class count that covers every label.
    fn min_class_count(&self) -> usize {
        self.labels.iter().max().map_or(1, |&max| max + 1)
    }

    fn into_dataset(self, name: String, n_classes: usize) -> Dataset {
        Dataset { name, n_features: self.n_columns - 1, n_classes, features: self.features, labels: self.labels }
    }
}

/// Reads and parses one CSV file. Labels are checked against `n_classes` when it is given
/// and against `MAX_CLASSES` otherwise.
fn read_table(path: &Path, n_classes: Option<usize>) -> Result<CsvTable, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })?;
    let (text, bom_len) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len()),
        None => (&bytes[..], 0),
    };

    let mut table =
        CsvTable { path: path.to_path_buf(), header: None, n_columns: 0, features: Vec::new(), labels: Vec::new() };
    let mut first_blank_line = None;

    for (index, raw_line) in text.split(|&byte| byte == b'\n').enumerate() {
        let line_number = index + 1;
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        let line = std::str::from_utf8(raw_line).map_err(|error| {
            let bom_offset = if index == 0 { bom_len } else { 0 };
            DataError::InvalidUtf8 { path: path.to_path_buf(), line: line_number, byte: bom_offset + error.valid_up_to() + 1 }
        })?;

        // Blank lines are fine only when no row follows them, which is known only later.
        if line.trim().is_empty() {
            first_blank_line.get_or_insert(line_number);
            continue;
        }
        if let Some(blank_line) = first_blank_line {
            return Err(DataError::BlankLine { path: path.to_path_buf(), line: blank_line });
        }

        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let is_first_row = table.n_columns == 0;
        if is_first_row {
            if fields.len() < 2 {
                return Err(DataError::TooFewColumns { path: path.to_path_buf(), line: line_number, found: fields.len() });
            }
            table.n_columns = fields.len();
            if fields.iter().any(|field| field.parse::<f64>().is_err()) {
                table.header = Some(fields.iter().map(|field| field.to_string()).collect());
                continue;
            }
        }
        parse_row(&mut table, line_number, &fields, n_classes)?;
    }

    if table.labels.is_empty() {
        return Err(DataError::NoData { path: path.to_path_buf() });
    }
    Ok(table)
}

/// Parses the features and the label of one data row and appends them to `table`.
fn parse_row(table: &mut CsvTable, line: usize, fields: &[&str], n_classes: Option<usize>) -> Result<(), DataError> {
    let path = &table.path;
    if fields.len() != table.n_columns {
        return Err(DataError::ColumnCount {
            path: path.clone(),
            line,
            expected: table.n_columns,
            found: fields.len(),
        });
    }

    let (label_field, feature_fields) = fields.split_last().expect("a row has at least two fields");
    for (index, field) in feature_fields.iter().enumerate() {
        let column = index + 1;
        let value: f64 = field.parse().map_err(|_| DataError::InvalidNumber {
            path: path.clone(),
            line,
            column,
            value: field.to_string(),
        })?;
        if !value.is_finite() {
            return Err(DataError::NonFiniteFeature { path: path.clone(), line, column, value: field.to_string() });
        }
        table.features.push(value);
    }

    let column = fields.len();
    let label = parse_label(label_field).ok_or_else(|| DataError::InvalidLabel {
        path: path.clone(),
        line,
        column,
        value: label_field.to_string(),
    })?;
    let label = match n_classes {
        Some(n_classes) if label >= n_classes as u64 => {
            return Err(DataError::LabelOutOfRange { path: path.clone(), line, column, value: label_field.to_string(), n_classes });
        }
        None if label >= MAX_CLASSES as u64 => {
            return Err(DataError::LabelTooLarge {
                path: path.clone(),
                line,
                column,
                value: label_field.to_string(),
                max_label: MAX_CLASSES - 1,
            });
        }
        // The checks above bound the label by a usize.
        _ => label as usize,
    };
    table.labels.push(label);
    Ok(())
}

/// Parses a class label: a non-negative integer, also when a tool writes it as a float
/// such as `2.0` or `2.000000e+00`. Integers beyond `u64::MAX` saturate to it.
fn parse_label(field: &str) -> Option<u64> {
    if field.starts_with('-') {
        return None;
    }
    if let Ok(label) = field.parse::<u64>() {
        return Some(label);
    }
    let value: f64 = field.parse().ok()?;
    if value.is_finite() && value.fract() == 0.0 {
        // `as` saturates, which keeps huge labels out of any valid range.
        Some(value as u64)
    } else {
        None
    }
}
