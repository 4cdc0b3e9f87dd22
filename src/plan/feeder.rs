//! The credential feeder's rows as the plan holds them (`[data]`): one table read once and shared
//! by every user, and which row each user takes.
//!
//! Design choice: the table lives in the `Plan` (an `Arc` shared by every worker, as k6's
//! `SharedArray`): no user copies the file, each user copies only its own row's cells into its
//! variables when it starts. The row depends on the user's global number alone (`sequential`:
//! `u mod n`, `unique`: `u`, `random`: a hash of the seed and `u`), so shards and `--processes`
//! children choose the same rows without talking to each other. Reading the file is
//! `scenario::data`'s job.

use std::fmt;

use super::VarId;

/// Which row a user takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// User `u` takes row `u mod n`: rows are reused when there are more users than rows.
    Sequential,
    /// User `u` takes row `u`; a run with more users than rows is refused.
    Unique,
    /// User `u` takes a row drawn from `seed` and `u` (the same one in every run with that seed).
    Random { seed: u64 },
}

/// The rows of a data file: `columns.len()` cells per row, row after row.
#[derive(Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names: the CSV header in file order, or the JSON objects' keys sorted by name.
    pub columns: Vec<String>,
    /// The file line each row starts on (1-based), for messages.
    pub lines: Vec<usize>,
    cells: Cells,
}

/// All cells' text in one string, with where each cell ends: two allocations for the whole file
/// (a million two-column rows take the file's size plus 16 MB of offsets), not one per cell.
#[derive(Clone, Default, PartialEq, Eq)]
struct Cells {
    text: String,
    ends: Vec<usize>,
}

impl Cells {
    fn push(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.ends.push(self.text.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Keeps the first `n` cells.
    fn truncate(&mut self, n: usize) {
        self.ends.truncate(n);
        self.text.truncate(self.ends.last().copied().unwrap_or(0));
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cells may be passwords: never printed.
        write!(
            f,
            "Table {{ columns: {:?}, rows: {} }}",
            self.columns,
            self.rows()
        )
    }
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: Vec<String>) -> Table {
        Table {
            columns,
            lines: Vec::new(),
            cells: Cells::default(),
        }
    }

    /// Appends a cell (rows are `columns.len()` cells, in column order).
    pub fn push_cell(&mut self, cell: &str) {
        self.cells.push(cell);
    }

    /// Ends the row of the last `columns.len()` cells, which starts on file line `line`.
    pub fn end_row(&mut self, line: usize) {
        self.lines.push(line);
    }

    /// Cells pushed so far.
    pub fn cell_count(&self) -> usize {
        self.cells.len()
    }

    /// Drops the cells pushed after the first `n` (a row found bad half-way).
    pub fn truncate_cells(&mut self, n: usize) {
        self.cells.truncate(n);
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The cells of row `r`, in column order.
    pub fn row(&self, r: usize) -> impl Iterator<Item = &str> + '_ {
        let n = self.columns.len();
        (r * n..(r + 1) * n).map(|i| self.cells.get(i))
    }
}

/// The compiled `[data]`: the shared table, which variable each column fills, and the mode.
#[derive(Debug)]
pub struct Feeder {
    /// Where the rows came from (for messages).
    pub file: std::path::PathBuf,
    /// The rows, read once.
    pub table: Table,
    /// The variable each column sets, in column order.
    pub vars: Vec<VarId>,
    /// Which row a user takes.
    pub mode: Mode,
}

impl Feeder {
    /// The row user `u` (its global number) takes. `unique` runs are refused when there are more
    /// users than rows; a user past the last row (none in a checked run) wraps as `sequential`.
    pub fn row_of(&self, user: u64) -> usize {
        let n = self.table.rows() as u64;
        let r = match self.mode {
            Mode::Sequential | Mode::Unique => user % n,
            Mode::Random { seed } => {
                splitmix64(seed ^ user.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % n
            }
        };
        r as usize
    }

    /// Why user `user` (the canary, numbered after the load's users) cannot run with `unique`
    /// rows: the file has no row of its own for it. `None` in the other modes, or when it has one.
    pub fn no_unique_row(&self, user: u64) -> Option<String> {
        let rows = self.table.rows() as u64;
        (self.mode == Mode::Unique && user >= rows).then(|| {
            format!(
                "the canary is user {user} and {} has {rows} rows: with [data] mode = \"unique\" \
                 every user needs a row of its own; add a row for the canary (one per generator), \
                 or use mode = \"sequential\"",
                self.file.display()
            )
        })
    }

    /// Sets user `u`'s variables to the cells of its row.
    pub fn fill(&self, user: u64, vars: &mut [Option<String>]) {
        let row = self.table.row(self.row_of(user));
        for (var, cell) in self.vars.iter().zip(row) {
            if let Some(slot) = vars.get_mut(*var as usize) {
                *slot = Some(cell.to_owned());
            }
        }
    }
}

/// SplitMix64's output function: a well-mixed, portable hash of `x` (the same on every machine,
/// unlike a `SmallRng`).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[&str]) -> Table {
        let mut t = Table::new(vec!["email".into()]);
        for (i, r) in rows.iter().enumerate() {
            t.push_cell(r);
            t.end_row(i + 2);
        }
        t
    }

