//! The JSON Schema of the results, derived from the `Summary` types: the committed
//! `schema/results.schema.json` is exactly `results_schema_text()`, and a test keeps it so.
//!
//! The types carry everything (`JsonSchema` derives, doc comments as descriptions, constraints as
//! `#[schemars(...)]`); this module only picks the dialect (draft-07, what the results look like
//! when written, so `null` fields are required) and applies three rules to every subschema: no
//! fields beyond the declared ones (`additionalProperties: false`); descriptions as one line per
//! paragraph (doc comments wrap at 100 columns; a schema reader should not see those breaks); and
//! no Rust number formats (`uint64`, `double`, ...), which are not JSON Schema formats and which
//! strict validators (ajv) refuse; the ranges they imply are stated with `minimum` instead.

use schemars::generate::SchemaSettings;
use schemars::transform::{transform_subschemas, Transform};
use schemars::Schema;
use serde_json::Value;

use crate::metrics::summary::Summary;

/// Where the schema says it lives.
const SCHEMA_ID: &str = "https://load-tester.invalid/schema/results.schema.json";

/// The results schema, as a JSON value.
pub fn results_schema() -> Value {
    let mut schema = SchemaSettings::draft07()
        .for_serialize()
        .with_transform(Tidy)
        .into_generator()
        .into_root_schema_for::<Summary>();
    if let Some(root) = schema.as_object_mut() {
        root.insert("$id".into(), SCHEMA_ID.into());
    }
    schema.to_value()
}

/// The results schema as committed: pretty JSON with a final newline.
pub fn results_schema_text() -> String {
    // A `Value` always serializes; the fallback only keeps this free of `unwrap`.
    let mut text = serde_json::to_string_pretty(&results_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Number formats schemars writes that JSON Schema does not define.
const RUST_NUMBER_FORMATS: [&str; 14] = [
    "int", "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32",
    "uint64", "uint128", "float", "double",
];

/// Closes every object, joins wrapped description lines, drops Rust number formats.
#[derive(Clone)]
struct Tidy;

impl Transform for Tidy {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(obj) = schema.as_object_mut() {
            if obj.contains_key("properties") {
                obj.entry("additionalProperties").or_insert(false.into());
            }
            if let Some(Value::String(d)) = obj.get_mut("description") {
                *d = join_wrapped(d);
            }
            if obj
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| RUST_NUMBER_FORMATS.contains(&f))
            {
                obj.remove("format");
            }
        }
        transform_subschemas(self, schema);
    }
}

/// Single line breaks become spaces; paragraph breaks (a blank line) stay.
fn join_wrapped(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_join_and_paragraphs_stay() {
        assert_eq!(join_wrapped("a\nb c\n\nd\ne"), "a b c\n\nd e");
    }

    #[test]
    fn every_object_is_closed_and_optional_fields_are_required() {
        let s = results_schema();
        assert_eq!(s["additionalProperties"], false);
        let required: Vec<&str> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        // Written as `null` when absent, so present in every result.
        assert!(required.contains(&"iteration_corrected"));
        assert!(required.contains(&"shard"));
        assert_eq!(s["definitions"]["Latency"]["additionalProperties"], false);
        let count = &s["definitions"]["Latency"]["properties"]["count"];
        assert_eq!(count, &serde_json::json!({"type": "integer", "minimum": 0}));
    }
}
