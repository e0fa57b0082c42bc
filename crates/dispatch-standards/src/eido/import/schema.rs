//! The shape of an EIDO as NENA-STA-021.1b's schema (`Schema/openapi.yaml`) declares it, written
//! down as data: every component's properties, their JSON types and which are required. A
//! document is checked against it before its meaning is read, so each problem is reported with
//! its JSON path. The schema does not forbid unknown keys; we do, since a misspelt key is data
//! the sender meant us to have and we would silently drop.

use dispatch_domain::Violations;
use serde_json::Value;

/// What a property holds.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Text,
    /// A string from a closed list.
    OneOf(&'static [&'static str]),
    /// An RFC 3339 date-time (`format: date-time`).
    DateTime,
    /// A URI (`format: uri`): a scheme, a colon, something after it.
    Uri,
    Bool,
    Int32,
    Texts,
    /// `{"$ref": "<the $id of another component>"}`.
    Reference,
    References,
    Component(&'static Shape),
    Components(&'static Shape),
    /// A NIEM object (`ncPersonComponent`, `ncVehicleComponent`): its own large vocabulary,
    /// which we neither read nor check beyond being an object.
    NiemObject,
}

/// One component type: its properties, and whether it begins with the common prologue.
#[derive(Debug)]
pub(super) struct Shape {
    pub name: &'static str,
    pub prologue: bool,
    pub properties: &'static [(&'static str, Kind, Required)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Required {
    Yes,
    No,
}

use Kind::*;
use Required::{No, Yes};

const PROLOGUE: &[(&str, Kind, Required)] = &[
    ("$id", Text, Yes),
    ("lastUpdateTimeStamp", DateTime, Yes),
    ("updatedByAgencyReference", Reference, Yes),
    ("updatedByAgentReference", Reference, No),
];

const REFERENCE: Shape = Shape {
    name: "Reference",
    prologue: false,
    properties: &[("$ref", Text, Yes)],
};

const AGENCY: Shape = Shape {
    name: "AgencyType",
    prologue: true,
    properties: &[
        ("agencyJcard", Text, No),
        ("agencyRoleDescriptionRegistryText", Texts, Yes),
        ("incidentOwningAgencyIndicator", Bool, No),
        ("agencyType", Texts, Yes),
        ("notesReference", References, No),
    ],
};

const AGENT: Shape = Shape {
    name: "AgentType",
    prologue: true,
    properties: &[
        ("agentJcard", Text, No),
        ("agentWorkstationPositionIdentification", Text, No),
        ("agentRoleRegistryText", Texts, Yes),
        ("agencyReference", Reference, Yes),
        ("notesReference", References, No),
    ],
};

const MERGE: Shape = Shape {
    name: "MergeInformationType",
    prologue: true,
    properties: &[
        ("incidentTrackingIdentifier", Text, Yes),
        (
            "incidentMergeDirectionCode",
            OneOf(&["REPLACING", "REPLACED", "SPLIT"]),
            Yes,
        ),
    ],
};

const LINK: Shape = Shape {
    name: "LinkInformationType",
    prologue: true,
    properties: &[
        ("incidentTrackingIdentifier", Text, Yes),
        ("transactionReasonText", Text, No),
        ("involvedAgencyReference", Reference, No),
        (
            "linkDirectionCode",
            OneOf(&["PARENT", "CHILD", "RELATED", "UNLINK"]),
            Yes,
        ),
    ],
};

const NOTES: Shape = Shape {
    name: "NotesType",
    prologue: true,
    properties: &[
        ("notesActionComments", Text, Yes),
        ("agentReference", Reference, No),
    ],
};

const ADDITIONAL_DATA: Shape = Shape {
    name: "AdditionalDataType",
    prologue: true,
    properties: &[
        ("additionalDataByReferenceUrl", Text, No),
        ("additionalDataByValue", Text, No),
        ("urlPurpose", Text, No),
        ("notesReference", References, No),
    ],
};

const LOCATION: Shape = Shape {
    name: "LocationInformationType",
    prologue: true,
    properties: &[
        ("locationTypeDescriptionRegistryText", Text, Yes),
        ("locationByValue", Text, No),
        ("locationDescriptionText", Text, No),
        ("locationByReferenceUrl", Uri, No),
        ("crossStreetByValue", Texts, No),
        ("crossStreetByReferenceUrl", Texts, No),
        ("intersectingStreetByValue", Texts, No),
        ("intersectingStreetByReferenceUrl", Texts, No),
        ("cellTowerSectorId", Text, No),
        ("additionalDataReference", References, No),
        ("notesReference", References, No),
    ],
};

const PERSON: Shape = Shape {
    name: "PersonInformationType",
    prologue: true,
    properties: &[
        ("ncPersonComponent", NiemObject, No),
        ("personIncidentRoleRegistryText", Texts, Yes),
        ("callIdentifier", Texts, No),
        ("additionalDataReference", References, No),
        ("locationReference", References, No),
        ("notesReference", References, No),
        ("callBackReference", Reference, No),
    ],
};

const DISPOSITION: Shape = Shape {
    name: "DispositionType",
    prologue: true,
    properties: &[
        ("dispositionCommonRegistryCode", Text, Yes),
        ("dispositionPrimaryIndicator", Bool, No),
        ("dispositionCategoryText", Text, No),
        ("dispositionDescriptionText", Text, No),
        ("notesReference", References, No),
    ],
};

const VEHICLE: Shape = Shape {
    name: "VehicleInformationType",
    prologue: true,
    properties: &[
        ("ncVehicleComponent", NiemObject, No),
        ("vehicleRelationshipType", Texts, Yes),
        ("vehicleRelationshipTimeStamp", DateTime, Yes),
        ("additionalDataReference", References, No),
        ("locationReference", References, No),
        ("notesReference", References, No),
    ],
};

const INCIDENT: Shape = Shape {
    name: "IncidentInformationType",
    prologue: true,
    properties: &[
        ("incidentTypeInternalCode", Text, No),
        ("incidentTypeInternalText", Text, No),
        ("incidentTypeCommonRegistryText", Text, Yes),
        ("incidentStatusInternalText", Texts, No),
        ("incidentStatusCommonRegistryText", Texts, No),
        ("internalIncidentId", Text, No),
        ("agentReference", References, No),
        ("locationReference", References, No),
        ("personReference", References, No),
        ("vehicleReference", References, No),
        ("documentIdentification", Texts, No),
        ("reportNumberType", Text, No),
        ("incidentPriorityInternalText", Text, No),
        ("incidentCommonPriorityNumber", Int32, No),
        ("beatOrDispatchGroupText", Text, No),
        ("dispositionComponent", Components(&DISPOSITION), No),
        ("notesReference", References, No),
    ],
};

const UPDATED_CBN: Shape = Shape {
    name: "UpdatedCBNType",
    prologue: true,
    properties: &[
        ("updatedCbnIdentifierUri", Uri, Yes),
        ("updatedCbnCallerDescription", Text, No),
    ],
};

const CALL: Shape = Shape {
    name: "CallInformationType",
    prologue: true,
    properties: &[
        ("relatedCallIdentifier", Texts, No),
        ("queueIdentifier", Text, No),
        ("standardPrimaryCallType", Text, Yes),
        ("standardSecondaryCallType", Text, No),
        ("localCallType", Text, No),
        (
            "direction",
            OneOf(&["incoming", "outgoing", "internal"]),
            Yes,
        ),
        ("additionalDataReference", References, No),
        ("callStartTimestamp", DateTime, Yes),
        ("answerDate", DateTime, No),
        ("callStateRegistryText", Text, Yes),
        ("callBackReference", Reference, No),
        ("verstat", Text, No),
        ("sipIdentity", Text, No),
        ("agentReference", References, No),
        ("locationReference", References, No),
        ("personReference", References, No),
        ("notesReference", References, No),
    ],
};

const CALLBACK: Shape = Shape {
    name: "CallbackType",
    prologue: true,
    properties: &[
        ("callBackInformationUri", Texts, No),
        ("deviceContactHeader", Text, No),
        ("updatedCbn", Component(&UPDATED_CBN), No),
    ],
};

const EMERGENCY_RESOURCE: Shape = Shape {
    name: "EmergencyResourceType",
    prologue: true,
    properties: &[
        ("eta", DateTime, No),
        ("emergencyResourceTypeCommonRegistryText", Text, Yes),
        ("emergencyResourceTypeInternalText", Text, No),
        ("resourceAttributeRegistryText", Texts, Yes),
        ("emergencyResourceName", Text, No),
        ("primaryUnitStatusRegistryText", Text, Yes),
        ("secondaryUnitStatusRegistryText", Texts, Yes),
        ("notesReference", References, No),
        ("unitStatusInternal", Texts, No),
        ("agentReference", References, Yes),
        ("unitLocationReference", Reference, No),
        ("unitDestinationReference", Reference, No),
        ("personReference", References, No),
        ("vehicleReference", References, No),
    ],
};

const DISPATCH: Shape = Shape {
    name: "DispatchInformationType",
    prologue: true,
    properties: &[
        ("agencyReference", Reference, No),
        ("agentReference", Reference, No),
        ("emergencyResourceReference", References, No),
        ("notesReference", References, No),
    ],
};

const ALARMS_SENSORS: Shape = Shape {
    name: "AlarmsSensorsType",
    prologue: true,
    properties: &[
        ("csaaAlarmInformation", Text, No),
        ("alarmUrl", Uri, No),
        ("agentReference", Reference, No),
        ("notesReference", References, No),
    ],
};

const CONTEXT: Shape = Shape {
    name: "JSON-LD context",
    prologue: false,
    properties: &[(
        "@vocab",
        OneOf(&["./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"]),
        No,
    )],
};

/// `#/components/schemas/EmergencyIncidentDataObjectType`.
pub(super) const EIDO: Shape = Shape {
    name: "EmergencyIncidentDataObjectType",
    prologue: true,
    properties: &[
        ("eidoVersion", OneOf(&["1.0"]), Yes),
        ("issuingElementIdentification", Text, Yes),
        ("mergeComponent", Components(&MERGE), No),
        ("linkComponent", Components(&LINK), No),
        ("incidentComponent", Component(&INCIDENT), No),
        ("callComponent", Components(&CALL), No),
        ("callbackComponent", Components(&CALLBACK), No),
        ("dispatchComponent", Components(&DISPATCH), No),
        ("alarmsSensorsComponent", Components(&ALARMS_SENSORS), No),
        ("agencyComponent", Components(&AGENCY), Yes),
        ("agentComponent", Components(&AGENT), No),
        ("notesComponent", Components(&NOTES), No),
        ("additionalDataComponent", Components(&ADDITIONAL_DATA), No),
        ("locationComponent", Components(&LOCATION), No),
        ("personComponent", Components(&PERSON), No),
        ("vehicleComponent", Components(&VEHICLE), No),
        (
            "emergencyResourceComponent",
            Components(&EMERGENCY_RESOURCE),
            No,
        ),
        ("@context", Component(&CONTEXT), No),
    ],
};

/// A JSON path: `$`, then `.key` (or `['key']` for a key that is not a plain name), `[index]`.
pub(super) fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '@');
    if plain {
        format!("{path}.{key}")
    } else {
        format!(
            "{path}['{}']",
            key.replace('\\', "\\\\").replace('\'', "\\'")
        )
    }
}

