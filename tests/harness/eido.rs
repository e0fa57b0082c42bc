//! The EIDO schema check: every test that produces or receives a NENA EIDO (NENA-STA-021.1b)
//! calls [`assert_valid_eido`] on it.
//!
//! Two checks, both against NENA's official schema in `../shared/standards/eido/Schema` (an
//! OpenAPI 3.0 document whose `#/components/schemas/EmergencyIncidentDataObjectType` is the
//! EIDO, with `$ref`s into `NIEMComponents/*.yaml`), never against a copy of ours:
//!
//! - **Validity**, by the `jsonschema` crate (draft 4, the dialect OpenAPI 3.0's schema objects
//!   are written in, with `format` checked: a `date-time` must be RFC 3339). The YAML files are
//!   read into one JSON document, every `$ref` rewritten to point inside it, so no reference is
//!   fetched from anywhere.
//! - **Key spelling**: the schema declares no `additionalProperties: false`, so a misspelt key
//!   (`callStartTimeStamp`) would pass silently. Every key of the document must be a property
//!   name the schema declares at that place (through `$ref` and `allOf`).
//!
//! Each problem names its place in the document as a JSON Pointer (RFC 6901),
//! `/callComponent/0/direction`.
//!
//! Upstream defects handled: `minItems: 1,` (a YAML string where a number belongs, in some
//! copies of openapi.yaml) is coerced to the number before the schema is compiled; and
//! `NIEMComponents//nc.yaml` (a doubled slash in one `$ref`) names the same file as
//! `NIEMComponents/nc.yaml`.
//!
//! The standards directory is `DISPATCH_STANDARDS_DIR` if set, else `../shared/standards`
//! beside the repository. Without it the check prints why and passes, except under `CI`,
//! where a missing schema fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::repo_root;

/// Where in the bundle each schema file goes: `#/files/<path relative to Schema/>`.
const FILES: &str = "files";
const ROOT_FILE: &str = "openapi.yaml";
const EIDO: &str = "#/components/schemas/EmergencyIncidentDataObjectType";

/// One thing wrong with an EIDO: where (a JSON Pointer into the document) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EidoProblem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for EidoProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// The directory of the official standards' artefacts (`eido/`, `cap/`), when it is here.
/// Under `CI` a missing directory panics: CI runs with `../shared` beside the clone.
pub fn standards_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DISPATCH_STANDARDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/standards"));
    if dir.join("eido/Schema").join(ROOT_FILE).is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the official standards are not at {} (set DISPATCH_STANDARDS_DIR, or put shared/ beside the clone)",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the official standards are not at {}: EIDO documents are not checked against NENA's schema \
         (set DISPATCH_STANDARDS_DIR)",
        dir.display()
    );
    None
}

/// Panics, listing every problem with its path, unless `eido` is a valid EIDO whose every key
/// is spelt as the schema spells it. Passes (saying so) when the schema is not here, outside CI.
#[track_caller]
pub fn assert_valid_eido(eido: &Value) {
    let Some(problems) = eido_problems(eido) else {
        return;
    };
    assert!(
        problems.is_empty(),
        "not a valid NENA EIDO ({} problems):\n{}\nthe document: {}",
        problems.len(),
        problems
            .iter()
            .map(|problem| format!("  {problem}"))
            .collect::<Vec<_>>()
            .join("\n"),
        serde_json::to_string_pretty(eido).unwrap_or_default()
    );
}

/// Every problem of `eido` (schema violations, then misspelt keys), or `None` when the schema is
/// not here (outside CI).
pub fn eido_problems(eido: &Value) -> Option<Vec<EidoProblem>> {
    let schema = schema()?;
    let mut problems: Vec<EidoProblem> = schema
        .validator
        .iter_errors(eido)
        .map(|error| EidoProblem {
            path: error.instance_path().to_string(),
            message: error.to_string(),
        })
        .collect();
    schema.check_keys(eido, schema.eido(), &mut String::new(), &mut problems);
    Some(problems)
}

/// NENA's schema, read once per test process.
struct Schema {
    /// Every YAML file as JSON under `/files/<relative path>`, `$ref`s rewritten into it.
    bundle: Value,
    validator: jsonschema::Validator,
}

fn schema() -> Option<&'static Schema> {
    static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let dir = standards_dir()?.join("eido/Schema");
            let bundle = bundle(&dir).unwrap_or_else(|error| {
                panic!("reading NENA's EIDO schema in {}: {error}", dir.display())
            });
            let validator = jsonschema::draft4::options()
                .should_validate_formats(true)
                .build(&bundle)
                .unwrap_or_else(|error| panic!("compiling NENA's EIDO schema: {error}"));
            Some(Schema { bundle, validator })
        })
        .as_ref()
}

/// Reads `openapi.yaml` and every file its references reach into one JSON document.
fn bundle(dir: &Path) -> Result<Value, String> {
    let mut files = Map::new();
    let mut pending = vec![ROOT_FILE.to_owned()];
    while let Some(file) = pending.pop() {
        if files.contains_key(&file) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&file)).map_err(|e| format!("{file}: {e}"))?;
        let documents = yaml_rust2::YamlLoader::load_from_str(&text)
            .map_err(|e| format!("{file}: not YAML: {e}"))?;
        let [document] = documents.as_slice() else {
            return Err(format!(
                "{file}: expected one YAML document, found {}",
                documents.len()
            ));
        };
        let mut json = yaml_to_json(document).map_err(|e| format!("{file}: {e}"))?;
        let mut reached = BTreeSet::new();
        rewrite_refs(&mut json, &file, &mut reached)?;
        pending.extend(reached);
        files.insert(file, json);
    }
    // The bundle is itself the EIDO's schema: a draft 4 `$ref` at the root, whose siblings
    // (the files) are only there to be referred to.
    Ok(Value::Object(Map::from_iter([
        (
            "$ref".to_owned(),
            Value::String(format!("#/{FILES}/{ROOT_FILE}{}", &EIDO[1..])),
        ),
        (FILES.to_owned(), Value::Object(files)),
    ])))
}

