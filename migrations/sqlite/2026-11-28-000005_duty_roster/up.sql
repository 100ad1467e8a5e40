-- Which case officers are on duty for a county, and when: referrals reach whoever is on duty.
CREATE TABLE duty_roster (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    county_code TEXT NOT NULL REFERENCES orgs (code),
    person_id   TEXT NOT NULL REFERENCES people (id),
    starts_at   TIMESTAMP NOT NULL,
    ends_at     TIMESTAMP NOT NULL CHECK (ends_at > starts_at)
);
CREATE INDEX duty_roster_county ON duty_roster (county_code, starts_at);
