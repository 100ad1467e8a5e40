"""The measuring half of scripts/bench-dashboard: seeds N nominations into one campaign of
皋兰县 (copies of one real submission, spread over its villages, each with its history row)
by one INSERT … SELECT over a generated series, then times the dashboard page, the list API's
first, a deep and a keyset page, and — as the raw limit — the same page's SELECTs through the
database's own client (sqlite3 in this process; one psql session with \\timing), in one run."""

import hashlib, http.client, json, re, secrets, sqlite3, statistics, subprocess, sys, time
from datetime import datetime, timedelta, timezone

backend, url, port, token, n, requests = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def call(method, path, body=None, headers=None):
    h = dict(headers or {})
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    t = time.perf_counter()
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return (time.perf_counter() - t) * 1000, r.status, data


auth = {"Authorization": f"Bearer {token}"}
_, status, data = call("POST", "/api/v1/campaigns", {
    "name": "基准测试评选", "year": 2026, "scope_org": "620122",
    "rules": {"categories": ["最美家庭"], "quotas": {"village": 0, "township": 0, "county": 0}, "publicity": "3d"},
}, auth)
assert status == 201, data
campaign = json.loads(data)["id"]
story = "这一家人孝老爱亲，邻里和睦，多年来照顾患病的老人，热心村里的公益事务，深受村民好评。" * 3
_, status, data = call("POST", "/api/v1/nominations", {
    "campaign_id": campaign, "village": "620122100201", "category": "最美家庭", "channel": "organization",
    "family": {"head_name": "张建国", "head_id": "13912345678", "address": "什川镇北庄村"}, "story": story,
}, auth)
assert status == 201, data
template = json.loads(data)["id"]


def quote(v):
    return "'" + str(v).replace("'", "''") + "'"


class Db:
    """The database through its own client: sqlite3, or psql."""

    def __init__(self):
        if backend == "sqlite":
            self.lite = sqlite3.connect(url.removeprefix("sqlite://"), timeout=30)

    def script(self, sql):
        if backend == "sqlite":
            self.lite.executescript(sql)
            self.lite.commit()
        else:
            subprocess.run(["psql", url, "-qv", "ON_ERROR_STOP=1"], input=sql, check=True, text=True,
                           capture_output=True)

    def rows(self, sql):
        if backend == "sqlite":
            return self.lite.execute(sql).fetchall()
        out = subprocess.run(["psql", url, "-qAtF", "\t", "-c", sql], check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def timed(self, statements, rounds):
        """Milliseconds per round of `statements`, run `rounds` times on one connection."""
        if backend == "sqlite":
            out = []
            for _ in range(rounds):
                t = time.perf_counter()
                for s in statements:
                    self.lite.execute(s).fetchall()
                out.append((time.perf_counter() - t) * 1000)
            return out
        # One psql session: \timing reports each statement's round trip, start-up paid once.
        body = "\\timing on\n" + "".join(s + ";\n" for _ in range(rounds) for s in statements)
        out = subprocess.run(["psql", url, "-qAt", "-o", "/dev/null"], input=body, check=True,
                             capture_output=True, text=True).stdout
        each = [float(m) for m in re.findall(r"^Time: ([0-9.]+) ms", out, re.M)]
        assert len(each) == rounds * len(statements), out[:500]
        k = len(statements)
        return [sum(each[i:i + k]) for i in range(0, len(each), k)]


db = Db()
sqlite = backend == "sqlite"
# Seeding: one INSERT … SELECT over a generated series (a recursive CTE on SQLite,
# generate_series on PostgreSQL), the villages of 皋兰县 numbered in a temporary table.
series = (f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 2}) SELECT i FROM s"
          if sqlite else f"SELECT generate_series(0, {n - 2}) AS i")
new_id = ("lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)"
          " || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))"
          if sqlite else "gen_random_uuid()::text")