fn yaml_to_json(yaml: &yaml_rust2::Yaml) -> Result<Value, String> {
    use yaml_rust2::Yaml;
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(value) => Value::Bool(*value),
        Yaml::Integer(value) => Value::from(*value),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("not a number: {text}"))?,
        Yaml::String(text) => Value::String(text.clone()),
        Yaml::Array(items) => {
            Value::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Hash(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(key) => key.clone(),
                        Yaml::Integer(key) => key.to_string(),
                        other => return Err(format!("a mapping key that is not text: {other:?}")),
                    };
                    Ok((key, yaml_to_json(value)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        Yaml::Alias(_) | Yaml::BadValue => return Err(format!("unsupported YAML: {yaml:?}")),
    })
}

/// The keywords whose value must be a number, which upstream sometimes spells `1,`.
const COUNT_KEYWORDS: [&str; 6] = [
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
];

/// Points every `$ref` of `file` inside the bundle, collects the files it reaches, and coerces
/// counts written as text.
fn rewrite_refs(
    value: &mut Value,
    file: &str,
    reached: &mut BTreeSet<String>,
) -> Result<(), String> {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = child
                {
                    let (path, fragment) = target.split_once('#').unwrap_or((target.as_str(), ""));
                    let target_file = if path.is_empty() {
                        file.to_owned()
                    } else {
                        let joined = Path::new(file)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(path.trim());
                        let normal = normalise(&joined)
                            .ok_or_else(|| format!("{file}: $ref {target} leaves the schema"))?;
                        reached.insert(normal.clone());
                        normal
                    };
                    *child = Value::String(format!(
                        "#/{FILES}/{}{}",
                        target_file.replace('~', "~0").replace('/', "~1"),
                        fragment.trim()
                    ));
                } else if COUNT_KEYWORDS.contains(&key.as_str())
                    && let Value::String(text) = child
                {
                    let count: u64 = text
                        .trim()
                        .trim_end_matches(',')
                        .parse()
                        .map_err(|_| format!("{file}: {key}: {text:?} is not a count"))?;
                    *child = Value::from(count);
                } else {
                    rewrite_refs(child, file, reached)?;
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_refs(item, file, reached)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
    Ok(())
}

/// `NIEMComponents//nc.yaml` and `NIEMComponents/./nc.yaml` as `NIEMComponents/nc.yaml`.
fn normalise(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

impl Schema {
    /// `EmergencyIncidentDataObjectType`.
    fn eido(&self) -> &Value {
        self.resolve(&self.bundle)
    }

    /// Follows `$ref`s (rewritten to `#/files/...`) to the schema object they name.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        // A chain of references longer than this is a cycle of plain references.
        for _ in 0..64 {
            let Some(Value::String(target)) = schema.get("$ref") else {
                return schema;
            };
            let pointer = target.trim_start_matches('#');
            schema = self
                .bundle
                .pointer(pointer)
                .unwrap_or_else(|| panic!("the EIDO schema's $ref {target} names nothing"));
        }
        panic!("the EIDO schema's references loop")
    }

    /// The schemas that together describe one place: this one and, through `allOf`, its parts.
    fn parts<'a>(&'a self, schema: &'a Value, into: &mut Vec<&'a Value>) {
        let schema = self.resolve(schema);
        into.push(schema);
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            for part in parts {
                self.parts(part, into);
            }
        }
    }

    /// Every key of `instance` declared where `schema` describes it, recursively.
    fn check_keys(
        &self,
        instance: &Value,
        schema: &Value,
        path: &mut String,
        problems: &mut Vec<EidoProblem>,
    ) {
        let mut parts = Vec::new();
        self.parts(schema, &mut parts);
        match instance {
            Value::Object(object) => {
                let mut properties: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
                for part in &parts {
                    if let Some(Value::Object(declared)) = part.get("properties") {
                        for (name, property) in declared {
                            properties.entry(name).or_default().push(property);
                        }
                    }
                }
                if properties.is_empty() {
                    // Nothing declared here (free-form, or not an object in the schema, which
                    // the validator reports): there is no spelling to check against.
                    return;
                }
                let title = parts
                    .iter()
                    .find_map(|part| part.get("title").and_then(Value::as_str))
                    .unwrap_or("this object");
                for (key, value) in object {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    match properties.get(key.as_str()) {
                        Some(declared) => {
                            for property in declared {
                                self.check_keys(value, property, path, problems);
                            }
                        }
                        None => problems.push(EidoProblem {
                            path: path.clone(),
                            message: format!(
                                "{key:?} is not a property of {title} (its properties: {})",
                                properties.keys().copied().collect::<Vec<_>>().join(", ")
                            ),
                        }),
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for part in &parts {
                    if let Some(item_schema) = part.get("items") {
                        for (index, item) in items.iter().enumerate() {
                            let len = path.len();
                            path.push_str(&format!("/{index}"));
                            self.check_keys(item, item_schema, path, problems);
                            path.truncate(len);
                        }
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
}
