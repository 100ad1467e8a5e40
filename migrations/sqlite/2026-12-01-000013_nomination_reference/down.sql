DROP INDEX nominations_reference;
ALTER TABLE nominations DROP COLUMN reference;
DROP TABLE nomination_counters;
