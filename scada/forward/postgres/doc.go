// Package postgres is a historian on PostgreSQL: a [forward.Target] that
// stores the points a Forwarder reads from a Buffer, exactly once, and the
// queries that read them back, beside ERP energy records and the query that
// reconciles the two. It talks to the server through github.com/jackc/pgx/v5.
//
// Placeholder: the full manual follows below.
package postgres