at = ("datetime('2026-11-01 00:00:00', '+' || (s.i * 30) || ' seconds')" if sqlite
      else "timestamp '2026-11-01 00:00:00' + s.i * interval '30 seconds'")
t = time.perf_counter()
db.script(f"""
CREATE TEMP TABLE bench_villages AS
  SELECT row_number() OVER (ORDER BY code) - 1 AS k, code FROM orgs
  WHERE level = 'village' AND code LIKE '620122%';
CREATE INDEX bench_villages_k ON bench_villages (k);
INSERT INTO nominations (id, campaign_id, village_code, household_id, category, channel, family, story,
                         nominator, state, created_at, updated_at)
  SELECT {new_id}, t.campaign_id, v.code, t.household_id, t.category, t.channel, t.family, t.story,
         t.nominator, t.state, {at}, {at}
  FROM ({series}) s
  JOIN bench_villages v ON v.k = s.i % (SELECT count(*) FROM bench_villages)
  CROSS JOIN (SELECT * FROM nominations WHERE id = {quote(template)}) t;
INSERT INTO nomination_history (nomination_id, at, actor, event, from_state, to_state)
  SELECT id, created_at, nominator, 'submitted', 'submitted', 'village_review' FROM nominations
  WHERE campaign_id = {quote(campaign)} AND id <> {quote(template)};
""" + ("" if sqlite else "VACUUM ANALYZE nominations; VACUUM ANALYZE nomination_history;\n"))
seeded = time.perf_counter() - t
count = int(db.rows(f"SELECT count(*) FROM nominations WHERE campaign_id = {quote(campaign)}")[0][0])
assert count == n, (count, n)

# A signed-in session for the page, as the sign-in link's POST makes one.
secret = secrets.token_hex(32)
person = db.rows("SELECT id FROM people WHERE email = 'demo-admin@jinguo.invalid'")[0][0]
now = datetime.now(timezone.utc)
fmt = "%Y-%m-%d %H:%M:%S"
db.script("INSERT INTO sessions (token_hash, person_id, csrf, created_at, expires_at) VALUES ("
          f"{quote(hashlib.sha256(secret.encode()).hexdigest())}, {quote(person)}, {quote(secrets.token_hex(16))}, "
          f"{quote(now.strftime(fmt))}, {quote((now + timedelta(hours=2)).strftime(fmt))});")
cookie = {"Cookie": f"jinguo_session={secret}"}

