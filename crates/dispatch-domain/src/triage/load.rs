//! Reading a catalogue from TOML text and validating it, collecting every problem with its path.
//!
//! The TOML is walked by hand rather than deserialised with serde so that a wrong type, an unknown
//! string or a misspelt field is reported with the path of the entry (`types[12]
//! (FIRE-STRUCTURE).category`) and so that every problem is reported, not only the first.

use std::collections::{HashMap, HashSet};
use std::fmt;

use toml::{Table, Value};

use super::{
    Capability, Category, Condition, Determinant, DeterminantRule, Discipline, IncidentType, Level,
    MAX_PRIORITY, MAX_REQUIREMENT_COUNT, Question, QuestionKind, Requirement, Test,
};
use crate::call::{MAX_TYPE_CODE_CHARS, is_type_code};

/// The catalogue format this build reads.
const FORMAT_VERSION: i64 = 1;
const MAX_TOKEN_CHARS: usize = 64;
const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// One problem in a catalogue: where (`types[3] (MED-STROKE).questions[1].kind`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Empty for a TOML syntax error, whose message carries the line and column.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a catalogue was refused: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueError {
    problems: Vec<Problem>,
}

impl CatalogueError {
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "invalid incident type catalogue ({count} problem{}):",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogueError {}

#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

pub(crate) fn expected(what: &str, value: &Value) -> String {
    format!("expected {what}, got {}", type_name(value))
}

/// `[a-z0-9_]`, 1 to 64: question ids, choices, capability codes.
fn is_token(text: &str) -> bool {
    (1..=MAX_TOKEN_CHARS).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

const TOKEN_RULE: &str = "must be 1 to 64 of a-z, 0-9 and '_'";

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The fields of one TOML table at a path. Unknown fields are reported when it is opened.
pub(crate) struct Fields<'a> {
    path: String,
    pub(crate) table: &'a Table,
}

impl<'a> Fields<'a> {
    pub(crate) fn open(p: &mut Problems, path: String, table: &'a Table, known: &[&str]) -> Self {
        for key in table.keys() {
            if !known.contains(&key.as_str()) {
                p.add(
                    join(&path, key),
                    format!("unknown field; expected one of: {}", known.join(", ")),
                );
            }
        }
        Self { path, table }
    }

    pub(crate) fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub(crate) fn value(&self, p: &mut Problems, key: &str, required: bool) -> Option<&'a Value> {
        let value = self.table.get(key);
        if value.is_none() && required {
            p.add(self.at(key), "required");
        }
        value
    }

