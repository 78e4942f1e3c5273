"""A second implementation of the spec, written from its text alone, for the
example policy (policies/online-market.yaml): the scores of policy.md
("Semantics", steps 1-8) and the members of joint-sanctions.md's rounds
for a run as of D with no officer decisions. The test `reference` runs it
on a generated warehouse after `credence run` and compares what it prints
with the scores and listings marts, line for line.

It shares no code with credence and takes nothing from the run: it
reads the landing zone and judges every row by datasets.md's rules
itself (each rejected row printed with its file, row and code, for the
test to compare with the quarantine), then the snapshot and the
partitions a run as of D reads, the newest accepted version of each key,
repairs, windows, weights, caps, the floor, the two-step rounding, bands,
direct grades, reasons, the rounds and the legal representatives.

With `--review-none` and several as-of dates it also publishes the list
night after night as publication.md says (every member published: the
example policy with `review: none`, no officer decisions): each night's
entries and changes against the night before, with removal reasons.

Usage: reference.py WAREHOUSE AS_OF
       (prints `rejected`, `scores`, `members` and `related` lines)
       reference.py WAREHOUSE --review-none AS_OF...
       (prints `entries AS_OF` and `changes AS_OF` lines)
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
LIST_ID, LIST_MEASURES = "serious-dishonesty", ["public_procurement_ban", "enhanced_inspection", "no_honours"]
LEGAL_REP_MEASURES = ["enhanced_inspection", "no_new_legal_rep_role"]
KEYS = {"registry": ["entity_id"], "holdings": ["holder_id", "entity_id"], "violations": ["case_id"],
        "complaints": ["complaint_id"], "repairs": ["repair_id"]}
EVENT_DATE = {"violations": "decided_on", "complaints": "received_on"}
RECORD_ID = {"violations": "case_id", "complaints": "complaint_id"}


# datasets.md "Datasets": per column, (name, required, check); checks:
# entity / person ids, an enumeration, six digits, >= 0, a date not after
# the partition's ingest_date, a share, the registry's parent_id.
ENTITY_TYPES = ["company", "branch", "sole_proprietor", "cooperative"]
CATEGORIES = ["false_advertising", "counterfeit", "unlicensed_operation", "price_fraud", "food_safety",
              "product_quality", "consumer_rights", "unfair_competition", "personal_data", "other"]
COLUMNS = {
    "registry": [("entity_id", True, "entity"), ("name", True, "name"), ("entity_type", True, ENTITY_TYPES),
                 ("legal_rep_id", False, "person"), ("parent_id", False, "parent"), ("region", True, "six"),
                 ("industry", False, [chr(c) for c in range(ord("A"), ord("T") + 1)]), ("online_store", False, None),
                 ("established_on", True, "date"), ("status", True, ["active", "abnormal", "revoked", "deregistered"]),
                 ("registered_capital", False, "money")],
    "holdings": [("holder_id", True, "holder"), ("holder_kind", True, ["entity", "person"]),
                 ("entity_id", True, "entity"), ("share_pct", True, "share")],
    "violations": [("case_id", True, None), ("entity_id", True, "entity"), ("decided_on", True, "date"),
                   ("category", True, CATEGORIES), ("severity", True, ["minor", "general", "serious", "grave"]),
                   ("fine_cny", False, "money"), ("status", True, ["effective", "suspended", "revoked"]),
                   ("authority", True, "six")],
    "complaints": [("complaint_id", True, None), ("entity_id", True, "entity"), ("received_on", True, "date"),
                   ("channel", True, ["hotline", "web", "platform"]), ("category", False, None),
                   ("verified", True, None),
                   ("outcome", True, ["pending", "resolved", "mediated", "unresolved", "withdrawn"]),
                   ("amount_cny", False, "money")],
    "repairs": [("repair_id", True, None), ("entity_id", True, "entity"), ("case_id", True, None),
                ("approved_on", True, "date")],
}
CODES = ["missing_required", "bad_entity_id", "bad_person_id", "bad_enum", "bad_range", "future_date",
         "duplicate_key", "shares_over_100", "unknown_entity", "unknown_case"]
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
# Unicode White_Space, and the zero-width characters a blank name may hold.
BLANK = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}
BLANK |= set("\u200b\u200c\u200d\u2060\ufeff")


def entity_id_ok(v):
    if len(v) != 18 or any(c not in ALPHABET for c in v):
        return False
    total = sum(ALPHABET.index(c) * w for c, w in zip(v, WEIGHTS))
    return v[17] == ALPHABET[(31 - total % 31) % 31]


def person_id_ok(v):
    return len(v) == 17 and v[0] == "P" and all(c in "0123456789abcdef" for c in v[1:])


def unsafe(v):
    """A C0 or C1 control character, or a bidirectional override or isolate."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
               for c in v)


