DROP TABLE nomination_investigations;
DROP TABLE nomination_objections;
