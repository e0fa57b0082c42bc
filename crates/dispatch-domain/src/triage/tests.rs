use super::*;
use crate::duplicates::{DuplicatePolicy, TypeMatch};

const SHIPPED: &str = include_str!("../../../../catalogue/incident_types.toml");

const TRAFFIC: [&str; 9] = [
    "TRAFFIC-COLLISION",
    "TRAFFIC-INJURY",
    "TRAFFIC-TRAPPED",
    "TRAFFIC-PEDESTRIAN",
    "TRAFFIC-MOTORCYCLE",
    "TRAFFIC-CYCLIST",
    "TRAFFIC-ROLLOVER",
    "TRAFFIC-DROP",
    "TRAFFIC-FATALITY",
];

fn shipped() -> Catalogue {
    Catalogue::from_toml(SHIPPED).unwrap_or_else(|error| panic!("{error}"))
}

fn shipped_type(code: &str) -> IncidentType {
    shipped().get(code).unwrap().clone()
}

fn yes_no(id: &str, value: bool) -> Answer {
    Answer {
        question_id: id.into(),
        value: Some(AnswerValue::YesNo(value)),
    }
}

fn choice(id: &str, value: &str) -> Answer {
    Answer {
        question_id: id.into(),
        value: Some(AnswerValue::Choice(value.into())),
    }
}

fn number(id: &str, value: f64) -> Answer {
    Answer {
        question_id: id.into(),
        value: Some(AnswerValue::Number(value)),
    }
}

fn plan(requirements: &[(&str, u32)]) -> Vec<(String, u32)> {
    requirements
        .iter()
        .map(|(capability, count)| ((*capability).to_owned(), *count))
        .collect()
}

fn plan_of(outcome: &Outcome) -> Vec<(String, u32)> {
    outcome
        .plan
        .iter()
        .map(|r| (r.capability.clone(), r.count))
        .collect()
}

fn rule_plan(rule: &DeterminantRule) -> Vec<(String, u32)> {
    plan_of(&rule.outcome())
}

// ---- the shipped catalogue -------------------------------------------------------------------

#[test]
fn the_shipped_catalogue_is_valid_and_covers_every_category() {
    let catalogue = shipped();
    let types: Vec<&IncidentType> = catalogue.types().collect();
    assert!(types.len() >= 40, "only {} types", types.len());
    for category in Category::ALL {
        assert!(
            types.iter().any(|t| t.category == *category),
            "no type of category {category}"
        );
    }
    for t in &types {
        assert_eq!(
            catalogue.get(&t.code).map(|found| &found.code),
            Some(&t.code)
        );
    }
}

#[test]
fn the_shipped_capabilities_are_exactly_the_vocabulary_and_all_used() {
    let catalogue = shipped();
    let declared: Vec<&str> = catalogue
        .capabilities()
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    let vocabulary = [
        "patrol",
        "motorcycle",
        "als",
        "bls",
        "aed",
        "engine",
        "ladder",
        "extrication",
        "hazmat",
        "chief",
        "water_rescue",
        "civil_protection",
        "drone",
        "mobile_command",
        "crowd_control",
        "k9",
        "victim_support",
        "gender_police",
        "usar",
        "medical_examiner",
    ];
    assert_eq!(declared, vocabulary);
    for capability in vocabulary {
        assert!(catalogue.has_capability(capability));
        let used = catalogue
            .types()
            .flat_map(|t| &t.determinants)
            .flat_map(|d| &d.plan)
            .any(|r| r.capability == capability);
        assert!(used, "capability {capability} is declared but never used");
    }
}

#[test]
fn the_shipped_levels_and_priorities_agree() {
    for t in shipped().types() {
        for rule in &t.determinants {
            let band = match rule.determinant.level {
                Level::Echo => 10..=10,
                Level::Delta => 8..=9,
                Level::Charlie => 5..=7,
                Level::Bravo => 4..=5,
                Level::Alpha => 2..=4,
                Level::Omega => 0..=2,
            };
            assert!(
                band.contains(&rule.priority),
                "{} is {} with priority {}",
                rule.determinant.code,
                rule.determinant.level,
                rule.priority
            );
            assert!(
                rule.determinant.code.starts_with(&t.code),
                "{} does not start with its type code",
                rule.determinant.code
            );
        }
    }
}

