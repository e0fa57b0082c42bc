use std::fmt;

/// One bad field of a request: its path (`location.point.latitude`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Every bad field of one request, collected so the caller can fix them all in one go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut violations = Self::new();
        violations.add(field, description);
        violations
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Runs a validation and keeps its violations, returning the value when it was valid.
    pub fn collect<T>(&mut self, result: Result<T, Violations>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violations) => {
                self.0.extend(violations.0);
                None
            }
        }
    }

    /// Prefixes every field path, for a value validated as part of a larger message.
    pub fn within(mut self, parent: &str) -> Self {
        for violation in &mut self.0 {
            violation.field = if violation.field.is_empty() {
                parent.to_owned()
            } else {
                format!("{parent}.{}", violation.field)
            };
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was wrong.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Violations> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, violation) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", violation.field, violation.description)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// Why a domain operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Invalid(#[from] Violations),
    /// A valid request in the wrong state, e.g. a location update for a disposed call.
    /// Several resources in the wrong state at once (units already committed elsewhere).
    #[error("{action}: {}", .conflicts.iter().map(|(subject, current)| format!("{subject} is {current}")).collect::<Vec<_>>().join("; "))]
    Conflicts {
        /// Each resource's name and its current state.
        conflicts: Vec<(String, String)>,
        action: String,
    },
    #[error("{subject} is {current}: cannot {action}")]
    WrongState {
        /// The resource's name, e.g. `calls/{uuid}`.
        subject: String,
        current: String,
        action: String,
    },
}

/// A text field's length limit, and no NUL: PostgreSQL text cannot hold one, so a gateway
/// relaying one is told which field.
pub fn check_length(violations: &mut Violations, field: &str, text: &str, max_chars: usize) {
    if text.chars().count() > max_chars {
        violations.add(field, format!("at most {max_chars} characters"));
    }
    if text.contains('\0') {
        violations.add(field, "must not contain NUL characters");
    }
}