    fn feeder(table: Table, mode: Mode) -> Feeder {
        let vars = (0..table.columns.len() as VarId).collect();
        Feeder {
            file: "users.csv".into(),
            table,
            vars,
            mode,
        }
    }

    #[test]
    fn cells_are_kept_by_row_and_never_shown() {
        let mut t = Table::new(vec!["email".into(), "password".into()]);
        for (cell, end) in [("a", None), ("pw-a", Some(2)), ("b", None), ("", Some(3))] {
            t.push_cell(cell);
            if let Some(line) = end {
                t.end_row(line);
            }
        }
        t.push_cell("half");
        t.truncate_cells(4);
        assert_eq!(t.rows(), 2);
        assert_eq!(t.row(0).collect::<Vec<_>>(), ["a", "pw-a"]);
        assert_eq!(t.row(1).collect::<Vec<_>>(), ["b", ""]);
        assert_eq!(
            format!("{t:?}"),
            "Table { columns: [\"email\", \"password\"], rows: 2 }"
        );
    }

    #[test]
    fn rows_by_mode() {
        let t = table(&["a", "b", "c"]);
        let seq = feeder(t.clone(), Mode::Sequential);
        let rows: Vec<usize> = (0..7).map(|u| seq.row_of(u)).collect();
        assert_eq!(rows, [0, 1, 2, 0, 1, 2, 0]);
        let unique = feeder(t.clone(), Mode::Unique);
        assert_eq!(
            (0..3).map(|u| unique.row_of(u)).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(unique.no_unique_row(2), None);
        assert!(unique.no_unique_row(3).unwrap().starts_with(
            "the canary is user 3 and users.csv has 3 rows: with [data] mode = \"unique\""
        ));
        assert_eq!(seq.no_unique_row(3), None, "sequential reuses rows");
        let mut vars = vec![None, Some("other".to_string())];
        unique.fill(1, &mut vars);
        assert_eq!(vars, [Some("b".to_string()), Some("other".to_string())]);

        let random = |seed| feeder(t.clone(), Mode::Random { seed });
        let a: Vec<usize> = (0..300).map(|u| random(7).row_of(u)).collect();
        let b: Vec<usize> = (0..300).map(|u| random(7).row_of(u)).collect();
        let c: Vec<usize> = (0..300).map(|u| random(8).row_of(u)).collect();
        assert_eq!(a, b, "same seed, same rows");
        assert_ne!(a, c, "another seed, other rows");
        for r in 0..3 {
            let n = a.iter().filter(|x| **x == r).count();
            assert!((70..=130).contains(&n), "row {r} taken {n} times of 300");
        }
    }
}