#[test]
fn the_nine_road_types_are_mutually_compatible_as_the_duplicate_detector_expects() {
    let catalogue = shipped();
    let policy = DuplicatePolicy::default();
    for a in TRAFFIC {
        let incident_type = catalogue.get(a).unwrap();
        assert_eq!(incident_type.category, Category::Traffic);
        for b in TRAFFIC {
            assert!(catalogue.compatible(a, b), "{a} / {b}");
            assert_ne!(policy.type_match(a, b), TypeMatch::Incompatible);
        }
    }
    assert!(!catalogue.compatible("TRAFFIC-COLLISION", "MED-STROKE"));
    assert!(catalogue.compatible("MED-STROKE", "MED-STROKE"));
}

#[test]
fn compatible_groups_reproduce_compatible_exactly() {
    let catalogue = shipped();
    let policy = DuplicatePolicy {
        compatible_groups: catalogue.compatible_groups(),
        ..DuplicatePolicy::default()
    };
    let codes: Vec<&str> = catalogue.types().map(|t| t.code.as_str()).collect();
    for a in &codes {
        for b in &codes {
            let by_policy = policy.type_match(a, b) != TypeMatch::Incompatible;
            assert_eq!(catalogue.compatible(a, b), by_policy, "{a} / {b}");
        }
    }
}

#[test]
fn the_domain_response_plans_hold_exactly() {
    let catalogue = shipped();

    let fire = catalogue.get("FIRE-STRUCTURE").unwrap();
    assert_eq!(
        rule_plan(&fire.determinants[0]),
        plan(&[("engine", 3), ("ladder", 1), ("als", 1), ("chief", 1)])
    );
    assert_eq!(fire.determinants[0].determinant.level, Level::Echo);

    let arrest = catalogue.get("MED-CARDIAC-ARREST").unwrap();
    let echo: Vec<&DeterminantRule> = arrest
        .determinants
        .iter()
        .filter(|d| d.determinant.level == Level::Echo)
        .collect();
    assert_eq!(echo.len(), 1);
    assert_eq!(rule_plan(echo[0]), plan(&[("aed", 1), ("als", 1)]));

    let trapped = catalogue.get("TRAFFIC-TRAPPED").unwrap();
    let standard = trapped.determinants.last().unwrap();
    assert_eq!(
        rule_plan(standard),
        plan(&[("extrication", 1), ("als", 1), ("patrol", 1)])
    );
}

// ---- triage ----------------------------------------------------------------------------------

#[test]
fn cardiac_arrest_not_breathing_is_echo_with_an_aed_and_als() {
    let outcome = shipped_type("MED-CARDIAC-ARREST")
        .triage(&[yes_no("breathing", false)])
        .unwrap();
    assert_eq!(outcome.determinant.code, "MED-CARDIAC-ARREST-E-1");
    assert_eq!(outcome.determinant.level, Level::Echo);
    assert_eq!(outcome.priority, 10);
    assert_eq!(plan_of(&outcome), plan(&[("aed", 1), ("als", 1)]));
}

#[test]
fn cardiac_arrest_obvious_death_is_checked_before_breathing() {
    let arrest = shipped_type("MED-CARDIAC-ARREST");
    let outcome = arrest
        .triage(&[yes_no("breathing", false), yes_no("obvious_death", true)])
        .unwrap();
    assert_eq!(outcome.determinant.code, "MED-CARDIAC-ARREST-B-1");
    let outcome = arrest
        .triage(&[yes_no("breathing", true), yes_no("obvious_death", false)])
        .unwrap();
    assert_eq!(outcome.determinant.code, "MED-CARDIAC-ARREST-D-1");
}

#[test]
fn structure_fire_with_people_trapped_gets_the_full_first_alarm() {
    let fire = shipped_type("FIRE-STRUCTURE");
    let outcome = fire
        .triage(&[
            yes_no("people_trapped", true),
            yes_no("flames_visible", false),
            choice("building", "house"),
        ])
        .unwrap();
    assert_eq!(outcome.determinant.code, "FIRE-STRUCTURE-E-1");
    assert_eq!(
        plan_of(&outcome),
        plan(&[("engine", 3), ("ladder", 1), ("als", 1), ("chief", 1)])
    );

    let outcome = fire
        .triage(&[
            yes_no("people_trapped", false),
            yes_no("flames_visible", false),
            choice("building", "high_rise"),
        ])
        .unwrap();
    assert_eq!(outcome.determinant.code, "FIRE-STRUCTURE-D-2");
    let outcome = fire
        .triage(&[
            yes_no("people_trapped", false),
            yes_no("flames_visible", false),
            choice("building", "house"),
        ])
        .unwrap();
    assert_eq!(outcome.determinant.code, "FIRE-STRUCTURE-C-1");
    assert_eq!(outcome.determinant.level, Level::Charlie);
}