pub(super) fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Every way `value` departs from `shape`, each at its JSON path.
pub(super) fn check(value: &Value, shape: &Shape, path: &str, violations: &mut Violations) {
    let Some(object) = value.as_object() else {
        violations.add(
            path,
            format!(
                "must be an object ({}), got {}",
                shape.name,
                json_type(value)
            ),
        );
        return;
    };
    let prologue: &[(&str, Kind, Required)] = if shape.prologue { PROLOGUE } else { &[] };
    let declared = || prologue.iter().chain(shape.properties);
    for &(key, kind, required) in declared() {
        match object.get(key) {
            Some(found) => check_kind(found, kind, &child(path, key), violations),
            None if required == Yes => {
                violations.add(child(path, key), format!("required by {}", shape.name));
            }
            None => {}
        }
    }
    for key in object.keys() {
        if declared().any(|&(known, _, _)| known == key) {
            continue;
        }
        let hint = declared()
            .find(|&&(known, _, _)| known.eq_ignore_ascii_case(key))
            .map(|&(known, _, _)| format!("; did you mean {known:?}?"))
            .unwrap_or_default();
        violations.add(
            child(path, key),
            format!("unknown key: {} has no such property{hint}", shape.name),
        );
    }
}

fn check_kind(value: &Value, kind: Kind, path: &str, violations: &mut Violations) {
    match kind {
        Text => {
            expect_text(value, path, violations);
        }
        OneOf(allowed) => {
            if let Some(text) = expect_text(value, path, violations)
                && !allowed.contains(&text)
            {
                violations.add(path, format!("must be one of {allowed:?}, got {text:?}"));
            }
        }
        DateTime => {
            if let Some(text) = expect_text(value, path, violations)
                && chrono::DateTime::parse_from_rfc3339(text).is_err()
            {
                violations.add(
                    path,
                    format!("must be an RFC 3339 date-time with its offset, got {text:?}"),
                );
            }
        }
        Uri => {
            if let Some(text) = expect_text(value, path, violations)
                && !is_uri(text)
            {
                violations.add(path, format!("must be a URI (scheme:rest), got {text:?}"));
            }
        }
        Bool => {
            if !value.is_boolean() {
                violations.add(path, format!("must be a boolean, got {}", json_type(value)));
            }
        }
        Int32 => {
            if value.as_i64().and_then(|n| i32::try_from(n).ok()).is_none() {
                violations.add(
                    path,
                    format!("must be a 32-bit integer, got {}", json_brief(value)),
                );
            }
        }
        Texts => each(value, path, violations, |item, path, violations| {
            expect_text(item, path, violations);
        }),
        Reference => check(value, &REFERENCE, path, violations),
        References => each(value, path, violations, |item, path, violations| {
            check(item, &REFERENCE, path, violations);
        }),
        Component(shape) => check(value, shape, path, violations),
        Components(shape) => each(value, path, violations, |item, path, violations| {
            check(item, shape, path, violations);
        }),
        NiemObject => {
            if !value.is_object() {
                violations.add(path, format!("must be an object, got {}", json_type(value)));
            }
        }
    }
}

fn each(
    value: &Value,
    path: &str,
    violations: &mut Violations,
    mut check_item: impl FnMut(&Value, &str, &mut Violations),
) {
    match value.as_array() {
        Some(items) => {
            for (index, found) in items.iter().enumerate() {
                check_item(found, &item(path, index), violations);
            }
        }
        None => violations.add(path, format!("must be an array, got {}", json_type(value))),
    }
}

fn expect_text<'v>(value: &'v Value, path: &str, violations: &mut Violations) -> Option<&'v str> {
    let text = value.as_str();
    if text.is_none() {
        violations.add(path, format!("must be a string, got {}", json_type(value)));
    }
    text
}

/// `scheme:rest`, the scheme a letter then letters, digits, `+`, `-` or `.` (RFC 3986).
pub(super) fn is_uri(text: &str) -> bool {
    match text.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_brief(value: &Value) -> String {
    match value {
        Value::Number(number) => number.to_string(),
        other => json_type(other).to_owned(),
    }
}
