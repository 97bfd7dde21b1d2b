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

/// Maximum number of classes when the caller gives no class count. A label at or above
/// it usually means a wrong column, and it would make per-class tables huge.
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
pub fn load_file(
    path: &Path,
    opts: &CsvOptions,
) -> Result<(Dataset, Option<Vec<String>>), DataError> {
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
    let metadata = std::fs::metadata(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = dataset_name(path);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    if metadata.is_dir() {
        load_directory(path, name, opts, &mut rng)
    } else {
        load_single_file(path, name, opts, &mut rng)
    }
}

/// Loads train.csv, test.csv and the optional validation.csv from `dir`.
fn load_directory(
    dir: &Path,
    name: String,
    opts: &CsvOptions,
    rng: &mut ChaCha8Rng,
) -> Result<Splits, DataError> {
    let train_path = dir.join("train.csv");
    let validation_path = dir.join("validation.csv");
    let test_path = dir.join("test.csv");

    let train = read_split_file(&train_path, opts)?.ok_or_else(|| DataError::MissingSplitFile {
        dir: dir.to_path_buf(),
        file_name: "train.csv".to_string(),
    })?;
    let validation = read_split_file(&validation_path, opts)?;
    let test = read_split_file(&test_path, opts)?.ok_or_else(|| DataError::MissingSplitFile {
        dir: dir.to_path_buf(),
        file_name: "test.csv".to_string(),
    })?;

    if let Some(validation) = &validation {
        check_same_layout(&train, validation)?;
    }
    check_same_layout(&train, &test)?;

    let n_classes = opts.n_classes.unwrap_or_else(|| {
        let tables = [Some(&train), validation.as_ref(), Some(&test)];
        tables
            .into_iter()
            .flatten()
            .map(CsvTable::min_class_count)
            .max()
            .unwrap_or(1)
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
            Ok(Splits {
                train: select_rows(&all_train, train_rows),
                validation: select_rows(&all_train, validation_rows),
                test,
            })
        }
    }
}

/// Loads one file and splits it 80/10/10 after shuffling.
fn load_single_file(
    path: &Path,
    name: String,
    opts: &CsvOptions,
    rng: &mut ChaCha8Rng,
) -> Result<Splits, DataError> {
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
        return Err(DataError::TooFewRows {
            path: path.to_path_buf(),
            rows,
            min_rows: MIN_ROWS_TO_SPLIT,
        });
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
            if let Some(column) =
                (0..n_columns).find(|&i| first_names.get(i) != second_names.get(i))
            {
                return Err(mismatch(
                    column + 1,
                    quote(first_names.get(column)),
                    quote(second_names.get(column)),
                ));
            }
        }
        (Some(first_names), None) => {
            return Err(mismatch(
                1,
                quote(first_names.first()),
                "no header row".to_string(),
            ));
        }
        (None, Some(second_names)) => {
            return Err(mismatch(
                1,
                "no header row".to_string(),
                quote(second_names.first()),
            ));
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
    if let Some(name) = path.file_name() {
        return name.to_string_lossy().into_owned();
    }
    let canonical = path.canonicalize().ok();
    match canonical.as_deref().and_then(Path::file_name) {
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
    Dataset {
        name: data.name.clone(),
        n_features: data.n_features,
        n_classes: data.n_classes,
        features,
        labels,
    }
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
        Dataset {
            name,
            n_features: self.n_columns - 1,
            n_classes,
            features: self.features,
            labels: self.labels,
        }
    }
}

/// Reads and parses one CSV file. Labels are checked against `n_classes` when it is given
/// and against `MAX_CLASSES` otherwise.
fn read_table(path: &Path, n_classes: Option<usize>) -> Result<CsvTable, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let (text, bom_len) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len()),
        None => (&bytes[..], 0),
    };

    let mut table = CsvTable {
        path: path.to_path_buf(),
        header: None,
        n_columns: 0,
        features: Vec::new(),
        labels: Vec::new(),
    };
    let mut first_blank_line = None;

    for (index, raw_line) in text.split(|&byte| byte == b'\n').enumerate() {
        let line_number = index + 1;
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        let line = std::str::from_utf8(raw_line).map_err(|error| {
            let bom_offset = if index == 0 { bom_len } else { 0 };
            DataError::InvalidUtf8 {
                path: path.to_path_buf(),
                line: line_number,
                byte: bom_offset + error.valid_up_to() + 1,
            }
        })?;

        // Blank lines are fine only when no row follows them, which is known only later.
        if line.trim().is_empty() {
            first_blank_line.get_or_insert(line_number);
            continue;
        }
        if let Some(blank_line) = first_blank_line {
            return Err(DataError::BlankLine {
                path: path.to_path_buf(),
                line: blank_line,
            });
        }

        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let is_first_row = table.n_columns == 0;
        if is_first_row {
            if fields.len() < 2 {
                return Err(DataError::TooFewColumns {
                    path: path.to_path_buf(),
                    line: line_number,
                    found: fields.len(),
                });
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
        return Err(DataError::NoData {
            path: path.to_path_buf(),
        });
    }
    Ok(table)
}

/// Parses the features and the label of one data row and appends them to `table`.
fn parse_row(
    table: &mut CsvTable,
    line: usize,
    fields: &[&str],
    n_classes: Option<usize>,
) -> Result<(), DataError> {
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
            return Err(DataError::NonFiniteFeature {
                path: path.clone(),
                line,
                column,
                value: field.to_string(),
            });
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
            return Err(DataError::LabelOutOfRange {
                path: path.clone(),
                line,
                column,
                value: label_field.to_string(),
                n_classes,
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use tempfile::TempDir;

    /// Writes `contents` to `name` inside `dir` and returns the file's path.
    fn write_file(dir: &TempDir, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = dir.path().join(name);
        fs::write(&path, contents).unwrap();
        path
    }

    /// Loads `contents` as a CSV file and returns the error message.
    fn load_error(contents: impl AsRef<[u8]>, opts: &CsvOptions) -> (PathBuf, String) {
        let dir = TempDir::new().unwrap();
        let path = write_file(&dir, "data.csv", contents);
        let error = load_file(&path, opts).expect_err("the file should be rejected");
        (path, error.to_string())
    }

    fn no_class_count() -> CsvOptions {
        CsvOptions { n_classes: None }
    }

    /// Returns the rows of `data` as (features, label) pairs, for comparing splits.
    fn rows(data: &Dataset) -> Vec<(Vec<f64>, usize)> {
        (0..data.len())
            .map(|i| (data.sample(i).0.to_vec(), data.sample(i).1))
            .collect()
    }

    /// Writes a file of `n` rows whose first feature is the row index.
    fn numbered_rows(n: usize, n_classes: usize) -> String {
        (0..n)
            .map(|i| format!("{i},{}.5,{}\n", i * 2, i % n_classes))
            .collect()
    }

    #[test]
    fn load_file_plain_rows() {
        let dir = TempDir::new().unwrap();
        let path = write_file(&dir, "points.csv", "0.5,1,0\n 2.5 ,\t-3e-1, 2 \n-1,0,1\n");
        let (data, header) = load_file(&path, &no_class_count()).unwrap();

        assert_eq!(header, None);
        assert_eq!(data.name, "points.csv");
        assert_eq!(data.n_features, 2);
        assert_eq!(data.n_classes, 3);
        assert_eq!(data.features, vec![0.5, 1.0, 2.5, -0.3, -1.0, 0.0]);
        assert_eq!(data.labels, vec![0, 2, 1]);
        assert_eq!(data.class_counts(), vec![1, 1, 1]);
    }

    #[test]
    fn load_file_spreadsheet_export() {
        let dir = TempDir::new().unwrap();
        let contents = b"\xEF\xBB\xBFwidth, height ,class\r\n1.5,2,1\r\n3,4.25,0\r\n\r\n  \r\n\n";
        let path = write_file(&dir, "export.csv", contents);
        let (data, header) = load_file(&path, &no_class_count()).unwrap();

        let expected_header: Vec<String> = ["width", "height", "class"].map(String::from).to_vec();
        assert_eq!(header, Some(expected_header));
        assert_eq!(data.features, vec![1.5, 2.0, 3.0, 4.25]);
        assert_eq!(data.labels, vec![1, 0]);
        assert_eq!(data.n_classes, 2);
    }

    #[test]
    fn load_file_float_labels() {
        let dir = TempDir::new().unwrap();
        let path = write_file(
            &dir,
            "floats.csv",
            "0.1,2.0\n0.2,1.000000000000000000e+00\n0.3,+0\n",
        );
        let (data, _) = load_file(&path, &no_class_count()).unwrap();
        assert_eq!(data.labels, vec![2, 1, 0]);
    }

    #[test]
    fn load_file_keeps_given_class_count() {
        let dir = TempDir::new().unwrap();
        let path = write_file(&dir, "data.csv", "1,0\n2,1\n");
        let (data, _) = load_file(&path, &CsvOptions { n_classes: Some(5) }).unwrap();
        assert_eq!(data.n_classes, 5);
        assert_eq!(data.class_counts(), vec![1, 1, 0, 0, 0]);
    }

    #[test]
    fn missing_file_error() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("absent.csv");
        let os_error = fs::read(&path).unwrap_err().to_string();

        let message = load_file(&path, &no_class_count()).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&os_error), "{message}");
        assert!(message.contains("failed to read"), "{message}");
    }

    #[test]
    fn unreadable_file_error() {
        // A directory cannot be read as a file on any platform, even by root.
        let dir = TempDir::new().unwrap();
        let os_error = fs::read(dir.path()).unwrap_err().to_string();

        let message = load_file(dir.path(), &no_class_count())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains(&os_error), "{message}");
    }

    #[test]
    fn no_data_rows_error() {
        let cases: [&[u8]; 5] = [
            b"",
            b"x,y,label\n",
            b"\n\n  \n",
            b"\xEF\xBB\xBF",
            b"x,label\r\n\r\n",
        ];
        for contents in cases {
            let (path, message) = load_error(contents, &no_class_count());
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("contains no data rows"), "{message}");
        }
    }

    #[test]
    fn wrong_column_count_error() {
        let (path, message) = load_error("1,2,0\n3,4,1\n5,1\n", &no_class_count());
        assert!(
            message.contains(&format!("{}, line 3", path.display())),
            "{message}"
        );
        assert!(message.contains("expected 3 columns, found 2"), "{message}");
    }

    #[test]
    fn wrong_column_count_after_header_error() {
        let (_, message) = load_error("a,b,label\n1,2,3,0\n", &no_class_count());
        assert!(message.contains("line 2"), "{message}");
        assert!(message.contains("expected 3 columns, found 4"), "{message}");
    }

    #[test]
    fn too_few_columns_error() {
        let (path, message) = load_error("\u{feff}0\n1\n", &no_class_count());
        assert!(
            message.contains(&format!("{}, line 1", path.display())),
            "{message}"
        );
        assert!(
            message.contains("at least one feature column and a class label"),
            "{message}"
        );
    }

    #[test]
    fn invalid_number_error() {
        let (path, message) = load_error("x,y,label\n1,2,0\n3,4a,1\n", &no_class_count());
        assert!(
            message.contains(&format!("{}, line 3, column 2", path.display())),
            "{message}"
        );
        assert!(message.contains("invalid number \"4a\""), "{message}");
    }

    #[test]
    fn empty_field_error() {
        let (_, message) = load_error("1,2,0\n,4,1\n", &no_class_count());
        assert!(message.contains("line 2, column 1"), "{message}");
        assert!(message.contains("invalid number \"\""), "{message}");
    }

    #[test]
    fn non_finite_feature_error() {
        for (value, column) in [("NaN", 1), ("inf", 2), ("-Infinity", 1), ("1e400", 2)] {
            let row = if column == 1 {
                format!("{value},0,1")
            } else {
                format!("0,{value},1")
            };
            let (path, message) = load_error(format!("1,2,0\n{row}\n"), &no_class_count());
            let location = format!("{}, line 2, column {column}", path.display());
            assert!(message.contains(&location), "{message}");
            assert!(
                message.contains(&format!("feature value \"{value}\" is not finite")),
                "{message}"
            );
        }
    }

    #[test]
    fn invalid_label_error() {
        for value in ["1.5", "-1", "x", "", "-0", "nan", "inf", "1e-3"] {
            let (path, message) = load_error(format!("1,2,0\n3,4,{value}\n"), &no_class_count());
            let location = format!("{}, line 2, column 3", path.display());
            assert!(message.contains(&location), "label {value:?}: {message}");
            assert!(
                message.contains(&format!("invalid class label \"{value}\"")),
                "label {value:?}: {message}"
            );
            assert!(
                message.contains("non-negative integer"),
                "label {value:?}: {message}"
            );
        }
    }

    #[test]
    fn label_out_of_range_error() {
        let opts = CsvOptions { n_classes: Some(3) };
        let (path, message) = load_error("1,2,0\n3,4,2\n5,6,3\n", &opts);
        assert!(
            message.contains(&format!("{}, line 3, column 3", path.display())),
            "{message}"
        );
        assert!(
            message.contains("class label 3 is out of range"),
            "{message}"
        );
        assert!(message.contains("between 0 and 2"), "{message}");
    }

    #[test]
    fn label_too_large_error() {
        for value in [
            "65536",
            "18446744073709551615",
            "99999999999999999999999",
            "1e30",
        ] {
            let (path, message) = load_error(format!("1,{value}\n"), &no_class_count());
            assert!(
                message.contains(&format!("{}, line 1, column 2", path.display())),
                "{message}"
            );
            assert!(
                message.contains(&format!("class label {value} is larger")),
                "{message}"
            );
            assert!(message.contains("65535"), "{message}");
        }
    }

    #[test]
    fn huge_label_out_of_range_error() {
        let opts = CsvOptions { n_classes: Some(4) };
        let (_, message) = load_error("1,1e30\n", &opts);
        assert!(
            message.contains("class label 1e30 is out of range"),
            "{message}"
        );
    }

    #[test]
    fn largest_label_accepted() {
        let dir = TempDir::new().unwrap();
        let path = write_file(&dir, "data.csv", "1,65535\n");
        let (data, _) = load_file(&path, &no_class_count()).unwrap();
        assert_eq!(data.n_classes, MAX_CLASSES);
    }

    #[test]
    fn zero_class_count_error() {
        let dir = TempDir::new().unwrap();
        let path = write_file(&dir, "data.csv", "1,0\n");
        let opts = CsvOptions { n_classes: Some(0) };

        let message = load_file(&path, &opts).unwrap_err().to_string();
        assert!(message.contains("invalid class count 0"), "{message}");
        let message = load_splits(&path, &opts, 0).unwrap_err().to_string();
        assert!(message.contains("invalid class count 0"), "{message}");
    }

    #[test]
    fn blank_line_between_rows_error() {
        let (path, message) = load_error("1,2,0\n3,4,1\n\n5,6,0\n", &no_class_count());
        assert!(
            message.contains(&format!("{}, line 3", path.display())),
            "{message}"
        );
        assert!(message.contains("blank line"), "{message}");
    }

    #[test]
    fn blank_line_before_data_error() {
        let (path, message) = load_error("\r\n  \r\n1,2,0\r\n", &no_class_count());
        assert!(
            message.contains(&format!("{}, line 1", path.display())),
            "{message}"
        );
        assert!(message.contains("blank line"), "{message}");
    }

    #[test]
    fn invalid_utf8_error() {
        let (path, message) = load_error(
            b"x,y,label\n1,2,0\n3,\xFF4,1\n".as_slice(),
            &no_class_count(),
        );
        assert!(
            message.contains(&format!("{}, line 3", path.display())),
            "{message}"
        );
        assert!(message.contains("invalid UTF-8 at byte 3"), "{message}");
    }

    #[test]
    fn invalid_utf8_after_bom_error() {
        let (_, message) = load_error(b"\xEF\xBB\xBFa\xC3,b\n".as_slice(), &no_class_count());
        assert!(
            message.contains("line 1: invalid UTF-8 at byte 5"),
            "{message}"
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let dir = TempDir::new().unwrap();
        let inputs: [&[u8]; 16] = [
            b",",
            b",,,\n,,,\n",
            b"\r",
            b"\r\r\n\r",
            b"\xEF\xBB",
            b"\xEF\xBB\xBF\xEF\xBB\xBF1,0",
            b"\"1\",\"0\"\n",
            b"1,0\n\xC3",
            b"\0,\0",
            b"a,b\n1,0\na,b\n",
            b"1,0,\n",
            b"1;2;0\n",
            b"1,0\n2,3,4,5\n",
            b"1e308,1\n1e309,0\n",
            b"-,+\n",
            b"1,0\r\r\n2,1\n",
        ];
        for (index, contents) in inputs.iter().enumerate() {
            let path = write_file(&dir, &format!("odd{index}.csv"), contents);
            let _ = load_file(&path, &no_class_count());
            let _ = load_file(&path, &CsvOptions { n_classes: Some(1) });
            let _ = load_splits(&path, &no_class_count(), 1);
        }
    }

    #[test]
    fn splits_from_directory_with_validation() {
        let dir = TempDir::new().unwrap();
        write_file(&dir, "train.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,0\n");
        write_file(&dir, "validation.csv", "a,b,label\n7,8,1\n");
        write_file(&dir, "test.csv", "a,b,label\n9,10,3\n11,12,0\n");

        let splits = load_splits(dir.path(), &no_class_count(), 7).unwrap();
        let name = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for split in [&splits.train, &splits.validation, &splits.test] {
            assert_eq!(split.name, name);
            assert_eq!(split.n_features, 2);
            // The test file contains the largest label, 3.
            assert_eq!(split.n_classes, 4);
        }
        assert_eq!(splits.train.features, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(splits.train.labels, vec![0, 1, 0]);
        assert_eq!(splits.validation.labels, vec![1]);
        assert_eq!(splits.test.labels, vec![3, 0]);
    }

    #[test]
    fn splits_from_directory_without_validation() {
        let dir = TempDir::new().unwrap();
        let train_path = write_file(&dir, "train.csv", numbered_rows(25, 3));
        write_file(&dir, "test.csv", "0,0,2\n");

        let splits = load_splits(dir.path(), &no_class_count(), 11).unwrap();
        assert_eq!(splits.train.len(), 23);
        assert_eq!(splits.validation.len(), 2);
        assert_eq!(splits.test.len(), 1);

        let (all_train, _) = load_file(&train_path, &no_class_count()).unwrap();
        let mut combined = rows(&splits.train);
        combined.extend(rows(&splits.validation));
        let mut expected = rows(&all_train);
        combined.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
        expected.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
        assert_eq!(combined, expected);

        let again = load_splits(dir.path(), &no_class_count(), 11).unwrap();
        assert_eq!(again, splits);
    }

    #[test]
    fn splits_from_single_file() {
        let dir = TempDir::new().unwrap();
        let path = write_file(
            &dir,
            "iris.csv",
            format!("f1,f2,species\n{}", numbered_rows(57, 3)),
        );

        let splits = load_splits(&path, &no_class_count(), 3).unwrap();
        assert_eq!(splits.train.len(), 47);
        assert_eq!(splits.validation.len(), 5);
        assert_eq!(splits.test.len(), 5);
        for split in [&splits.train, &splits.validation, &splits.test] {
            assert_eq!(split.name, "iris.csv");
            assert_eq!(split.n_classes, 3);
            assert_eq!(split.n_features, 2);
        }

        let mut combined = rows(&splits.train);
        combined.extend(rows(&splits.validation));
        combined.extend(rows(&splits.test));
        combined.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
        let (all, _) = load_file(&path, &no_class_count()).unwrap();
        assert_eq!(combined, rows(&all));

        assert_eq!(load_splits(&path, &no_class_count(), 3).unwrap(), splits);
        let reshuffled = load_splits(&path, &no_class_count(), 4).unwrap();
        assert_ne!(reshuffled.train.features, splits.train.features);
    }

    #[test]
    fn header_mismatch_error() {
        let dir = TempDir::new().unwrap();
        let train_path = write_file(&dir, "train.csv", "width,height,label\n1,2,0\n");
        let test_path = write_file(&dir, "test.csv", "width,depth,label\n3,4,1\n");

        let message = load_splits(dir.path(), &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&train_path.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&test_path.display().to_string()),
            "{message}"
        );
        assert!(message.contains("column 2"), "{message}");
        assert!(
            message.contains("expected \"height\", found \"depth\""),
            "{message}"
        );
    }

    #[test]
    fn header_missing_in_one_file_error() {
        let dir = TempDir::new().unwrap();
        let train_path = write_file(&dir, "train.csv", "width,height,label\n1,2,0\n");
        let validation_path = write_file(&dir, "validation.csv", "1,2,0\n");
        write_file(&dir, "test.csv", "width,height,label\n3,4,1\n");

        let message = load_splits(dir.path(), &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&train_path.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&validation_path.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains("column 1: expected \"width\", found no header row"),
            "{message}"
        );
    }

    #[test]
    fn header_length_mismatch_error() {
        let dir = TempDir::new().unwrap();
        write_file(&dir, "train.csv", "a,b,label\n1,2,0\n");
        write_file(&dir, "test.csv", "a,b,c,label\n3,4,5,1\n");

        let message = load_splits(dir.path(), &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("column 3: expected \"label\", found \"c\""),
            "{message}"
        );
    }

    #[test]
    fn column_count_mismatch_error() {
        let dir = TempDir::new().unwrap();
        let train_path = write_file(&dir, "train.csv", "1,2,0\n");
        let test_path = write_file(&dir, "test.csv", "1,2,3,0\n");

        let message = load_splits(dir.path(), &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        let expected = format!(
            "{} has 4 columns, but {} has 3",
            test_path.display(),
            train_path.display()
        );
        assert!(message.contains(&expected), "{message}");
    }

    #[test]
    fn missing_split_file_error() {
        let dir = TempDir::new().unwrap();
        write_file(&dir, "train.csv", "1,2,0\n");

        let message = load_splits(dir.path(), &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("has no test.csv"), "{message}");
    }

    #[test]
    fn missing_splits_path_error() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("nowhere");

        let message = load_splits(&path, &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("failed to read {}", path.display())),
            "{message}"
        );
    }

    #[test]
    fn label_out_of_range_in_split_file_error() {
        let dir = TempDir::new().unwrap();
        write_file(&dir, "train.csv", "1,2,0\n");
        let test_path = write_file(&dir, "test.csv", "1,2,0\n3,4,2\n");

        let message = load_splits(dir.path(), &CsvOptions { n_classes: Some(2) }, 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("{}, line 2, column 3", test_path.display())),
            "{message}"
        );
        assert!(message.contains("between 0 and 1"), "{message}");
    }

    #[test]
    fn too_few_rows_to_split_error() {
        let dir = TempDir::new().unwrap();
        let path = write_file(&dir, "small.csv", numbered_rows(9, 2));

        let message = load_splits(&path, &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!(
                "{} is too small to split: it has 9 data rows",
                path.display()
            )),
            "{message}"
        );
        assert!(message.contains("at least 10"), "{message}");
        assert!(load_splits(
            &write_file(&dir, "ten.csv", numbered_rows(10, 2)),
            &no_class_count(),
            0
        )
        .is_ok());
    }

    #[test]
    fn too_few_training_rows_to_split_error() {
        let dir = TempDir::new().unwrap();
        let train_path = write_file(&dir, "train.csv", numbered_rows(4, 2));
        write_file(&dir, "test.csv", numbered_rows(4, 2));

        let message = load_splits(dir.path(), &no_class_count(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!(
                "{} is too small to split: it has 4 data rows",
                train_path.display()
            )),
            "{message}"
        );
    }
}