#[test]
fn collision_with_trapped_persons_gets_extrication_als_and_a_patrol() {
    let trapped = shipped_type("TRAFFIC-TRAPPED");
    let outcome = trapped
        .triage(&[yes_no("fire", false), number("trapped_count", 1.0)])
        .unwrap();
    assert_eq!(outcome.determinant.code, "TRAFFIC-TRAPPED-D-1");
    assert_eq!(
        plan_of(&outcome),
        plan(&[("extrication", 1), ("als", 1), ("patrol", 1)])
    );
    let outcome = trapped
        .triage(&[yes_no("fire", false), number("trapped_count", 3.0)])
        .unwrap();
    assert_eq!(outcome.determinant.code, "TRAFFIC-TRAPPED-E-2");
    let outcome = trapped.triage(&[yes_no("fire", true)]).unwrap();
    assert_eq!(outcome.determinant.code, "TRAFFIC-TRAPPED-E-1");
}

#[test]
fn unanswered_optional_questions_make_their_conditions_false() {
    let chest = shipped_type("MED-CHEST-PAIN");
    let base = [yes_no("alert", true), yes_no("breathing_difficulty", false)];
    let outcome = chest.triage(&base).unwrap();
    assert_eq!(outcome.determinant.code, "MED-CHEST-PAIN-A-1");
    assert_eq!(outcome.determinant.level, Level::Alpha);

    let mut older = base.to_vec();
    older.push(number("age", 35.0));
    assert_eq!(
        chest.triage(&older).unwrap().determinant.code,
        "MED-CHEST-PAIN-C-2"
    );
    let mut younger = base.to_vec();
    younger.push(number("age", 34.5));
    assert_eq!(
        chest.triage(&younger).unwrap().determinant.code,
        "MED-CHEST-PAIN-A-1"
    );
}

#[test]
fn all_conditions_of_a_determinant_must_hold() {
    let seizure = shipped_type("MED-SEIZURE");
    let outcome = seizure
        .triage(&[yes_no("still_seizing", true), number("minutes", 5.0)])
        .unwrap();
    assert_eq!(outcome.determinant.code, "MED-SEIZURE-D-1");
    let outcome = seizure
        .triage(&[yes_no("still_seizing", true), number("minutes", 4.0)])
        .unwrap();
    assert_eq!(outcome.determinant.code, "MED-SEIZURE-C-2");
}

#[test]
fn choice_conditions_match_any_listed_value() {
    let line = shipped_type("GV-WOMENS-LINE");
    for (kind, code) in [
        ("physical", "GV-WOMENS-LINE-C-1"),
        ("sexual", "GV-WOMENS-LINE-C-1"),
        ("stalking", "GV-WOMENS-LINE-B-2"),
        ("economic", "GV-WOMENS-LINE-O-1"),
    ] {
        let outcome = line
            .triage(&[
                yes_no("immediate_danger", false),
                choice("violence_kind", kind),
            ])
            .unwrap();
        assert_eq!(outcome.determinant.code, code, "{kind}");
    }
}

#[test]
fn a_type_without_questions_triages_to_its_fallback() {
    let t = IncidentType {
        code: "OTHER-X".into(),
        display_name: "X".into(),
        category: Category::Other,
        disciplines: vec![Discipline::Police],
        default_priority: 3,
        compatible_types: vec![],
        description: String::new(),
        questions: vec![],
        determinants: vec![shipped_type("CRIME-SUSPICIOUS").determinants[2].clone()],
    };
    assert_eq!(
        t.triage(&[]).unwrap().determinant.code,
        "CRIME-SUSPICIOUS-A-1"
    );
}

#[test]
fn levels_are_ordered_omega_to_echo() {
    assert!(Level::Omega < Level::Alpha);
    assert!(Level::Alpha < Level::Bravo);
    assert!(Level::Bravo < Level::Charlie);
    assert!(Level::Charlie < Level::Delta);
    assert!(Level::Delta < Level::Echo);
    for level in Level::ALL {
        assert_eq!(Level::from_letter(level.letter()), Some(*level));
        assert_eq!(Level::parse(level.as_str()), Some(*level));
    }
}

