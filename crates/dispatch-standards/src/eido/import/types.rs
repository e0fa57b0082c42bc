//! EIDO incident types to ours. `incidentTypeCommonRegistryText` holds a value of the Incident
//! Type registry, which takes APCO's common incident type codes (APCO ANS 2.103.2, the
//! `apcoIncidentCategoryCodeSimpleType` list of the schema's `NIEMComponents/apco.yaml`). Each
//! code we can answer maps to the one catalogue type (catalogue/incident_types.toml) that
//! answers it; codes with no counterpart here (administrative, vice, parking...) map to none
//! and the incident arrives untyped, to be triaged. The first row of each of our types is the
//! code we would send for it.

/// (APCO common incident type, our catalogue code).
pub const APCO_TO_CATALOGUE: &[(&str, &str)] = &[
    ("CARDIAC", "MED-CARDIAC-ARREST"),
    ("RESPARR", "MED-CARDIAC-ARREST"),
    ("CHESPAIN", "MED-CHEST-PAIN"),
    ("RESP", "MED-BREATHING"),
    ("CHOKE", "MED-BREATHING"),
    ("PERUNCON", "MED-UNCONSCIOUS"),
    ("STROKE", "MED-STROKE"),
    ("SEIZURE", "MED-SEIZURE"),
    ("OD", "MED-OVERDOSE"),
    ("INTOX", "MED-OVERDOSE"),
    ("PREG", "MED-CHILDBIRTH"),
    ("FALL", "MED-FALL"),
    ("HEMRG", "MED-HEMORRHAGE"),
    ("BLEEDING", "MED-HEMORRHAGE"),
    ("ALLERGIC", "MED-ALLERGIC"),
    ("EDP", "MED-PSYCHIATRIC"),
    ("SUICTHRT", "MED-PSYCHIATRIC"),
    ("SUICIDE", "MED-PSYCHIATRIC"),
    ("SICK", "MED-SICK"),
    ("ABDOM", "MED-SICK"),
    ("HEADACHE", "MED-SICK"),
    ("ALS", "MED-SICK"),
    ("BLS", "MED-SICK"),
    ("DIABETIC", "MED-DIABETIC"),
    ("FSTRU", "FIRE-STRUCTURE"),
    ("FVEH", "FIRE-VEHICLE"),
    ("FTRUCK", "FIRE-VEHICLE"),
    ("FTRAILER", "FIRE-VEHICLE"),
    ("FBRUSH", "FIRE-WILDLAND"),
    ("GASLEAK", "FIRE-GAS-LEAK"),
    ("ALRGAS", "FIRE-GAS-LEAK"),
    ("ALRNGAS", "FIRE-GAS-LEAK"),
    ("ALRPROPN", "FIRE-GAS-LEAK"),
    ("EXPLOS", "FIRE-EXPLOSION"),
    ("FSMOKE", "FIRE-SMOKE"),
    ("ODOR", "FIRE-SMOKE"),
    ("ALRF", "FIRE-ALARM"),
    ("ALRBOX", "FIRE-ALARM"),
    ("ALRPULL", "FIRE-ALARM"),
    ("ALRHEAT", "FIRE-ALARM"),
    ("ALRWTR", "FIRE-ALARM"),
    ("ROBBERY", "CRIME-ROBBERY"),
    ("CARJACK", "CRIME-ROBBERY"),
    ("ASSAULT", "CRIME-ASSAULT"),
    ("STABBING", "CRIME-ASSAULT"),
    ("SHOOT", "CRIME-SHOTS-FIRED"),
    ("WEAPON", "CRIME-SHOTS-FIRED"),
    ("BURGLARY", "CRIME-BURGLARY"),
    ("FORCENTR", "CRIME-BURGLARY"),
    ("ABDUCTF", "CRIME-KIDNAPPING"),
    ("ABDUCTNF", "CRIME-KIDNAPPING"),
    ("HOSTAGE", "CRIME-KIDNAPPING"),
    ("VEHSTLN", "CRIME-VEHICLE-THEFT"),
    ("VANDAL", "CRIME-VANDALISM"),
    ("SUSP", "CRIME-SUSPICIOUS"),
    ("PERSUSP", "CRIME-SUSPICIOUS"),
    ("VEHSUSP", "CRIME-SUSPICIOUS"),
    ("FIGHT", "ORDER-FIGHT"),
    ("DISORD", "ORDER-DISTURBANCE"),
    ("NOISE", "ORDER-DISTURBANCE"),
    ("CIVDIS", "ORDER-PROTEST"),
    ("DVA", "GV-DOMESTIC"),
    ("DVNA", "GV-DOMESTIC"),
    ("SEXOFFNS", "GV-SEXUAL-ASSAULT"),
    ("RUNAWAY", "MISSING-CHILD"),
    ("MCI", "EVENT-CROWD-CRUSH"),
    ("BLDCLPSE", "QUAKE-COLLAPSE"),
    ("WATER", "NAT-FLOOD"),
    ("HAZMAT", "HAZMAT-SPILL"),
    ("CHEMICAL", "HAZMAT-LEAK"),
    ("RADIAT", "HAZMAT-UNKNOWN"),
    ("BIO", "HAZMAT-UNKNOWN"),
    ("MVA", "TRAFFIC-COLLISION"),
    ("MVAUNK", "TRAFFIC-COLLISION"),
    ("MVAHR", "TRAFFIC-COLLISION"),
    ("MVAINJY", "TRAFFIC-INJURY"),
    ("ENTRAP", "TRAFFIC-TRAPPED"),
    ("XTRACATE", "TRAFFIC-TRAPPED"),
    ("DROWN", "RESCUE-WATER"),
    ("MISBOATR", "RESCUE-WATER"),
    ("ELECHZD", "HAZARD-ELECTRICAL"),
    ("WIRES", "HAZARD-ELECTRICAL"),
    ("ELEC", "HAZARD-ELECTRICAL"),
    ("ANIMAL", "ANIMAL-INCIDENT"),
    ("BITE", "ANIMAL-INCIDENT"),
    ("WILDLIFE", "ANIMAL-INCIDENT"),
    ("ALRPANA", "ALARM-PANIC"),
    ("ALRPANS", "ALARM-PANIC"),
    ("ALRROBA", "ALARM-PANIC"),
    ("ALRROBS", "ALARM-PANIC"),
    ("911H", "UNKNOWN-PROBLEM"),
    ("911OPN", "UNKNOWN-PROBLEM"),
    ("OPEN", "UNKNOWN-PROBLEM"),
    ("TROUBLE", "UNKNOWN-PROBLEM"),
];

/// Our catalogue code for an APCO common incident type (case-insensitive), if we have one.
pub fn catalogue_code(apco: &str) -> Option<&'static str> {
    APCO_TO_CATALOGUE
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(apco.trim()))
        .map(|&(_, ours)| ours)
}

/// The APCO common incident type we send for one of our catalogue codes, if it has one.
pub fn apco_code(catalogue_code: &str) -> Option<&'static str> {
    APCO_TO_CATALOGUE
        .iter()
        .find(|(_, ours)| *ours == catalogue_code)
        .map(|&(apco, _)| apco)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_type_is_in_the_shipped_catalogue() {
        let catalogue = dispatch_domain::triage::Catalogue::from_toml(include_str!(
            "../../../../../catalogue/incident_types.toml"
        ))
        .unwrap();
        for (apco, ours) in APCO_TO_CATALOGUE {
            assert!(catalogue.get(ours).is_some(), "{apco} -> {ours}");
        }
        assert_eq!(catalogue_code("mvainjy"), Some("TRAFFIC-INJURY"));
        assert_eq!(apco_code("TRAFFIC-INJURY"), Some("MVAINJY"));
        assert_eq!(catalogue_code("PARKING"), None);
    }
}
