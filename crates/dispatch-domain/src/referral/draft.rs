//! A new referral: its fields validated (INVALID_ARGUMENT), then the rules that depend on state
//! the caller loads — consent, the partner, the incident (FAILED_PRECONDITION).

use super::{
    AgeRange, MAX_NOTE_CHARS, Need, PartnerKind, ReferralAction, ReferralStatus, SafeContactChannel,
};
use crate::call::{CallbackNumber, MAX_CLOCK_SKEW, check_length, is_language_tag};
use crate::ids::{IncidentId, PartnerId};
use crate::incident::IncidentStatus;
use crate::{Error, Violations};
use chrono::{DateTime, Utc};

pub const MAX_ALIAS_CHARS: usize = 100;
pub const MAX_FULL_NAME_CHARS: usize = 200;
pub const MAX_GENDER_CHARS: usize = 64;
pub const MAX_CONTACT_VALUE_CHARS: usize = 200;
pub const MAX_SAFE_TIMES_CHARS: usize = 500;
pub const MAX_SAFETY_NOTES_CHARS: usize = 4_000;
/// Who gave consent ("victim", "mother (guardian)"); the proto sets no bound, this one is ours.
pub const MAX_GIVEN_BY_CHARS: usize = 200;
/// What consent covers; the proto sets no bound, this one is ours.
pub const MAX_CONSENT_SCOPE_CHARS: usize = 1_000;

/// A way to reach the victim without endangering them, as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafeContactDraft {
    /// `None` for UNSPECIFIED.
    pub channel: Option<SafeContactChannel>,
    pub value: String,
    pub safe_times: String,
}

/// A validated safe contact. Phone and SMS numbers are normalised like callback numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeContact {
    pub channel: SafeContactChannel,
    pub value: String,
    /// When contact is safe, free text ("weekdays 9-13 only"); may be empty.
    pub safe_times: String,
}

impl SafeContactDraft {
    /// `Ok(None)` when nothing was given (an unset channel with no value and no times). Paths
    /// are relative to the safe contact.
    pub fn validate(self) -> Result<Option<SafeContact>, Violations> {
        let mut violations = Violations::new();
        let value = self.value.trim();
        let mut normalised = value.to_owned();
        match self.channel {
            None if value.is_empty() && self.safe_times.is_empty() => {}
            None => violations.add(
                "channel",
                "required when a value or safe times are given: phone, sms, messaging_app, \
                 email or in_person",
            ),
            Some(_) if value.is_empty() => violations.add(
                "value",
                "required: the number, address or handle (for in_person: where)",
            ),
            Some(_) if value.chars().count() > MAX_CONTACT_VALUE_CHARS => violations.add(
                "value",
                format!("at most {MAX_CONTACT_VALUE_CHARS} characters"),
            ),
            Some(SafeContactChannel::Phone | SafeContactChannel::Sms) => {
                match CallbackNumber::parse(value) {
                    Ok(number) => normalised = number.as_str().to_owned(),
                    Err(message) => violations.add("value", message),
                }
            }
            Some(SafeContactChannel::Email) => {
                if !is_email_shaped(value) {
                    violations.add("value", "must be an email address such as a@b.mx");
                }
            }
            Some(SafeContactChannel::MessagingApp | SafeContactChannel::InPerson) => {}
        }
        check_length(
            &mut violations,
            "safe_times",
            &self.safe_times,
            MAX_SAFE_TIMES_CHARS,
        );
        violations.into_result(|| {
            self.channel.map(|channel| SafeContact {
                channel,
                value: normalised,
                safe_times: self.safe_times,
            })
        })
    }
}

/// `local@domain.tld`, nothing more: the partner sends mail, the domain does not.
fn is_email_shaped(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The victim as it arrives: the minimum necessary data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VictimDraft {
    pub alias: String,
    pub full_name: String,
    /// `None` for UNSPECIFIED (refused: use [`AgeRange::Unknown`]).
    pub age_range: Option<AgeRange>,
    pub gender: String,
    pub language: String,
    /// `None` when the message is unset.
    pub safe_contact: Option<SafeContactDraft>,
    pub safety_notes: String,
}

/// A validated victim. Alias, full name and gender are trimmed; at least one of alias and full
/// name is non-empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Victim {
    pub alias: String,
    pub full_name: String,
    pub age_range: AgeRange,
    pub gender: String,
    /// BCP 47 or empty.
    pub language: String,
    pub safe_contact: Option<SafeContact>,
    /// E.g. "aggressor lives at the address".
    pub safety_notes: String,
}