// ---- answer validation -----------------------------------------------------------------------

fn violations(incident_type: &str, answers: &[Answer]) -> Vec<(String, String)> {
    shipped_type(incident_type)
        .triage(answers)
        .unwrap_err()
        .iter()
        .map(|v| (v.field.clone(), v.description.clone()))
        .collect()
}

fn stroke_answers() -> Vec<Answer> {
    vec![
        yes_no("alert", true),
        choice("onset", "unknown"),
        yes_no("breathing_normally", true),
    ]
}

#[test]
fn an_unknown_question_id_is_refused() {
    let mut answers = stroke_answers();
    answers.push(yes_no("smoke", true));
    let found = violations("MED-STROKE", &answers);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "answers[3].question_id");
    assert!(found[0].1.contains("\"smoke\""), "{}", found[0].1);
    assert!(found[0].1.contains("MED-STROKE"), "{}", found[0].1);
}

#[test]
fn an_answer_of_the_wrong_kind_is_refused() {
    let mut answers = stroke_answers();
    answers[1] = yes_no("onset", true);
    answers[0] = number("alert", 1.0);
    let found = violations("MED-STROKE", &answers);
    assert_eq!(
        found,
        vec![
            (
                "answers[0]".to_owned(),
                "question \"alert\" expects yes_no, got number".to_owned()
            ),
            (
                "answers[1]".to_owned(),
                "question \"onset\" expects choice, got yes_no".to_owned()
            ),
        ]
    );
}

#[test]
fn an_answer_without_a_value_is_refused() {
    let mut answers = stroke_answers();
    answers[2].value = None;
    let found = violations("MED-STROKE", &answers);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "answers[2]");
    assert!(found[0].1.contains("no value"), "{}", found[0].1);
}

#[test]
fn a_choice_not_offered_is_refused() {
    let mut answers = stroke_answers();
    answers[1] = choice("onset", "yesterday");
    let found = violations("MED-STROKE", &answers);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "answers[1].choice");
    assert!(found[0].1.contains("\"yesterday\""), "{}", found[0].1);
    assert!(found[0].1.contains("\"under_4_hours\""), "{}", found[0].1);
}

#[test]
fn a_number_that_is_not_finite_or_out_of_range_is_refused() {
    for (value, fragment) in [
        (f64::NAN, "finite"),
        (f64::INFINITY, "finite"),
        (f64::NEG_INFINITY, "finite"),
        (131.0, "from 0 to 130"),
        (-1.0, "from 0 to 130"),
    ] {
        let answers = [
            number("age", value),
            yes_no("alert", true),
            yes_no("breathing_difficulty", false),
        ];
        let found = violations("MED-CHEST-PAIN", &answers);
        assert_eq!(found.len(), 1, "{value}: {found:?}");
        assert_eq!(found[0].0, "answers[0].number");
        assert!(found[0].1.contains(fragment), "{value}: {}", found[0].1);
    }
    // The bounds are inclusive.
    for value in [0.0, 130.0] {
        let answers = [
            number("age", value),
            yes_no("alert", true),
            yes_no("breathing_difficulty", false),
        ];
        assert!(shipped_type("MED-CHEST-PAIN").triage(&answers).is_ok());
    }
}

#[test]
fn a_question_answered_twice_is_refused() {
    let mut answers = stroke_answers();
    answers.push(yes_no("breathing_normally", false));
    answers.push(yes_no("alert", false));
    let found = violations("MED-STROKE", &answers);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "answers[3].question_id");
    assert!(found[0].1.contains("answers[2]"), "{}", found[0].1);
    assert_eq!(found[1].0, "answers[4].question_id");
}

#[test]
fn a_missing_required_answer_is_refused_naming_the_question() {
    let answers = [yes_no("alert", true)];
    let found = violations("MED-STROKE", &answers);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(field, _)| field == "answers"));
    assert!(found[0].1.contains("\"onset\""), "{}", found[0].1);
    assert!(
        found[1].1.contains("\"breathing_normally\""),
        "{}",
        found[1].1
    );
    // Optional questions may be left out.
    assert!(
        shipped_type("MED-CHEST-PAIN")
            .triage(&[yes_no("alert", true), yes_no("breathing_difficulty", true)])
            .is_ok()
    );
}

