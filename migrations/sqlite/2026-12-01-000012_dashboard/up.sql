-- The campaign dashboard and the list API at tens of thousands of nominations: the page in
-- newest-first order, the counts per village and state, and the two filters that look past
-- the nominations table (stalled: a level opened without a reviewer; overdue: an open task
-- past its deadline), each from an index rather than a scan.
CREATE INDEX nominations_campaign_created ON nominations (campaign_id, created_at, id);
CREATE INDEX nominations_campaign_village ON nominations (campaign_id, village_code, state);
CREATE INDEX nomination_history_no_reviewer ON nomination_history (nomination_id, seq)
    WHERE event = 'no_reviewer';
CREATE INDEX review_tasks_open_due ON review_tasks (due_at, nomination_id)
    WHERE closed_at IS NULL;