impl VictimDraft {
    /// Paths are relative to the victim.
    pub fn validate(self) -> Result<Victim, Violations> {
        let mut violations = Violations::new();
        let alias = self.alias.trim().to_owned();
        let full_name = self.full_name.trim().to_owned();
        let gender = self.gender.trim().to_owned();
        if alias.is_empty() && full_name.is_empty() {
            violations.add(
                "alias",
                "required: at least one of alias and full_name (an alias is enough)",
            );
        }
        check_length(&mut violations, "alias", &alias, MAX_ALIAS_CHARS);
        check_length(
            &mut violations,
            "full_name",
            &full_name,
            MAX_FULL_NAME_CHARS,
        );
        if self.age_range.is_none() {
            violations.add("age_range", "required: use unknown when not known");
        }
        check_length(&mut violations, "gender", &gender, MAX_GENDER_CHARS);
        if !is_language_tag(&self.language) {
            violations.add("language", "must be a BCP 47 language tag such as es-MX");
        }
        let safe_contact = match self.safe_contact {
            Some(draft) => violations
                .collect(draft.validate().map_err(|v| v.within("safe_contact")))
                .flatten(),
            None => None,
        };
        check_length(
            &mut violations,
            "safety_notes",
            &self.safety_notes,
            MAX_SAFETY_NOTES_CHARS,
        );
        match self.age_range {
            Some(age_range) if violations.is_empty() => Ok(Victim {
                alias,
                full_name,
                age_range,
                gender,
                language: self.language,
                safe_contact,
                safety_notes: self.safety_notes,
            }),
            _ => Err(violations),
        }
    }
}

/// Consent as it arrives; an unset message is the default (not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentDraft {
    pub given: bool,
    pub given_by: String,
    pub given_at: Option<DateTime<Utc>>,
    pub scope: String,
}

/// Consent that was given: who gave it, when, for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub given_by: String,
    pub given_at: DateTime<Utc>,
    pub scope: String,
}

impl ConsentDraft {
    /// `Ok(None)` when consent was not given (whatever else is filled in: it records nothing).
    /// Given consent needs who, when (not in the future) and what for. Paths are relative to the
    /// consent and use the wire names (`given_time`).
    pub fn validate(self, now: DateTime<Utc>) -> Result<Option<Consent>, Violations> {
        if !self.given {
            return Ok(None);
        }
        let mut violations = Violations::new();
        let given_by = self.given_by.trim().to_owned();
        let scope = self.scope.trim().to_owned();
        if given_by.is_empty() {
            violations.add(
                "given_by",
                "required when consent is given: who gave it, e.g. victim",
            );
        }
        check_length(&mut violations, "given_by", &given_by, MAX_GIVEN_BY_CHARS);
        match self.given_at {
            None => violations.add("given_time", "required when consent is given"),
            Some(at) if at > now + MAX_CLOCK_SKEW => {
                violations.add("given_time", "is in the future");
            }
            Some(_) => {}
        }
        if scope.is_empty() {
            violations.add(
                "scope",
                "required when consent is given: what it covers, e.g. share contact with shelter",
            );
        }
        check_length(&mut violations, "scope", &scope, MAX_CONSENT_SCOPE_CHARS);
        match self.given_at {
            Some(given_at) if violations.is_empty() => Ok(Some(Consent {
                given_by,
                given_at,
                scope,
            })),
            _ => Err(violations),
        }
    }
}

/// A CreateReferral request as it arrives (resource names still text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralDraft {
    /// `incidents/{uuid}`.
    pub incident: String,
    /// `None` when the message is unset.
    pub victim: Option<VictimDraft>,
    /// `None` entries are UNSPECIFIED.
    pub needs: Vec<Option<Need>>,
    /// `partners/{uuid}`.
    pub partner: String,
    pub consent: ConsentDraft,
    pub life_threat_medical_handoff: bool,
    pub notes: String,
}

