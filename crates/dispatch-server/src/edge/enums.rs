//! Every enum that crosses the wire, each mapping declared once: the domain value and the wire
//! value it travels as. Both directions come from the one list, and the wire side is matched
//! exhaustively, so a value added to the contract does not compile until it is mapped here.

use dispatch_domain::Violations;
use dispatch_domain::audit::{AuditAction, AuditOutcome};
use dispatch_domain::auth::Role;
use dispatch_domain::call::{CallState, Channel, Disposition};
use dispatch_domain::directory::AgencyKind;
use dispatch_domain::directory::{DeviceKind, UnitStatus, UnitType};
use dispatch_domain::duplicates::Reason;
use dispatch_domain::incident::{ClosingCode, IncidentStatus};
use dispatch_domain::location::LocationSource;
use dispatch_domain::principal::CredentialKind;
use dispatch_domain::referral::{
    AgeRange, FollowUpOutcome, FollowUpStatus, Need, PartnerKind, ReferralHistoryKind,
    ReferralStatus, SafeContactChannel,
};
use dispatch_domain::reporting::intervals::{Dimension, IntervalKind};
use dispatch_domain::triage::{Category, Discipline, Level};
use dispatch_geo::TravelSource;
use dispatch_proto::v1 as pb;

/// A domain enum with its wire counterpart. `UNSPECIFIED` and unknown numbers have no domain
/// value: `from_wire` says `None` and the caller decides whether that is a violation.
pub trait WireEnum: Sized + Copy {
    type Wire: Into<i32>;

    fn to_wire(self) -> Self::Wire;

    fn from_wire(value: i32) -> Option<Self>;

    /// The wire number, as a message field holds it.
    fn wire(self) -> i32 {
        self.to_wire().into()
    }
}

/// The wire number of an optional value: `UNSPECIFIED` (0) for none.
pub fn wire_or_unspecified<T: WireEnum>(value: Option<T>) -> i32 {
    value.map_or(0, WireEnum::wire)
}

/// The wire numbers of a list of values.
pub fn wire_list<T: WireEnum>(values: &[T]) -> Vec<i32> {
    values.iter().map(|value| value.wire()).collect()
}

/// Repeated enum filters: every value must be a known, specified one.
pub fn enum_filter<T: WireEnum>(field: &str, values: &[i32]) -> Result<Vec<T>, Violations> {
    let mut violations = Violations::new();
    let mut parsed = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        match T::from_wire(*value) {
            Some(value) => parsed.push(value),
            None => violations.add(
                format!("{field}[{index}]"),
                format!("unknown or unspecified value {value}"),
            ),
        }
    }
    violations.into_result(|| parsed)
}

macro_rules! wire_enum {
    ($($domain:ident => $wire:ident { $($variant:ident => $wire_variant:ident,)+ })+) => {$(
        impl WireEnum for $domain {
            type Wire = pb::$wire;

            fn to_wire(self) -> pb::$wire {
                match self {
                    $($domain::$variant => pb::$wire::$wire_variant,)+
                }
            }

            fn from_wire(value: i32) -> Option<Self> {
                match pb::$wire::try_from(value).ok()? {
                    pb::$wire::Unspecified => None,
                    $(pb::$wire::$wire_variant => Some($domain::$variant),)+
                }
            }
        }
    )+};
}

wire_enum! {
    TravelSource => TravelModel {
        StraightLine => StraightLine,
        Fitted => Fitted,
        Road => Road,
    }
}

wire_enum! {
    Dimension => ReportDimension {
        IncidentType => IncidentType,
        Priority => Priority,
        Agency => Agency,
        UnitType => UnitType,
        Area => Area,
        StationArea => StationArea,
        HourOfDay => HourOfDay,
    }
    IntervalKind => IntervalKind {
        CallProcessing => CallProcessing,
        Turnout => Turnout,
        Travel => Travel,
        FirstArrivalTravel => FirstArrivalTravel,
        TotalResponse => TotalResponse,
        OnScene => OnScene,
        Transport => Transport,
        AtHospital => AtHospital,
    }
}

