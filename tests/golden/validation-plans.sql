-- Validation's plans, generated from the contracts (src/stages/validate/plans/).
-- key_hash(...) is a 64-bit hash of its values: it only narrows the rows then grouped by
-- their values. entity_bits(id) is an entity id's packed bits: exact (src/base/engine/key_forms.rs).

-- registry: the key hashes held twice, then the keys held twice, first (tables whose row counts the planner knows)
CREATE TABLE hashed_alike AS
SELECT unnest(_repeated) AS _alike
  FROM (SELECT repeated_hashes(key_hash("entity_id")) AS _repeated FROM landing_registry
    WHERE "entity_id" IS NOT NULL);
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "entity_id" AS _key0, count(*) AS _copies
  FROM hashed_alike RIGHT SEMI JOIN landing_registry ON _alike = key_hash("entity_id")
  WHERE "entity_id" IS NOT NULL
  GROUP BY _partition, "entity_id"
  HAVING count(*) > 1;

-- registry
CREATE VIEW judged_registry AS
WITH ruled AS (
  SELECT "entity_id", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'missing_required'
      WHEN 5 THEN 'missing_required'
      WHEN 6 THEN 'missing_required'
      WHEN 7 THEN 'missing_required'
      WHEN 8 THEN 'bad_entity_id'
      WHEN 9 THEN 'bad_entity_id'
      WHEN 10 THEN 'bad_person_id'
      WHEN 11 THEN 'bad_enum'
      WHEN 12 THEN 'bad_enum'
      WHEN 13 THEN 'bad_enum'
      WHEN 14 THEN 'bad_range'
      WHEN 15 THEN 'bad_range'
      WHEN 16 THEN 'bad_range'
      WHEN 17 THEN 'bad_range'
      WHEN 18 THEN 'bad_range'
      WHEN 19 THEN 'bad_range'
      WHEN 20 THEN 'bad_range'
      WHEN 21 THEN 'bad_range'
      WHEN 22 THEN 'bad_range'
      WHEN 23 THEN 'bad_range'
      WHEN 24 THEN 'bad_range'
      WHEN 25 THEN 'bad_range'
      WHEN 26 THEN 'bad_range'
      WHEN 27 THEN 'bad_range'
      WHEN 28 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column entity_id: required, found null'
      WHEN 1 THEN 'column name: required, found null'
      WHEN 2 THEN concat('column name: required non-empty, found ', CASE WHEN "name" = '' THEN '''''' ELSE concat(quoted("name"), ' (white space only)') END)
      WHEN 3 THEN 'column entity_type: required, found null'
      WHEN 4 THEN 'column parent_id: required when entity_type = ''branch'', found null'
      WHEN 5 THEN 'column region: required, found null'
      WHEN 6 THEN 'column established_on: required, found null'
      WHEN 7 THEN 'column status: required, found null'
      WHEN 8 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 9 THEN concat('column parent_id: expected a valid entity id', entity_id_hint("parent_id"), ', found ', quoted("parent_id"))
      WHEN 10 THEN concat('column legal_rep_id: expected a person id (P and 16 lowercase hex digits), found ', quoted("legal_rep_id"))
      WHEN 11 THEN concat('column entity_type: expected one of company, branch, sole_proprietor, cooperative; found ', quoted("entity_type"))
      WHEN 12 THEN concat('column industry: expected one of A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T; found ', quoted("industry"))
      WHEN 13 THEN concat('column status: expected one of active, abnormal, revoked, deregistered; found ', quoted("status"))
      WHEN 14 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 15 THEN concat('column name: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("name"))
      WHEN 16 THEN concat('column entity_type: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_type"))
      WHEN 17 THEN concat('column legal_rep_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("legal_rep_id"))
      WHEN 18 THEN concat('column parent_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("parent_id"))
      WHEN 19 THEN concat('column parent_id: expected null unless entity_type = ''branch'', found ', quoted("parent_id"))
      WHEN 20 THEN concat('column region: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("region"))
      WHEN 21 THEN concat('column region: expected six digits, found ', quoted("region"))
      WHEN 22 THEN concat('column industry: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("industry"))
      WHEN 23 THEN concat('column online_store: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("online_store"))
      WHEN 24 THEN concat('column established_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("established_on"))
      WHEN 25 THEN concat('column status: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("status"))
      WHEN 26 THEN concat('column registered_capital: expected an amount below 10^16 yuan, found ', money_text("registered_capital"))
      WHEN 27 THEN concat('column registered_capital: expected >= 0, found ', money_text("registered_capital"))
      WHEN 28 THEN concat('column established_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("established_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "entity_id" IS NULL THEN 0
          WHEN "name" IS NULL THEN 1
          WHEN "name" IS NOT NULL AND is_blank("name") THEN 2
          WHEN "entity_type" IS NULL THEN 3
          WHEN "parent_id" IS NULL AND "entity_type" = 'branch' THEN 4
          WHEN "region" IS NULL THEN 5
          WHEN "established_on" IS NULL THEN 6
          WHEN "status" IS NULL THEN 7
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 8
          WHEN "parent_id" IS NOT NULL AND NOT is_entity_id("parent_id") THEN 9
          WHEN "legal_rep_id" IS NOT NULL AND NOT is_person_id("legal_rep_id") THEN 10
          WHEN "entity_type" IS NOT NULL AND "entity_type" NOT IN ('company', 'branch', 'sole_proprietor', 'cooperative') THEN 11
          WHEN "industry" IS NOT NULL AND "industry" NOT IN ('A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T') THEN 12
          WHEN "status" IS NOT NULL AND "status" NOT IN ('active', 'abnormal', 'revoked', 'deregistered') THEN 13
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 14
          WHEN "name" IS NOT NULL AND unsafe_char_found("name") IS NOT NULL THEN 15
          WHEN "entity_type" IS NOT NULL AND unsafe_char_found("entity_type") IS NOT NULL THEN 16
          WHEN "legal_rep_id" IS NOT NULL AND unsafe_char_found("legal_rep_id") IS NOT NULL THEN 17
          WHEN "parent_id" IS NOT NULL AND unsafe_char_found("parent_id") IS NOT NULL THEN 18
          WHEN "parent_id" IS NOT NULL AND NOT coalesce("entity_type" = 'branch', false) THEN 19
          WHEN "region" IS NOT NULL AND unsafe_char_found("region") IS NOT NULL THEN 20
          WHEN "region" IS NOT NULL AND NOT is_six_digits("region") THEN 21
          WHEN "industry" IS NOT NULL AND unsafe_char_found("industry") IS NOT NULL THEN 22
          WHEN "online_store" IS NOT NULL AND unsafe_char_found("online_store") IS NOT NULL THEN 23
          WHEN "established_on" IS NOT NULL AND NOT is_calendar_date("established_on") THEN 24
          WHEN "status" IS NOT NULL AND unsafe_char_found("status") IS NOT NULL THEN 25
          WHEN "registered_capital" IS NOT NULL AND money_too_large("registered_capital") THEN 26
          WHEN "registered_capital" IS NOT NULL AND "registered_capital" < 0 THEN 27
          WHEN "established_on" IS NOT NULL AND "established_on" > _ingest_date THEN 28
        END AS _rule
      FROM landing_registry)),
found AS (
  SELECT l.*, c._copies
  FROM copies c RIGHT JOIN ruled l ON l._partition = c._key_partition AND l."entity_id" = c._key0)
SELECT "entity_id", _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN _copies > 1 THEN 'duplicate_key'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN _copies > 1 THEN concat('key (entity_id) = (', quoted("entity_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR))
    END AS _message
FROM found;
-- run once: the rejects are its rows with _code IS NOT NULL; accepted_registry keeps the others' entity_id
SELECT _row, _code, _message, "entity_id" FROM judged_registry;

-- violations: the key hashes held twice, then the keys held twice, first (tables whose row counts the planner knows)
CREATE TABLE hashed_alike AS
SELECT unnest(_repeated) AS _alike
  FROM (SELECT repeated_hashes(key_hash("case_id")) AS _repeated FROM landing_violations
    WHERE "case_id" IS NOT NULL);
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "case_id" AS _key0, count(*) AS _copies
  FROM hashed_alike RIGHT SEMI JOIN landing_violations ON _alike = key_hash("case_id")
  WHERE "case_id" IS NOT NULL
  GROUP BY _partition, "case_id"
  HAVING count(*) > 1;

-- violations
CREATE VIEW judged_violations AS
WITH ruled AS (
  SELECT "case_id", "entity_id", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'missing_required'
      WHEN 5 THEN 'missing_required'
      WHEN 6 THEN 'missing_required'
      WHEN 7 THEN 'bad_entity_id'
      WHEN 8 THEN 'bad_enum'
      WHEN 9 THEN 'bad_enum'
      WHEN 10 THEN 'bad_enum'
      WHEN 11 THEN 'bad_range'
      WHEN 12 THEN 'bad_range'
      WHEN 13 THEN 'bad_range'
      WHEN 14 THEN 'bad_range'
      WHEN 15 THEN 'bad_range'
      WHEN 16 THEN 'bad_range'
      WHEN 17 THEN 'bad_range'
      WHEN 18 THEN 'bad_range'
      WHEN 19 THEN 'bad_range'
      WHEN 20 THEN 'bad_range'
      WHEN 21 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column case_id: required, found null'
      WHEN 1 THEN 'column entity_id: required, found null'
      WHEN 2 THEN 'column decided_on: required, found null'
      WHEN 3 THEN 'column category: required, found null'
      WHEN 4 THEN 'column severity: required, found null'
      WHEN 5 THEN 'column status: required, found null'
      WHEN 6 THEN 'column authority: required, found null'
      WHEN 7 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 8 THEN concat('column category: expected one of false_advertising, counterfeit, unlicensed_operation, price_fraud, food_safety, product_quality, consumer_rights, unfair_competition, personal_data, other; found ', quoted("category"))
      WHEN 9 THEN concat('column severity: expected one of minor, general, serious, grave; found ', quoted("severity"))
      WHEN 10 THEN concat('column status: expected one of effective, suspended, revoked; found ', quoted("status"))
      WHEN 11 THEN concat('column case_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("case_id"))
      WHEN 12 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 13 THEN concat('column decided_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("decided_on"))
      WHEN 14 THEN concat('column category: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("category"))
      WHEN 15 THEN concat('column severity: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("severity"))
      WHEN 16 THEN concat('column fine_cny: expected an amount below 10^16 yuan, found ', money_text("fine_cny"))
      WHEN 17 THEN concat('column fine_cny: expected >= 0, found ', money_text("fine_cny"))
      WHEN 18 THEN concat('column status: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("status"))
      WHEN 19 THEN concat('column authority: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("authority"))
      WHEN 20 THEN concat('column authority: expected six digits, found ', quoted("authority"))
      WHEN 21 THEN concat('column decided_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("decided_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "case_id" IS NULL THEN 0
          WHEN "entity_id" IS NULL THEN 1
          WHEN "decided_on" IS NULL THEN 2
          WHEN "category" IS NULL THEN 3
          WHEN "severity" IS NULL THEN 4
          WHEN "status" IS NULL THEN 5
          WHEN "authority" IS NULL THEN 6
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 7
          WHEN "category" IS NOT NULL AND "category" NOT IN ('false_advertising', 'counterfeit', 'unlicensed_operation', 'price_fraud', 'food_safety', 'product_quality', 'consumer_rights', 'unfair_competition', 'personal_data', 'other') THEN 8
          WHEN "severity" IS NOT NULL AND "severity" NOT IN ('minor', 'general', 'serious', 'grave') THEN 9
          WHEN "status" IS NOT NULL AND "status" NOT IN ('effective', 'suspended', 'revoked') THEN 10
          WHEN "case_id" IS NOT NULL AND unsafe_char_found("case_id") IS NOT NULL THEN 11
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 12
          WHEN "decided_on" IS NOT NULL AND NOT is_calendar_date("decided_on") THEN 13
          WHEN "category" IS NOT NULL AND unsafe_char_found("category") IS NOT NULL THEN 14
          WHEN "severity" IS NOT NULL AND unsafe_char_found("severity") IS NOT NULL THEN 15
          WHEN "fine_cny" IS NOT NULL AND money_too_large("fine_cny") THEN 16
          WHEN "fine_cny" IS NOT NULL AND "fine_cny" < 0 THEN 17
          WHEN "status" IS NOT NULL AND unsafe_char_found("status") IS NOT NULL THEN 18
          WHEN "authority" IS NOT NULL AND unsafe_char_found("authority") IS NOT NULL THEN 19
          WHEN "authority" IS NOT NULL AND NOT is_six_digits("authority") THEN 20
          WHEN "decided_on" IS NOT NULL AND "decided_on" > _ingest_date THEN 21
        END AS _rule
      FROM landing_violations)),
with_registered AS (
  SELECT * FROM registered RIGHT JOIN ruled ON entity_bits("entity_id") = registered_id),
found AS (
  SELECT l.*, c._copies
  FROM copies c RIGHT JOIN with_registered l ON l._partition = c._key_partition AND l."case_id" = c._key0)
SELECT "case_id", "entity_id", _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN _copies > 1 THEN 'duplicate_key'
      WHEN registered_id IS NULL THEN 'unknown_entity'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN _copies > 1 THEN concat('key (case_id) = (', quoted("case_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR))
      WHEN registered_id IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
    END AS _message
FROM found;
-- run once: the rejects are its rows with _code IS NOT NULL; accepted_violations keeps the others' case_id, entity_id, _row
SELECT _row, _code, _message, "case_id", "entity_id" FROM judged_violations;
-- its current rows: the key hashes held by several rows (several_versions), then those rows' keys and count
SELECT unnest(_repeated) AS _alike
FROM (SELECT repeated_hashes(key_hash("case_id")) AS _repeated FROM accepted_violations);
SELECT count(*) AS _keys, sum(_versions) AS _rows
FROM (SELECT "case_id", count(*) AS _versions FROM several_versions RIGHT SEMI JOIN accepted_violations ON _alike = key_hash("case_id") GROUP BY "case_id");

-- repairs: the key hashes held twice, then the keys held twice, first (tables whose row counts the planner knows)
CREATE TABLE hashed_alike AS
SELECT unnest(_repeated) AS _alike
  FROM (SELECT repeated_hashes(key_hash("repair_id")) AS _repeated FROM landing_repairs
    WHERE "repair_id" IS NOT NULL);
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "repair_id" AS _key0, count(*) AS _copies
  FROM hashed_alike RIGHT SEMI JOIN landing_repairs ON _alike = key_hash("repair_id")
  WHERE "repair_id" IS NOT NULL
  GROUP BY _partition, "repair_id"
  HAVING count(*) > 1;

-- repairs
CREATE VIEW judged_repairs AS
WITH ruled AS (
  SELECT "repair_id", "entity_id", "case_id", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'bad_entity_id'
      WHEN 5 THEN 'bad_range'
      WHEN 6 THEN 'bad_range'
      WHEN 7 THEN 'bad_range'
      WHEN 8 THEN 'bad_range'
      WHEN 9 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column repair_id: required, found null'
      WHEN 1 THEN 'column entity_id: required, found null'
      WHEN 2 THEN 'column case_id: required, found null'
      WHEN 3 THEN 'column approved_on: required, found null'
      WHEN 4 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 5 THEN concat('column repair_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("repair_id"))
      WHEN 6 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 7 THEN concat('column case_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("case_id"))
      WHEN 8 THEN concat('column approved_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("approved_on"))
      WHEN 9 THEN concat('column approved_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("approved_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "repair_id" IS NULL THEN 0
          WHEN "entity_id" IS NULL THEN 1
          WHEN "case_id" IS NULL THEN 2
          WHEN "approved_on" IS NULL THEN 3
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 4
          WHEN "repair_id" IS NOT NULL AND unsafe_char_found("repair_id") IS NOT NULL THEN 5
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 6
          WHEN "case_id" IS NOT NULL AND unsafe_char_found("case_id") IS NOT NULL THEN 7
          WHEN "approved_on" IS NOT NULL AND NOT is_calendar_date("approved_on") THEN 8
          WHEN "approved_on" IS NOT NULL AND "approved_on" > _ingest_date THEN 9
        END AS _rule
      FROM landing_repairs)),
with_registered AS (
  SELECT * FROM registered RIGHT JOIN ruled ON entity_bits("entity_id") = registered_id),
with_known_cases AS (
  SELECT * FROM known_cases RIGHT JOIN with_registered ON "case_id" = known_case),
found AS (
  SELECT l.*, c._copies
  FROM copies c RIGHT JOIN with_known_cases l ON l._partition = c._key_partition AND l."repair_id" = c._key0)
SELECT "repair_id", "entity_id", "case_id", _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN _copies > 1 THEN 'duplicate_key'
      WHEN registered_id IS NULL THEN 'unknown_entity'
      WHEN known_case IS NULL OR known_entity <> "entity_id" THEN 'unknown_case'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN _copies > 1 THEN concat('key (repair_id) = (', quoted("repair_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR))
      WHEN registered_id IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
      WHEN known_case IS NULL OR known_entity <> "entity_id" THEN concat('column case_id: case ', quoted("case_id"), ' ', CASE WHEN known_case IS NULL THEN 'is no known violation' ELSE 'is a violation of another entity, not' END, ' of this row''s entity')
    END AS _message
FROM found;
-- run once: the rejects are its rows with _code IS NOT NULL; accepted_repairs keeps the others' repair_id
SELECT _row, _code, _message, "repair_id" FROM judged_repairs;
-- its current rows: the key hashes held by several rows (several_versions), then those rows' keys and count
SELECT unnest(_repeated) AS _alike
FROM (SELECT repeated_hashes(key_hash("repair_id")) AS _repeated FROM accepted_repairs);
SELECT count(*) AS _keys, sum(_versions) AS _rows
FROM (SELECT "repair_id", count(*) AS _versions FROM several_versions RIGHT SEMI JOIN accepted_repairs ON _alike = key_hash("repair_id") GROUP BY "repair_id");

-- complaints: the key hashes held twice, then the keys held twice, first (tables whose row counts the planner knows)
CREATE TABLE hashed_alike AS
SELECT unnest(_repeated) AS _alike
  FROM (SELECT repeated_hashes(key_hash("complaint_id")) AS _repeated FROM landing_complaints
    WHERE "complaint_id" IS NOT NULL);
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "complaint_id" AS _key0, count(*) AS _copies
  FROM hashed_alike RIGHT SEMI JOIN landing_complaints ON _alike = key_hash("complaint_id")
  WHERE "complaint_id" IS NOT NULL
  GROUP BY _partition, "complaint_id"
  HAVING count(*) > 1;

-- complaints
CREATE VIEW judged_complaints AS
WITH ruled AS (
  SELECT "complaint_id", "entity_id", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'missing_required'
      WHEN 5 THEN 'missing_required'
      WHEN 6 THEN 'bad_entity_id'
      WHEN 7 THEN 'bad_enum'
      WHEN 8 THEN 'bad_enum'
      WHEN 9 THEN 'bad_range'
      WHEN 10 THEN 'bad_range'
      WHEN 11 THEN 'bad_range'
      WHEN 12 THEN 'bad_range'
      WHEN 13 THEN 'bad_range'
      WHEN 14 THEN 'bad_range'
      WHEN 15 THEN 'bad_range'
      WHEN 16 THEN 'bad_range'
      WHEN 17 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column complaint_id: required, found null'
      WHEN 1 THEN 'column entity_id: required, found null'
      WHEN 2 THEN 'column received_on: required, found null'
      WHEN 3 THEN 'column channel: required, found null'
      WHEN 4 THEN 'column verified: required, found null'
      WHEN 5 THEN 'column outcome: required, found null'
      WHEN 6 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 7 THEN concat('column channel: expected one of hotline, web, platform; found ', quoted("channel"))
      WHEN 8 THEN concat('column outcome: expected one of pending, resolved, mediated, unresolved, withdrawn; found ', quoted("outcome"))
      WHEN 9 THEN concat('column complaint_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("complaint_id"))
      WHEN 10 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 11 THEN concat('column received_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("received_on"))
      WHEN 12 THEN concat('column channel: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("channel"))
      WHEN 13 THEN concat('column category: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("category"))
      WHEN 14 THEN concat('column outcome: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("outcome"))
      WHEN 15 THEN concat('column amount_cny: expected an amount below 10^16 yuan, found ', money_text("amount_cny"))
      WHEN 16 THEN concat('column amount_cny: expected >= 0, found ', money_text("amount_cny"))
      WHEN 17 THEN concat('column received_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("received_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "complaint_id" IS NULL THEN 0
          WHEN "entity_id" IS NULL THEN 1
          WHEN "received_on" IS NULL THEN 2
          WHEN "channel" IS NULL THEN 3
          WHEN "verified" IS NULL THEN 4
          WHEN "outcome" IS NULL THEN 5
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 6
          WHEN "channel" IS NOT NULL AND "channel" NOT IN ('hotline', 'web', 'platform') THEN 7
          WHEN "outcome" IS NOT NULL AND "outcome" NOT IN ('pending', 'resolved', 'mediated', 'unresolved', 'withdrawn') THEN 8
          WHEN "complaint_id" IS NOT NULL AND unsafe_char_found("complaint_id") IS NOT NULL THEN 9
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 10
          WHEN "received_on" IS NOT NULL AND NOT is_calendar_date("received_on") THEN 11
          WHEN "channel" IS NOT NULL AND unsafe_char_found("channel") IS NOT NULL THEN 12
          WHEN "category" IS NOT NULL AND unsafe_char_found("category") IS NOT NULL THEN 13
          WHEN "outcome" IS NOT NULL AND unsafe_char_found("outcome") IS NOT NULL THEN 14
          WHEN "amount_cny" IS NOT NULL AND money_too_large("amount_cny") THEN 15
          WHEN "amount_cny" IS NOT NULL AND "amount_cny" < 0 THEN 16
          WHEN "received_on" IS NOT NULL AND "received_on" > _ingest_date THEN 17
        END AS _rule
      FROM landing_complaints)),
with_registered AS (
  SELECT * FROM registered RIGHT JOIN ruled ON entity_bits("entity_id") = registered_id),
found AS (
  SELECT l.*, c._copies
  FROM copies c RIGHT JOIN with_registered l ON l._partition = c._key_partition AND l."complaint_id" = c._key0)
SELECT "complaint_id", "entity_id", _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN _copies > 1 THEN 'duplicate_key'
      WHEN registered_id IS NULL THEN 'unknown_entity'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN _copies > 1 THEN concat('key (complaint_id) = (', quoted("complaint_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR))
      WHEN registered_id IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
    END AS _message
FROM found;
-- run once: the rejects are its rows with _code IS NOT NULL; accepted_complaints keeps the others' complaint_id
SELECT _row, _code, _message, "complaint_id" FROM judged_complaints;
-- its current rows: the key hashes held by several rows (several_versions), then those rows' keys and count
SELECT unnest(_repeated) AS _alike
FROM (SELECT repeated_hashes(key_hash("complaint_id")) AS _repeated FROM accepted_complaints);
SELECT count(*) AS _keys, sum(_versions) AS _rows
FROM (SELECT "complaint_id", count(*) AS _versions FROM several_versions RIGHT SEMI JOIN accepted_complaints ON _alike = key_hash("complaint_id") GROUP BY "complaint_id");

-- holdings: the key hashes held twice, then the keys held twice, first (tables whose row counts the planner knows)
CREATE TABLE hashed_alike AS
SELECT unnest(_repeated) AS _alike
  FROM (SELECT repeated_hashes(key_hash("holder_id", "entity_id")) AS _repeated FROM landing_holdings
    WHERE "holder_id" IS NOT NULL AND "entity_id" IS NOT NULL);
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "holder_id" AS _key0, "entity_id" AS _key1, count(*) AS _copies
  FROM hashed_alike RIGHT SEMI JOIN landing_holdings ON _alike = key_hash("holder_id", "entity_id")
  WHERE "holder_id" IS NOT NULL AND "entity_id" IS NOT NULL
  GROUP BY _partition, "holder_id", "entity_id"
  HAVING count(*) > 1;

-- holdings: steps 1-2 first, read twice below
CREATE TABLE checked_holdings AS
WITH ruled AS (
  SELECT "holder_id", "entity_id", "share_pct", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'bad_entity_id'
      WHEN 5 THEN 'bad_entity_id'
      WHEN 6 THEN 'bad_person_id'
      WHEN 7 THEN 'bad_enum'
      WHEN 8 THEN 'bad_range'
      WHEN 9 THEN 'bad_range'
      WHEN 10 THEN 'bad_range'
      WHEN 11 THEN 'bad_range'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column holder_id: required, found null'
      WHEN 1 THEN 'column holder_kind: required, found null'
      WHEN 2 THEN 'column entity_id: required, found null'
      WHEN 3 THEN 'column share_pct: required, found null'
      WHEN 4 THEN concat('column holder_id: expected a valid entity id', entity_id_hint("holder_id"), ', found ', quoted("holder_id"))
      WHEN 5 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 6 THEN concat('column holder_id: expected a person id (P and 16 lowercase hex digits), found ', quoted("holder_id"))
      WHEN 7 THEN concat('column holder_kind: expected one of entity, person; found ', quoted("holder_kind"))
      WHEN 8 THEN concat('column holder_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("holder_id"))
      WHEN 9 THEN concat('column holder_kind: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("holder_kind"))
      WHEN 10 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 11 THEN concat('column share_pct: expected 0 < share_pct <= 100, found ', float_text("share_pct"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "holder_id" IS NULL THEN 0
          WHEN "holder_kind" IS NULL THEN 1
          WHEN "entity_id" IS NULL THEN 2
          WHEN "share_pct" IS NULL THEN 3
          WHEN "holder_id" IS NOT NULL AND "holder_kind" = 'entity' AND NOT is_entity_id("holder_id") THEN 4
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 5
          WHEN "holder_id" IS NOT NULL AND "holder_kind" = 'person' AND NOT is_person_id("holder_id") THEN 6
          WHEN "holder_kind" IS NOT NULL AND "holder_kind" NOT IN ('entity', 'person') THEN 7
          WHEN "holder_id" IS NOT NULL AND unsafe_char_found("holder_id") IS NOT NULL THEN 8
          WHEN "holder_kind" IS NOT NULL AND unsafe_char_found("holder_kind") IS NOT NULL THEN 9
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 10
          WHEN "share_pct" IS NOT NULL AND NOT ("share_pct" > 0 AND "share_pct" <= 100 AND NOT isnan("share_pct")) THEN 11
        END AS _rule
      FROM landing_holdings))
SELECT l.*, c._copies
  FROM copies c RIGHT JOIN ruled l ON l._partition = c._key_partition AND l."holder_id" = c._key0 AND l."entity_id" = c._key1;
-- holdings: step 3, the entities held over 100
CREATE TABLE held AS
SELECT _over['key'] AS _held_entity, _over['sum'] AS _held
  FROM (SELECT unnest(sums_over(entity_bits("entity_id"), "share_pct", 100.01)) AS _over FROM checked_holdings
    WHERE _rule_code IS NULL AND _copies IS NULL);

-- holdings
CREATE VIEW judged_holdings AS
WITH with_registered AS (
  SELECT * FROM registered RIGHT JOIN checked_holdings ON entity_bits("entity_id") = registered_id),
found AS (
  SELECT * FROM held RIGHT JOIN with_registered ON entity_bits("entity_id") = _held_entity)
SELECT "holder_id", "entity_id", "share_pct", _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN _copies > 1 THEN 'duplicate_key'
      WHEN _held > 100.01 THEN 'shares_over_100'
      WHEN registered_id IS NULL THEN 'unknown_entity'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN _copies > 1 THEN concat('key (holder_id, entity_id) = (', quoted("holder_id"), ', ', quoted("entity_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR))
      WHEN _held > 100.01 THEN concat('shares held in entity_id ', quoted("entity_id"), ' add up to ', float_text(round(_held * 1000000) / 1000000), ', expected at most 100 (0.01 tolerance)')
      WHEN registered_id IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
    END AS _message
FROM found;
-- run once: its rows are the rejects
SELECT _row, _code, _message FROM judged_holdings
WHERE _code IS NOT NULL;

-- the accepted registry rows, for unknown_entity
CREATE TABLE registered AS SELECT entity_bits(entity_id) AS registered_id FROM accepted_registry;

-- the known violations, for unknown_case
CREATE TABLE known_cases AS SELECT case_id AS known_case, first_value(entity_id ORDER BY _row DESC) AS known_entity
FROM (SELECT "case_id" AS named_case FROM landing_repairs) RIGHT SEMI JOIN accepted_violations ON case_id = named_case
GROUP BY case_id;

-- With --plans-make-tables, the plans judge the registry, and the run reads its accepted rows as they do
-- (it numbers the entities and writes the registry mart itself); only the rejects reach the run.
-- The key hashes held twice, one list the run writes for key_hash_in (alike-hashes):
SELECT repeated_hashes(key_hash("entity_id")) AS _repeated FROM landing_registry
  WHERE "entity_id" IS NOT NULL;
-- every row judged but for its key's copies:
CREATE VIEW judged_registry AS
WITH ruled AS (
  SELECT "entity_id", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'missing_required'
      WHEN 5 THEN 'missing_required'
      WHEN 6 THEN 'missing_required'
      WHEN 7 THEN 'missing_required'
      WHEN 8 THEN 'bad_entity_id'
      WHEN 9 THEN 'bad_entity_id'
      WHEN 10 THEN 'bad_person_id'
      WHEN 11 THEN 'bad_enum'
      WHEN 12 THEN 'bad_enum'
      WHEN 13 THEN 'bad_enum'
      WHEN 14 THEN 'bad_range'
      WHEN 15 THEN 'bad_range'
      WHEN 16 THEN 'bad_range'
      WHEN 17 THEN 'bad_range'
      WHEN 18 THEN 'bad_range'
      WHEN 19 THEN 'bad_range'
      WHEN 20 THEN 'bad_range'
      WHEN 21 THEN 'bad_range'
      WHEN 22 THEN 'bad_range'
      WHEN 23 THEN 'bad_range'
      WHEN 24 THEN 'bad_range'
      WHEN 25 THEN 'bad_range'
      WHEN 26 THEN 'bad_range'
      WHEN 27 THEN 'bad_range'
      WHEN 28 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column entity_id: required, found null'
      WHEN 1 THEN 'column name: required, found null'
      WHEN 2 THEN concat('column name: required non-empty, found ', CASE WHEN "name" = '' THEN '''''' ELSE concat(quoted("name"), ' (white space only)') END)
      WHEN 3 THEN 'column entity_type: required, found null'
      WHEN 4 THEN 'column parent_id: required when entity_type = ''branch'', found null'
      WHEN 5 THEN 'column region: required, found null'
      WHEN 6 THEN 'column established_on: required, found null'
      WHEN 7 THEN 'column status: required, found null'
      WHEN 8 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 9 THEN concat('column parent_id: expected a valid entity id', entity_id_hint("parent_id"), ', found ', quoted("parent_id"))
      WHEN 10 THEN concat('column legal_rep_id: expected a person id (P and 16 lowercase hex digits), found ', quoted("legal_rep_id"))
      WHEN 11 THEN concat('column entity_type: expected one of company, branch, sole_proprietor, cooperative; found ', quoted("entity_type"))
      WHEN 12 THEN concat('column industry: expected one of A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T; found ', quoted("industry"))
      WHEN 13 THEN concat('column status: expected one of active, abnormal, revoked, deregistered; found ', quoted("status"))
      WHEN 14 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 15 THEN concat('column name: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("name"))
      WHEN 16 THEN concat('column entity_type: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_type"))
      WHEN 17 THEN concat('column legal_rep_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("legal_rep_id"))
      WHEN 18 THEN concat('column parent_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("parent_id"))
      WHEN 19 THEN concat('column parent_id: expected null unless entity_type = ''branch'', found ', quoted("parent_id"))
      WHEN 20 THEN concat('column region: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("region"))
      WHEN 21 THEN concat('column region: expected six digits, found ', quoted("region"))
      WHEN 22 THEN concat('column industry: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("industry"))
      WHEN 23 THEN concat('column online_store: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("online_store"))
      WHEN 24 THEN concat('column established_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("established_on"))
      WHEN 25 THEN concat('column status: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("status"))
      WHEN 26 THEN concat('column registered_capital: expected an amount below 10^16 yuan, found ', money_text("registered_capital"))
      WHEN 27 THEN concat('column registered_capital: expected >= 0, found ', money_text("registered_capital"))
      WHEN 28 THEN concat('column established_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("established_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "entity_id" IS NULL THEN 0
          WHEN "name" IS NULL THEN 1
          WHEN "name" IS NOT NULL AND is_blank("name") THEN 2
          WHEN "entity_type" IS NULL THEN 3
          WHEN "parent_id" IS NULL AND "entity_type" = 'branch' THEN 4
          WHEN "region" IS NULL THEN 5
          WHEN "established_on" IS NULL THEN 6
          WHEN "status" IS NULL THEN 7
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 8
          WHEN "parent_id" IS NOT NULL AND NOT is_entity_id("parent_id") THEN 9
          WHEN "legal_rep_id" IS NOT NULL AND NOT is_person_id("legal_rep_id") THEN 10
          WHEN "entity_type" IS NOT NULL AND "entity_type" NOT IN ('company', 'branch', 'sole_proprietor', 'cooperative') THEN 11
          WHEN "industry" IS NOT NULL AND "industry" NOT IN ('A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T') THEN 12
          WHEN "status" IS NOT NULL AND "status" NOT IN ('active', 'abnormal', 'revoked', 'deregistered') THEN 13
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 14
          WHEN "name" IS NOT NULL AND unsafe_char_found("name") IS NOT NULL THEN 15
          WHEN "entity_type" IS NOT NULL AND unsafe_char_found("entity_type") IS NOT NULL THEN 16
          WHEN "legal_rep_id" IS NOT NULL AND unsafe_char_found("legal_rep_id") IS NOT NULL THEN 17
          WHEN "parent_id" IS NOT NULL AND unsafe_char_found("parent_id") IS NOT NULL THEN 18
          WHEN "parent_id" IS NOT NULL AND NOT coalesce("entity_type" = 'branch', false) THEN 19
          WHEN "region" IS NOT NULL AND unsafe_char_found("region") IS NOT NULL THEN 20
          WHEN "region" IS NOT NULL AND NOT is_six_digits("region") THEN 21
          WHEN "industry" IS NOT NULL AND unsafe_char_found("industry") IS NOT NULL THEN 22
          WHEN "online_store" IS NOT NULL AND unsafe_char_found("online_store") IS NOT NULL THEN 23
          WHEN "established_on" IS NOT NULL AND NOT is_calendar_date("established_on") THEN 24
          WHEN "status" IS NOT NULL AND unsafe_char_found("status") IS NOT NULL THEN 25
          WHEN "registered_capital" IS NOT NULL AND money_too_large("registered_capital") THEN 26
          WHEN "registered_capital" IS NOT NULL AND "registered_capital" < 0 THEN 27
          WHEN "established_on" IS NOT NULL AND "established_on" > _ingest_date THEN 28
        END AS _rule
      FROM landing_registry)),
found AS (
  SELECT *, key_hash_in('/run/plans/alike-hashes', key_hash("entity_id")) AS _contested FROM ruled)
SELECT "entity_id", _contested, _rule_code IS NOT NULL AS _ruled, _partition, _ingest_date, _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
    END AS _message
FROM found;
-- its rejects, and the rows whose key hash other rows hold:
CREATE TABLE alike_registry AS
SELECT _row, _code, _message, _ruled, _partition, _ingest_date, _contested, "entity_id"
FROM judged_registry
WHERE _code IS NOT NULL OR _contested;
-- the keys held twice among the latter, then the rejects, those rows judged again:
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "entity_id" AS _key0, count(*) AS _copies
  FROM (SELECT * FROM alike_registry WHERE _contested)
  GROUP BY _partition, "entity_id"
  HAVING count(*) > 1;
SELECT _row, _code, _message FROM (
  SELECT _row, "entity_id",
    CASE WHEN _ruled THEN _code WHEN _copies IS NOT NULL THEN 'duplicate_key' ELSE _code END AS _code,
    CASE WHEN _ruled THEN _message WHEN _copies IS NOT NULL THEN concat('key (entity_id) = (', quoted("entity_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR)) ELSE _message END AS _message
  FROM (SELECT l.*, c._copies
  FROM copies c RIGHT JOIN alike_registry l ON l._partition = c._key_partition AND l."entity_id" = c._key0))
WHERE _code IS NOT NULL;
-- then the plans make the violations', repairs', complaints' and holdings' tables,
-- looking each entity up in the registered ids the run wrote (entity_index), with no join.

-- violations: the key hashes held twice, one list the run writes for key_hash_in (alike-hashes)
SELECT repeated_hashes(key_hash("case_id")) AS _repeated FROM landing_violations
  WHERE "case_id" IS NOT NULL;

-- violations, keeping case_id, decided_on, category, severity, status
CREATE VIEW judged_violations AS
WITH ruled AS (
  SELECT "case_id", "entity_id", "decided_on", "category", "severity", "status", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'missing_required'
      WHEN 5 THEN 'missing_required'
      WHEN 6 THEN 'missing_required'
      WHEN 7 THEN 'bad_entity_id'
      WHEN 8 THEN 'bad_enum'
      WHEN 9 THEN 'bad_enum'
      WHEN 10 THEN 'bad_enum'
      WHEN 11 THEN 'bad_range'
      WHEN 12 THEN 'bad_range'
      WHEN 13 THEN 'bad_range'
      WHEN 14 THEN 'bad_range'
      WHEN 15 THEN 'bad_range'
      WHEN 16 THEN 'bad_range'
      WHEN 17 THEN 'bad_range'
      WHEN 18 THEN 'bad_range'
      WHEN 19 THEN 'bad_range'
      WHEN 20 THEN 'bad_range'
      WHEN 21 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column case_id: required, found null'
      WHEN 1 THEN 'column entity_id: required, found null'
      WHEN 2 THEN 'column decided_on: required, found null'
      WHEN 3 THEN 'column category: required, found null'
      WHEN 4 THEN 'column severity: required, found null'
      WHEN 5 THEN 'column status: required, found null'
      WHEN 6 THEN 'column authority: required, found null'
      WHEN 7 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 8 THEN concat('column category: expected one of false_advertising, counterfeit, unlicensed_operation, price_fraud, food_safety, product_quality, consumer_rights, unfair_competition, personal_data, other; found ', quoted("category"))
      WHEN 9 THEN concat('column severity: expected one of minor, general, serious, grave; found ', quoted("severity"))
      WHEN 10 THEN concat('column status: expected one of effective, suspended, revoked; found ', quoted("status"))
      WHEN 11 THEN concat('column case_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("case_id"))
      WHEN 12 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 13 THEN concat('column decided_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("decided_on"))
      WHEN 14 THEN concat('column category: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("category"))
      WHEN 15 THEN concat('column severity: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("severity"))
      WHEN 16 THEN concat('column fine_cny: expected an amount below 10^16 yuan, found ', money_text("fine_cny"))
      WHEN 17 THEN concat('column fine_cny: expected >= 0, found ', money_text("fine_cny"))
      WHEN 18 THEN concat('column status: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("status"))
      WHEN 19 THEN concat('column authority: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("authority"))
      WHEN 20 THEN concat('column authority: expected six digits, found ', quoted("authority"))
      WHEN 21 THEN concat('column decided_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("decided_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "case_id" IS NULL THEN 0
          WHEN "entity_id" IS NULL THEN 1
          WHEN "decided_on" IS NULL THEN 2
          WHEN "category" IS NULL THEN 3
          WHEN "severity" IS NULL THEN 4
          WHEN "status" IS NULL THEN 5
          WHEN "authority" IS NULL THEN 6
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 7
          WHEN "category" IS NOT NULL AND "category" NOT IN ('false_advertising', 'counterfeit', 'unlicensed_operation', 'price_fraud', 'food_safety', 'product_quality', 'consumer_rights', 'unfair_competition', 'personal_data', 'other') THEN 8
          WHEN "severity" IS NOT NULL AND "severity" NOT IN ('minor', 'general', 'serious', 'grave') THEN 9
          WHEN "status" IS NOT NULL AND "status" NOT IN ('effective', 'suspended', 'revoked') THEN 10
          WHEN "case_id" IS NOT NULL AND unsafe_char_found("case_id") IS NOT NULL THEN 11
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 12
          WHEN "decided_on" IS NOT NULL AND NOT is_calendar_date("decided_on") THEN 13
          WHEN "category" IS NOT NULL AND unsafe_char_found("category") IS NOT NULL THEN 14
          WHEN "severity" IS NOT NULL AND unsafe_char_found("severity") IS NOT NULL THEN 15
          WHEN "fine_cny" IS NOT NULL AND money_too_large("fine_cny") THEN 16
          WHEN "fine_cny" IS NOT NULL AND "fine_cny" < 0 THEN 17
          WHEN "status" IS NOT NULL AND unsafe_char_found("status") IS NOT NULL THEN 18
          WHEN "authority" IS NOT NULL AND unsafe_char_found("authority") IS NOT NULL THEN 19
          WHEN "authority" IS NOT NULL AND NOT is_six_digits("authority") THEN 20
          WHEN "decided_on" IS NOT NULL AND "decided_on" > _ingest_date THEN 21
        END AS _rule
      FROM landing_violations)),
with_registered AS (
  SELECT *, entity_index('/run/plans/registered-ids', "entity_id") AS registered_idx FROM ruled),
found AS (
  SELECT *, key_hash_in('/run/plans/alike-hashes', key_hash("case_id")) AS _contested FROM with_registered)
SELECT "case_id", "entity_id", "decided_on", "category", "severity", "status", registered_idx AS entity_idx, _contested, _rule_code IS NOT NULL AS _ruled, _partition, _ingest_date, _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN registered_idx IS NULL THEN 'unknown_entity'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN registered_idx IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
    END AS _message
FROM found;
-- run once: the rows with _aside null are current rows (current_violations: the kept
-- columns and entity_idx), those with _settled null are set aside (alike_violations: _row, _code, _message, _ruled,
-- _partition, _ingest_date, those, the key), and the others are rejects
SELECT _row, _code, _message, nullif(_code IS NOT NULL OR _contested, false) AS _aside,
  nullif(NOT _contested, false) AS _settled, _ruled, _partition, _ingest_date, "case_id", "decided_on", enumerated("category", 'false_advertising', 'counterfeit', 'unlicensed_operation', 'price_fraud', 'food_safety', 'product_quality', 'consumer_rights', 'unfair_competition', 'personal_data', 'other') AS "category", enumerated("severity", 'minor', 'general', 'serious', 'grave') AS "severity", enumerated("status", 'effective', 'suspended', 'revoked') AS "status", entity_idx
FROM judged_violations;
-- the keys held twice among the rows set aside, then those rows judged again with their copies:
-- the rejects are its rows with _rejected, the others contested_violations (_row, those, the key)
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "case_id" AS _key0, count(*) AS _copies
  FROM alike_violations
  GROUP BY _partition, "case_id"
  HAVING count(*) > 1;
SELECT _row, _code, _message, CASE WHEN _code IS NOT NULL THEN true END AS _rejected, "case_id", "decided_on", enumerated("category", 'false_advertising', 'counterfeit', 'unlicensed_operation', 'price_fraud', 'food_safety', 'product_quality', 'consumer_rights', 'unfair_competition', 'personal_data', 'other') AS "category", enumerated("severity", 'minor', 'general', 'serious', 'grave') AS "severity", enumerated("status", 'effective', 'suspended', 'revoked') AS "status", entity_idx
FROM (
  SELECT _row, "case_id", "decided_on", "category", "severity", "status", entity_idx,
    CASE WHEN _ruled THEN _code WHEN _copies IS NOT NULL THEN 'duplicate_key' ELSE _code END AS _code,
    CASE WHEN _ruled THEN _message WHEN _copies IS NOT NULL THEN concat('key (case_id) = (', quoted("case_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR)) ELSE _message END AS _message
  FROM (SELECT l.*, c._copies
  FROM copies c RIGHT JOIN alike_violations l ON l._partition = c._key_partition AND l."case_id" = c._key0));
-- the newest row of each contested key, current too
CREATE TABLE newest_rows AS
SELECT max(_row) AS _newest FROM contested_violations
GROUP BY "case_id";
SELECT "case_id", "decided_on", enumerated("category", 'false_advertising', 'counterfeit', 'unlicensed_operation', 'price_fraud', 'food_safety', 'product_quality', 'consumer_rights', 'unfair_competition', 'personal_data', 'other') AS "category", enumerated("severity", 'minor', 'general', 'serious', 'grave') AS "severity", enumerated("status", 'effective', 'suspended', 'revoked') AS "status", entity_idx FROM newest_rows RIGHT SEMI JOIN contested_violations ON _newest = _row;

-- repairs: the known violations, from the violations' table made above (current_violations)
CREATE TABLE known_cases AS
SELECT case_id AS known_case, entity_idx AS known_entity
FROM (SELECT "case_id" AS named_case FROM landing_repairs) RIGHT SEMI JOIN current_violations ON case_id = named_case;

-- repairs: the key hashes held twice, one list the run writes for key_hash_in (alike-hashes)
SELECT repeated_hashes(key_hash("repair_id")) AS _repeated FROM landing_repairs
  WHERE "repair_id" IS NOT NULL;

-- repairs, keeping repair_id, case_id, approved_on
CREATE VIEW judged_repairs AS
WITH ruled AS (
  SELECT "repair_id", "entity_id", "case_id", "approved_on", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'bad_entity_id'
      WHEN 5 THEN 'bad_range'
      WHEN 6 THEN 'bad_range'
      WHEN 7 THEN 'bad_range'
      WHEN 8 THEN 'bad_range'
      WHEN 9 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column repair_id: required, found null'
      WHEN 1 THEN 'column entity_id: required, found null'
      WHEN 2 THEN 'column case_id: required, found null'
      WHEN 3 THEN 'column approved_on: required, found null'
      WHEN 4 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 5 THEN concat('column repair_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("repair_id"))
      WHEN 6 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 7 THEN concat('column case_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("case_id"))
      WHEN 8 THEN concat('column approved_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("approved_on"))
      WHEN 9 THEN concat('column approved_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("approved_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "repair_id" IS NULL THEN 0
          WHEN "entity_id" IS NULL THEN 1
          WHEN "case_id" IS NULL THEN 2
          WHEN "approved_on" IS NULL THEN 3
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 4
          WHEN "repair_id" IS NOT NULL AND unsafe_char_found("repair_id") IS NOT NULL THEN 5
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 6
          WHEN "case_id" IS NOT NULL AND unsafe_char_found("case_id") IS NOT NULL THEN 7
          WHEN "approved_on" IS NOT NULL AND NOT is_calendar_date("approved_on") THEN 8
          WHEN "approved_on" IS NOT NULL AND "approved_on" > _ingest_date THEN 9
        END AS _rule
      FROM landing_repairs)),
with_registered AS (
  SELECT *, entity_index('/run/plans/registered-ids', "entity_id") AS registered_idx FROM ruled),
with_known_cases AS (
  SELECT * FROM known_cases RIGHT JOIN with_registered ON "case_id" = known_case),
found AS (
  SELECT *, key_hash_in('/run/plans/alike-hashes', key_hash("repair_id")) AS _contested FROM with_known_cases)
SELECT "repair_id", "entity_id", "case_id", "approved_on", registered_idx AS entity_idx, _contested, _rule_code IS NOT NULL AS _ruled, _partition, _ingest_date, _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN registered_idx IS NULL THEN 'unknown_entity'
      WHEN known_case IS NULL OR known_entity <> registered_idx THEN 'unknown_case'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN registered_idx IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
      WHEN known_case IS NULL OR known_entity <> registered_idx THEN concat('column case_id: case ', quoted("case_id"), ' ', CASE WHEN known_case IS NULL THEN 'is no known violation' ELSE 'is a violation of another entity, not' END, ' of this row''s entity')
    END AS _message
FROM found;
-- run once: the rows with _aside null are current rows (current_repairs: the kept
-- columns and entity_idx), those with _settled null are set aside (alike_repairs: _row, _code, _message, _ruled,
-- _partition, _ingest_date, those, the key), and the others are rejects
SELECT _row, _code, _message, nullif(_code IS NOT NULL OR _contested, false) AS _aside,
  nullif(NOT _contested, false) AS _settled, _ruled, _partition, _ingest_date, "repair_id", "case_id", "approved_on", entity_idx
FROM judged_repairs;
-- the keys held twice among the rows set aside, then those rows judged again with their copies:
-- the rejects are its rows with _rejected, the others contested_repairs (_row, those, the key)
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "repair_id" AS _key0, count(*) AS _copies
  FROM alike_repairs
  GROUP BY _partition, "repair_id"
  HAVING count(*) > 1;
SELECT _row, _code, _message, CASE WHEN _code IS NOT NULL THEN true END AS _rejected, "repair_id", "case_id", "approved_on", entity_idx
FROM (
  SELECT _row, "repair_id", "case_id", "approved_on", entity_idx,
    CASE WHEN _ruled THEN _code WHEN _copies IS NOT NULL THEN 'duplicate_key' ELSE _code END AS _code,
    CASE WHEN _ruled THEN _message WHEN _copies IS NOT NULL THEN concat('key (repair_id) = (', quoted("repair_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR)) ELSE _message END AS _message
  FROM (SELECT l.*, c._copies
  FROM copies c RIGHT JOIN alike_repairs l ON l._partition = c._key_partition AND l."repair_id" = c._key0));
-- the newest row of each contested key, current too
CREATE TABLE newest_rows AS
SELECT max(_row) AS _newest FROM contested_repairs
GROUP BY "repair_id";
SELECT "repair_id", "case_id", "approved_on", entity_idx FROM newest_rows RIGHT SEMI JOIN contested_repairs ON _newest = _row;

-- complaints: the key hashes held twice, one list the run writes for key_hash_in (alike-hashes)
SELECT repeated_hashes(key_hash("complaint_id")) AS _repeated FROM landing_complaints
  WHERE "complaint_id" IS NOT NULL;

-- complaints, keeping complaint_id, received_on, verified, outcome
CREATE VIEW judged_complaints AS
WITH ruled AS (
  SELECT "complaint_id", "entity_id", "received_on", "verified", "outcome", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'missing_required'
      WHEN 5 THEN 'missing_required'
      WHEN 6 THEN 'bad_entity_id'
      WHEN 7 THEN 'bad_enum'
      WHEN 8 THEN 'bad_enum'
      WHEN 9 THEN 'bad_range'
      WHEN 10 THEN 'bad_range'
      WHEN 11 THEN 'bad_range'
      WHEN 12 THEN 'bad_range'
      WHEN 13 THEN 'bad_range'
      WHEN 14 THEN 'bad_range'
      WHEN 15 THEN 'bad_range'
      WHEN 16 THEN 'bad_range'
      WHEN 17 THEN 'future_date'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column complaint_id: required, found null'
      WHEN 1 THEN 'column entity_id: required, found null'
      WHEN 2 THEN 'column received_on: required, found null'
      WHEN 3 THEN 'column channel: required, found null'
      WHEN 4 THEN 'column verified: required, found null'
      WHEN 5 THEN 'column outcome: required, found null'
      WHEN 6 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 7 THEN concat('column channel: expected one of hotline, web, platform; found ', quoted("channel"))
      WHEN 8 THEN concat('column outcome: expected one of pending, resolved, mediated, unresolved, withdrawn; found ', quoted("outcome"))
      WHEN 9 THEN concat('column complaint_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("complaint_id"))
      WHEN 10 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 11 THEN concat('column received_on: expected a date from 0001-01-01 to 9999-12-31, found ', date_text("received_on"))
      WHEN 12 THEN concat('column channel: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("channel"))
      WHEN 13 THEN concat('column category: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("category"))
      WHEN 14 THEN concat('column outcome: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("outcome"))
      WHEN 15 THEN concat('column amount_cny: expected an amount below 10^16 yuan, found ', money_text("amount_cny"))
      WHEN 16 THEN concat('column amount_cny: expected >= 0, found ', money_text("amount_cny"))
      WHEN 17 THEN concat('column received_on: expected a date not after the partition''s ingest_date ', CAST(_ingest_date AS VARCHAR), ', found ', date_text("received_on"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "complaint_id" IS NULL THEN 0
          WHEN "entity_id" IS NULL THEN 1
          WHEN "received_on" IS NULL THEN 2
          WHEN "channel" IS NULL THEN 3
          WHEN "verified" IS NULL THEN 4
          WHEN "outcome" IS NULL THEN 5
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 6
          WHEN "channel" IS NOT NULL AND "channel" NOT IN ('hotline', 'web', 'platform') THEN 7
          WHEN "outcome" IS NOT NULL AND "outcome" NOT IN ('pending', 'resolved', 'mediated', 'unresolved', 'withdrawn') THEN 8
          WHEN "complaint_id" IS NOT NULL AND unsafe_char_found("complaint_id") IS NOT NULL THEN 9
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 10
          WHEN "received_on" IS NOT NULL AND NOT is_calendar_date("received_on") THEN 11
          WHEN "channel" IS NOT NULL AND unsafe_char_found("channel") IS NOT NULL THEN 12
          WHEN "category" IS NOT NULL AND unsafe_char_found("category") IS NOT NULL THEN 13
          WHEN "outcome" IS NOT NULL AND unsafe_char_found("outcome") IS NOT NULL THEN 14
          WHEN "amount_cny" IS NOT NULL AND money_too_large("amount_cny") THEN 15
          WHEN "amount_cny" IS NOT NULL AND "amount_cny" < 0 THEN 16
          WHEN "received_on" IS NOT NULL AND "received_on" > _ingest_date THEN 17
        END AS _rule
      FROM landing_complaints)),
with_registered AS (
  SELECT *, entity_index('/run/plans/registered-ids', "entity_id") AS registered_idx FROM ruled),
found AS (
  SELECT *, key_hash_in('/run/plans/alike-hashes', key_hash("complaint_id")) AS _contested FROM with_registered)
SELECT "complaint_id", "entity_id", "received_on", "verified", "outcome", registered_idx AS entity_idx, _contested, _rule_code IS NOT NULL AS _ruled, _partition, _ingest_date, _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN registered_idx IS NULL THEN 'unknown_entity'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN registered_idx IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
    END AS _message
FROM found;
-- run once: the rows with _aside null are current rows (current_complaints: the kept
-- columns and entity_idx), those with _settled null are set aside (alike_complaints: _row, _code, _message, _ruled,
-- _partition, _ingest_date, those, the key), and the others are rejects
SELECT _row, _code, _message, nullif(_code IS NOT NULL OR _contested, false) AS _aside,
  nullif(NOT _contested, false) AS _settled, _ruled, _partition, _ingest_date, "complaint_id", "received_on", "verified", enumerated("outcome", 'pending', 'resolved', 'mediated', 'unresolved', 'withdrawn') AS "outcome", entity_idx
FROM judged_complaints;
-- the keys held twice among the rows set aside, then those rows judged again with their copies:
-- the rejects are its rows with _rejected, the others contested_complaints (_row, those, the key)
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "complaint_id" AS _key0, count(*) AS _copies
  FROM alike_complaints
  GROUP BY _partition, "complaint_id"
  HAVING count(*) > 1;
SELECT _row, _code, _message, CASE WHEN _code IS NOT NULL THEN true END AS _rejected, "complaint_id", "received_on", "verified", enumerated("outcome", 'pending', 'resolved', 'mediated', 'unresolved', 'withdrawn') AS "outcome", entity_idx
FROM (
  SELECT _row, "complaint_id", "received_on", "verified", "outcome", entity_idx,
    CASE WHEN _ruled THEN _code WHEN _copies IS NOT NULL THEN 'duplicate_key' ELSE _code END AS _code,
    CASE WHEN _ruled THEN _message WHEN _copies IS NOT NULL THEN concat('key (complaint_id) = (', quoted("complaint_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR)) ELSE _message END AS _message
  FROM (SELECT l.*, c._copies
  FROM copies c RIGHT JOIN alike_complaints l ON l._partition = c._key_partition AND l."complaint_id" = c._key0));
-- the newest row of each contested key, current too
CREATE TABLE newest_rows AS
SELECT max(_row) AS _newest FROM contested_complaints
GROUP BY "complaint_id";
SELECT "complaint_id", "received_on", "verified", enumerated("outcome", 'pending', 'resolved', 'mediated', 'unresolved', 'withdrawn') AS "outcome", entity_idx FROM newest_rows RIGHT SEMI JOIN contested_complaints ON _newest = _row;

-- holdings: the key hashes held twice, one list the run writes for key_hash_in (alike-hashes)
SELECT repeated_hashes(key_hash("holder_id", "entity_id")) AS _repeated FROM landing_holdings
  WHERE "holder_id" IS NOT NULL AND "entity_id" IS NOT NULL;

-- holdings: steps 1-2 first, run once: the rows with _aside null are settled_holdings (the columns to _rule_message),
-- those with _settled null are set aside (alike_holdings: the columns to _ingest_date)
WITH ruled AS (
  SELECT "holder_id", "holder_kind", "entity_id", "share_pct", _row, _partition, _ingest_date,
    CASE _rule
      WHEN 0 THEN 'missing_required'
      WHEN 1 THEN 'missing_required'
      WHEN 2 THEN 'missing_required'
      WHEN 3 THEN 'missing_required'
      WHEN 4 THEN 'bad_entity_id'
      WHEN 5 THEN 'bad_entity_id'
      WHEN 6 THEN 'bad_person_id'
      WHEN 7 THEN 'bad_enum'
      WHEN 8 THEN 'bad_range'
      WHEN 9 THEN 'bad_range'
      WHEN 10 THEN 'bad_range'
      WHEN 11 THEN 'bad_range'
    END AS _rule_code,
    CASE _rule
      WHEN 0 THEN 'column holder_id: required, found null'
      WHEN 1 THEN 'column holder_kind: required, found null'
      WHEN 2 THEN 'column entity_id: required, found null'
      WHEN 3 THEN 'column share_pct: required, found null'
      WHEN 4 THEN concat('column holder_id: expected a valid entity id', entity_id_hint("holder_id"), ', found ', quoted("holder_id"))
      WHEN 5 THEN concat('column entity_id: expected a valid entity id', entity_id_hint("entity_id"), ', found ', quoted("entity_id"))
      WHEN 6 THEN concat('column holder_id: expected a person id (P and 16 lowercase hex digits), found ', quoted("holder_id"))
      WHEN 7 THEN concat('column holder_kind: expected one of entity, person; found ', quoted("holder_kind"))
      WHEN 8 THEN concat('column holder_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("holder_id"))
      WHEN 9 THEN concat('column holder_kind: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("holder_kind"))
      WHEN 10 THEN concat('column entity_id: expected text without control characters or bidirectional overrides, found ', unsafe_char_found("entity_id"))
      WHEN 11 THEN concat('column share_pct: expected 0 < share_pct <= 100, found ', float_text("share_pct"))
    END AS _rule_message
  FROM (SELECT *,
        CASE
          WHEN "holder_id" IS NULL THEN 0
          WHEN "holder_kind" IS NULL THEN 1
          WHEN "entity_id" IS NULL THEN 2
          WHEN "share_pct" IS NULL THEN 3
          WHEN "holder_id" IS NOT NULL AND "holder_kind" = 'entity' AND NOT is_entity_id("holder_id") THEN 4
          WHEN "entity_id" IS NOT NULL AND NOT is_entity_id("entity_id") THEN 5
          WHEN "holder_id" IS NOT NULL AND "holder_kind" = 'person' AND NOT is_person_id("holder_id") THEN 6
          WHEN "holder_kind" IS NOT NULL AND "holder_kind" NOT IN ('entity', 'person') THEN 7
          WHEN "holder_id" IS NOT NULL AND unsafe_char_found("holder_id") IS NOT NULL THEN 8
          WHEN "holder_kind" IS NOT NULL AND unsafe_char_found("holder_kind") IS NOT NULL THEN 9
          WHEN "entity_id" IS NOT NULL AND unsafe_char_found("entity_id") IS NOT NULL THEN 10
          WHEN "share_pct" IS NOT NULL AND NOT ("share_pct" > 0 AND "share_pct" <= 100 AND NOT isnan("share_pct")) THEN 11
        END AS _rule
      FROM landing_holdings))
SELECT "holder_id", "holder_kind", "entity_id", "share_pct", _row, _rule_code, _rule_message, _partition, _ingest_date,
  nullif(_contested, false) AS _aside, nullif(NOT _contested, false) AS _settled
FROM (SELECT *, key_hash_in('/run/plans/alike-hashes', key_hash("holder_id", "entity_id")) AS _contested FROM ruled);
-- the keys held twice among the rows set aside, then those rows with their copies (contested_holdings)
CREATE TABLE copies AS
SELECT _partition AS _key_partition, "holder_id" AS _key0, "entity_id" AS _key1, count(*) AS _copies
  FROM alike_holdings
  GROUP BY _partition, "holder_id", "entity_id"
  HAVING count(*) > 1;
CREATE TABLE contested_holdings AS
SELECT l.*, c._copies
  FROM copies c RIGHT JOIN alike_holdings l ON l._partition = c._key_partition AND l."holder_id" = c._key0 AND l."entity_id" = c._key1;
-- both, read twice below
CREATE VIEW checked_holdings AS
SELECT "holder_id", "holder_kind", "entity_id", "share_pct", _row, _rule_code, _rule_message, CAST(NULL AS DATE) AS _ingest_date, CAST(NULL AS BIGINT) AS _copies
  FROM settled_holdings
UNION ALL
SELECT "holder_id", "holder_kind", "entity_id", "share_pct", _row, _rule_code, _rule_message, _ingest_date, _copies
  FROM contested_holdings;
-- holdings: step 3, the entities held over 100
CREATE TABLE held AS
SELECT _over['key'] AS _held_entity, _over['sum'] AS _held
  FROM (SELECT unnest(sums_over(entity_bits("entity_id"), "share_pct", 100.01)) AS _over FROM checked_holdings
    WHERE _rule_code IS NULL AND _copies IS NULL);

-- holdings, keeping holder_id, holder_kind, share_pct
CREATE VIEW judged_holdings AS
WITH with_registered AS (
  SELECT *, entity_index('/run/plans/registered-ids', "entity_id") AS registered_idx FROM checked_holdings),
found AS (
  SELECT * FROM held RIGHT JOIN with_registered ON entity_bits("entity_id") = _held_entity)
SELECT "holder_id", "holder_kind", "entity_id", "share_pct", registered_idx AS entity_idx, _row,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_code
      WHEN _copies > 1 THEN 'duplicate_key'
      WHEN _held > 100.01 THEN 'shares_over_100'
      WHEN registered_idx IS NULL THEN 'unknown_entity'
    END AS _code,
    CASE
      WHEN _rule_code IS NOT NULL THEN _rule_message
      WHEN _copies > 1 THEN concat('key (holder_id, entity_id) = (', quoted("holder_id"), ', ', quoted("entity_id"), ') appears ', CAST(_copies AS VARCHAR), ' times in partition ingest_date=', CAST(_ingest_date AS VARCHAR))
      WHEN _held > 100.01 THEN concat('shares held in entity_id ', quoted("entity_id"), ' add up to ', float_text(round(_held * 1000000) / 1000000), ', expected at most 100 (0.01 tolerance)')
      WHEN registered_idx IS NULL THEN concat('column entity_id: entity ', quoted("entity_id"), ' is not in the registry snapshot the run uses')
    END AS _message
FROM found;
-- run once: its rejects, and the shares between registered entities
SELECT * FROM (
  SELECT _row, _code, _message,
    CASE WHEN _code IS NULL AND holder_kind = 'entity' THEN entity_index('/run/plans/registered-ids', holder_id) END AS _holder,
    entity_idx AS _owned, share_pct
  FROM judged_holdings)
WHERE _code IS NOT NULL OR _holder IS NOT NULL;
