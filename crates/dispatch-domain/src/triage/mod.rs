//! Triage: the incident type catalogue, its protocols, and mapping answers to a response.
//!
//! Incident types and their protocols are data authored by the centre (a TOML file, documented in
//! `docs/CATALOGUE.md`): each type asks ordered key questions (yes/no, choice, number), and its
//! determinants, tried top to bottom, turn the answers into a determinant (level and code), a
//! priority on EIDO's common 0–10 scale and a response plan (units by capability and count). The
//! first determinant whose conditions all hold wins; the last has no conditions, so every valid
//! set of answers maps to exactly one.
//!
//! The server reads the file; this module only parses and validates its text
//! (`Catalogue::from_toml`), reporting every problem with its path.

use std::collections::{BTreeMap, HashMap};

use crate::Violations;

mod load;

pub use load::{CatalogueError, Problem};
pub(crate) use load::{Fields, Problems, expected};

/// The highest priority on EIDO's common scale (0–10, 10 highest).
pub const MAX_PRIORITY: u8 = 10;
/// The most units of one capability a response plan may ask for.
pub const MAX_REQUIREMENT_COUNT: u32 = 20;

text_enum! {
    /// The broad kind of emergency an incident type belongs to.
    pub enum Category {
        Medical => "medical",
        Fire => "fire",
        Crime => "crime",
        PublicOrder => "public_order",
        Traffic => "traffic",
        GenderViolence => "gender_violence",
        MissingPerson => "missing_person",
        Hazmat => "hazmat",
        NaturalDisaster => "natural_disaster",
        Other => "other",
    }
}

text_enum! {
    /// The services an incident type involves.
    pub enum Discipline {
        Police => "police",
        Fire => "fire",
        Ems => "ems",
        CivilProtection => "civil_protection",
        Federal => "federal",
        VictimSupport => "victim_support",
    }
}

text_enum! {
    /// How urgent a determinant is, lowest first: `Level::Omega < Level::Echo`.
    pub enum Level {
        /// Lowest: may be referred elsewhere or handled without sending units at once.
        Omega => "omega",
        Alpha => "alpha",
        Bravo => "bravo",
        Charlie => "charlie",
        Delta => "delta",
        /// Highest: immediate threat to life.
        Echo => "echo",
    }
}

impl Level {
    /// The letter a determinant code carries for this level (`FIRE-STRUCTURE-E-1`).
    pub fn letter(self) -> char {
        match self {
            Self::Omega => 'O',
            Self::Alpha => 'A',
            Self::Bravo => 'B',
            Self::Charlie => 'C',
            Self::Delta => 'D',
            Self::Echo => 'E',
        }
    }

    pub fn from_letter(letter: char) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|level| level.letter() == letter)
    }
}

/// A kind of unit a response plan asks for (`als`, `engine`); units declare the capabilities
/// they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    pub code: String,
    pub description: String,
}

/// A validated catalogue of incident types.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    types: Vec<IncidentType>,
    by_code: BTreeMap<String, usize>,
    capabilities: Vec<Capability>,
}

impl Catalogue {
    /// Parses and validates a catalogue. The error lists every problem found, each with its path
    /// (`types[12] (FIRE-STRUCTURE).determinants[2].when[0].question`).
    pub fn from_toml(text: &str) -> Result<Self, CatalogueError> {
        let (types, capabilities) = load::parse(text)?;
        let by_code = types
            .iter()
            .enumerate()
            .map(|(i, incident_type)| (incident_type.code.clone(), i))
            .collect();
        Ok(Self {
            types,
            by_code,
            capabilities,
        })
    }

    /// Every incident type, in file order.
    pub fn types(&self) -> impl Iterator<Item = &IncidentType> {
        self.types.iter()
    }

    pub fn get(&self, code: &str) -> Option<&IncidentType> {
        self.by_code.get(code).map(|&i| &self.types[i])
    }

    /// The capability vocabulary, in file order.
    pub fn capabilities(&self) -> &[Capability] {
        &self.capabilities
    }

    pub fn has_capability(&self, code: &str) -> bool {
        self.capabilities.iter().any(|c| c.code == code)
    }

