//! Reading a `[data]` file: CSV (with a header row) or JSON Lines (one object per line) into the
//! plan's shared `Table`, every problem with its line.
//!
//! Design choice: no message quotes a value (cells may be passwords): the csv crate's and
//! serde_json's own messages quote the input, so each error is put in our words.

use std::path::Path;

use crate::plan::feeder::Table;

/// The largest data file read: 256 MiB (a million credentials take a few tens of MiB).
pub const MAX_DATA_BYTES: u64 = 256 << 20;

/// How the data file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line; its keys are the columns.
    Jsonl,
}

impl Format {
    /// The format named by a file's extension: `.csv`, `.jsonl` or `.ndjson`.
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// A problem in a data file, at a line (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// 1-based; 0 for the file as a whole (empty, no rows).
    pub line: usize,
    /// What is wrong, never quoting a value.
    pub message: String,
}

impl DataError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        DataError {
            line,
            message: message.into(),
        }
    }
}

/// The most problems listed for one data file (a file of the wrong shape would list every line).
const MAX_ERRORS: usize = 20;

/// Parses `bytes` as `format`. Every problem is listed (up to `MAX_ERRORS`), each with its line;
/// values are never quoted in a message (they may be secrets).
pub fn parse(bytes: &[u8], format: Format) -> Result<Table, Vec<DataError>> {
    let table = match format {
        Format::Csv => parse_csv(bytes),
        Format::Jsonl => parse_jsonl(bytes),
    }?;
    if table.columns.is_empty() {
        return Err(vec![DataError::at(
            0,
            "the file is empty: it needs a header row (CSV) or JSON objects, one per line",
        )]);
    }
    if table.rows() == 0 {
        let what = match format {
            Format::Csv => "the file has a header but no rows",
            Format::Jsonl => "the file has no rows",
        };
        return Err(vec![DataError::at(0, what)]);
    }
    Ok(table)
}

/// The column names of a file that did not parse, as far as they can be read (the CSV header,
/// or the keys of the first JSON object), so that a bad row does not also make every use of a
/// column an "unknown variable".
pub fn columns_of(bytes: &[u8], format: Format) -> Vec<String> {
    match format {
        Format::Csv => csv::ReaderBuilder::new()
            .from_reader(bytes)
            .headers()
            .map(|h| h.iter().map(|c| c.trim().to_owned()).collect())
            .unwrap_or_default(),
        Format::Jsonl => bytes
            .split(|b| *b == b'\n')
            .find_map(|line| match serde_json::from_slice(line) {
                Ok(serde_json::Value::Object(o)) => Some(o.keys().cloned().collect()),
                _ => None,
            })
            .unwrap_or_default(),
    }
}

fn parse_csv(bytes: &[u8]) -> Result<Table, Vec<DataError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let mut errors = Vec::new();
    let columns: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_owned()).collect(),
        Err(e) => return Err(vec![csv_error(&e, 1)]),
    };
    if columns.iter().all(String::is_empty) {
        return Ok(Table::new(Vec::new()));
    }
    let mut table = Table::new(columns);
    let mut record = csv::StringRecord::new();
    // The csv crate's own line numbers skip blank lines: count line breaks before each record's
    // byte offset instead.
    let mut lines = LineCounter::new(bytes);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
                record.iter().for_each(|c| table.push_cell(c));
                table.end_row(line);
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                errors.push(csv_error(&e, line));
                if errors.len() >= MAX_ERRORS
                    || !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. })
                {
                    break;
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

/// Line numbers of increasing byte offsets, counted once through the text.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte `at` (offsets must not go backwards).
    fn line_at(&mut self, at: u64) -> usize {
        let mut at = (at as usize).min(self.bytes.len());
        // A record's offset is where the blank lines before it start.
        while matches!(self.bytes.get(at), Some(b'\n' | b'\r')) {
            at += 1;
        }
        if at > self.offset {
            self.line += self.bytes[self.offset..at]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.offset = at;
        }
        self.line
    }
}

/// A CSV error in our words: the csv crate's messages quote the record, which may hold secrets.
fn csv_error(e: &csv::Error, line: usize) -> DataError {
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "this row has {len} fields, the header has {expected_len}: every row needs one \
             field per column (quote a value that holds a comma)"
        ),
        csv::ErrorKind::Utf8 { .. } => "the row is not UTF-8 text: save the file as UTF-8".into(),
        csv::ErrorKind::Io(err) => format!("cannot read the file: {err}"),
        _ => "the row is not valid CSV".into(),
    };
    DataError::at(line, message)
}

