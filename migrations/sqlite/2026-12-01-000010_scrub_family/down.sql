-- The plain values are gone for good: nothing to restore.
SELECT 1;