    pub(crate) fn string(&self, p: &mut Problems, key: &str, required: bool) -> Option<&'a str> {
        match self.value(p, key, required)? {
            Value::String(text) => Some(text),
            other => {
                p.add(self.at(key), expected("a string", other));
                None
            }
        }
    }

    /// A required string that must not be empty or too long.
    fn text(&self, p: &mut Problems, key: &str, max_chars: usize) -> String {
        let Some(text) = self.string(p, key, true) else {
            return String::new();
        };
        if text.trim().is_empty() {
            p.add(self.at(key), "must not be empty");
        } else if text.chars().count() > max_chars {
            p.add(self.at(key), format!("at most {max_chars} characters"));
        }
        text.to_owned()
    }

    fn boolean(&self, p: &mut Problems, key: &str) -> Option<bool> {
        match self.value(p, key, false)? {
            Value::Boolean(value) => Some(*value),
            other => {
                p.add(self.at(key), expected("true or false", other));
                None
            }
        }
    }

    pub(crate) fn integer(&self, p: &mut Problems, key: &str, required: bool) -> Option<i64> {
        match self.value(p, key, required)? {
            Value::Integer(value) => Some(*value),
            other => {
                p.add(self.at(key), expected("an integer", other));
                None
            }
        }
    }

    /// A finite number, integer or float.
    pub(crate) fn number(&self, p: &mut Problems, key: &str) -> Option<f64> {
        let value = self.value(p, key, false)?;
        match as_number(value) {
            Some(number) if number.is_finite() => Some(number),
            Some(_) => {
                p.add(self.at(key), "must be a finite number");
                None
            }
            None => {
                p.add(self.at(key), expected("a number", value));
                None
            }
        }
    }

    /// A priority on EIDO's 0–10 scale.
    fn priority(&self, p: &mut Problems, key: &str) -> u8 {
        let value = self.integer(p, key, true);
        match value.map(u8::try_from) {
            Some(Ok(priority)) if priority <= MAX_PRIORITY => priority,
            Some(_) => {
                p.add(
                    self.at(key),
                    format!(
                        "must be from 0 to {MAX_PRIORITY} (EIDO common priority, {MAX_PRIORITY} \
                         highest), got {}",
                        value.unwrap_or_default()
                    ),
                );
                0
            }
            None => 0,
        }
    }

    pub(crate) fn array(&self, p: &mut Problems, key: &str, required: bool) -> Option<&'a [Value]> {
        match self.value(p, key, required)? {
            Value::Array(items) => Some(items),
            other => {
                p.add(self.at(key), expected("an array", other));
                None
            }
        }
    }

    /// An array of strings, each with its path; wrong elements are reported and skipped.
    fn strings(&self, p: &mut Problems, key: &str, required: bool) -> Vec<(String, &'a str)> {
        self.elements(p, key, required, "a string", |item| match item {
            Value::String(text) => Some(text.as_str()),
            _ => None,
        })
        .into_iter()
        .map(|(i, text)| (format!("{}[{i}]", self.at(key)), text))
        .collect()
    }

    /// An array of tables, each with its index; wrong elements are reported and skipped.
    fn tables(&self, p: &mut Problems, key: &str, required: bool) -> Vec<(usize, &'a Table)> {
        self.elements(p, key, required, "a table", |item| match item {
            Value::Table(table) => Some(table),
            _ => None,
        })
    }

    /// The elements of an array that `pick` takes, each with its index; the others are
    /// reported as not being `expecting` and skipped.
    pub(crate) fn elements<T>(
        &self,
        p: &mut Problems,
        key: &str,
        required: bool,
        expecting: &str,
        pick: impl Fn(&'a Value) -> Option<T>,
    ) -> Vec<(usize, T)> {
        let mut picked = Vec::new();
        for (i, item) in self
            .array(p, key, required)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            match pick(item) {
                Some(element) => picked.push((i, element)),
                None => p.add(format!("{}[{i}]", self.at(key)), expected(expecting, item)),
            }
        }
        picked
    }
}

/// Parses and validates a whole catalogue.
pub(super) fn parse(text: &str) -> Result<(Vec<IncidentType>, Vec<Capability>), CatalogueError> {
    let root: Table = match toml::from_str(text) {
        Ok(root) => root,
        Err(error) => {
            return Err(CatalogueError {
                problems: vec![Problem {
                    path: String::new(),
                    message: format!("not valid TOML: {error}"),
                }],
            });
        }
    };
    let mut p = Problems::default();
    let root = Fields::open(
        &mut p,
        String::new(),
        &root,
        &["version", "capabilities", "types"],
    );
    if let Some(version) = root.integer(&mut p, "version", true)
        && version != FORMAT_VERSION
    {
        p.add(
            "version",
            format!("unsupported version {version}: this build reads version {FORMAT_VERSION}"),
        );
    }

    let capabilities = parse_capabilities(&mut p, &root);
    let capability_codes: HashSet<&str> = capabilities.iter().map(|c| c.code.as_str()).collect();

    let type_tables = root.tables(&mut p, "types", true);
    if type_tables.is_empty() && root.table.contains_key("types") {
        p.add("types", "at least one incident type is required");
    }
    let all_codes: HashSet<&str> = type_tables
        .iter()
        .filter_map(|(_, table)| table.get("code").and_then(Value::as_str))
        .collect();
    let mut first_type_path: HashMap<String, String> = HashMap::new();
    let mut determinant_paths: HashMap<String, String> = HashMap::new();
    let mut types = Vec::new();
    for (i, table) in type_tables {
        let context = TypeContext {
            capabilities: &capability_codes,
            all_types: &all_codes,
        };
        let incident_type = parse_type(&mut p, i, table, &context, &mut determinant_paths);
        if let Some(code) = table.get("code").and_then(Value::as_str) {
            let path = format!("types[{i}]");
            if let Some(first) = first_type_path.get(code) {
                p.add(
                    format!("{path}.code"),
                    format!("duplicate incident type code {code:?}, first defined at {first}"),
                );
            } else {
                first_type_path.insert(code.to_owned(), path);
            }
        }
        types.push(incident_type);
    }

    if p.0.is_empty() {
        Ok((types, capabilities))
    } else {
        Err(CatalogueError { problems: p.0 })
    }
}

