DROP INDEX stations_code_id;
ALTER TABLE stations DROP CONSTRAINT stations_agency_code_key;
ALTER TABLE stations ADD CONSTRAINT stations_code_key UNIQUE (code);