def row_code(dataset, row, ingest):
    """The first row rule (datasets.md "Bad input") the row breaks, if any."""
    faults = set()
    for name, required, check in COLUMNS[dataset]:
        v = row.get(name)
        branch = dataset == "registry" and row.get("entity_type") == "branch"
        if v is None:
            if required or (check == "parent" and branch):
                faults.add("missing_required")
            continue
        if isinstance(v, str):
            if unsafe(v):
                faults.add("bad_range")
            if check == "name" and all(c in BLANK for c in v):
                faults.add("missing_required")
        if check == "entity" and not entity_id_ok(v):
            faults.add("bad_entity_id")
        elif check == "parent":
            if not branch:
                faults.add("bad_range")
            elif not entity_id_ok(v):
                faults.add("bad_entity_id")
        elif check == "person" and not person_id_ok(v):
            faults.add("bad_person_id")
        elif check == "holder":
            kind = row.get("holder_kind")
            if kind == "entity" and not entity_id_ok(v):
                faults.add("bad_entity_id")
            elif kind == "person" and not person_id_ok(v):
                faults.add("bad_person_id")
        elif isinstance(check, list) and v not in check:
            faults.add("bad_enum")
        elif check == "six" and not (len(v) == 6 and all(c in "0123456789" for c in v)):
            faults.add("bad_range")
        elif check == "money" and (v < 0 or abs(v) >= Decimal(10) ** 16):
            faults.add("bad_range")
        elif check == "share" and not (v > 0 and v <= 100):
            faults.add("bad_range")
        elif check == "date" and v > ingest:
            faults.add("future_date")
    return next((c for c in CODES if c in faults), None)


def partitions(wh, dataset, as_of):
    """The partitions of `dataset` a run as of D reads, oldest first: the
    newest with ingest_date <= D of a snapshot, every one of an event dataset."""
    root = os.path.join(wh, "landing", dataset)
    if not os.path.isdir(root):
        return []
    dates = sorted(d.split("=", 1)[1] for d in os.listdir(root) if d.startswith("ingest_date="))
    dates = [d for d in dates if d <= as_of]
    return dates[-1:] if dataset in ("registry", "holdings") else dates


def landing_rows(wh, dataset, as_of):
    """Every row the run reads, with its partition, file and row number."""
    out = []
    for date in partitions(wh, dataset, as_of):
        folder = os.path.join("landing", dataset, f"ingest_date={date}")
        for name in sorted(n for n in os.listdir(os.path.join(wh, folder)) if n.endswith(".parquet")):
            relative = f"{folder}/{name}"
            for i, row in enumerate(pq.ParquetFile(os.path.join(wh, relative)).read().to_pylist()):
                row["_ingest"], row["_at"] = date, (relative, i)
                out.append(row)
    return out


def judge(dataset, rows, codes, registered=None, known_cases=None):
    """The codes after the row rules (`codes`, by row): duplicate keys,
    shares over 100, unknown entities and cases."""
    keys = [tuple(r[k] for k in KEYS[dataset]) for r in rows]
    seen = {}
    for r, k in zip(rows, keys):
        if None not in k:
            seen[(r["_ingest"], k)] = seen.get((r["_ingest"], k), 0) + 1
    for i, (r, k) in enumerate(zip(rows, keys)):
        if codes[i] is None and None not in k and seen[(r["_ingest"], k)] > 1:
            codes[i] = "duplicate_key"
    if dataset == "holdings":
        held = {}
        for i, r in enumerate(rows):
            if codes[i] is None:
                held[r["entity_id"]] = held.get(r["entity_id"], 0.0) + r["share_pct"]
        for i, r in enumerate(rows):
            if codes[i] is None and held[r["entity_id"]] > 100.01:
                codes[i] = "shares_over_100"
    if registered is not None:
        for i, r in enumerate(rows):
            if codes[i] is None and r["entity_id"] not in registered:
                codes[i] = "unknown_entity"
    if known_cases is not None:
        for i, r in enumerate(rows):
            if codes[i] is None and (r["case_id"], r["entity_id"]) not in known_cases:
                codes[i] = "unknown_case"
    return codes


class Landing:
    """The accepted rows of every dataset a run as of D reads, judged here."""

    def __init__(self, wh, as_of):
        self.rejected, self.accepted = [], {}
        registered = None
        for dataset in ["registry", "violations", "repairs", "complaints", "holdings"]:
            rows = landing_rows(wh, dataset, as_of)
            codes = [row_code(dataset, r, datetime.date.fromisoformat(r["_ingest"])) for r in rows]
            known = None
            if dataset == "repairs":
                known = {(v["case_id"], v["entity_id"]) for v in self.current("violations")}
            codes = judge(dataset, rows, codes, registered, known)
            self.rejected += [(r["_at"], c) for r, c in zip(rows, codes) if c is not None]
            self.accepted[dataset] = [r for r, c in zip(rows, codes) if c is None]
            if dataset == "registry":
                registered = {r["entity_id"] for r in self.accepted["registry"]}

    def current(self, dataset):
        """The newest accepted version of each key (partitions read oldest first)."""
        newest = {}
        for r in self.accepted[dataset]:
            newest[tuple(r[k] for k in KEYS[dataset])] = r
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