fn parse_capabilities(p: &mut Problems, root: &Fields<'_>) -> Vec<Capability> {
    let mut capabilities: Vec<Capability> = Vec::new();
    for (i, table) in root.tables(p, "capabilities", true) {
        let fields = Fields::open(
            p,
            format!("capabilities[{i}]"),
            table,
            &["code", "description"],
        );
        let code = fields.string(p, "code", true).unwrap_or_default();
        if fields.table.contains_key("code") && !is_token(code) {
            p.add(fields.at("code"), TOKEN_RULE);
        }
        if let Some(first) = capabilities.iter().position(|c| c.code == code) {
            p.add(
                fields.at("code"),
                format!("duplicate capability {code:?}, first declared at capabilities[{first}]"),
            );
        }
        let description = fields.text(p, "description", MAX_DISPLAY_NAME_CHARS);
        capabilities.push(Capability {
            code: code.to_owned(),
            description,
        });
    }
    capabilities
}

/// What a type is checked against: the declared capabilities and every type code in the file.
struct TypeContext<'a> {
    capabilities: &'a HashSet<&'a str>,
    all_types: &'a HashSet<&'a str>,
}

const TYPE_FIELDS: &[&str] = &[
    "code",
    "display_name",
    "category",
    "disciplines",
    "default_priority",
    "compatible_types",
    "description",
    "questions",
    "determinants",
];