#[test]
fn every_bad_answer_is_reported_at_once() {
    let answers = [
        yes_no("alert", true),
        choice("onset", "never"),
        yes_no("nope", true),
        yes_no("alert", false),
    ];
    let found = violations("MED-STROKE", &answers);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "answers[1].choice",
            "answers[2].question_id",
            "answers[3].question_id",
            "answers",
        ]
    );
}

// ---- catalogue validation --------------------------------------------------------------------

const BASE: &str = r#"
version = 1

[[capabilities]]
code = "als"
description = "ALS ambulance"

[[capabilities]]
code = "engine"
description = "Engine"

[[types]]
code = "MED-X"
display_name = "Medical X"
category = "medical"
disciplines = ["ems"]
default_priority = 5

  [[types.questions]]
  id = "breathing"
  text = "Breathing?"
  kind = "yes_no"

  [[types.questions]]
  id = "age"
  text = "Age?"
  kind = "number"
  min = 0
  max = 130
  required = false

  [[types.determinants]]
  code = "MED-X-E-1"
  level = "echo"
  description = "Not breathing"
  priority = 10
  when = [{ question = "breathing", is = false }]
  plan = [{ capability = "als" }]

  [[types.determinants]]
  code = "MED-X-C-1"
  level = "charlie"
  description = "Elderly"
  priority = 6
  when = [{ question = "age", at_least = 65 }]
  plan = [{ capability = "als", count = 1 }]

  [[types.determinants]]
  code = "MED-X-A-1"
  level = "alpha"
  description = "Other"
  priority = 3
  plan = [{ capability = "als", count = 1, description = "Any" }]

[[types]]
code = "FIRE-Y"
display_name = "Fire Y"
category = "fire"
disciplines = ["fire", "ems"]
default_priority = 7
compatible_types = ["MED-X"]

  [[types.questions]]
  id = "where"
  text = "Where?"
  kind = "choice"
  choices = ["home", "street", "factory"]

  [[types.determinants]]
  code = "FIRE-Y-D-1"
  level = "delta"
  description = "Factory"
  priority = 9
  when = [{ question = "where", any_of = ["factory"] }]
  plan = [{ capability = "engine", count = 3 }, { capability = "als", count = 1 }]

  [[types.determinants]]
  code = "FIRE-Y-B-1"
  level = "bravo"
  description = "Other"
  priority = 5
  plan = [{ capability = "engine" }]
"#;

/// The base catalogue with each `(from, to)` replacement applied once.
fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = BASE.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in the base catalogue");
        text = text.replacen(from, to, 1);
    }
    text
}

fn problems(text: &str) -> Vec<(String, String)> {
    Catalogue::from_toml(text)
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| (p.path.clone(), p.message.clone()))
        .collect()
}

/// Exactly one problem, at `path`, whose message contains `fragment`.
fn assert_one_problem(edits: &[(&str, &str)], path: &str, fragment: &str) {
    let found = problems(&edited(edits));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, path, "{found:#?}");
    assert!(found[0].1.contains(fragment), "{found:#?}");
}

#[test]
fn the_base_catalogue_is_valid() {
    let catalogue = Catalogue::from_toml(BASE).unwrap();
    assert_eq!(catalogue.types().count(), 2);
    let x = catalogue.get("MED-X").unwrap();
    assert_eq!(x.disciplines, [Discipline::Ems]);
    assert!(x.questions[0].required);
    assert!(!x.questions[1].required);
    assert_eq!(
        x.questions[1].kind,
        QuestionKind::Number {
            min: Some(0.0),
            max: Some(130.0)
        }
    );
    assert_eq!(x.determinants[0].plan[0].count, 1, "count defaults to 1");
    assert!(catalogue.compatible("MED-X", "FIRE-Y"));
    assert!(catalogue.compatible("FIRE-Y", "MED-X"));
}

