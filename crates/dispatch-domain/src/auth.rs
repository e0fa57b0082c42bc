//! Who may do what: principals and their roles.

text_enum! {
    /// What a principal is for. One role per principal; the role x RPC table lives in the
    /// server's authorisation layer.
    pub enum Role {
        /// Takes calls: intake, duplicates, opening incidents.
        CallTaker => "call_taker",
        /// Triages, recommends and assigns, watches consoles.
        Dispatcher => "dispatcher",
        /// Everything a dispatcher does, plus the audit trail and the directory.
        Supervisor => "supervisor",
        /// Watches cameras; reports what it sees as calls.
        VideoOperator => "video_operator",
        /// One unit in the field: its own status and position only.
        FieldUnit => "field_unit",
        /// One partner agency: the referrals addressed to it only.
        PartnerAgency => "partner_agency",
        /// A telephony, app or device gateway: call intake only.
        Gateway => "gateway",
        /// Principals, credentials, the directory.
        Admin => "admin",
        /// An agency taking part in planned operations (a federal one): the incidents of the
        /// operations its agency takes part in, nothing else.
        Liaison => "liaison",
    }
}