    /// Whether two type codes may describe the same emergency: the same code, or either type
    /// lists the other in its `compatible_types`.
    pub fn compatible(&self, a: &str, b: &str) -> bool {
        let lists = |from: &str, to: &str| {
            self.get(from)
                .is_some_and(|t| t.compatible_types.iter().any(|c| c == to))
        };
        a == b || lists(a, b) || lists(b, a)
    }

    /// The compatibility relation as pairs `[a, b]`, one per `compatible_types` entry: exactly
    /// `compatible` when used as `DuplicatePolicy::compatible_groups`.
    pub fn compatible_groups(&self) -> Vec<Vec<String>> {
        self.types
            .iter()
            .flat_map(|t| {
                t.compatible_types
                    .iter()
                    .map(|other| vec![t.code.clone(), other.clone()])
            })
            .collect()
    }
}

/// One kind of emergency and its protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentType {
    pub code: String,
    pub display_name: String,
    pub category: Category,
    pub disciplines: Vec<Discipline>,
    /// The priority used before the incident is triaged.
    pub default_priority: u8,
    /// Type codes that may describe the same emergency (duplicate detection).
    pub compatible_types: Vec<String>,
    pub description: String,
    /// The key questions, in the order they are asked.
    pub questions: Vec<Question>,
    /// Tried in order; the last one has no conditions.
    pub determinants: Vec<DeterminantRule>,
}

/// A key question of a protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub kind: QuestionKind,
    /// A triage without an answer to it is refused.
    pub required: bool,
    pub help: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QuestionKind {
    YesNo,
    /// One of these values.
    Choice(Vec<String>),
    /// A number, within the bounds when given (inclusive).
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
}

impl QuestionKind {
    /// The catalogue's spelling: `yes_no`, `choice`, `number`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::YesNo => "yes_no",
            Self::Choice(_) => "choice",
            Self::Number { .. } => "number",
        }
    }
}

/// A determinant of a protocol with the conditions that select it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeterminantRule {
    pub determinant: Determinant,
    pub priority: u8,
    /// All must hold; none means "always" (only the last rule of a type).
    pub conditions: Vec<Condition>,
    pub plan: Vec<Requirement>,
}

impl DeterminantRule {
    pub fn outcome(&self) -> Outcome {
        Outcome {
            determinant: self.determinant.clone(),
            priority: self.priority,
            plan: self.plan.clone(),
        }
    }

    fn matches(&self, answers: &HashMap<&str, &AnswerValue>) -> bool {
        self.conditions
            .iter()
            .all(|condition| condition.holds(answers.get(condition.question.as_str()).copied()))
    }
}

/// What triage decided: `FIRE-STRUCTURE-E-1`, Echo, "People trapped".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Determinant {
    pub code: String,
    pub level: Level,
    pub description: String,
}

/// A condition on one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub question: String,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// A yes/no answer equals this.
    Is(bool),
    /// A choice answer is one of these.
    AnyOf(Vec<String>),
    /// A number answer lies within the bounds given (inclusive).
    Range {
        at_least: Option<f64>,
        at_most: Option<f64>,
    },
}

impl Condition {
    /// An unanswered question makes every condition on it false.
    pub fn holds(&self, answer: Option<&AnswerValue>) -> bool {
        match (&self.test, answer) {
            (Test::Is(expected), Some(AnswerValue::YesNo(value))) => value == expected,
            (Test::AnyOf(choices), Some(AnswerValue::Choice(value))) => {
                choices.iter().any(|c| c == value)
            }
            (Test::Range { at_least, at_most }, Some(AnswerValue::Number(value))) => {
                at_least.is_none_or(|low| *value >= low)
                    && at_most.is_none_or(|high| *value <= high)
            }
            _ => false,
        }
    }
}

/// Units of one capability a response plan asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub capability: String,
    pub count: u32,
    pub description: String,
}

/// The answer a call taker recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerValue {
    YesNo(bool),
    Choice(String),
    Number(f64),
}

impl AnswerValue {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::YesNo(_) => "yes_no",
            Self::Choice(_) => "choice",
            Self::Number(_) => "number",
        }
    }
}