fn parse_type(
    p: &mut Problems,
    index: usize,
    table: &Table,
    context: &TypeContext<'_>,
    determinant_paths: &mut HashMap<String, String>,
) -> IncidentType {
    let raw_code = table.get("code").and_then(Value::as_str);
    let path = match raw_code {
        Some(code) if !code.is_empty() && code.len() <= MAX_TYPE_CODE_CHARS => {
            format!("types[{index}] ({code})")
        }
        _ => format!("types[{index}]"),
    };
    let fields = Fields::open(p, path, table, TYPE_FIELDS);

    let code = fields.string(p, "code", true).unwrap_or_default();
    if raw_code.is_some() && !is_type_code(code) {
        p.add(
            fields.at("code"),
            format!("must be 1 to {MAX_TYPE_CODE_CHARS} of A-Z, 0-9, '-' and '_'"),
        );
    }
    let display_name = fields.text(p, "display_name", MAX_DISPLAY_NAME_CHARS);
    let category = match fields.string(p, "category", true) {
        Some(text) => Category::parse(text).unwrap_or_else(|| {
            p.add(
                fields.at("category"),
                unknown_word("category", text, Category::ALL.iter().map(|c| c.as_str())),
            );
            Category::Other
        }),
        None => Category::Other,
    };

    let mut disciplines = Vec::new();
    let discipline_values = fields.strings(p, "disciplines", true);
    if discipline_values.is_empty() && table.contains_key("disciplines") {
        p.add(
            fields.at("disciplines"),
            "at least one discipline is required",
        );
    }
    for (path, text) in discipline_values {
        match Discipline::parse(text) {
            Some(discipline) if disciplines.contains(&discipline) => {
                p.add(path, format!("discipline {text:?} is listed twice"));
            }
            Some(discipline) => disciplines.push(discipline),
            None => p.add(
                path,
                unknown_word(
                    "discipline",
                    text,
                    Discipline::ALL.iter().map(|d| d.as_str()),
                ),
            ),
        }
    }

    let default_priority = fields.priority(p, "default_priority");

    let mut compatible_types: Vec<String> = Vec::new();
    for (path, other) in fields.strings(p, "compatible_types", false) {
        if other == code {
            p.add(
                path,
                "a type is always compatible with itself: do not list it",
            );
        } else if !context.all_types.contains(other) {
            p.add(path, format!("unknown incident type {other:?}"));
        } else if compatible_types.iter().any(|c| c == other) {
            p.add(path, format!("{other:?} is listed twice"));
        } else {
            compatible_types.push(other.to_owned());
        }
    }

    let description = fields
        .string(p, "description", false)
        .unwrap_or_default()
        .to_owned();

    let mut questions: Vec<Question> = Vec::new();
    // Questions whose kind could not be read map to None: conditions on them are only checked
    // for existence, so one mistake is not reported again at every use.
    let mut kinds: HashMap<String, Option<usize>> = HashMap::new();
    for (i, question_table) in fields.tables(p, "questions", false) {
        let question_path = format!("{}[{i}]", fields.at("questions"));
        let (question, kind_ok) = parse_question(p, question_path.clone(), question_table);
        if kinds.contains_key(&question.id) {
            p.add(
                format!("{question_path}.id"),
                format!("duplicate question id {:?}", question.id),
            );
            continue;
        }
        kinds.insert(question.id.clone(), kind_ok.then_some(questions.len()));
        questions.push(question);
    }

    let rule_tables = fields.tables(p, "determinants", true);
    if rule_tables.is_empty() && table.contains_key("determinants") {
        p.add(
            fields.at("determinants"),
            "at least one determinant is required: the last, without conditions, is the fallback",
        );
    }
    let last = rule_tables.last().map(|(i, _)| *i);
    let mut determinants = Vec::new();
    for (i, rule_table) in rule_tables {
        let rule_path = format!("{}[{i}]", fields.at("determinants"));
        let questions_in_scope = QuestionScope {
            type_code: code,
            questions: &questions,
            kinds: &kinds,
        };
        let rule = parse_determinant(
            p,
            rule_path.clone(),
            rule_table,
            &questions_in_scope,
            context.capabilities,
            determinant_paths,
        );
        let conditional = match rule_table.get("when") {
            None => false,
            Some(Value::Array(conditions)) => !conditions.is_empty(),
            Some(_) => true,
        };
        if Some(i) == last && conditional {
            p.add(
                format!("{rule_path}.when"),
                "the last determinant is the fallback and must have no conditions, so that \
                 every set of answers maps to a determinant",
            );
        } else if Some(i) != last && !conditional {
            p.add(
                rule_path,
                "only the last determinant may have no `when` conditions: this one would shadow \
                 every determinant after it",
            );
        }
        determinants.push(rule);
    }

    IncidentType {
        code: code.to_owned(),
        display_name,
        category,
        disciplines,
        default_priority,
        compatible_types,
        description,
        questions,
        determinants,
    }
}

fn unknown_word<'a>(what: &str, text: &str, known: impl Iterator<Item = &'a str>) -> String {
    format!(
        "unknown {what} {text:?}; expected one of: {}",
        known.collect::<Vec<_>>().join(", ")
    )
}

const QUESTION_FIELDS: &[&str] = &[
    "id", "text", "kind", "required", "choices", "min", "max", "help",
];

