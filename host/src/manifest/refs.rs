//! `${{ ... }}` expressions in `with` values: the only interpolation a manifest has.
//!
//! Accepted forms: `steps.<id>.outputs.<name>`, `pipeline.name` and `run.id`. Secrets can
//! never be referenced: steps read them through the host so they never enter config.

use std::ops::Range;

/// What an expression refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// An output of another step.
    StepOutput {
        /// The step id.
        step: String,
        /// The output name.
        output: String,
    },
    /// `pipeline.name`.
    PipelineName,
    /// `run.id`.
    RunId,
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expr::StepOutput { step, output } => write!(f, "steps.{step}.outputs.{output}"),
            Expr::PipelineName => f.write_str("pipeline.name"),
            Expr::RunId => f.write_str("run.id"),
        }
    }
}

/// One `${{ ... }}` in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// What it refers to.
    pub expr: Expr,
    /// Byte range of `${{ ... }}` within the string.
    pub range: Range<usize>,
}

/// Finds every `${{ ... }}` in `s`. `$${{` is a literal `${{`.
pub fn find(s: &str) -> Result<Vec<Reference>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find("${{") {
        let start = from + i;
        if start > 0 && s.as_bytes()[start - 1] == b'$' {
            from = start + 3;
            continue;
        }
        let Some(len) = s[start + 3..].find("}}") else {
            return Err(format!("unclosed `${{{{` in {s:?}: close it with `}}}}`"));
        };
        let end = start + 3 + len + 2;
        let inner = s[start + 3..end - 2].trim();
        out.push(Reference {
            expr: parse_expr(inner)?,
            range: start..end,
        });
        from = end;
    }
    Ok(out)
}

fn parse_expr(inner: &str) -> Result<Expr, String> {
    let parts: Vec<&str> = inner.split('.').collect();
    match parts.as_slice() {
        ["steps", step, "outputs", output] if !step.is_empty() && !output.is_empty() => {
            Ok(Expr::StepOutput {
                step: step.to_string(),
                output: output.to_string(),
            })
        }
        ["pipeline", "name"] => Ok(Expr::PipelineName),
        ["run", "id"] => Ok(Expr::RunId),
        ["secrets", ..] | ["env", ..] => Err(format!(
            "`${{{{ {inner} }}}}`: secrets and host environment variables cannot be interpolated; grant the secret with `allow.secrets` and read it in the step"
        )),
        _ => Err(format!(
            "unknown expression `${{{{ {inner} }}}}`: expected `steps.<id>.outputs.<name>`, `pipeline.name` or `run.id`"
        )),
    }
}

/// Whether the whole string is exactly one reference (its value then keeps its kind).
pub fn whole(s: &str, refs: &[Reference]) -> bool {
    refs.len() == 1 && refs[0].range == (0..s.len())
}

/// Replaces every reference with `value(expr)`; `$${{` becomes `${{`.
pub fn interpolate(s: &str, refs: &[Reference], mut value: impl FnMut(&Expr) -> String) -> String {
    let mut out = String::new();
    let mut last = 0;
    for r in refs {
        out.push_str(&s[last..r.range.start]);
        out.push_str(&value(&r.expr));
        last = r.range.end;
    }
    out.push_str(&s[last..]);
    out.replace("$${{", "${{")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_interpolates() {
        let s = "v${{ steps.ver.outputs.version }}-${{run.id}} $${{ literal }}";
        let refs = find(s).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(
            refs[0].expr,
            Expr::StepOutput {
                step: "ver".into(),
                output: "version".into()
            }
        );
        assert_eq!(refs[1].expr, Expr::RunId);
        assert!(!whole(s, &refs));
        let out = interpolate(s, &refs, |e| match e {
            Expr::RunId => "r1".into(),
            _ => "1.2".into(),
        });
        assert_eq!(out, "v1.2-r1 ${{ literal }}");
        let w = "${{ steps.a.outputs.b }}";
        assert!(whole(w, &find(w).unwrap()));
    }

    #[test]
    fn rejects_unknown_and_secret_expressions() {
        assert!(
            find("${{ steps.a }}")
                .unwrap_err()
                .contains("unknown expression")
        );
        assert!(
            find("${{ secrets.TOKEN }}")
                .unwrap_err()
                .contains("cannot be interpolated")
        );
        assert!(
            find("${{ steps.a.outputs.b")
                .unwrap_err()
                .contains("unclosed")
        );
    }
}
