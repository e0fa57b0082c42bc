DROP TABLE eido_import_parts;
DROP TABLE eido_imports;
