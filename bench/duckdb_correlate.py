"""DuckDB contender for bench.py: the same job as `gcorr correlate`, in SQL.

Usage: python3 duckdb_correlate.py INPUT OUTPUT

Reads an NDJSON EventBridge dump (plain or .gz), keeps one record per envelope id,
drops events without a conversation id, groups by detail.eventBody.conversationId and lists each
conversation's events in eventTime order, writing one JSON object per conversation (NDJSON).
Dedup keeps any one record of an id, not strictly the first: re-deliveries of an id are
byte-identical in gendump's data, so the result is the same, and it is the query an analyst would
write (ordering by file position with `row_number() OVER ()` costs DuckDB ~50% more time).
Run as its own process so bench.py measures its wall time and peak RSS like any other contender.
"""

import sys

import duckdb

# eventTime is a number on conversation topics but an ISO string on audits: read it as text.
COLUMNS = {
    "id": "VARCHAR",
    "detail": """STRUCT(
        topicName VARCHAR,
        eventBody STRUCT(
            conversationId VARCHAR, eventTime VARCHAR, participantId VARCHAR, sessionId VARCHAR,
            mediaType VARCHAR, direction VARCHAR, userId VARCHAR, queueId VARCHAR,
            disconnectType VARCHAR, wrapupCode VARCHAR))""",
}

SQL = """
COPY (
    WITH raw AS (
        SELECT id, detail.topicName AS topic, detail.eventBody AS b
        FROM read_json($input, format = 'newline_delimited', columns = $columns)
    ),
    firsts AS (  -- dedup by envelope id (re-deliveries of one id are identical: keep any)
        SELECT id, any_value(topic) AS topic, any_value(b) AS b FROM raw GROUP BY id
    )
    SELECT
        b.conversationId AS conversationId,
        list({
            id: id,
            kind: array_to_string(string_split(topic, '.')[6:], '.'),
            eventTime: TRY_CAST(b.eventTime AS BIGINT),
            mediaType: b.mediaType,
            direction: b.direction,
            participantId: b.participantId,
            sessionId: b.sessionId,
            userId: b.userId,
            queueId: b.queueId,
            disconnectType: b.disconnectType,
            wrapupCode: b.wrapupCode
        } ORDER BY TRY_CAST(b.eventTime AS BIGINT), id) AS events
    FROM firsts
    WHERE b.conversationId IS NOT NULL
    GROUP BY b.conversationId
    ORDER BY conversationId
) TO '{output}' (FORMAT JSON)
"""


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute(SQL.replace("{output}", dst.replace("'", "''")), {"input": src, "columns": COLUMNS})


if __name__ == "__main__":
    main()