/// The question, and whether its kind (and bounds) could be read.
fn parse_question(p: &mut Problems, path: String, table: &Table) -> (Question, bool) {
    let fields = Fields::open(p, path, table, QUESTION_FIELDS);
    let id = fields.string(p, "id", true).unwrap_or_default();
    if table.contains_key("id") && !is_token(id) {
        p.add(fields.at("id"), TOKEN_RULE);
    }
    let text = fields.text(p, "text", 500);
    let required = fields.boolean(p, "required").unwrap_or(true);
    let help = fields
        .string(p, "help", false)
        .unwrap_or_default()
        .to_owned();

    // False when the kind or its bounds are unusable, so conditions on the question are not
    // checked against them.
    let mut kind_ok = true;
    let kind_name = fields.string(p, "kind", true);
    let kind = match kind_name {
        Some("yes_no") => Some(QuestionKind::YesNo),
        Some("choice") => Some(QuestionKind::Choice(parse_choices(p, &fields))),
        Some("number") => {
            let min = fields.number(p, "min");
            let max = fields.number(p, "max");
            if let (Some(low), Some(high)) = (min, max)
                && low > high
            {
                p.add(fields.at("max"), format!("max {high} is below min {low}"));
                kind_ok = false;
            }
            Some(QuestionKind::Number { min, max })
        }
        Some(other) => {
            p.add(
                fields.at("kind"),
                format!("unknown kind {other:?}; expected one of: yes_no, choice, number"),
            );
            None
        }
        None => None,
    };
    if let Some(kind) = &kind {
        if !matches!(kind, QuestionKind::Choice(_)) && table.contains_key("choices") {
            p.add(fields.at("choices"), "only choice questions have choices");
        }
        if !matches!(kind, QuestionKind::Number { .. }) {
            for key in ["min", "max"] {
                if table.contains_key(key) {
                    p.add(fields.at(key), format!("only number questions have {key}"));
                }
            }
        }
    }
    let kind_ok = kind_ok && kind.is_some();
    let question = Question {
        id: id.to_owned(),
        text,
        kind: kind.unwrap_or(QuestionKind::YesNo),
        required,
        help,
    };
    (question, kind_ok)
}

fn parse_choices(p: &mut Problems, fields: &Fields<'_>) -> Vec<String> {
    let values = fields.strings(p, "choices", true);
    if values.is_empty() && fields.table.contains_key("choices") {
        p.add(
            fields.at("choices"),
            "a choice question needs at least one choice",
        );
    }
    let mut choices: Vec<String> = Vec::new();
    for (path, choice) in values {
        if !is_token(choice) {
            p.add(path, TOKEN_RULE);
        } else if choices.iter().any(|c| c == choice) {
            p.add(path, format!("choice {choice:?} is listed twice"));
        } else {
            choices.push(choice.to_owned());
        }
    }
    choices
}

/// The questions of the type a determinant belongs to.
struct QuestionScope<'a> {
    type_code: &'a str,
    questions: &'a [Question],
    /// Question id to its index in `questions`, `None` when its kind could not be read.
    kinds: &'a HashMap<String, Option<usize>>,
}

const DETERMINANT_FIELDS: &[&str] = &["code", "level", "description", "priority", "when", "plan"];

