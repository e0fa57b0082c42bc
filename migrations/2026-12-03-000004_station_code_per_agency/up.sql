-- directory.proto: a station's code is unique within its agency (two agencies may both have a
-- station "01"), not across the whole centre. Stations are listed by (code, id).
ALTER TABLE stations DROP CONSTRAINT stations_code_key;
ALTER TABLE stations ADD CONSTRAINT stations_agency_code_key UNIQUE (agency_id, code);
CREATE INDEX stations_code_id ON stations (code, id);
