"""The measuring half of scripts/bench-dashboard: seeds N nominations into one campaign of
皋兰县 (copies of one real submission, spread over its villages, each with its history row),
then times the dashboard page, the list API's first and a deep page, and — as the raw limit —
the same page's SELECTs through the database's own client, in one run."""

import hashlib, http.client, json, os, secrets, sqlite3, statistics, subprocess, sys, time, uuid
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


class Db:
    """The database through its own client: sqlite3, or psql."""

    def __init__(self):
        if backend == "sqlite":
            self.lite = sqlite3.connect(url.removeprefix("sqlite://"))

    def rows(self, sql, params=()):
        if backend == "sqlite":
            return self.lite.execute(sql.replace("%s", "?"), params).fetchall()
        for p in params:
            sql = sql.replace("%s", "'" + str(p).replace("'", "''") + "'", 1)
        out = subprocess.run(["psql", url, "-qAtF", "\t", "-c", sql], check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def copy(self, table, columns, rows):
        if backend == "sqlite":
            marks = ",".join("?" * len(columns))
            self.lite.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
            self.lite.commit()
            return
        import csv, io
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        subprocess.run(["psql", url, "-qc", f"\\copy {table} ({','.join(columns)}) FROM STDIN CSV"],
                       input=buf.getvalue(), check=True, text=True)


db = Db()
cols = ["id", "campaign_id", "village_code", "household_id", "category", "channel", "family", "story", "nominator", "state", "created_at", "updated_at"]
one = db.rows(f"SELECT {','.join(cols)} FROM nominations WHERE id = %s", (template,))[0]
villages = [r[0] for r in db.rows("SELECT code FROM orgs WHERE level = 'village' AND code LIKE '620122%%'".replace("%%", "%"))]
start = datetime(2026, 11, 1, tzinfo=timezone.utc)
rows, history = [], []
for i in range(n - 1):
    nid = str(uuid.uuid4())
    at = (start + timedelta(seconds=i * 30)).strftime("%Y-%m-%d %H:%M:%S")
    r = list(one)
    r[0], r[2], r[10], r[11] = nid, villages[i % len(villages)], at, at
    rows.append(r)
    history.append((nid, at, r[8], "submitted", "submitted", "village_review"))
t = time.perf_counter()
db.copy("nominations", cols, rows)
db.copy("nomination_history", ["nomination_id", "at", "actor", "event", "from_state", "to_state"], history)
seeded = time.perf_counter() - t

# A signed-in session for the page, as the sign-in link's POST makes one.
secret = secrets.token_hex(32)
person = db.rows("SELECT id FROM people WHERE email = %s", ("demo-admin@jinguo.invalid",))[0][0]
now = datetime.now(timezone.utc)
db.copy("sessions", ["token_hash", "person_id", "csrf", "created_at", "expires_at"], [(
    hashlib.sha256(secret.encode()).hexdigest(), person, secrets.token_hex(16),
    now.strftime("%Y-%m-%d %H:%M:%S"), (now + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"))])
cookie = {"Cookie": f"jinguo_session={secret}"}

deep = max(1, n // 50 - 1)
kinds = {
    "dashboard page 1": ("GET", f"/admin/campaigns/{campaign}?org=620122", cookie),
    f"dashboard page {deep}": ("GET", f"/admin/campaigns/{campaign}?org=620122&page={deep}", cookie),
    "list API page 1 (50)": ("GET", f"/api/v1/campaigns/{campaign}/nominations?page=1&per_page=50", auth),
    f"list API page {deep} (50)": ("GET", f"/api/v1/campaigns/{campaign}/nominations?page={deep}&per_page=50", auth),
}
times = {k: [] for k in kinds}
sizes = {}
for _ in range(requests):
    for k, (m, p, h) in kinds.items():
        ms, status, data = call(m, p, None, h)
        assert status == 200, (k, status, data[:300])
        times[k].append(ms)
        sizes[k] = len(data)

# The raw limit: the page's own SELECTs (counts by unit and state, the total, one page of rows
# with its village name, deadline and last event) straight through the client.
page_sql = ("SELECT n.id, n.village_code, o.name, n.category, n.channel, n.family, n.state, n.created_at, "
            "(SELECT t.due_at FROM review_tasks t WHERE t.nomination_id = n.id AND t.closed_at IS NULL "
            " AND t.due_at IS NOT NULL ORDER BY t.due_at LIMIT 1), "
            "(SELECT h.event FROM nomination_history h WHERE h.nomination_id = n.id AND h.event NOT LIKE 'eligibility_%%' "
            " ORDER BY h.seq DESC LIMIT 1) "
            "FROM nominations n LEFT JOIN orgs o ON o.code = n.village_code WHERE n.campaign_id = %s "
            "ORDER BY n.created_at DESC, n.id DESC LIMIT 50 OFFSET %s").replace("%%", "%")
raw = {"raw: counts + total + page 1": 0, f"raw: counts + total + page {deep}": (deep - 1) * 50}
raw_times = {k: [] for k in raw}
for _ in range(min(requests, 30) if backend == "postgres" else requests):
    for k, offset in raw.items():
        t = time.perf_counter()
        if backend == "sqlite":
            db.rows("SELECT village_code, state, count(*) FROM nominations WHERE campaign_id = %s GROUP BY village_code, state", (campaign,))
            db.rows("SELECT count(*) FROM nominations WHERE campaign_id = %s", (campaign,))
            db.rows(page_sql, (campaign, offset))
        else:
            # One psql process for all three, so process start-up is paid once (and subtracted below).
            db.rows("SELECT village_code, state, count(*) FROM nominations WHERE campaign_id = %s GROUP BY village_code, state; "
                    "SELECT count(*) FROM nominations WHERE campaign_id = %s; " + page_sql, (campaign, campaign, campaign, offset))
        raw_times[k].append((time.perf_counter() - t) * 1000)
if backend == "postgres":
    floor = []
    for _ in range(10):
        t = time.perf_counter()
        db.rows("SELECT 1")
        floor.append((time.perf_counter() - t) * 1000)
    f = statistics.median(floor)
    raw_times = {k: [max(0.0, x - f) for x in xs] for k, xs in raw_times.items()}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


print(f"\n{backend}: {n} nominations in one campaign (seeded in {seeded:.1f} s), {requests} requests each")
print(f"{'':34} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>9}")
for k, xs in times.items():
    print(f"{k:34} {pct(xs, .5):8.1f} {pct(xs, .95):8.1f} {sizes[k]:9d}")
for k, xs in raw_times.items():
    note = " (psql start-up subtracted)" if backend == "postgres" else ""
    print(f"{k:34} {pct(xs, .5):8.1f} {pct(xs, .95):8.1f} {'':>9}{note}")
