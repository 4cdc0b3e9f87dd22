//! `[data]`: reads the credential file once and declares its columns as variables.
//!
//! Problems in the scenario's `[data]` table are placed in the scenario; problems in the file
//! (a row with the wrong number of fields, a line that is not a JSON object, a column whose name
//! collides with a variable) are placed at their line of the data file. No message quotes a value.

use std::path::Path;
use std::sync::Arc;

use super::diag::{Diags, Loc};
use super::header::Top;
use super::templates::{is_identifier, BUILTINS};
use super::Vars;
use crate::plan::feeder::{Feeder, Mode};
use crate::plan::{LoadProfile, Place, VarDecl, VarId};
use crate::scenario::data::{self, Format};
use crate::scenario::read;
use crate::scenario::source::FieldPath;

/// Reads `[data]` (if any), its file, and declares one variable per column. The flag is true
/// when the file could not be read, so its columns are not known.
pub(super) fn feeder(
    d: &mut Diags,
    root: &Loc,
    top: &Top,
    scenario: &Path,
    load: &LoadProfile,
    vars: &mut Vars,
) -> (Option<Arc<Feeder>>, bool) {
    let Some(src) = top.data.as_ref() else {
        return (None, false);
    };
    match read(d, root, src, top, scenario, load, vars) {
        Read::Feeder(f) => (Some(f), false),
        Read::Failed => (None, false),
        Read::Unread => (None, true),
    }
}

/// What became of the data file.
enum Read {
    Feeder(Arc<Feeder>),
    /// Errors reported; the columns are declared.
    Failed,
    /// Errors reported; the columns are not known.
    Unread,
}

fn read(
    d: &mut Diags,
    root: &Loc,
    src: &crate::scenario::model::Data,
    top: &Top,
    scenario: &Path,
    load: &LoadProfile,
    vars: &mut Vars,
) -> Read {
    let p = FieldPath::of(&["data"]);
    let Some(name) = &src.file else {
        d.field(
            root,
            &p,
            "data.file is required, e.g. file = \"users.csv\" (relative to the scenario file)",
        );
        return Read::Unread;
    };
    let path = scenario
        .parent()
        .map_or_else(|| Path::new(name).to_path_buf(), |dir| dir.join(name));
    let format = match src.format.as_deref() {
        Some("csv") => Some(Format::Csv),
        Some("jsonl") => Some(Format::Jsonl),
        Some(other) => {
            let msg = format!("data.format must be \"csv\" or \"jsonl\" (got \"{other}\")");
            d.field(root, &p.key("format"), msg);
            None
        }
        None => {
            let f = Format::of_path(&path);
            if f.is_none() {
                let msg = format!(
                    "cannot tell the format of {name} from its name: name it .csv or .jsonl, or \
                     set data.format = \"csv\" or \"jsonl\""
                );
                d.field(root, &p.key("file"), msg);
            }
            f
        }
    };
    let mode = mode(d, root, &p, top);
    let bytes = match read::regular_file(&path, data::MAX_DATA_BYTES, "data file", "e.g. users.csv")
    {
        Ok(b) => b,
        Err(e) => {
            d.field(root, &p.key("file"), format!("{}: {e}", path.display()));
            return Read::Unread;
        }
    };
    let (Some(format), Some(mode)) = (format, mode) else {
        return Read::Unread;
    };
    let at = |line: usize| Place {
        file: path.clone(),
        line,
        col: 1,
    };
    let table = match data::parse(&bytes, format) {
        Ok(t) => t,
        Err(errors) => {
            for e in errors {
                if e.line == 0 {
                    // The file as a whole: placed at the scenario line that names it.
                    d.field(root, &p.key("file"), format!("{name}: {}", e.message));
                } else {
                    d.in_other_file(at(e.line), "data.file", e.message);
                }
            }
            declare(vars, &data::columns_of(&bytes, format), &[]);
            return Read::Failed;
        }
    };
    // The table holds the cells: the file's bytes are not kept beside it.
    drop(bytes);
    let header_line = match format {
        Format::Csv => 1,
        Format::Jsonl => table.lines[0],
    };
    let before = d.len();
    let mut seen: Vec<&str> = Vec::new();
    for (i, column) in table.columns.iter().enumerate() {
        let problem = if column.is_empty() {
            Some(format!("column {} has no name", i + 1))
        } else if !is_identifier(column) {
            Some(format!(
                "column `{column}` cannot be a variable name: use letters, digits and `_`, \
                 starting with a letter or `_`"
            ))
        } else if BUILTINS.contains(&column.as_str()) {
            Some(format!(
                "column `{column}` is a built-in name ({{{{{column}}}}}); rename the column"
            ))
        } else if seen.contains(&column.as_str()) {
            Some(format!("column `{column}` appears twice"))
        } else if vars.ids.contains_key(column) {
            Some(format!(
                "column `{column}` collides with the scenario's variable `{column}` (from [vars], \
                 http.extract, ws.capture, a ws.respond capture or jwt.into): rename one of them"
            ))
        } else {
            None
        };
        if let Some(msg) = problem {
            d.in_other_file(at(header_line), "data.file", msg);
        }
        seen.push(column);
    }
    let secret: Vec<&str> = src.secret.iter().flatten().map(String::as_str).collect();
    for (i, s) in secret.iter().enumerate() {
        if !table.columns.iter().any(|c| c == s) {
            let msg = format!(
                "`{s}` is not a column of {name} (its columns: {})",
                table.columns.join(", ")
            );
            d.field(root, &p.key("secret").index(i), msg);
        }
    }
    if mode == Mode::Unique && load.users as usize > table.rows() {
        let msg = format!(
            "mode = \"unique\" needs a row per user: {} users but {name} has {} rows; add rows, \
             run fewer users, or use mode = \"sequential\" (rows are reused)",
            load.users,
            table.rows()
        );
        d.field(root, &p.key("mode"), msg);
    }
    if vars.decls.len() + table.columns.len() > usize::from(VarId::MAX) {
        d.field(root, &p.key("file"), "too many variables");
    }
    let ok = d.len() == before;
    let ids = declare(vars, &table.columns, &secret);
    if !ok {
        return Read::Failed;
    }
    Read::Feeder(Arc::new(Feeder {
        file: path,
        table,
        vars: ids,
        mode,
    }))
}