/// One answer of a triage request. `value` is `None` when the client sent no value, which is
/// refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub question_id: String,
    pub value: Option<AnswerValue>,
}

/// The result of triage: the determinant, its priority and the response plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub determinant: Determinant,
    pub priority: u8,
    pub plan: Vec<Requirement>,
}

impl IncidentType {
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// Validates the answers (field paths relative to the request: `answers[2].choice`) and
    /// returns the first determinant whose conditions all hold.
    pub fn triage(&self, answers: &[Answer]) -> Result<Outcome, Violations> {
        let answered = self.check_answers(answers)?;
        match self
            .determinants
            .iter()
            .find(|rule| rule.matches(&answered))
        {
            Some(rule) => Ok(rule.outcome()),
            // Unreachable for a type from a validated catalogue: its last rule is unconditional.
            None => Err(Violations::single(
                "answers",
                format!("no determinant of {} matches these answers", self.code),
            )),
        }
    }

    fn check_answers<'a>(
        &self,
        answers: &'a [Answer],
    ) -> Result<HashMap<&'a str, &'a AnswerValue>, Violations> {
        let mut violations = Violations::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut values = HashMap::new();
        for (i, answer) in answers.iter().enumerate() {
            let path = format!("answers[{i}]");
            let id = answer.question_id.as_str();
            let Some(question) = self.question(id) else {
                violations.add(
                    format!("{path}.question_id"),
                    format!("unknown question {id:?} for incident type {}", self.code),
                );
                continue;
            };
            if let Some(first) = seen.get(id) {
                violations.add(
                    format!("{path}.question_id"),
                    format!("question {id:?} is already answered by answers[{first}]"),
                );
                continue;
            }
            seen.insert(id, i);
            match check_answer(question, answer.value.as_ref()) {
                Ok(value) => {
                    values.insert(id, value);
                }
                Err((field, message)) => violations.add(format!("{path}{field}"), message),
            }
        }
        for question in &self.questions {
            if question.required && !seen.contains_key(question.id.as_str()) {
                violations.add(
                    "answers",
                    format!(
                        "required question {:?} of {} is not answered: {}",
                        question.id, self.code, question.text
                    ),
                );
            }
        }
        violations.into_result(|| values)
    }
}

/// The answer's value when it suits the question, else the field suffix and what is wrong.
fn check_answer<'a>(
    question: &Question,
    value: Option<&'a AnswerValue>,
) -> Result<&'a AnswerValue, (&'static str, String)> {
    let id = &question.id;
    let expects = question.kind.name();
    match (&question.kind, value) {
        (_, None) => Err(("", format!("no value: question {id:?} expects {expects}"))),
        (QuestionKind::YesNo, Some(value @ AnswerValue::YesNo(_))) => Ok(value),
        (QuestionKind::Choice(choices), Some(value @ AnswerValue::Choice(choice))) => {
            if choices.iter().any(|c| c == choice) {
                Ok(value)
            } else {
                Err((
                    ".choice",
                    format!(
                        "{choice:?} is not a choice of question {id:?}: expected one of {}",
                        quoted_list(choices)
                    ),
                ))
            }
        }
        (QuestionKind::Number { min, max }, Some(value @ AnswerValue::Number(number))) => {
            if !number.is_finite() {
                Err((
                    ".number",
                    format!("question {id:?} expects a finite number"),
                ))
            } else if min.is_some_and(|min| *number < min) || max.is_some_and(|max| *number > max) {
                Err((
                    ".number",
                    format!(
                        "{number} is out of range for question {id:?}: expected {}",
                        range_text(*min, *max)
                    ),
                ))
            } else {
                Ok(value)
            }
        }
        (_, Some(other)) => Err((
            "",
            format!(
                "question {id:?} expects {expects}, got {}",
                other.kind_name()
            ),
        )),
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("{item:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn range_text(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("a number from {min} to {max}"),
        (Some(min), None) => format!("a number of at least {min}"),
        (None, Some(max)) => format!("a number of at most {max}"),
        (None, None) => "a number".to_owned(),
    }
}

#[cfg(test)]
mod tests;