/// A referral whose every field is valid. Before storing it, the caller checks
/// [`NewReferral::check_preconditions`] against the partner it loaded, and
/// [`check_incident_can_refer`] against the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReferral {
    pub incident: IncidentId,
    pub victim: Victim,
    /// At least one, no duplicates, in the order given.
    pub needs: Vec<Need>,
    pub partner: PartnerId,
    /// `None`: not given (allowed only for a life-threat medical hand-off).
    pub consent: Option<Consent>,
    pub life_threat_medical_handoff: bool,
    pub notes: String,
}

impl ReferralDraft {
    /// Checks every field at once (INVALID_ARGUMENT); paths are relative to the request
    /// (`victim.safe_contact.value`, `needs[1]`, `consent.given_time`). Missing consent is not a
    /// bad field but a refused state: see [`NewReferral::check_consent`].
    pub fn validate(self, now: DateTime<Utc>) -> Result<NewReferral, Violations> {
        let mut violations = Violations::new();
        let incident = violations.collect(IncidentId::parse_name("incident", &self.incident));
        let victim = match self.victim {
            Some(draft) => violations.collect(draft.validate().map_err(|v| v.within("victim"))),
            None => {
                violations.add("victim", "required");
                None
            }
        };
        let needs = violations.collect(validate_needs("needs", &self.needs));
        let partner = violations.collect(PartnerId::parse_name("partner", &self.partner));
        let consent =
            violations.collect(self.consent.validate(now).map_err(|v| v.within("consent")));
        check_length(&mut violations, "notes", &self.notes, MAX_NOTE_CHARS);
        match (incident, victim, needs, partner, consent) {
            (Some(incident), Some(victim), Some(needs), Some(partner), Some(consent))
                if violations.is_empty() =>
            {
                Ok(NewReferral {
                    incident,
                    victim,
                    needs,
                    partner,
                    consent,
                    life_threat_medical_handoff: self.life_threat_medical_handoff,
                    notes: self.notes,
                })
            }
            _ => Err(violations),
        }
    }
}

/// Needs (or a partner's services): at least one, none UNSPECIFIED (`None`), no duplicates.
/// Paths are `field` and `field[i]`.
pub fn validate_needs(field: &str, needs: &[Option<Need>]) -> Result<Vec<Need>, Violations> {
    let mut violations = Violations::new();
    if needs.is_empty() {
        violations.add(field, "required: at least one need");
    }
    let mut valid: Vec<Need> = Vec::with_capacity(needs.len());
    for (i, need) in needs.iter().enumerate() {
        match need {
            None => violations.add(format!("{field}[{i}]"), "must not be UNSPECIFIED"),
            Some(need) => match needs.iter().position(|other| other == &Some(*need)) {
                Some(first) if first < i => violations.add(
                    format!("{field}[{i}]"),
                    format!("{need} is listed twice (also {field}[{first}])"),
                ),
                _ => valid.push(*need),
            },
        }
    }
    violations.into_result(|| valid)
}

/// What the referral rules need to know of the receiving partner (loaded by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerFacts {
    pub id: PartnerId,
    pub kind: PartnerKind,
    pub services: Vec<Need>,
    /// Diversion: no new referrals, except life-threat medical hand-offs.
    pub not_accepting: bool,
}