wire_enum! {
    LocationSource => LocationSource {
        Device => Device,
        Network => Network,
        CallerDescribed => CallerDescribed,
        FixedDevice => FixedDevice,
        Dispatcher => Dispatcher,
    }
    Channel => CallChannel {
        Voice911 => Voice911,
        App911 => App911,
        PanicButton => PanicButton,
        Camera => Camera,
        Radio => Radio,
        SocialMedia => SocialMedia,
        WomensLine => WomensLine,
        PlateReader => PlateReader,
        AlarmCompany => AlarmCompany,
        Text => Text,
        PartnerApp => PartnerApp,
    }
    CallState => CallState {
        Open => Open,
        Linked => Linked,
        Disposed => Disposed,
    }
    Disposition => CallDisposition {
        HangUp => HangUp,
        Prank => Prank,
        Misdial => Misdial,
        InformationRequest => InformationRequest,
        NonEmergencyReferred => NonEmergencyReferred,
        Test => Test,
        Abandoned => Abandoned,
        Other => Other,
    }
    Reason => DuplicateReason {
        WithinRadius => WithinRadius,
        WithinTimeWindow => WithinTimeWindow,
        CompatibleType => CompatibleType,
        SameType => SameType,
        SameCallbackNumber => SameCallbackNumber,
        SameSourceDevice => SameSourceDevice,
    }
    IncidentStatus => IncidentStatus {
        New => New,
        Triaged => Triaged,
        Dispatched => Dispatched,
        OnScene => OnScene,
        Resolved => Resolved,
        Closed => Closed,
        Cancelled => Cancelled,
    }
    ClosingCode => ClosingCode {
        Confirmed => Confirmed,
        Negative => Negative,
        Duplicate => Duplicate,
        False => False,
        Informative => Informative,
    }
    Category => IncidentCategory {
        Medical => Medical,
        Fire => Fire,
        Crime => Crime,
        PublicOrder => PublicOrder,
        Traffic => Traffic,
        GenderViolence => GenderViolence,
        MissingPerson => MissingPerson,
        Hazmat => Hazmat,
        NaturalDisaster => NaturalDisaster,
        Other => Other,
    }
    Discipline => Discipline {
        Police => Police,
        Fire => Fire,
        Ems => Ems,
        CivilProtection => CivilProtection,
        Federal => Federal,
        VictimSupport => VictimSupport,
    }
    Level => DeterminantLevel {
        Omega => Omega,
        Alpha => Alpha,
        Bravo => Bravo,
        Charlie => Charlie,
        Delta => Delta,
        Echo => Echo,
    }
    AgencyKind => AgencyKind {
        Police => Police,
        Fire => Fire,
        Ems => Ems,
        RedCross => RedCross,
        CivilProtection => CivilProtection,
        Federal => Federal,
        Other => Other,
    }
    UnitType => UnitType {
        Patrol => Patrol,
        Motorcycle => Motorcycle,
        AlsAmbulance => AlsAmbulance,
        BlsAmbulance => BlsAmbulance,
        Engine => Engine,
        Ladder => Ladder,
        Rescue => Rescue,
        Hazmat => Hazmat,
        Chief => Chief,
        MobileCommandPost => MobileCommandPost,
        Drone => Drone,
        CivilProtection => CivilProtection,
        CrowdControl => CrowdControl,
        Other => Other,
    }
    UnitStatus => UnitStatus {
        Available => Available,
        Dispatched => Dispatched,
        EnRoute => EnRoute,
        OnScene => OnScene,
        Transporting => Transporting,
        AtHospital => AtHospital,
        OutOfService => OutOfService,
    }
    DeviceKind => DeviceKind {
        Camera => Camera,
        PanicButton => PanicButton,
        PlateReader => PlateReader,
    }
    Need => ReferralNeed {
        Medical => Medical,
        Psychological => Psychological,
        Legal => Legal,
        Shelter => Shelter,
        SocialProgram => SocialProgram,
        ChildProtection => ChildProtection,
        FollowUpCalls => FollowUpCalls,
    }
    PartnerKind => PartnerKind {
        Hospital => Hospital,
        RedCross => RedCross,
        WomensCentre => WomensCentre,
        Shelter => Shelter,
        LegalAid => LegalAid,
        PsychologicalCare => PsychologicalCare,
        ChildProtection => ChildProtection,
        SocialProgram => SocialProgram,
        Other => Other,
    }
    ReferralStatus => ReferralStatus {
        Requested => Requested,
        Accepted => Accepted,
        Declined => Declined,
        InProgress => InProgress,
        OnHold => OnHold,
        Completed => Completed,
        Cancelled => Cancelled,
    }
    FollowUpOutcome => FollowUpOutcome {
        ReachedSafe => ReachedSafe,
        ReachedNeedsSupport => ReachedNeedsSupport,
        ReachedInDanger => ReachedInDanger,
        NotReached => NotReached,
        DeclinedContact => DeclinedContact,
        Other => Other,
    }
    FollowUpStatus => FollowUpStatus {
        Pending => Pending,
        Overdue => Overdue,
        Done => Done,
        Cancelled => Cancelled,
    }
    ReferralHistoryKind => ReferralHistoryEntryKind {
        Created => Created,
        Accepted => Accepted,
        Declined => Declined,
        StatusChanged => StatusChanged,
        Readdressed => Readdressed,
        FollowUpRecorded => FollowUpRecorded,
    }
    AgeRange => AgeRange {
        Child => Child,
        Adolescent => Adolescent,
        Adult => Adult,
        OlderAdult => OlderAdult,
        Unknown => Unknown,
    }
    SafeContactChannel => SafeContactChannel {
        Phone => Phone,
        Sms => Sms,
        MessagingApp => MessagingApp,
        Email => Email,
        InPerson => InPerson,
    }
    Role => Role {
        CallTaker => CallTaker,
        Dispatcher => Dispatcher,
        Supervisor => Supervisor,
        VideoOperator => VideoOperator,
        FieldUnit => FieldUnit,
        PartnerAgency => PartnerAgency,
        Gateway => Gateway,
        Admin => Admin,
        Liaison => Liaison,
    }
    CredentialKind => CredentialKind {
        BearerToken => BearerToken,
        ClientCertificate => ClientCertificate,
    }
    AuditAction => AuditAction {
        Mutation => Mutation,
        VictimDataRead => VictimDataRead,
        AuthenticationFailure => AuthenticationFailure,
        CredentialIssued => CredentialIssued,
        CredentialRevoked => CredentialRevoked,
        AuditRead => AuditRead,
        StreamEnded => StreamEnded,
        ReportRead => ReportRead,
    }
    AuditOutcome => AuditOutcome {
        Success => Success,
        Denied => Denied,
        Failure => Failure,
    }
}

