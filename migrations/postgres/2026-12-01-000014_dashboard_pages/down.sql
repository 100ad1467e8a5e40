DROP INDEX nominations_campaign_page;
CREATE INDEX nominations_campaign ON nominations (campaign_id, state);
CREATE INDEX nominations_campaign_created ON nominations (campaign_id, created_at, id);