def scores(landing, as_of):
    d = datetime.date.fromisoformat(as_of)
    registry = landing.accepted["registry"]
    repaired = {(r["entity_id"], r["case_id"]) for r in landing.current("repairs") if r["approved_on"] <= d}
    records = {
        "violations": [v for v in landing.current("violations") if (v["entity_id"], v["case_id"]) not in repaired],
        "complaints": landing.current("complaints"),
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

    lines, grades, reasons_of = [], {}, {}
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
        reasons_of[entity] = {i for _, _, ids in reasons[:4] for i in ids}
    return lines, grades, registry, reasons_of


def members(landing, grades, registry):
    """joint-sanctions.md, per list: round 0 the candidates, then rounds by branch and control."""
    in_scope = {e["entity_id"] for e in registry if e["status"] in SCOPE_STATUSES}
    parent = {e["entity_id"]: e["parent_id"] for e in registry if e["entity_type"] == "branch"}
    holders = {}
    for h in landing.accepted["holdings"]:
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
    return out, s


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


def entry_line(e):
    return "|".join([e["entity_id"], e["name"], e["region"], e["online_store"] or "", LIST_ID, e["basis"],
                     str(e["depth"]), ";".join(e["rules"]), ";".join(e["roots"]), e["listed_since"],
                     ";".join(e["measures"])])


def publications(wh, dates):
    """publication.md, night after night with every member published."""
    before, last = {}, None
    for d in dates:
        landing = Landing(wh, d)
        _, grades, registry, reasons_of = scores(landing, d)
        _, s = members(landing, grades, registry)
        facts = {e["entity_id"]: e for e in registry}
        now = {}
        for e in sorted(s, key=str.encode):
            depth, rules, via, roots = s[e]
            # A joint rule without measures of its own takes the list's.
            now[e] = {"entity_id": e, "name": facts[e]["name"], "region": facts[e]["region"],
                      "online_store": facts[e]["online_store"], "basis": "direct" if depth == 0 else "joint",
                      "depth": depth, "rules": rules, "roots": roots,
                      "listed_since": before[e]["listed_since"] if e in before else d,
                      "measures": sorted(set(LIST_MEASURES)), "_via": via}
        parent = {e["entity_id"]: e["parent_id"] for e in registry}
        holders = {(h["holder_id"], h["entity_id"]) for h in landing.accepted["holdings"] if h["holder_kind"] == "entity"}
        repairs = [r for r in landing.current("repairs") if r["approved_on"] <= datetime.date.fromisoformat(d)]
        changes = []
        for e in sorted(set(now) | set(before), key=str.encode):
            if e not in before:
                changes.append(("added", now[e], ""))
            elif e not in now:
                changes.append(("removed", before[e], removal_reason(before[e], last, facts, now, parent, holders, repairs)))
            elif any(now[e][k] != before[e][k] for k in now[e] if k not in ("listed_since", "_via")):
                changes.append(("changed", now[e], ""))
        for e in now.values():
            print("entries", d, entry_line(e))
        for action, e, reason in changes:
            print("changes", d, f"{action}|{entry_line(e)}|{reason}")
        before, last = now, reasons_of


def removal_reason(gone, last_reasons, facts, now, parent, holders, repairs):
    """publication.md v2: the first that holds (no exemptions, one policy)."""
    e = gone["entity_id"]
    if e not in facts or facts[e]["status"] not in SCOPE_STATUSES:
        return "out_of_scope"
    behind = (last_reasons or {}).get(e, set())
    if any(r["entity_id"] == e and r["case_id"] in behind for r in repairs):
        return "repaired"
    if gone["basis"] == "joint":
        linked = [v for v, relation, _ in gone["_via"]
                  if v in now and (parent.get(e) == v if relation == "branch" else (v, e) in holders)]
        if not linked:
            return "joint_basis_ended"
    return "grade_improved"


def main():
    wh = sys.argv[1]
    if sys.argv[2] == "--review-none":
        return publications(wh, sys.argv[3:])
    as_of = sys.argv[2]
    landing = Landing(wh, as_of)
    for (path, row), code in sorted(landing.rejected):
        print("rejected", path, row, code)
    lines, grades, registry, _ = scores(landing, as_of)
    for line in lines:
        print("scores", line)
    lines, final = members(landing, grades, registry)
    for line in lines:
        print("members", line)
    for line in related(registry, final):
        print("related", line)


if __name__ == "__main__":
    main()