// EIDO imports (IncidentExchangeService).
use dispatch_store::imports::ImportOutcome;

wire_enum! {
    ImportOutcome => ImportOutcome {
        Created => Created,
        Updated => Updated,
        Unchanged => Unchanged,
    }
}

// Public warnings: CAP 1.2's own enumerations (dispatch_standards::cap).
use dispatch_standards::cap::{
    Category as CapCategory, Certainty as CapCertainty, MsgType as CapMsgType,
    ResponseType as CapResponseType, Severity as CapSeverity, Status as CapStatus,
    Urgency as CapUrgency,
};

wire_enum! {
    CapStatus => AlertStatus {
        Actual => Actual,
        Exercise => Exercise,
        System => System,
        Test => Test,
        Draft => Draft,
    }
    CapMsgType => AlertMessageType {
        Alert => Alert,
        Update => Update,
        Cancel => Cancel,
        Ack => Ack,
        Error => Error,
    }
    CapCategory => AlertCategory {
        Geo => Geo,
        Met => Met,
        Safety => Safety,
        Security => Security,
        Rescue => Rescue,
        Fire => Fire,
        Health => Health,
        Env => Env,
        Transport => Transport,
        Infra => Infra,
        Cbrne => Cbrne,
        Other => Other,
    }
    CapResponseType => AlertResponseType {
        Shelter => Shelter,
        Evacuate => Evacuate,
        Prepare => Prepare,
        Execute => Execute,
        Avoid => Avoid,
        Monitor => Monitor,
        Assess => Assess,
        AllClear => AllClear,
        None => None,
    }
    CapUrgency => AlertUrgency {
        Immediate => Immediate,
        Expected => Expected,
        Future => Future,
        Past => Past,
        Unknown => Unknown,
    }
    CapSeverity => AlertSeverity {
        Extreme => Extreme,
        Severe => Severe,
        Moderate => Moderate,
        Minor => Minor,
        Unknown => Unknown,
    }
    CapCertainty => AlertCertainty {
        Observed => Observed,
        Likely => Likely,
        Possible => Possible,
        Unlikely => Unlikely,
        Unknown => Unknown,
    }
}