deep = max(1, n // 50 - 1)
api = f"/api/v1/campaigns/{campaign}/nominations"
kinds = {
    "dashboard page 1": ("GET", f"/admin/campaigns/{campaign}?org=620122", cookie),
    f"dashboard page {deep}": ("GET", f"/admin/campaigns/{campaign}?org=620122&page={deep}", cookie),
    "list API page 1 (50)": ("GET", f"{api}?page=1&per_page=50", auth),
    f"list API page {deep} (50)": ("GET", f"{api}?page={deep}&per_page=50", auth),
}
# Filters: a township (a range of the village index), a state deep (checked on index entries),
# stalled and overdue (few candidates; none in this data).
town = "620122100000"
kinds.update({
    "dashboard township= page 1": ("GET", f"/admin/campaigns/{campaign}?org=620122&township={town}", cookie),
    f"list API state= page {deep}": ("GET", f"{api}?state=village_review&page={deep}&per_page=50", auth),
    "dashboard stalled=1": ("GET", f"/admin/campaigns/{campaign}?org=620122&stalled=1", cookie),
    "list API overdue=1": ("GET", f"{api}?overdue=1", auth),
})
# Keyset paging: the same deep page asked for by the cursor the page before it handed out.
_, status, data = call("GET", f"{api}?page={deep - 1}&per_page=50", None, auth)
cursor = json.loads(data).get("next") if status == 200 else None
if cursor:
    kinds[f"list API after= (page {deep})"] = ("GET", f"{api}?after={cursor}&per_page=50", auth)
    kinds["dashboard after= (deep)"] = ("GET", f"/admin/campaigns/{campaign}?org=620122&page={deep}&after={cursor}", cookie)
# The exports (every row of the campaign): timed a few times, not `requests` times.
exports = {
    "export.csv (all rows)": ("GET", f"/admin/campaigns/{campaign}/export.csv?org=620122", cookie),
    "export.xlsx (all rows)": ("GET", f"/admin/campaigns/{campaign}/export.xlsx?org=620122", cookie),
}
times = {k: [] for k in kinds}
sizes = {}
for _ in range(requests):
    for k, (m, p, h) in kinds.items():
        ms, status, data = call(m, p, None, h)
        assert status == 200, (k, status, data[:300])
        times[k].append(ms)
        sizes[k] = len(data)

for _ in range(3):
    for k, (m, p, h) in exports.items():
        ms, status, data = call(m, p, None, h)
        assert status == 200, (k, status, data[:300])
        times.setdefault(k, []).append(ms)
        sizes[k] = len(data)

# The raw limit: the SELECTs one dashboard page runs, as the service writes them (counts by
# village and state, the stalled count, one page of rows: its ids from the index, then those rows
# with village and township names, deadline and last visible event), straight through the client.
c = quote(campaign)
last_event = ("(SELECT h.event FROM nomination_history h WHERE h.nomination_id = {t}.id "
              "AND h.event NOT LIKE 'eligibility\\_%' ESCAPE '\\' ORDER BY h.seq DESC LIMIT 1)")
counts_sql = (f"SELECT village_code, state, count(*) FROM nominations WHERE campaign_id = {c} "
              "AND village_code BETWEEN '620122000000' AND '620122999999' GROUP BY village_code, state")
stalled_sql = (f"SELECT count(*) FROM nominations n WHERE n.campaign_id = {c} AND n.id IN "
               "(SELECT nomination_id FROM nomination_history WHERE event = 'no_reviewer') AND "
               + last_event.format(t="n") + " = 'no_reviewer'")
total_sql = f"SELECT count(*) FROM nominations WHERE campaign_id = {c}"


def page_sql(offset):
    return ("SELECT n.id, n.village_code, n.category, n.channel, n.family, n.state, n.created_at, v.name, tw.name, "
            "(SELECT t.due_at FROM review_tasks t WHERE t.nomination_id = n.id AND t.closed_at IS NULL "
            " AND t.due_at IS NOT NULL ORDER BY t.due_at LIMIT 1), " + last_event.format(t="n") +
            " FROM nominations n LEFT JOIN orgs v ON v.code = n.village_code LEFT JOIN orgs tw ON tw.code = v.parent_code"
            f" WHERE n.id IN (SELECT id FROM nominations WHERE campaign_id = {c}"
            f" ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET {offset})"
            " ORDER BY n.created_at DESC, n.id DESC")


raw = {
    "raw: counts + stalled + page 1": [counts_sql, stalled_sql, page_sql(0)],
    f"raw: counts + stalled + page {deep}": [counts_sql, stalled_sql, page_sql((deep - 1) * 50)],
    "raw: total + page 1 (list API)": [total_sql, page_sql(0)],
    f"raw: total + page {deep} (list API)": [total_sql, page_sql((deep - 1) * 50)],
}
raw_times = {k: db.timed(s, requests) for k, s in raw.items()}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


print(f"\n{backend}: {n} nominations in one campaign (seeded in {seeded:.1f} s), {requests} requests each")
print(f"{'':36} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>9}")
for k, xs in times.items():
    print(f"{k:36} {pct(xs, .5):8.1f} {pct(xs, .95):8.1f} {sizes[k]:9d}")
for k, xs in raw_times.items():
    print(f"{k:36} {pct(xs, .5):8.1f} {pct(xs, .95):8.1f}")