fn parse_jsonl(bytes: &[u8]) -> Result<Table, Vec<DataError>> {
    let mut columns: Vec<String> = Vec::new();
    // The columns are known from the first object on; the table takes them at the end.
    let mut table = Table::new(Vec::new());
    let mut errors = Vec::new();
    let mut first: Option<usize> = None;
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let line = i + 1;
        let raw = raw.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let object = match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(o)) => o,
            Ok(other) => {
                let what = json_kind(&other);
                errors.push(DataError::at(
                    line,
                    format!("the line is {what}, not a JSON object: write one object per line, e.g. {{\"email\": \"a@example.test\"}}"),
                ));
                continue;
            }
            Err(e) => {
                errors.push(DataError::at(
                    line,
                    format!(
                        "the line is not JSON ({}): write one object per line",
                        e.classify_words()
                    ),
                ));
                continue;
            }
        };
        match first {
            None => {
                first = Some(line);
                columns = object.keys().cloned().collect();
            }
            Some(first_line) => {
                let missing: Vec<&str> = columns
                    .iter()
                    .filter(|c| !object.contains_key(*c))
                    .map(String::as_str)
                    .collect();
                let extra: Vec<&str> = object
                    .keys()
                    .filter(|k| !columns.contains(k))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() || !extra.is_empty() {
                    let mut msg = String::from("the keys differ from line ");
                    msg.push_str(&first_line.to_string());
                    if !missing.is_empty() {
                        msg.push_str(&format!("; missing: {}", missing.join(", ")));
                    }
                    if !extra.is_empty() {
                        msg.push_str(&format!("; not on line {first_line}: {}", extra.join(", ")));
                    }
                    msg.push_str(": every line needs the same keys");
                    errors.push(DataError::at(line, msg));
                    continue;
                }
            }
        }
        let mut bad = false;
        let row_start = table.cell_count();
        for column in &columns {
            match &object[column] {
                serde_json::Value::String(s) => table.push_cell(s),
                v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                    table.push_cell(&v.to_string())
                }
                other => {
                    errors.push(DataError::at(
                        line,
                        format!(
                            "`{column}` is {}: values must be strings, numbers or booleans",
                            json_kind(other)
                        ),
                    ));
                    bad = true;
                    break;
                }
            }
        }
        if bad {
            table.truncate_cells(row_start);
        } else {
            table.end_row(line);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    table.columns = columns;
    Ok(table)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde_json's error category in words, without its text (which may quote the line).
trait ClassifyWords {
    fn classify_words(&self) -> &'static str;
}

impl ClassifyWords for serde_json::Error {
    fn classify_words(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Syntax => "a syntax error",
            serde_json::error::Category::Eof => "it ends too early",
            serde_json::error::Category::Data | serde_json::error::Category::Io => "bad data",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_with_quotes_bom_and_lines() {
        let text = "\u{feff}email,password\na@x.test,pw1\n\"b,c@x.test\",\"p\"\"w\"\n\nd@x.test,\n";
        let t = parse(text.as_bytes(), Format::Csv).unwrap();
        assert_eq!(t.columns, ["email", "password"]);
        assert_eq!(t.rows(), 3);
        assert_eq!(t.lines, [2, 3, 5]);
        let row = |r| t.row(r).collect::<Vec<_>>();
        assert_eq!(row(0), ["a@x.test", "pw1"]);
        assert_eq!(row(1), ["b,c@x.test", "p\"w"]);
        assert_eq!(row(2), ["d@x.test", ""]);
        assert!(!format!("{t:?}").contains("pw1"), "Debug hides cells");
    }

    #[test]
    fn csv_errors_name_lines_and_never_values() {
        let text = "email,password\na@x.test,pw1\nb@x.test\nc@x.test,pw3,extra-secret\n";
        let e = parse(text.as_bytes(), Format::Csv).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].line, 3);
        assert!(e[0]
            .message
            .starts_with("this row has 1 fields, the header has 2"));
        assert_eq!(e[1].line, 4);
        assert!(!e[1].message.contains("extra-secret"));
        let e = parse(b"", Format::Csv).unwrap_err();
        assert_eq!(
            (e[0].line, e[0].message.starts_with("the file is empty")),
            (0, true)
        );
        let e = parse(b"email\n", Format::Csv).unwrap_err();
        assert_eq!(e[0].message, "the file has a header but no rows");
    }

    #[test]
    fn jsonl_rows_and_errors() {
        let text = "{\"email\":\"a@x.test\",\"n\":7,\"admin\":true}\n\n{\"n\":8,\"email\":\"b\",\"admin\":false}\n";
        let t = parse(text.as_bytes(), Format::Jsonl).unwrap();
        assert_eq!(t.columns, ["admin", "email", "n"], "sorted by name");
        assert_eq!(t.lines, [1, 3]);
        assert_eq!(t.row(0).collect::<Vec<_>>(), ["true", "a@x.test", "7"]);
        assert_eq!(t.row(1).collect::<Vec<_>>(), ["false", "b", "8"]);
        let bad =
            "{\"email\":\"a\"}\n[1]\n{\"email\":null}\n{\"mail\":\"s3cr3t\"}\nnot json s3cr3t\n";
        let e = parse(bad.as_bytes(), Format::Jsonl).unwrap_err();
        let lines: Vec<usize> = e.iter().map(|x| x.line).collect();
        assert_eq!(lines, [2, 3, 4, 5], "{e:?}");
        assert!(e[0]
            .message
            .starts_with("the line is an array, not a JSON object"));
        assert!(e[1].message.starts_with("`email` is null"));
        assert!(e[2].message.contains("missing: email; not on line 1: mail"));
        assert!(e.iter().all(|x| !x.message.contains("s3cr3t")));
        let e = parse(b"\n\n", Format::Jsonl).unwrap_err();
        assert!(e[0].message.starts_with("the file is empty"));
    }
}