fn parse_determinant(
    p: &mut Problems,
    path: String,
    table: &Table,
    scope: &QuestionScope<'_>,
    capabilities: &HashSet<&str>,
    determinant_paths: &mut HashMap<String, String>,
) -> DeterminantRule {
    let fields = Fields::open(p, path, table, DETERMINANT_FIELDS);
    let level = match fields.string(p, "level", true) {
        Some(text) => {
            let level = Level::parse(text);
            if level.is_none() {
                p.add(
                    fields.at("level"),
                    unknown_word("level", text, Level::ALL.iter().map(|l| l.as_str())),
                );
            }
            level
        }
        None => None,
    };
    let code = fields.string(p, "code", true).unwrap_or_default();
    if table.contains_key("code") {
        check_determinant_code(p, &fields, code, level, determinant_paths);
    }
    let description = fields.text(p, "description", MAX_DISPLAY_NAME_CHARS);
    let priority = fields.priority(p, "priority");

    let mut conditions = Vec::new();
    for (i, item) in fields
        .array(p, "when", false)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let condition_path = format!("{}[{i}]", fields.at("when"));
        match item {
            Value::Table(condition) => {
                if let Some(condition) = parse_condition(p, condition_path, condition, scope) {
                    conditions.push(condition);
                }
            }
            other => p.add(condition_path, expected("a table", other)),
        }
    }

    let mut plan: Vec<Requirement> = Vec::new();
    for (i, requirement) in fields.tables(p, "plan", true) {
        let requirement = Fields::open(
            p,
            format!("{}[{i}]", fields.at("plan")),
            requirement,
            &["capability", "count", "description"],
        );
        let capability = requirement
            .string(p, "capability", true)
            .unwrap_or_default();
        if requirement.table.contains_key("capability") && !capabilities.contains(capability) {
            p.add(
                requirement.at("capability"),
                format!("unknown capability {capability:?}: declare it under [[capabilities]]"),
            );
        } else if plan.iter().any(|r| r.capability == capability) {
            p.add(
                requirement.at("capability"),
                format!("capability {capability:?} is listed twice: raise its count instead"),
            );
        }
        let count = match requirement.integer(p, "count", false) {
            None => 1,
            Some(count) => match u32::try_from(count) {
                Ok(count) if (1..=MAX_REQUIREMENT_COUNT).contains(&count) => count,
                _ => {
                    p.add(
                        requirement.at("count"),
                        format!("must be from 1 to {MAX_REQUIREMENT_COUNT}, got {count}"),
                    );
                    1
                }
            },
        };
        let description = requirement
            .string(p, "description", false)
            .unwrap_or_default()
            .to_owned();
        plan.push(Requirement {
            capability: capability.to_owned(),
            count,
            description,
        });
    }

    DeterminantRule {
        determinant: Determinant {
            code: code.to_owned(),
            level: level.unwrap_or(Level::Omega),
            description,
        },
        priority,
        conditions,
        plan,
    }
}

const CODE_RULE: &str = "must look like PREFIX-L-N (e.g. FIRE-STRUCTURE-E-1): PREFIX of A-Z, 0-9, \
                         '-' and '_', L the level letter (O, A, B, C, D or E), N a number from 1 \
                         to 999; at most 64 characters";

fn check_determinant_code(
    p: &mut Problems,
    fields: &Fields<'_>,
    code: &str,
    level: Option<Level>,
    determinant_paths: &mut HashMap<String, String>,
) {
    let path = fields.at("code");
    let mut parts = code.rsplitn(3, '-');
    let (number, letter, prefix) = (parts.next(), parts.next(), parts.next());
    let number_ok = number.is_some_and(|n| {
        (1..=3).contains(&n.len()) && n.chars().all(|c| c.is_ascii_digit()) && !n.starts_with('0')
    });
    let letter = letter.and_then(|l| {
        let mut chars = l.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Level::from_letter(c),
            _ => None,
        }
    });
    let prefix_ok = prefix.is_some_and(is_type_code);
    match letter {
        Some(letter) if number_ok && prefix_ok && code.len() <= MAX_TYPE_CODE_CHARS => {
            if let Some(level) = level
                && letter != level
            {
                p.add(
                    &path,
                    format!(
                        "the level letter {:?} is {letter}, but the level is {level}: use {:?}",
                        letter.letter(),
                        level.letter()
                    ),
                );
            }
        }
        _ => p.add(&path, CODE_RULE),
    }
    if let Some(first) = determinant_paths.get(code) {
        p.add(
            path,
            format!("duplicate determinant code {code:?}, first used at {first}"),
        );
    } else {
        determinant_paths.insert(code.to_owned(), fields.path.clone());
    }
}

