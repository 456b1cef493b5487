// Package coord lets GL-001 command, query and watch the process-heat agents
// GL-002..GL-100, and gives those agents a small SDK to answer.
//
// It imports only the standard library. The network and the cryptography live
// in leaf packages: coord/natsbus (the Bus over NATS) and coord/jwtauth
// (message signatures with JWT).
//
// # Bus
//
// A Bus is subject-based messaging with request/reply, with the NATS subject
// rules: dot-separated tokens, "*" matching one token and a final ">" the
// rest. NewLocalBus is the in-process Bus (no network, no encoding); the
// natsbus package is the same interface over a *nats.Conn when agents run in
// other processes or on other machines. Both pass the conformance suite in
// coord/bustest.
//
// Every subscription has a bounded queue and its own goroutine: a slow
// subscriber never stalls a publisher or the other subscribers. What does
// not fit is dropped and counted (Subscription.Stats, LocalBus.Stats), and
// the drops are logged.
//
// # Messages
//
// A Message carries an id, a Type (command, query, event, response,
// heartbeat), sender and addressee, the command name, the CorrelationID
// (the id of the logical command), time and deadline, headers, a JSON payload,
// an error for failed replies, and an optional signature.
//
// # Handlers must be idempotent
//
// A command can reach an agent more than once: when a requester times out it
// cannot know whether the command ran, and may retry. Every retry of one
// command carries the same CorrelationID (Command.ID); Agent remembers
// recent command ids and answers repeats without running the handler again,
// and handlers whose effects outlive that memory must dedupe on
// Message.CorrelationID themselves.
//
// # Signatures
//
// Seal signs a message through a Signer; a Guard on the receiving side
// checks it through a Verifier and rejects unsigned (ErrUnsigned), expired
// (ErrExpired), replayed (ErrReplayed) and tampered (ErrTampered) messages,
// counting each, and messages dated ahead of its clock beyond the skew
// (ErrFuture). The signature binds sender, message id, the Digest of the
// message's protected fields, the issue time and the expiry. A signature is
// accepted for at most MaxSignLifetime (5 minutes) from its issue time,
// whatever deadline the message carries, and a Guard refuses messages
// issued before it started: its replay memory, bounded in time and size,
// need not outlive the process for a captured message to be accepted at most
// once (see Guard for the one case the clock skew leaves). coord/jwtauth provides HS256
// with the key from AGENT_JWT_SECRET and per-agent EdDSA. In-process, the
// process is the trust boundary and signing is usually left off.
//
// # Access control and audit
//
// A Policy says which senders may issue which commands to which agents. An
// agent answers a denied command with an error reply (CodeDenied, matching
// ErrDenied) and writes an audit record. Audit records go to the caller's
// *slog.Logger at level Info with the message "coord: audit" and an action
// attribute: "sent" (Coordinator), "denied" and "answered" (Agent).
//
// # Registry
//
// Agents register with id, capabilities and version through their
// heartbeats (every 30 s by default). An agent silent for two intervals is
// Suspect, for four Unreachable, and Healthy again on its next heartbeat. The
// Registry also keeps each agent's latency EWMA, success rate and requests in
// flight, which the load-balanced strategy reads.
//
// # Coordinator
//
// Coordinator.Execute sends a Command with a Strategy (Broadcast,
// RoundRobin, LoadBalanced, CapabilityBased), at most MaxParallel requests in
// flight, within a Timeout, and combines the replies with an Aggregation
// (Average, Sum, Min, Max, Median, Majority, First, All). Collection ends when
// every target has answered or failed (the expected count comes from the
// registry), at the timeout, or when the optional Stall window passes without
// a reply. A timeout is not an error: the Result is partial and lists who
// answered, who timed out and who failed and why. A reply arriving after its
// Execute ended is dropped and counted (CoordinatorStats.Late). One slow or
// crashed agent never holds the others past the deadline.
//
// Replies are applied where they arrive rather than handed to the Execute
// goroutine one by one; on a LocalBus, in the goroutine of the agent that
// sends them. Signed replies are checked by up to GOMAXPROCS workers per
// Execute, and by the inbox subscription itself when those fall behind, so
// that signature checks use every core and no reply is dropped for want of a
// checker.
//
// # Agent
//
// Agent is the SDK for GL-002..GL-100: NewAgent, Handle for each command or
// query name with typed parameters and result, then Run until the context
// ends. Run registers, heartbeats, serves, and says goodbye. A command whose
// deadline passes, before or while its handler runs, is not answered
// (AgentStats.Expired): the requester reports the agent as timed out.
//
// # Subjects
//
// Under a prefix (default "gl001"): "<prefix>.agent.<id>" for commands to
// one agent, "<prefix>.registry.heartbeat" and "<prefix>.registry.leave" for
// the registry, "<prefix>.discover" for a coordinator asking agents to
// heartbeat at once, and "_INBOX.>" for replies.
package coord
