-- The duplicate likelihood's local call rate (store::calls::local_calls_per_day) counts the calls
-- received within about a kilometre of a new call over the week before it, on every CreateCall
-- that has a candidate. A grid cell of 0.01 degrees (about 1.1 km north-south) with the received
-- time keeps that an index-only range scan over the few cells in reach, whatever the table's size.
-- The expression must stay identical to calls.rs's DENSITY_CELL for the planner to use it.
-- A plain CREATE INDEX blocks writes to calls while it builds (migrations run in a transaction,
-- so not CONCURRENTLY): a second or two per million calls, at start-up, before serving.
CREATE INDEX calls_density_cell ON calls (
    (floor(latitude * 100)::bigint * 40000 + floor(longitude * 100)::bigint),
    received_at
) INCLUDE (latitude, longitude);