fn parse_condition(
    p: &mut Problems,
    path: String,
    table: &Table,
    scope: &QuestionScope<'_>,
) -> Option<Condition> {
    let fields = Fields::open(
        p,
        path,
        table,
        &["question", "is", "any_of", "at_least", "at_most"],
    );
    let question_id = fields.string(p, "question", true)?;
    let tests = [
        table.contains_key("is"),
        table.contains_key("any_of"),
        table.contains_key("at_least") || table.contains_key("at_most"),
    ];
    let test_count = tests.iter().filter(|&&present| present).count();
    let Some(entry) = scope.kinds.get(question_id) else {
        let known: Vec<&str> = scope.questions.iter().map(|q| q.id.as_str()).collect();
        p.add(
            fields.at("question"),
            if known.is_empty() {
                format!(
                    "unknown question {question_id:?}: {} has no questions",
                    scope.type_code
                )
            } else {
                format!(
                    "unknown question {question_id:?}; {} asks: {}",
                    scope.type_code,
                    known.join(", ")
                )
            },
        );
        return None;
    };
    if test_count != 1 {
        p.add(
            fields.path.clone(),
            "needs exactly one test: `is`, `any_of`, or `at_least` and/or `at_most`",
        );
        return None;
    }
    let question = &scope.questions[(*entry)?];
    let id = &question.id;
    let test = match &question.kind {
        QuestionKind::YesNo => match fields.value(p, "is", false) {
            Some(Value::Boolean(value)) => Test::Is(*value),
            Some(other) => {
                p.add(
                    fields.at("is"),
                    format!(
                        "question {id:?} is yes_no: {}",
                        expected("true or false", other)
                    ),
                );
                return None;
            }
            None => {
                p.add(
                    fields.path.clone(),
                    format!("question {id:?} is yes_no: test it with `is = true` or `is = false`"),
                );
                return None;
            }
        },
        QuestionKind::Choice(choices) => {
            let check = |p: &mut Problems, path: String, value: &Value| -> Option<String> {
                match value {
                    Value::String(text) if choices.contains(text) => Some(text.clone()),
                    Value::String(text) => {
                        p.add(
                            path,
                            format!(
                                "{text:?} is not a choice of question {id:?}; expected one of: {}",
                                choices.join(", ")
                            ),
                        );
                        None
                    }
                    other => {
                        p.add(
                            path,
                            format!("question {id:?} is choice: {}", expected("a string", other)),
                        );
                        None
                    }
                }
            };
            if let Some(value) = table.get("is") {
                Test::AnyOf(vec![check(p, fields.at("is"), value)?])
            } else if let Some(values) = fields.array(p, "any_of", false) {
                if values.is_empty() {
                    p.add(fields.at("any_of"), "must list at least one choice");
                }
                let mut any_of: Vec<String> = Vec::new();
                let mut ok = true;
                for (i, value) in values.iter().enumerate() {
                    let item_path = format!("{}[{i}]", fields.at("any_of"));
                    match check(p, item_path.clone(), value) {
                        Some(choice) if any_of.contains(&choice) => {
                            p.add(item_path, format!("{choice:?} is listed twice"));
                            ok = false;
                        }
                        Some(choice) => any_of.push(choice),
                        None => ok = false,
                    }
                }
                if !ok || any_of.is_empty() {
                    return None;
                }
                Test::AnyOf(any_of)
            } else {
                p.add(
                    fields.path.clone(),
                    format!("question {id:?} is choice: test it with `is` or `any_of`"),
                );
                return None;
            }
        }
        QuestionKind::Number { min, max } => {
            if !tests[2] {
                p.add(
                    fields.path.clone(),
                    format!("question {id:?} is number: test it with `at_least` and/or `at_most`"),
                );
                return None;
            }
            let mut bound = |key: &str| -> Option<f64> {
                let value = fields.number(p, key)?;
                if min.is_some_and(|min| value < min) || max.is_some_and(|max| value > max) {
                    p.add(
                        fields.at(key),
                        format!(
                            "{value} is outside question {id:?}'s range: {}",
                            super::range_text(*min, *max)
                        ),
                    );
                }
                Some(value)
            };
            let at_least = bound("at_least");
            let at_most = bound("at_most");
            if let (Some(low), Some(high)) = (at_least, at_most)
                && low > high
            {
                p.add(
                    fields.at("at_most"),
                    format!("at_most {high} is below at_least {low}: the condition never holds"),
                );
            }
            Test::Range { at_least, at_most }
        }
    };
    Some(Condition {
        question: question_id.to_owned(),
        test,
    })
}
