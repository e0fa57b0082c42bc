ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM dispatch_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM dispatch_app;
REVOKE ALL ON FUNCTION next_folio_number(text, text) FROM dispatch_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM dispatch_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dispatch_app;
REVOKE USAGE ON SCHEMA public FROM dispatch_app;

DROP TABLE audit_records;
DROP TABLE credentials;
DROP TABLE principals;

-- The role belongs to the cluster: drop it only when no other database still grants it anything
-- (DROP ROLE then fails with dependent_objects_still_exist, and the role stays for them).
DO $$
BEGIN
    DROP ROLE IF EXISTS dispatch_app;
EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
    RAISE NOTICE 'keeping dispatch_app: another database still uses it, or we may not drop roles';
END $$;
