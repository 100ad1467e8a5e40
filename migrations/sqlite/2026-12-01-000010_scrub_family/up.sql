-- Nominations stored before households were keyed by parsed identities kept the head's ID
-- number (or phone) and the contact phone in plain text inside `family`. Keep only masked
-- forms (the phone cannot be sealed in SQL: it is dropped; the masked form stays for display).
UPDATE nominations
SET family = json_set(
    json_remove(family, '$.head_id', '$.phone'),
    '$.head_key_masked',
    CASE
        WHEN length(json_extract(family, '$.head_id')) >= 18
            THEN substr(json_extract(family, '$.head_id'), 1, 4) || '**********' || substr(json_extract(family, '$.head_id'), -4)
        WHEN length(json_extract(family, '$.head_id')) >= 11
            THEN substr(json_extract(family, '$.head_id'), 1, 3) || '****' || substr(json_extract(family, '$.head_id'), -4)
        ELSE '****'
    END,
    '$.phone_masked',
    CASE
        WHEN coalesce(json_extract(family, '$.phone'), '') = '' THEN NULL
        WHEN length(json_extract(family, '$.phone')) >= 11
            THEN substr(json_extract(family, '$.phone'), 1, 3) || '****' || substr(json_extract(family, '$.phone'), -4)
        ELSE '****'
    END
)
WHERE json_extract(family, '$.head_id') IS NOT NULL OR json_extract(family, '$.phone') IS NOT NULL;
