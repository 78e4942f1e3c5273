#!/usr/bin/env python3
"""Keep a partner's mirror of one list in sync from each publication's changes.

For every publication after the one the mirror holds, oldest first, this
script downloads the partner view's manifest and its signature, verifies the
signature with the stock `minisign` command and the regulator's public key,
checks that the manifest is of this list and follows the mirror's
publication, downloads `changes.parquet` (and, the first time,
`entries.parquet`), checks every file's size and SHA-256 against the
manifest, and only then applies the changes: `removed` deletes the entity,
`added` and `changed` put its row. The mirror (`entries.parquet` and
`state.json`) is replaced whole, by rename, after each publication: a
failure at any step leaves it as it was, and the next run goes on.

    python3 partner-mirror.py --api https://credence.example/api/v1 \
        --token "$TOKEN" --list serious-dishonesty \
        --public-key regulator.pub --mirror ./mirror

Needs Python 3.9+, pyarrow, and minisign on PATH. Exit status 0 when the
mirror is up to date, 1 when a check failed (nothing was applied).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

import pyarrow as pa
import pyarrow.parquet as pq


class Refused(Exception):
    """A publication that does not check out: nothing of it is applied."""


def fetch(api, token, path):
    req = urllib.request.Request(api.rstrip("/") + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read()


def verify_manifest(folder, public_key):
    """The stock minisign command checks the manifest's signature."""
    r = subprocess.run(
        ["minisign", "-Vm", os.path.join(folder, "manifest.json"), "-p", public_key, "-q"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise Refused("the manifest's signature does not verify: " + (r.stderr or r.stdout).strip())


def checked_file(manifest, folder, name, data):
    """Writes `data` as `name` after checking its size and SHA-256."""
    files = {f["name"]: f for f in manifest["files"]}
    if name not in files:
        raise Refused(f"the manifest does not name {name}")
    expected = files[name]
    if len(data) != expected["bytes"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise Refused(f"{name} does not match the manifest (size or SHA-256)")
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def apply_changes(entries, changes):
    """Applies a changes table to an entries table, by entity_id."""
    rows = {r["entity_id"]: r for r in entries.to_pylist()}
    columns = entries.column_names
    for c in changes.to_pylist():
        entity = c["entity_id"]
        if c["action"] == "removed":
            if rows.pop(entity, None) is None:
                raise Refused(f"removed {entity}, which the mirror does not hold")
        else:
            if c["action"] == "added" and entity in rows:
                raise Refused(f"added {entity}, which the mirror holds already")
            rows[entity] = {k: c[k] for k in columns}
    ordered = [rows[k] for k in sorted(rows)]
    return pa.Table.from_pylist(ordered, schema=entries.schema)


def write_atomically(path, write):
    tmp = path + ".tmp"
    write(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sync(api, token, list_id, public_key, mirror):
    os.makedirs(mirror, exist_ok=True)
    state_path = os.path.join(mirror, "state.json")
    entries_path = os.path.join(mirror, "entries.parquet")
    state = json.load(open(state_path)) if os.path.exists(state_path) else {"publication_id": None}
    after = state["publication_id"]
    query = f"?after={after}" if after else ""
    ids = json.loads(fetch(api, token, f"/lists/{list_id}/publications{query}"))["publications"]
    for pid in ids:
        with tempfile.TemporaryDirectory() as tmp:
            base = f"/lists/{list_id}/publications/{pid}/"
            for name in ["manifest.json", "manifest.json.minisig"]:
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(fetch(api, token, base + name))
            verify_manifest(tmp, public_key)
            manifest = json.load(open(os.path.join(tmp, "manifest.json")))
            if manifest["list_id"] != list_id or manifest["publication_id"] != pid:
                raise Refused(f"the manifest is of {manifest['list_id']} {manifest['publication_id']}, not {list_id} {pid}")
            if after is None:
                # The first sync starts from the whole view.
                entries = pq.read_table(checked_file(manifest, tmp, "entries.parquet", fetch(api, token, base + "entries.parquet")))
            else:
                if manifest.get("previous_publication_id") != after:
                    raise Refused(f"{pid} follows {manifest.get('previous_publication_id')}, the mirror holds {after}")
                changes = pq.read_table(checked_file(manifest, tmp, "changes.parquet", fetch(api, token, base + "changes.parquet")))
                entries = apply_changes(pq.read_table(entries_path), changes)
            if entries.num_rows != manifest["counts"]["entries"]:
                raise Refused(f"{pid}: the mirror would hold {entries.num_rows} entries, the manifest says {manifest['counts']['entries']}")
        write_atomically(entries_path, lambda p: pq.write_table(entries, p))
        write_atomically(state_path, lambda p: open(p, "w").write(json.dumps({"publication_id": pid})))
        after = pid
        print(f"applied {pid}: {entries.num_rows} entries")
    print(f"up to date at {after}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--api", required=True, help="the API's base address, ending /api/v1")
    p.add_argument("--token", default=os.environ.get("CREDENCE_TOKEN"), help="the partner's token (or CREDENCE_TOKEN)")
    p.add_argument("--list", required=True)
    p.add_argument("--public-key", required=True, help="the regulator's minisign public key file")
    p.add_argument("--mirror", required=True, help="the mirror's folder")
    a = p.parse_args()
    try:
        sync(a.api, a.token, a.list, a.public_key, a.mirror)
    except Refused as e:
        print(f"refused: {e}; the mirror is unchanged", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
