"""A second implementation of the spec, written from its text alone, for the
example policy (policies/online-market.yaml): the scores of policy.md
("Semantics", steps 1-8) and the members of joint-sanctions.md's rounds
for a run as of D with no officer decisions. The test `reference` runs it
on a generated warehouse after `credence run` and compares what it prints
with the scores and listings marts, line for line.

It shares no code with credence. What it takes from the run is which
landing rows were rejected (the quarantine names each by file and row):
the row rules are checked elsewhere, twice (the native checks and their
DataFusion plans). Everything after that, it does itself: the snapshot
and the partitions a run as of D reads, the newest version of each key,
repairs, windows, weights, caps, the floor, the two-step rounding, bands,
direct grades, reasons, and the rounds.

Usage: reference.py WAREHOUSE AS_OF  (prints `scores`, `members` and `related` lines)
"""

import datetime
import os
import sys
from decimal import ROUND_HALF_UP, Decimal

import pyarrow.parquet as pq

# policies/online-market.yaml, as the test checks (its SHA-256).
BASE, FLOOR = 100.0, 0.0
SCOPE_STATUSES = {"active", "abnormal"}
SCORE_RULES = [
    # id, dataset, where, points, window_days, decay, cap
    ("V_GRAVE", "violations", lambda r: r["severity"] == "grave" and r["status"] == "effective", 40, 1095, "linear", None),
    ("V_SERIOUS", "violations", lambda r: r["severity"] == "serious" and r["status"] == "effective", 15, 1095, "linear", 45),
    ("V_GENERAL", "violations", lambda r: r["severity"] in ("general", "minor") and r["status"] == "effective", 4, 730, 180.0, 20),
    ("C_UNRESOLVED", "complaints", lambda r: r["verified"] is True and r["outcome"] == "unresolved", 2, 365, None, 20),
]
DIRECT_GRADES = [
    (
        "DG_FRAUD",
        "violations",
        lambda r: r["category"] in ("price_fraud", "counterfeit")
        and r["severity"] in ("serious", "grave")
        and r["status"] == "effective",
        1095,
        "D",
    ),
]
BANDS = [("A", 90.0), ("B", 75.0), ("C", 50.0), ("D", 0.0)]
LIST_GRADES = {"D"}
CONTROL_THRESHOLD, MAX_ROUNDS = 50.0, 10
LEGAL_REP_MEASURES = ["enhanced_inspection", "no_new_legal_rep_role"]
KEYS = {"registry": ["entity_id"], "holdings": ["holder_id", "entity_id"], "violations": ["case_id"],
        "complaints": ["complaint_id"], "repairs": ["repair_id"]}
EVENT_DATE = {"violations": "decided_on", "complaints": "received_on"}
RECORD_ID = {"violations": "case_id", "complaints": "complaint_id"}


def rejected(wh, dataset, as_of):
    path = os.path.join(wh, "quarantine", dataset, f"as_of={as_of}", "part-0.parquet")
    if not os.path.exists(path):
        return set()
    t = pq.ParquetFile(path).read(columns=["source_file", "source_row"]).to_pylist()
    return {(r["source_file"], r["source_row"]) for r in t}


def partitions(wh, dataset, as_of):
    """The partitions of `dataset` with ingest_date <= D, oldest first."""
    root = os.path.join(wh, "landing", dataset)
    if not os.path.isdir(root):
        return []
    dates = sorted(d.split("=", 1)[1] for d in os.listdir(root) if d.startswith("ingest_date="))
    return [d for d in dates if d <= as_of]


def accepted_rows(wh, dataset, dates, as_of):
    """The accepted rows of the partitions `dates`, each with its ingest date."""
    bad = rejected(wh, dataset, as_of)
    out = []
    for date in dates:
        folder = os.path.join("landing", dataset, f"ingest_date={date}")
        for name in sorted(os.listdir(os.path.join(wh, folder))):
            relative = f"{folder}/{name}"
            for i, row in enumerate(pq.ParquetFile(os.path.join(wh, relative)).read().to_pylist()):
                if (relative, i) not in bad:
                    row["_ingest"] = date
                    out.append(row)
    return out


def snapshot(wh, dataset, as_of):
    dates = partitions(wh, dataset, as_of)
    return accepted_rows(wh, dataset, dates[-1:], as_of)


def newest_versions(wh, dataset, as_of):
    """datasets.md: the union of every partition <= D; of a key's versions, the newest ingest_date's."""
    newest = {}
    for row in accepted_rows(wh, dataset, partitions(wh, dataset, as_of), as_of):
        key = tuple(row[k] for k in KEYS[dataset])
        if key not in newest or newest[key]["_ingest"] < row["_ingest"]:
            newest[key] = row
    return list(newest.values())


