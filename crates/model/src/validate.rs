//! Validation that names the field at fault, e.g. `lines[2].quantity: must be positive`.

use std::fmt;

/// One problem with one field.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationError {
    /// Path to the field, e.g. `shipping_address.country` or `lines[0].sku`.
    pub field: String,
    pub problem: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// All problems found in one record (never empty).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    pub fn first(&self) -> &ValidationError {
        // Constructed only through `Validator::finish` with at least one error.
        &self.0[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &ValidationError> {
        self.0.iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Types that can check their own invariants.
pub trait Validate {
    /// Adds every problem found to `v`, with field paths relative to `v`'s current prefix.
    fn validate_into(&self, v: &mut Validator);

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::default();
        self.validate_into(&mut v);
        v.finish()
    }
}

/// Collects problems while walking a record; keeps track of the path.
#[derive(Debug, Default)]
pub struct Validator {
    path: Vec<String>,
    errors: Vec<ValidationError>,
}

impl Validator {
    fn field_path(&self, field: &str) -> String {
        let mut path = String::new();
        for segment in self.path.iter().map(String::as_str).chain(Some(field)) {
            if segment.is_empty() {
                continue;
            }
            if !path.is_empty() && !segment.starts_with('[') {
                path.push('.');
            }
            path.push_str(segment);
        }
        path
    }

    /// Records a problem with `field` (relative to the current path).
    pub fn error(&mut self, field: &str, problem: impl Into<String>) {
        let field = self.field_path(field);
        self.errors.push(ValidationError {
            field,
            problem: problem.into(),
        });
    }

    /// Records a problem unless `ok` holds.
    pub fn check(&mut self, ok: bool, field: &str, problem: impl Into<String>) {
        if !ok {
            self.error(field, problem);
        }
    }

    /// Records a problem if the string is empty or only whitespace.
    pub fn required(&mut self, value: &str, field: &str) {
        self.check(!value.trim().is_empty(), field, "is required");
    }

    /// Validates a nested record under `field`.
    pub fn nested<T: Validate + ?Sized>(&mut self, field: &str, value: &T) {
        self.path.push(field.to_owned());
        value.validate_into(self);
        self.path.pop();
    }

    /// Validates every element of a list as `field[i]`.
    pub fn each<T: Validate>(&mut self, field: &str, values: &[T]) {
        for (i, value) in values.iter().enumerate() {
            self.path.push(format!("{field}[{i}]"));
            value.validate_into(self);
            self.path.pop();
        }
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Line {
        qty: i32,
    }
    impl Validate for Line {
        fn validate_into(&self, v: &mut Validator) {
            v.check(self.qty > 0, "quantity", "must be positive");
        }
    }
    struct Doc {
        lines: Vec<Line>,
    }
    impl Validate for Doc {
        fn validate_into(&self, v: &mut Validator) {
            v.each("lines", &self.lines);
        }
    }

    #[test]
    fn paths_name_the_field_inside_lists() {
        let doc = Doc {
            lines: vec![Line { qty: 1 }, Line { qty: -2 }],
        };
        let err = doc.validate().unwrap_err();
        assert_eq!(err.first().field, "lines[1].quantity");
        assert_eq!(err.to_string(), "lines[1].quantity: must be positive");
    }
}