/// Declares each column that can be a new variable (the others were reported) and returns their
/// ids in column order.
fn declare(vars: &mut Vars, columns: &[String], secret: &[&str]) -> Vec<VarId> {
    let mut ids = Vec::with_capacity(columns.len());
    for column in columns {
        let fits = is_identifier(column)
            && !BUILTINS.contains(&column.as_str())
            && vars.decls.len() < usize::from(VarId::MAX);
        if !fits || vars.ids.contains_key(column) {
            continue;
        }
        let id = vars.decls.len() as VarId;
        vars.ids.insert(column.clone(), id);
        vars.decls.push(VarDecl {
            name: column.clone(),
            default: None,
            secret: secret.contains(&column.as_str()),
        });
        ids.push(id);
    }
    ids
}

/// `data.mode` (default `sequential`) and, for `random`, its seed: `data.seed`, else
/// `load.seed`, else 1.
fn mode(d: &mut Diags, root: &Loc, p: &FieldPath, top: &Top) -> Option<Mode> {
    let src = top.data.as_ref()?;
    let seed = match src.seed {
        Some(s) if s < 0 => {
            let msg = format!("data.seed must be 0 or more (got {s})");
            d.field(root, &p.key("seed"), msg);
            return None;
        }
        Some(s) => Some(s as u64),
        None => None,
    };
    let mode = match src.mode.as_deref() {
        None | Some("sequential") => Mode::Sequential,
        Some("unique") => Mode::Unique,
        Some("random") => Mode::Random {
            seed: seed
                .or_else(|| top.load.seed.and_then(|s| u64::try_from(s).ok()))
                .unwrap_or(1),
        },
        Some(other) => {
            let msg = format!(
                "data.mode must be \"sequential\", \"unique\" or \"random\" (got \"{other}\")"
            );
            d.field(root, &p.key("mode"), msg);
            return None;
        }
    };
    if seed.is_some() && !matches!(mode, Mode::Random { .. }) {
        let msg = "data.seed only chooses rows with mode = \"random\": remove it, or set the mode";
        d.field(root, &p.key("seed"), msg);
        return None;
    }
    Some(mode)
}