def rounded(x):
    """policy.md step 5: to 9 decimals (nearest), then to 2, half away from zero."""
    nine = Decimal(format(round(x, 9), ".9f"))
    return float(nine.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def weight(decay, window, age):
    if decay is None:
        return 1.0
    if decay == "linear":
        return (window - age) / window
    return 0.5 ** (age / decay)


def scores(wh, as_of):
    d = datetime.date.fromisoformat(as_of)
    registry = snapshot(wh, "registry", as_of)
    repairs = newest_versions(wh, "repairs", as_of)
    repaired = {(r["entity_id"], r["case_id"]) for r in repairs if r["approved_on"] <= d}
    records = {
        "violations": [v for v in newest_versions(wh, "violations", as_of) if (v["entity_id"], v["case_id"]) not in repaired],
        "complaints": newest_versions(wh, "complaints", as_of),
    }
    by_entity = {"violations": {}, "complaints": {}}
    for ds, rows in records.items():
        for r in rows:
            by_entity[ds].setdefault(r["entity_id"], []).append(r)

    def hits(entity, dataset, where, window):
        for r in by_entity[dataset].get(entity, []):
            age = (d - r[EVENT_DATE[dataset]]).days
            if 0 <= age < window and where(r):
                yield r, age

    lines, grades = [], {}
    for e in sorted((r for r in registry if r["status"] in SCOPE_STATUSES), key=lambda r: r["entity_id"].encode()):
        entity = e["entity_id"]
        deductions = []
        for rule, ds, where, points, window, decay, cap in SCORE_RULES:
            found = list(hits(entity, ds, where, window))
            raw = sum(points * weight(decay, window, age) for _, age in found)
            ded = raw if cap is None else min(cap, raw)
            if ded > 0:
                deductions.append((rule, ded, sorted((r[RECORD_ID[ds]] for r, _ in found), key=str.encode)))
        score = rounded(max(FLOOR, BASE - sum(ded for _, ded, _ in deductions)))
        band = next(i for i, (_, low) in enumerate(BANDS) if low <= score)
        grade, fired = band, []
        for rule, ds, where, window, forced in DIRECT_GRADES:
            found = list(hits(entity, ds, where, window))
            if found:
                grade = max(grade, [g for g, _ in BANDS].index(forced))
                fired.append((rule, sorted((r[RECORD_ID[ds]] for r, _ in found), key=str.encode)))
        reasons = [(rule, 0.0, ids) for rule, ids in sorted(fired, key=lambda f: f[0].encode())]
        reasons += sorted(
            ((rule, rounded(ded), ids) for rule, ded, ids in deductions), key=lambda r: (-r[1], r[0].encode())
        )
        shown = " | ".join(f"{rule}:{points:.2f}:{','.join(ids)}" for rule, points, ids in reasons[:4])
        lines.append(f"{entity} {score:.2f} {BANDS[band][0]} {BANDS[grade][0]} {shown}")
        grades[entity] = BANDS[grade][0]
    return lines, grades, registry


def members(wh, as_of, grades, registry):
    """joint-sanctions.md, per list: round 0 the candidates, then rounds by branch and control."""
    in_scope = {e["entity_id"] for e in registry if e["status"] in SCOPE_STATUSES}
    parent = {e["entity_id"]: e["parent_id"] for e in registry if e["entity_type"] == "branch"}
    holders = {}
    for h in snapshot(wh, "holdings", as_of):
        if h["holder_kind"] == "entity":
            holders.setdefault(h["entity_id"], []).append((h["holder_id"], h["share_pct"]))
    s = {e: (0, [], [], [e]) for e in in_scope if grades.get(e) in LIST_GRADES}
    for k in range(1, MAX_ROUNDS + 1):
        joined = {}
        for x in sorted(in_scope - s.keys()):
            rules, via = [], []
            if parent.get(x) in s:
                rules.append("JS_BRANCH")
                via.append((parent[x], "branch", None))
            listed = [(h, pct) for h, pct in holders.get(x, []) if h in s]
            if listed and sum(pct for _, pct in listed) >= CONTROL_THRESHOLD - 1e-9:
                rules.append("JS_CONTROL")
                via += [(h, "control", pct) for h, pct in listed]
            if rules:
                via.sort(key=lambda v: (v[0].encode(), v[1]))
                roots = sorted({r for v in via for r in s[v[0]][3]}, key=str.encode)
                joined[x] = (k, sorted(rules), via, roots)
        if not joined:
            break
        s.update(joined)
    out = []
    for e in sorted(s, key=str.encode):
        depth, rules, via, roots = s[e]
        shown = ",".join(f"{i}/{rel}/{'' if pct is None else f'{pct:.4f}'}" for i, rel, pct in via)
        out.append(f"{e} {depth} {','.join(rules)} [{shown}] {','.join(roots)}")
    return out, s.keys()


def related(registry, members):
    """joint-sanctions.md step 5: the representatives of the final members
    are restricted; every other entity in scope they represent is flagged."""
    rep = {e["entity_id"]: e["legal_rep_id"] for e in registry if e["legal_rep_id"] is not None}
    represented = {}
    for m in members:
        if m in rep:
            represented.setdefault(rep[m], []).append(m)
    rows = [(p, "person", sorted(ms, key=str.encode)) for p, ms in represented.items()]
    for e in registry:
        x = e["entity_id"]
        if e["status"] in SCOPE_STATUSES and x not in members and rep.get(x) in represented:
            rows.append((x, "entity", sorted(represented[rep[x]], key=str.encode)))
    measures = ",".join(LEGAL_REP_MEASURES)
    return [f"{who} {kind} JS_LEGAL_REP {measures} {','.join(roots)}" for who, kind, roots in sorted(rows, key=lambda r: r[0].encode())]


def main():
    wh, as_of = sys.argv[1], sys.argv[2]
    lines, grades, registry = scores(wh, as_of)
    for line in lines:
        print("scores", line)
    lines, final = members(wh, as_of, grades, registry)
    for line in lines:
        print("members", line)
    for line in related(registry, final):
        print("related", line)


if __name__ == "__main__":
    main()
