ALTER TABLE principals DROP CONSTRAINT principals_liaison_has_agency;
ALTER TABLE principals DROP CONSTRAINT principals_role_check;
ALTER TABLE principals ADD CONSTRAINT principals_role_check
    CHECK (role IN ('call_taker', 'dispatcher', 'supervisor', 'video_operator', 'field_unit',
                    'partner_agency', 'gateway', 'admin'));
ALTER TABLE incidents DROP COLUMN operation_id;
ALTER TABLE calls DROP COLUMN operation_id;
DROP TABLE watch_orders;
DROP TABLE operation_cameras;
DROP TRIGGER operation_units_window ON operation_units;
DROP FUNCTION operation_units_window();
DROP TABLE operation_units;
DROP TABLE operation_agencies;
DROP TABLE operations;
