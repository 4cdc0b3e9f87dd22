//! Lowering an HTTP step's response limits (`http.max_body`, `http.max_header_size`,
//! `http.max_headers`): sizes as written, each within its range, defaults where absent.

use super::diag::Loc;
use super::steps::Lower;
use crate::scenario::model::{self, SizeSrc};
use crate::scenario::source::FieldPath;
use crate::size::{human_size, parse_size};
use crate::transport::h1::limits::{self as lim, Limits};

impl Lower<'_> {
    /// The step's limits; a bad value is reported and its default kept (the plan is dropped on
    /// any error anyway).
    pub(super) fn limits(&mut self, loc: &Loc, p: &FieldPath, h: &model::Http) -> Limits {
        let d = Limits::default();
        Limits {
            body: self.size(
                loc,
                &p.key("max_body"),
                h.max_body.as_ref(),
                0,
                lim::MAX_BODY,
                d.body,
            ),
            head: self.size(
                loc,
                &p.key("max_header_size"),
                h.max_header_size.as_ref(),
                1 << 10,
                lim::MAX_HEAD,
                d.head,
            ),
            headers: self.count(loc, &p.key("max_headers"), h.max_headers, d.headers),
        }
    }

    fn size(
        &mut self,
        loc: &Loc,
        path: &FieldPath,
        src: Option<&SizeSrc>,
        min: usize,
        max: usize,
        default: usize,
    ) -> usize {
        let parsed = match src {
            None => return default,
            Some(SizeSrc::Bytes(n)) => {
                usize::try_from(*n).map_err(|_| format!("a size cannot be negative (got {n})"))
            }
            Some(SizeSrc::Text(t)) => parse_size(t),
        };
        let range = || {
            format!(
                "{path} must be from {} to {}",
                human_size(min),
                human_size(max)
            )
        };
        match parsed {
            Ok(n) if (min..=max).contains(&n) => n,
            Ok(_) => {
                self.d.field(loc, path, range());
                default
            }
            Err(msg) => {
                self.d.field(loc, path, msg);
                default
            }
        }
    }

    fn count(&mut self, loc: &Loc, path: &FieldPath, src: Option<i64>, default: usize) -> usize {
        let Some(n) = src else { return default };
        match usize::try_from(n) {
            Ok(n) if (1..=lim::MAX_HEADERS).contains(&n) => n,
            _ => {
                let msg = format!("{path} must be from 1 to {}", lim::MAX_HEADERS);
                self.d.field(loc, path, msg);
                default
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::plan::{Plan, StepKind};
    use crate::scenario::compile::compile;
    use crate::scenario::{Diagnostic, Overrides};
    use crate::transport::h1::Limits;

    fn compile_step(keys: &str) -> Result<Plan, Vec<Diagnostic>> {
        let text = format!(
            "name = \"m\"\n[[steps]]\nname = \"h\"\nhttp.url = \"{{{{base_url}}}}/h\"\n{keys}"
        );
        compile(
            &text,
            Path::new("inline.toml"),
            &Overrides::default(),
            &|_| None,
        )
    }

    fn limits(keys: &str) -> Limits {
        let plan = compile_step(keys).unwrap();
        let StepKind::Http(h) = &plan.steps[0].kind else {
            panic!()
        };
        h.limits
    }

    #[test]
    fn limits_default_and_are_set_per_step() {
        assert_eq!(limits(""), Limits::default());
        assert_eq!(
            limits(
                "http.max_body = \"8MiB\"\nhttp.max_header_size = 2048\nhttp.max_headers = 500\n"
            ),
            Limits {
                body: 8 << 20,
                head: 2048,
                headers: 500
            }
        );
    }

    #[test]
    fn bad_limits_are_reported_with_their_field() {
        let errors = |keys: &str| -> Vec<(Option<String>, String)> {
            compile_step(keys)
                .unwrap_err()
                .into_iter()
                .map(|d| (d.field, d.message))
                .collect()
        };
        assert_eq!(
            errors("http.max_body = \"8 parsecs\"\n"),
            [(
                Some("http.max_body".into()),
                "bad size \"8 parsecs\": use a whole number with a unit (B, KiB, MiB, GiB, kB, MB, GB), e.g. \"4MiB\", or a number of bytes".into()
            )]
        );
        assert_eq!(
            errors("http.max_header_size = 10\nhttp.max_headers = 0\nhttp.max_body = -1\n"),
            [
                (
                    Some("http.max_header_size".into()),
                    "http.max_header_size must be from 1 KiB to 16 MiB".into()
                ),
                (
                    Some("http.max_headers".into()),
                    "http.max_headers must be from 1 to 100000".into()
                ),
                (
                    Some("http.max_body".into()),
                    "a size cannot be negative (got -1)".into()
                ),
            ]
        );
    }
}
