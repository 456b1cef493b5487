// Package natsbus is a coord.Bus over NATS (github.com/nats-io/nats.go), for
// agents that run in other processes or on other machines.
//
// The coord.Message envelope travels in NATS headers named Coord-Id,
// Coord-Type, Coord-From, Coord-To, Coord-Name, Coord-Correlation-Id,
// Coord-Time, Coord-Deadline, Coord-Error-Code, Coord-Error and
// Coord-Signature; Message.Headers map onto NATS headers of their own names
// (the Coord- prefix is reserved); the JSON payload is the message data.
// Messages need a server with headers support (nats-server 2.2 or later).
// Encode and Decode are exported for tools that speak to the fleet with
// plain nats.go.
//
// Request uses nats.go's shared response subscription; when no one listens
// on the subject the server answers at once and Request returns
// coord.ErrNoResponders. Each subscription's pending queue in nats.go is
// bounded (Config.PendingMessages, PendingBytes): a slow subscriber loses
// messages, counted in Subscription.Stats().Dropped and reported by nats.go
// as nats.ErrSlowConsumer to the connection's ErrorHandler, instead of
// stalling the connection. Messages that fail to decode are counted
// (Bus.Stats) and dropped.
//
// The caller owns the *nats.Conn: it chooses servers, TLS, credentials and
// reconnect policy, and closes it after Bus.Close.
package natsbus
