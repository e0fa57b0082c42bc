-- A partner never has more free slots than slots (the contract's Capacity rule), in the
-- database too. Rows written before the rule are brought within it first.
UPDATE partners SET available_slots = total_slots WHERE available_slots > total_slots;
ALTER TABLE partners
    ADD CONSTRAINT partners_available_within_total CHECK (available_slots <= total_slots);