#[test]
fn a_duplicate_type_code_is_refused() {
    assert_one_problem(
        &[
            (r#"code = "FIRE-Y""#, r#"code = "MED-X""#),
            (r#"compatible_types = ["MED-X"]"#, ""),
        ],
        "types[1].code",
        "duplicate incident type code \"MED-X\", first defined at types[0]",
    );
}

#[test]
fn a_badly_formed_type_code_is_refused() {
    assert_one_problem(
        &[
            (r#"code = "MED-X""#, r#"code = "med x""#),
            (r#"compatible_types = ["MED-X"]"#, ""),
        ],
        "types[0] (med x).code",
        "A-Z, 0-9",
    );
}

#[test]
fn an_unknown_capability_is_refused() {
    assert_one_problem(
        &[(
            r#"plan = [{ capability = "als" }]"#,
            r#"plan = [{ capability = "ambulance" }]"#,
        )],
        "types[0] (MED-X).determinants[0].plan[0].capability",
        "unknown capability \"ambulance\"",
    );
}

#[test]
fn a_determinant_code_whose_letter_does_not_match_its_level_is_refused() {
    assert_one_problem(
        &[(r#"code = "MED-X-E-1""#, r#"code = "MED-X-D-1""#)],
        "types[0] (MED-X).determinants[0].code",
        "the level letter 'D' is delta, but the level is echo",
    );
    assert_one_problem(
        &[(r#"code = "MED-X-E-1""#, r#"code = "MED-X-E1""#)],
        "types[0] (MED-X).determinants[0].code",
        "PREFIX-L-N",
    );
}

#[test]
fn a_duplicate_determinant_code_is_refused_across_types() {
    assert_one_problem(
        &[
            (r#"code = "FIRE-Y-B-1""#, r#"code = "MED-X-A-1""#),
            (r#"level = "bravo""#, r#"level = "alpha""#),
        ],
        "types[1] (FIRE-Y).determinants[1].code",
        "first used at types[0] (MED-X).determinants[2]",
    );
}

#[test]
fn an_unconditional_determinant_before_the_last_is_refused() {
    assert_one_problem(
        &[(r#"when = [{ question = "breathing", is = false }]"#, "")],
        "types[0] (MED-X).determinants[0]",
        "only the last determinant may have no `when` conditions",
    );
}

#[test]
fn a_conditional_last_determinant_is_refused() {
    assert_one_problem(
        &[(
            r#"  plan = [{ capability = "engine" }]"#,
            r#"  when = [{ question = "where", is = "home" }]
  plan = [{ capability = "engine" }]"#,
        )],
        "types[1] (FIRE-Y).determinants[1].when",
        "fallback",
    );
}

#[test]
fn a_condition_on_an_unknown_question_is_refused() {
    assert_one_problem(
        &[(
            r#"question = "breathing", is = false"#,
            r#"question = "smoke", is = false"#,
        )],
        "types[0] (MED-X).determinants[0].when[0].question",
        "unknown question \"smoke\"; MED-X asks: breathing, age",
    );
}

#[test]
fn a_condition_of_the_wrong_kind_is_refused() {
    assert_one_problem(
        &[(
            r#"question = "breathing", is = false"#,
            r#"question = "breathing", is = "no""#,
        )],
        "types[0] (MED-X).determinants[0].when[0].is",
        "question \"breathing\" is yes_no",
    );
    assert_one_problem(
        &[(
            r#"question = "age", at_least = 65"#,
            r#"question = "age", is = true"#,
        )],
        "types[0] (MED-X).determinants[1].when[0]",
        "`at_least` and/or `at_most`",
    );
    assert_one_problem(
        &[(
            r#"question = "breathing", is = false"#,
            r#"question = "breathing", is = false, any_of = ["x"]"#,
        )],
        "types[0] (MED-X).determinants[0].when[0]",
        "exactly one test",
    );
}

#[test]
fn a_choice_value_not_among_the_choices_is_refused() {
    assert_one_problem(
        &[(
            r#"any_of = ["factory"]"#,
            r#"any_of = ["factory", "warehouse"]"#,
        )],
        "types[1] (FIRE-Y).determinants[0].when[0].any_of[1]",
        "\"warehouse\" is not a choice of question \"where\"",
    );
}

#[test]
fn a_priority_above_ten_is_refused() {
    assert_one_problem(
        &[("priority = 10", "priority = 11")],
        "types[0] (MED-X).determinants[0].priority",
        "must be from 0 to 10",
    );
    assert_one_problem(
        &[("default_priority = 5", "default_priority = -1")],
        "types[0] (MED-X).default_priority",
        "must be from 0 to 10",
    );
}

#[test]
fn a_number_condition_outside_the_question_range_is_refused() {
    assert_one_problem(
        &[("at_least = 65", "at_least = 200")],
        "types[0] (MED-X).determinants[1].when[0].at_least",
        "200 is outside question \"age\"'s range: a number from 0 to 130",
    );
    assert_one_problem(
        &[("at_least = 65", "at_least = 65, at_most = 60")],
        "types[0] (MED-X).determinants[1].when[0].at_most",
        "never holds",
    );
    assert_one_problem(
        &[("at_least = 65", "at_least = nan")],
        "types[0] (MED-X).determinants[1].when[0].at_least",
        "finite",
    );
}

#[test]
fn a_missing_or_self_compatible_type_is_refused() {
    assert_one_problem(
        &[(
            r#"compatible_types = ["MED-X"]"#,
            r#"compatible_types = ["MED-X", "NOPE"]"#,
        )],
        "types[1] (FIRE-Y).compatible_types[1]",
        "unknown incident type \"NOPE\"",
    );
    assert_one_problem(
        &[(
            r#"compatible_types = ["MED-X"]"#,
            r#"compatible_types = ["FIRE-Y"]"#,
        )],
        "types[1] (FIRE-Y).compatible_types[0]",
        "itself",
    );
}

#[test]
fn an_unknown_category_discipline_level_or_kind_is_refused() {
    assert_one_problem(
        &[(r#"category = "medical""#, r#"category = "medicine""#)],
        "types[0] (MED-X).category",
        "unknown category \"medicine\"; expected one of: medical, fire,",
    );
    assert_one_problem(
        &[(
            r#"disciplines = ["ems"]"#,
            r#"disciplines = ["ems", "army"]"#,
        )],
        "types[0] (MED-X).disciplines[1]",
        "unknown discipline \"army\"",
    );
    assert_one_problem(
        &[(r#"level = "echo""#, r#"level = "critical""#)],
        "types[0] (MED-X).determinants[0].level",
        "unknown level \"critical\"",
    );
    // A question whose kind is unknown is reported once, not again at every condition on it.
    assert_one_problem(
        &[(r#"kind = "yes_no""#, r#"kind = "boolean""#)],
        "types[0] (MED-X).questions[0].kind",
        "unknown kind \"boolean\"",
    );
}

#[test]
fn bad_counts_are_refused() {
    assert_one_problem(
        &[(
            r#"{ capability = "engine", count = 3 }"#,
            r#"{ capability = "engine", count = 0 }"#,
        )],
        "types[1] (FIRE-Y).determinants[0].plan[0].count",
        "must be from 1 to 20",
    );
    assert_one_problem(
        &[(
            r#"{ capability = "engine", count = 3 }"#,
            r#"{ capability = "engine", count = 21 }"#,
        )],
        "types[1] (FIRE-Y).determinants[0].plan[0].count",
        "must be from 1 to 20",
    );
    assert_one_problem(
        &[(
            r#"count = 3 }, { capability = "als", count = 1 }]"#,
            r#"count = 3 }, { capability = "engine", count = 1 }]"#,
        )],
        "types[1] (FIRE-Y).determinants[0].plan[1].capability",
        "capability \"engine\"",
    );
}

#[test]
fn bad_questions_are_refused() {
    assert_one_problem(
        &[
            (r#"id = "age""#, r#"id = "breathing""#),
            (
                r#"question = "age", at_least = 65"#,
                r#"question = "breathing", is = true"#,
            ),
        ],
        "types[0] (MED-X).questions[1].id",
        "duplicate question id \"breathing\"",
    );
    assert_one_problem(
        &[
            (r#"id = "age""#, r#"id = "Age""#),
            ("\"age\", at_least", "\"Age\", at_least"),
        ],
        "types[0] (MED-X).questions[1].id",
        "a-z, 0-9",
    );
    assert_one_problem(
        &[(
            r#"choices = ["home", "street", "factory"]"#,
            r#"choices = ["home", "home", "factory"]"#,
        )],
        "types[1] (FIRE-Y).questions[0].choices[1]",
        "listed twice",
    );
    assert_one_problem(
        &[
            ("max = 130", "max = -5"),
            ("at_least = 65", "at_least = -5"),
        ],
        "types[0] (MED-X).questions[1].max",
        "below min",
    );
    assert_one_problem(
        &[(
            r#"kind = "yes_no""#,
            "kind = \"yes_no\"\n  choices = [\"a\"]",
        )],
        "types[0] (MED-X).questions[0].choices",
        "only choice questions",
    );
}

#[test]
fn a_misspelt_field_or_a_wrong_type_is_refused() {
    assert_one_problem(
        &[("priority = 10", "prioirty = 10\n  priority = 10")],
        "types[0] (MED-X).determinants[0].prioirty",
        "unknown field; expected one of: code, level",
    );
    assert_one_problem(
        &[("default_priority = 5", r#"default_priority = "high""#)],
        "types[0] (MED-X).default_priority",
        "expected an integer, got a string",
    );
    assert_one_problem(
        &[(r#"display_name = "Medical X""#, "")],
        "types[0] (MED-X).display_name",
        "required",
    );
    assert_one_problem(
        &[("version = 1", "version = 2")],
        "version",
        "unsupported version 2",
    );
}

#[test]
fn a_toml_syntax_error_is_one_problem_with_its_line() {
    let found = problems(&edited(&[("version = 1", "version = ")]));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "");
    assert!(found[0].1.contains("not valid TOML"), "{}", found[0].1);
    assert!(found[0].1.contains("line 2"), "{}", found[0].1);
}

/// The sample catalogue with five mistakes, in two types: the one the documentation lists.
fn five_mistakes() -> String {
    edited(&[
        (r#"category = "medical""#, r#"category = "medicine""#),
        ("priority = 10", "priority = 11"),
        (
            r#"question = "breathing", is = false"#,
            r#"question = "smoke", is = false"#,
        ),
        (
            r#"plan = [{ capability = "engine" }]"#,
            r#"plan = [{ capability = "pump" }]"#,
        ),
        (
            r#"compatible_types = ["MED-X"]"#,
            r#"compatible_types = ["NOPE"]"#,
        ),
    ])
}

#[test]
fn every_problem_in_a_file_is_reported() {
    let text = five_mistakes();
    let error = Catalogue::from_toml(&text).unwrap_err();
    let paths: Vec<&str> = error.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "types[0] (MED-X).category",
            "types[0] (MED-X).determinants[0].priority",
            "types[0] (MED-X).determinants[0].when[0].question",
            "types[1] (FIRE-Y).compatible_types[0]",
            "types[1] (FIRE-Y).determinants[1].plan[0].capability",
        ]
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with("invalid incident type catalogue (5 problems):\n  types[0] (MED-X).category: unknown category"),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), 6, "{shown}");
}

// ---- the documentation -----------------------------------------------------------------------

const DOC: &str = include_str!("../../../../docs/CATALOGUE.md");

/// The worked example of docs/CATALOGUE.md, added to the shipped catalogue, loads and maps
/// answers as the documentation's table says.
#[test]
fn the_documented_worked_example_is_valid_and_behaves_as_documented() {
    let section = &DOC[DOC.find("## Worked example").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let catalogue = Catalogue::from_toml(&format!("{SHIPPED}\n{example}"))
        .unwrap_or_else(|error| panic!("{error}"));
    let lift = catalogue.get("RESCUE-LIFT").unwrap();
    let code = |answers: &[Answer]| lift.triage(answers).unwrap().determinant.code;
    assert_eq!(
        code(&[yes_no("anyone_unwell", true), choice("building", "office")]),
        "RESCUE-LIFT-D-1"
    );
    assert_eq!(
        code(&[
            yes_no("anyone_unwell", false),
            number("minutes_trapped", 75.0),
            choice("building", "residential"),
        ]),
        "RESCUE-LIFT-C-1"
    );
    assert_eq!(
        code(&[
            yes_no("anyone_unwell", false),
            choice("building", "metro_station")
        ]),
        "RESCUE-LIFT-C-2"
    );
    assert_eq!(
        code(&[
            yes_no("anyone_unwell", false),
            number("minutes_trapped", 10.0),
            choice("building", "office"),
        ]),
        "RESCUE-LIFT-B-1"
    );
    let refused = lift.triage(&[choice("building", "office")]).unwrap_err();
    assert!(
        refused.to_string().contains("\"anyone_unwell\""),
        "{refused}"
    );
}

/// The error listing shown in docs/CATALOGUE.md is what the loader prints.
#[test]
fn the_documented_error_listing_is_current() {
    let text = five_mistakes();
    let shown = Catalogue::from_toml(&text).unwrap_err().to_string();
    assert!(
        DOC.contains(&shown),
        "docs/CATALOGUE.md should show:\n{shown}"
    );
}
