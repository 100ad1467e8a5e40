-- The campaign list's pages at tens of thousands of nominations. A page's ids are found by
-- walking this index newest first (backwards), the area, township and state filters checked on
-- its entries and an OFFSET skipping entries, never rows: nothing is read from the table until
-- the page's rows are known. It replaces (campaign_id, created_at, id), which lacked the
-- filtered columns, and (campaign_id, state), with which a state filter could choose to read
-- and sort every row of the campaign. The counts per village and state keep
-- nominations_campaign_village (campaign_id, village_code, state): its repeated keys make it
-- small (PostgreSQL deduplicates them), so a GROUP BY over it is several times faster than over
-- an index that also holds each row's id.
DROP INDEX nominations_campaign_created;
DROP INDEX nominations_campaign;
CREATE INDEX nominations_campaign_page ON nominations (campaign_id, created_at, id, village_code, state);