impl NewReferral {
    /// The consent rules (FAILED_PRECONDITION), which need nothing loaded: a referral needs given
    /// consent unless it is flagged as a life-threat medical hand-off, and a hand-off is for the
    /// single need MEDICAL (whether or not consent was also given).
    pub fn check_consent(&self) -> Result<(), Error> {
        if self.life_threat_medical_handoff && self.needs != [Need::Medical] {
            return Err(Error::WrongState {
                subject: "life_threat_medical_handoff".to_owned(),
                current: format!("set with needs {}", list(&self.needs)),
                action: "hand off anything but the single need medical".to_owned(),
            });
        }
        if self.consent.is_none() && !self.life_threat_medical_handoff {
            return Err(Error::WrongState {
                subject: "consent".to_owned(),
                current: "not given".to_owned(),
                action: "refer a victim without consent (only a life-threat medical hand-off to \
                         a hospital may)"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Every precondition of CreateReferral that this crate can judge: [`Self::check_consent`],
    /// then [`check_partner_rules`] for `partner` (which must be the partner named by
    /// `self.partner`).
    pub fn check_preconditions(&self, partner: &PartnerFacts) -> Result<(), Error> {
        self.check_consent()?;
        check_partner_rules(&self.needs, self.life_threat_medical_handoff, partner)
    }
}

/// The partner rules shared by CreateReferral and ReaddressReferral (FAILED_PRECONDITION): a
/// hand-off goes only to a HOSPITAL; a partner that is not accepting takes no referral except a
/// hand-off; the partner must offer every need.
pub fn check_partner_rules(
    needs: &[Need],
    life_threat_medical_handoff: bool,
    partner: &PartnerFacts,
) -> Result<(), Error> {
    let subject = partner.id.name();
    if life_threat_medical_handoff && partner.kind != PartnerKind::Hospital {
        return Err(Error::WrongState {
            subject,
            current: partner.kind.to_string(),
            action: "receive a life-threat medical hand-off (only a hospital may)".to_owned(),
        });
    }
    if partner.not_accepting && !life_threat_medical_handoff {
        return Err(Error::WrongState {
            subject,
            current: "not accepting referrals".to_owned(),
            action: "receive a new referral".to_owned(),
        });
    }
    let missing: Vec<Need> = needs
        .iter()
        .copied()
        .filter(|need| !partner.services.contains(need))
        .collect();
    if !missing.is_empty() {
        return Err(Error::WrongState {
            subject,
            current: if partner.services.is_empty() {
                "offering no services".to_owned()
            } else {
                format!("offering {}", list(&partner.services))
            },
            action: format!("take a referral needing {}", list(&missing)),
        });
    }
    Ok(())
}

/// ReaddressReferral (FAILED_PRECONDITION): only a DECLINED referral, only to a partner other
/// than the one that declined it, under the same partner rules as CreateReferral. Returns the
/// status after (REQUESTED). `subject` is the referral's name.
pub fn check_readdress(
    status: ReferralStatus,
    subject: &str,
    current_partner: PartnerId,
    needs: &[Need],
    life_threat_medical_handoff: bool,
    new_partner: &PartnerFacts,
) -> Result<ReferralStatus, Error> {
    let next = status.apply(ReferralAction::Readdress, subject)?;
    if new_partner.id == current_partner {
        return Err(Error::WrongState {
            subject: subject.to_owned(),
            current: format!("declined by {}", current_partner.name()),
            action: "re-address it to the partner that declined it".to_owned(),
        });
    }
    check_partner_rules(needs, life_threat_medical_handoff, new_partner)?;
    Ok(next)
}

/// A referral can be made for any incident that was not cancelled (care goes on after an
/// incident closes). `subject` is the incident's name.
pub fn check_incident_can_refer(status: IncidentStatus, subject: &str) -> Result<(), Error> {
    match status {
        IncidentStatus::Cancelled => Err(Error::WrongState {
            subject: subject.to_owned(),
            current: status.to_string(),
            action: "refer a victim".to_owned(),
        }),
        IncidentStatus::New
        | IncidentStatus::Triaged
        | IncidentStatus::Dispatched
        | IncidentStatus::OnScene
        | IncidentStatus::Resolved
        | IncidentStatus::Closed => Ok(()),
    }
}

/// DeclineReferral's reason: required, at most 4000 characters. The path is `reason`.
pub fn decline_reason(reason: &str) -> Result<String, Violations> {
    let mut violations = Violations::new();
    if reason.trim().is_empty() {
        violations.add("reason", "required: why the partner declines");
    }
    check_length(&mut violations, "reason", reason, MAX_NOTE_CHARS);
    violations.into_result(|| reason.to_owned())
}

fn list(needs: &[Need]) -> String {
    needs
        .iter()
        .map(|need| need.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-08T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn draft() -> ReferralDraft {
        ReferralDraft {
            incident: IncidentId::new_v7().name(),
            victim: Some(VictimDraft {
                alias: "Rosa".into(),
                full_name: String::new(),
                age_range: Some(AgeRange::Adult),
                gender: "mujer".into(),
                language: "es-MX".into(),
                safe_contact: Some(SafeContactDraft {
                    channel: Some(SafeContactChannel::Sms),
                    value: "+52 55 1234 5678".into(),
                    safe_times: "weekdays 9-13 only".into(),
                }),
                safety_notes: "aggressor lives at the address".into(),
            }),
            needs: vec![Some(Need::Shelter), Some(Need::Legal)],
            partner: PartnerId::new_v7().name(),
            consent: ConsentDraft {
                given: true,
                given_by: "victim".into(),
                given_at: Some(now() - Duration::minutes(5)),
                scope: "share contact with shelter".into(),
            },
            life_threat_medical_handoff: false,
            notes: String::new(),
        }
    }

    fn fields(violations: &Violations) -> Vec<&str> {
        violations.iter().map(|v| v.field.as_str()).collect()
    }

    fn partner(kind: PartnerKind, services: &[Need]) -> PartnerFacts {
        PartnerFacts {
            id: PartnerId::new_v7(),
            kind,
            services: services.to_vec(),
            not_accepting: false,
        }
    }

    fn handoff() -> NewReferral {
        let mut draft = draft();
        draft.needs = vec![Some(Need::Medical)];
        draft.consent = ConsentDraft::default();
        draft.life_threat_medical_handoff = true;
        draft.validate(now()).unwrap()
    }

    #[test]
    fn a_good_draft_validates() {
        let referral = draft().validate(now()).unwrap();
        assert_eq!(referral.needs, [Need::Shelter, Need::Legal]);
        let contact = referral.victim.safe_contact.unwrap();
        assert_eq!(contact.value, "+525512345678", "normalised like a callback");
        assert_eq!(referral.consent.unwrap().given_by, "victim");
        assert!(
            draft()
                .validate(now())
                .unwrap()
                .check_preconditions(&partner(
                    PartnerKind::Shelter,
                    &[Need::Shelter, Need::Legal]
                ))
                .is_ok()
        );
    }

    #[test]
    fn every_bad_field_is_named_relative_to_the_request() {
        let mut bad = draft();
        bad.incident = "calls/x".into();
        bad.victim = Some(VictimDraft {
            alias: "x".repeat(MAX_ALIAS_CHARS + 1),
            full_name: "y".repeat(MAX_FULL_NAME_CHARS + 1),
            age_range: None,
            gender: "g".repeat(MAX_GENDER_CHARS + 1),
            language: "not a tag".into(),
            safe_contact: Some(SafeContactDraft {
                channel: Some(SafeContactChannel::Phone),
                value: "call me".into(),
                safe_times: "t".repeat(MAX_SAFE_TIMES_CHARS + 1),
            }),
            safety_notes: "n".repeat(MAX_SAFETY_NOTES_CHARS + 1),
        });
        bad.needs = vec![Some(Need::Legal), None, Some(Need::Legal)];
        bad.partner = String::new();
        bad.consent = ConsentDraft {
            given: true,
            given_by: " ".into(),
            given_at: Some(now() + Duration::hours(1)),
            scope: String::new(),
        };
        bad.notes = "n".repeat(MAX_NOTE_CHARS + 1);
        let violations = bad.validate(now()).unwrap_err();
        assert_eq!(
            fields(&violations),
            [
                "incident",
                "victim.alias",
                "victim.full_name",
                "victim.age_range",
                "victim.gender",
                "victim.language",
                "victim.safe_contact.value",
                "victim.safe_contact.safe_times",
                "victim.safety_notes",
                "needs[1]",
                "needs[2]",
                "partner",
                "consent.given_by",
                "consent.given_time",
                "consent.scope",
                "notes",
            ]
        );
    }

    #[test]
    fn missing_parts_are_named() {
        let mut bad = draft();
        bad.victim = None;
        bad.needs = vec![];
        bad.consent.given_at = None;
        let violations = bad.validate(now()).unwrap_err();
        assert_eq!(
            fields(&violations),
            ["victim", "needs", "consent.given_time"]
        );
    }

    #[test]
    fn victim_needs_an_alias_or_a_name_and_either_is_enough() {
        let victim = |alias: &str, full_name: &str| VictimDraft {
            alias: alias.into(),
            full_name: full_name.into(),
            age_range: Some(AgeRange::Unknown),
            ..VictimDraft::default()
        };
        assert!(victim("Rosa", "").validate().is_ok());
        assert!(victim("", "Rosa Pérez").validate().is_ok());
        let violations = victim(" ", "").validate().unwrap_err();
        assert_eq!(fields(&violations), ["alias"]);
        // Bounds count characters, not bytes.
        assert!(victim(&"ñ".repeat(MAX_ALIAS_CHARS), "").validate().is_ok());
    }

    #[test]
    fn safe_contacts() {
        let contact = |channel, value: &str, safe_times: &str| SafeContactDraft {
            channel,
            value: value.into(),
            safe_times: safe_times.into(),
        };
        use SafeContactChannel::*;
        assert_eq!(contact(None, "", "").validate(), Ok(None));
        for (channel, value) in [
            (Phone, "*765"),
            (Sms, "55 1234 5678"),
            (Email, "rosa@example.mx"),
            (MessagingApp, "@rosa"),
            (InPerson, "at her sister's, Calle 5"),
        ] {
            assert!(
                contact(Some(channel), value, "")
                    .validate()
                    .unwrap()
                    .is_some(),
                "{channel} {value}"
            );
        }
        let bad = |draft: SafeContactDraft| {
            let violations = draft.validate().unwrap_err();
            fields(&violations)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(bad(contact(None, "5512345678", "")), ["channel"]);
        assert_eq!(
            bad(contact(None, "", &"t".repeat(MAX_SAFE_TIMES_CHARS + 1))),
            ["channel", "safe_times"]
        );
        assert_eq!(bad(contact(Some(InPerson), " ", "")), ["value"]);
        assert_eq!(bad(contact(Some(Email), "rosa at home", "")), ["value"]);
        assert_eq!(bad(contact(Some(Email), "a@b", "")), ["value"]);
        assert_eq!(bad(contact(Some(Sms), "abc", "")), ["value"]);
        assert_eq!(
            bad(contact(
                Some(MessagingApp),
                &"h".repeat(MAX_CONTACT_VALUE_CHARS + 1),
                ""
            )),
            ["value"]
        );
    }

    #[test]
    fn consent_when_given_needs_who_when_and_what() {
        let consent = ConsentDraft {
            given: true,
            given_by: "mother (guardian)".into(),
            given_at: Some(now() + Duration::seconds(30)),
            scope: "share contact with shelter".into(),
        };
        assert!(
            consent.clone().validate(now()).unwrap().is_some(),
            "within clock skew"
        );
        let late = ConsentDraft {
            given_at: Some(now() + MAX_CLOCK_SKEW + Duration::seconds(1)),
            ..consent.clone()
        };
        assert_eq!(fields(&late.validate(now()).unwrap_err()), ["given_time"]);
        let long = ConsentDraft {
            given_by: "x".repeat(MAX_GIVEN_BY_CHARS + 1),
            scope: "y".repeat(MAX_CONSENT_SCOPE_CHARS + 1),
            ..consent
        };
        assert_eq!(
            fields(&long.validate(now()).unwrap_err()),
            ["given_by", "scope"]
        );
        // Not given: nothing to check, nothing kept.
        let not_given = ConsentDraft {
            given: false,
            given_by: "victim".into(),
            given_at: None,
            scope: String::new(),
        };
        assert_eq!(not_given.validate(now()), Ok(None));
    }

    #[test]
    fn without_consent_a_referral_is_refused() {
        let mut draft = draft();
        draft.consent = ConsentDraft::default();
        let referral = draft
            .validate(now())
            .expect("missing consent is not a bad field");
        let error = referral.check_consent().unwrap_err();
        assert!(
            matches!(&error, Error::WrongState { subject, current, .. }
                if subject == "consent" && current == "not given"),
            "{error:?}"
        );
        let shelter = partner(PartnerKind::Shelter, &[Need::Shelter, Need::Legal]);
        assert_eq!(referral.check_preconditions(&shelter), Err(error));
    }

    #[test]
    fn the_life_threat_hand_off_goes_without_consent_only_to_a_hospital_for_medical_only() {
        let hospital = partner(PartnerKind::Hospital, &[Need::Medical, Need::Psychological]);
        assert_eq!(handoff().check_preconditions(&hospital), Ok(()));

        // Not a hospital, even a Cruz Roja offering medical care.
        let red_cross = partner(PartnerKind::RedCross, &[Need::Medical]);
        let error = handoff().check_preconditions(&red_cross).unwrap_err();
        assert!(
            matches!(&error, Error::WrongState { current, .. } if current == "red_cross"),
            "{error:?}"
        );

        // More than medical, or something else than medical.
        for needs in [
            vec![Need::Medical, Need::Psychological],
            vec![Need::Psychological],
        ] {
            let mut referral = handoff();
            referral.needs = needs;
            let error = referral.check_preconditions(&hospital).unwrap_err();
            assert!(
                matches!(&error, Error::WrongState { subject, .. }
                    if subject == "life_threat_medical_handoff"),
                "{error:?}"
            );
        }

        // Not flagged: no consent is no consent, even to a hospital for medical care.
        let mut unflagged = handoff();
        unflagged.life_threat_medical_handoff = false;
        assert!(matches!(
            unflagged.check_preconditions(&hospital),
            Err(Error::WrongState { ref subject, .. }) if subject == "consent"
        ));

        // A hospital on diversion still receives a hand-off, but nothing else.
        let diverting = PartnerFacts {
            not_accepting: true,
            ..hospital.clone()
        };
        assert_eq!(handoff().check_preconditions(&diverting), Ok(()));
        let mut with_consent = draft();
        with_consent.needs = vec![Some(Need::Medical)];
        let with_consent = with_consent.validate(now()).unwrap();
        assert_eq!(with_consent.check_preconditions(&hospital), Ok(()));
        assert!(matches!(
            with_consent.check_preconditions(&diverting),
            Err(Error::WrongState { ref current, .. }) if current == "not accepting referrals"
        ));
    }

    #[test]
    fn the_partner_must_offer_every_need() {
        let referral = draft().validate(now()).unwrap();
        let shelter_only = partner(PartnerKind::Shelter, &[Need::Shelter]);
        let error = referral.check_preconditions(&shelter_only).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{} is offering shelter: cannot take a referral needing legal",
                shelter_only.id.name()
            )
        );
    }

    #[test]
    fn readdressing_goes_to_another_partner_under_the_same_rules() {
        let first = partner(PartnerKind::Shelter, &[Need::Shelter]);
        let second = partner(PartnerKind::WomensCentre, &[Need::Shelter, Need::Legal]);
        let needs = [Need::Shelter];
        assert_eq!(
            check_readdress(
                ReferralStatus::Declined,
                "referrals/r",
                first.id,
                &needs,
                false,
                &second
            ),
            Ok(ReferralStatus::Requested)
        );
        let same = check_readdress(
            ReferralStatus::Declined,
            "referrals/r",
            first.id,
            &needs,
            false,
            &first,
        );
        assert!(
            matches!(&same, Err(Error::WrongState { subject, current, .. })
                if subject == "referrals/r" && current.starts_with("declined by partners/")),
            "{same:?}"
        );
        let not_declined = check_readdress(
            ReferralStatus::Accepted,
            "referrals/r",
            first.id,
            &needs,
            false,
            &second,
        );
        assert!(matches!(
            not_declined,
            Err(Error::WrongState { ref current, .. }) if current == "accepted"
        ));
        let diverting = PartnerFacts {
            not_accepting: true,
            ..second
        };
        assert!(
            check_readdress(
                ReferralStatus::Declined,
                "referrals/r",
                first.id,
                &needs,
                false,
                &diverting
            )
            .is_err()
        );
    }

    #[test]
    fn needs_lists() {
        assert_eq!(
            validate_needs("services", &[Some(Need::Medical), Some(Need::Legal)]),
            Ok(vec![Need::Medical, Need::Legal])
        );
        let violations = validate_needs(
            "services",
            &[
                Some(Need::Legal),
                Some(Need::Legal),
                None,
                Some(Need::Legal),
            ],
        )
        .unwrap_err();
        assert_eq!(
            fields(&violations),
            ["services[1]", "services[2]", "services[3]"]
        );
        assert!(
            violations
                .iter()
                .next()
                .unwrap()
                .description
                .contains("services[0]")
        );
    }

    #[test]
    fn cancelled_incidents_take_no_referrals() {
        for &status in IncidentStatus::ALL {
            let outcome = check_incident_can_refer(status, "incidents/i");
            assert_eq!(
                outcome.is_err(),
                status == IncidentStatus::Cancelled,
                "{status}"
            );
        }
    }

    #[test]
    fn decline_reasons() {
        assert_eq!(decline_reason("no beds"), Ok("no beds".to_owned()));
        for bad in [String::new(), " ".into(), "x".repeat(MAX_NOTE_CHARS + 1)] {
            let violations = decline_reason(&bad).unwrap_err();
            assert_eq!(fields(&violations), ["reason"]);
        }
    }
}
