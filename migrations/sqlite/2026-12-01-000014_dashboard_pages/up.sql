-- The campaign list's pages and counts at tens of thousands of nominations, each answered from
-- one covering index (nothing read from the table until the page's 50 rows are known):
--   newest first over the whole campaign — walk nominations_campaign_page backwards, the
--   state filter and an OFFSET checked and skipped on index entries;
--   a township or a smaller unit — a range of nominations_campaign_village, its entries
--   sorted by (created_at, id), never the rows;
--   counts per village and state, and the stalled/overdue filters' id tests — the same
--   village index.
-- The old (campaign_id, state) index is dropped: with it a state filter could choose to read
-- and sort every row of the campaign.
DROP INDEX nominations_campaign_created;
DROP INDEX nominations_campaign_village;
DROP INDEX nominations_campaign;
CREATE INDEX nominations_campaign_page ON nominations (campaign_id, created_at, id, village_code, state);
CREATE INDEX nominations_campaign_village ON nominations (campaign_id, village_code, state, created_at, id);
