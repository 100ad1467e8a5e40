-- Nominations stored before households were keyed by parsed identities kept the head's ID
-- number (or phone) and the contact phone in plain text inside `family`. Keep only masked
-- forms (the phone cannot be sealed in SQL: it is dropped; the masked form stays for display).
UPDATE nominations
SET family = (
    (family::jsonb - 'head_id' - 'phone')
    || jsonb_build_object(
        'head_key_masked',
        CASE
            WHEN length(family::jsonb ->> 'head_id') >= 18
                THEN left(family::jsonb ->> 'head_id', 4) || '**********' || right(family::jsonb ->> 'head_id', 4)
            WHEN length(family::jsonb ->> 'head_id') >= 11
                THEN left(family::jsonb ->> 'head_id', 3) || '****' || right(family::jsonb ->> 'head_id', 4)
            ELSE '****'
        END,
        'phone_masked',
        CASE
            WHEN coalesce(family::jsonb ->> 'phone', '') = '' THEN NULL
            WHEN length(family::jsonb ->> 'phone') >= 11
                THEN left(family::jsonb ->> 'phone', 3) || '****' || right(family::jsonb ->> 'phone', 4)
            ELSE '****'
        END
    )
)::text
WHERE family::jsonb ? 'head_id' OR family::jsonb ? 'phone';
