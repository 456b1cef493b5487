package main

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/greenlang/gl001/scada"
	"github.com/greenlang/gl001/scada/buffer"
	"github.com/greenlang/gl001/scada/guard"
)

// This file is the alarms: the events the OPC UA connectors report (with
// [opcua.events] enabled) go into the store-and-forward buffer's event
// log, travel the JetStream road beside the points, and end in the event
// log of the buffer the consumer reads. The alarm table reads that log with
// its own cursor and keeps the state of every retained condition, for the
// status page, /healthz and the metrics. Acknowledge and confirm go back
// to the connector that reported the alarm through scada/guard's Acks:
// POST /alarms/ack, loopback only, with a bearer token from the
// environment.

// AlarmsConfig is the optional [alarms] section: who may acknowledge and
// confirm alarms through POST /alarms/ack.
type AlarmsConfig struct {
	// Ack enables POST /alarms/ack. It needs the connectors in this
	// process (role all or edge) and the token in GL001_ACK_TOKEN.
	Ack bool `toml:"ack"`
	// DryRun checks and audits every acknowledgement but sends nothing.
	DryRun bool `toml:"dry_run"`
	// Rules say which requesters may acknowledge which conditions:
	// path.Match patterns, first match decides, no match refuses.
	Rules []AlarmRuleConfig `toml:"rules"`
}

// AlarmRuleConfig grants (or, with deny, refuses) acknowledgements. A
// condition matches a pattern by its condition id, its name or its source
// node.
type AlarmRuleConfig struct {
	Requesters []string `toml:"requesters"`
	Conditions []string `toml:"conditions"`
	Deny       bool     `toml:"deny"`
}

// envAckToken is the bearer token POST /alarms/ack requires.
const envAckToken = "GL001_ACK_TOKEN"

// minAckToken is the shortest token accepted.
const minAckToken = 16

// OPCUAEventsConfig is the [opcua.events] subsection of one [[opcua]]
// connector: its event subscription (opcua.EventConfig). ConditionRefresh
// runs after every (re)connect whenever events are enabled: it is how a
// restarted orchestrator learns which alarms are active, so it has no
// switch.
type OPCUAEventsConfig struct {
	Enabled bool `toml:"enabled"`
	// Objects are the nodes whose events are monitored; default the Server
	// object (i=2253), which reports the whole server's events.
	Objects []string `toml:"objects"`
	// Types keeps only these event types and their subtypes (an OfType
	// where clause), e.g. "i=2915" (AlarmConditionType). Empty: every type.
	Types []string `toml:"types"`
	// MinSeverity keeps only events of at least this severity (1-1000);
	// 0 keeps all.
	MinSeverity int `toml:"min_severity"`
	// QueueSize is the server's event queue per object; default 1000.
	QueueSize int `toml:"queue_size"`
	// Fields selects more event fields, shown with the alarm.
	Fields []OPCUAEventFieldConfig `toml:"fields"`
}

// OPCUAEventFieldConfig is one extra select clause (opcua.EventField).
type OPCUAEventFieldConfig struct {
	Name string `toml:"name"` // the key in the alarm's fields
	Type string `toml:"type"` // the event type defining it; default BaseEventType
	Path string `toml:"path"` // browse path, e.g. "LimitState/CurrentState" or "2:BurnerStage"
}

// OPCUABackfillConfig is the [opcua.backfill] subsection
// (opcua.BackfillConfig): after an outage the gap is read from the
// server's history and delivered, marked Backfilled, before the live
// points. The orchestrator tells the connector where its buffer ends per
// tag, so a restart with a disk buffer fills the gap too.
type OPCUABackfillConfig struct {
	Enabled bool `toml:"enabled"`
	// MaxGap caps the history read after a long outage; default 24h.
	MaxGap time.Duration `toml:"max_gap"`
}

// validateOPCUAEvents checks what the TOML adds to opcua.Config's own
// validation: ranges of the integers before they are converted.
func validateOPCUAEvents(p *problems, f string, o OPCUAConfig) {
	if e := o.Events; e.Enabled {
		if e.MinSeverity < 0 || e.MinSeverity > 1000 {
			p.add(f+".events.min_severity", "%d is not 0 (all) or a severity 1-1000", e.MinSeverity)
		}
		if e.QueueSize < 0 || e.QueueSize > 1<<20 {
			p.add(f+".events.queue_size", "%d is not 0 (default) to %d", e.QueueSize, 1<<20)
		}
		if o.PollInterval > 0 {
			p.add(f+".events.enabled", "events need subscriptions: poll_interval must be 0")
		}
		for j, fl := range e.Fields {
			if fl.Name == "" || fl.Path == "" {
				p.add(fmt.Sprintf("%s.events.fields[%d]", f, j), "name and path are required")
			}
		}
	} else if len(e.Objects) > 0 || len(e.Types) > 0 || e.MinSeverity != 0 || e.QueueSize != 0 || len(e.Fields) > 0 {
		p.add(f+".events", "settings given but enabled is false")
	}
	if o.Backfill.MaxGap < 0 {
		p.add(f+".backfill.max_gap", "negative")
	}
	if !o.Backfill.Enabled && o.Backfill.MaxGap != 0 {
		p.add(f+".backfill.max_gap", "set, but backfill.enabled is false")
	}
}

func (c *Config) validateAlarms(p *problems, getenv func(string) string) {
	a := c.Alarms
	for i, r := range a.Rules {
		for _, pat := range slices.Concat(r.Requesters, r.Conditions) {
			if _, err := path.Match(pat, ""); err != nil {
				p.add(fmt.Sprintf("alarms.rules[%d]", i), "pattern %q: %v", pat, err)
			}
		}
	}
	if !a.Ack {
		return
	}
	if c.Forward.Role == "central" {
		p.add("alarms.ack", "acknowledgements go to the connector that reported the alarm: they need the role all or edge")
	}
	events := false
	for _, o := range c.OPCUA {
		events = events || o.Events.Enabled
	}
	if !events {
		p.add("alarms.ack", "no [[opcua]] connector has events enabled: there is nothing to acknowledge")
	}
	if len(a.Rules) == 0 {
		p.add("alarms.rules", "no rule: nobody may acknowledge")
	}
	if len(getenv(envAckToken)) < minAckToken {
		p.add("alarms.ack", "needs %s of at least %d bytes: POST /alarms/ack requires it as a bearer token", envAckToken, minAckToken)
	}
}

// bufferRef is the edge buffer as the connectors see it: they are built
// before Run opens the buffer, which sets it before any connector runs.
// It is the EventSink of the OPC UA connectors and tells backfill where
// the buffer ends for a tag.
type bufferRef struct {
	buf buffer.Buffer

	once sync.Once
	last map[string]time.Time
}

// DeliverEvents stores the events in the buffer's event log (durably, for
// a disk buffer, before it returns).
func (r *bufferRef) DeliverEvents(ctx context.Context, batch []scada.Event) error {
	el, ok := r.buf.(buffer.EventLog)
	if !ok {
		return errors.New("the buffer keeps no events")
	}
	_, err := el.AppendEvents(ctx, batch)
	return err
}

// lastPoint returns the source time of the newest point of tag the buffer
// holds within maxGap (zero for none): where a backfill after a restart
// starts. The buffer is read once, at the first call.
func (r *bufferRef) lastPoint(tag string, maxGap time.Duration) time.Time {
	r.once.Do(func() {
		r.last = map[string]time.Time{}
		if r.buf == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for p, err := range r.buf.Recent(ctx, maxGap) {
			if err != nil {
				break
			}
			if !p.Quality.IsBad() && p.Time.After(r.last[p.Tag]) {
				r.last[p.Tag] = p.Time
			}
		}
	})
	return r.last[tag]
}

// alarmsConsumer is the alarm table's cursor in the event log.
const alarmsConsumer = "gl001-alarms"

// alarmKey names one condition (or one of its branches) of one source.
type alarmKey struct{ source, condition, branch string }

// alarmTable is the part that reads the event log of the buffer the
// consumer reads and keeps the newest state of every condition whose
// Retain is true: a condition leaves the table with its Retain false
// event. It starts from the oldest retained event, so a restarted process
// rebuilds the table from its (disk) buffer; ConditionRefresh after every
// connect fills in what the buffer no longer holds. Plain events (not
// conditions) are counted, and the newest are kept for the page.
type alarmTable struct {
	log  buffer.EventLog // nil when the buffer keeps no events
	logr *slog.Logger

	mu     sync.Mutex
	table  map[alarmKey]scada.Event
	events uint64 // events read
	missed uint64 // events retention took before they were read
	recent []scada.Event
}

// recentEvents is how many plain events the page shows.
const recentEvents = 20

func newAlarmTable(buf buffer.Buffer, log *slog.Logger) *alarmTable {
	el, _ := buf.(buffer.EventLog)
	return &alarmTable{log: el, logr: log, table: map[alarmKey]scada.Event{}}
}

// Run reads the event log until ctx ends.
func (a *alarmTable) Run(ctx context.Context) error {
	if a.log == nil {
		<-ctx.Done()
		return nil
	}
	// Start from the oldest retained event: the table is rebuilt from the
	// log, last state wins.
	if err := a.log.ForgetEvents(ctx, alarmsConsumer); err != nil && !errors.Is(err, scada.ErrClosed) {
		a.logr.Warn("alarms: reset cursor", "err", err)
	}
	for ctx.Err() == nil {
		b, err := a.log.ReadEvents(ctx, alarmsConsumer, 1024)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, scada.ErrClosed) {
				return nil
			}
			a.logr.Warn("alarms: reading events", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		a.apply(b.Events, b.Missed)
		if err := a.log.CommitEvents(ctx, alarmsConsumer, b.Next()); err != nil && ctx.Err() == nil && !errors.Is(err, scada.ErrClosed) {
			a.logr.Warn("alarms: commit", "err", err)
		}
	}
	return nil
}

// apply updates the table with a batch of events, in order.
func (a *alarmTable) apply(evs []scada.Event, missed uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events += uint64(len(evs))
	a.missed += missed
	for _, ev := range evs {
		c := ev.Condition
		if c == nil || c.ID == "" {
			a.recent = append(a.recent, ev)
			if len(a.recent) > recentEvents {
				a.recent = slices.Delete(a.recent, 0, len(a.recent)-recentEvents)
			}
			continue
		}
		k := alarmKey{ev.Source, c.ID, c.Branch}
		if !c.Retain {
			delete(a.table, k)
			continue
		}
		a.table[k] = ev
	}
}

// find returns the newest event of a condition in the table.
func (a *alarmTable) find(source, condition, branch string) (scada.Event, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ev, ok := a.table[alarmKey{source, condition, branch}]
	return ev, ok
}

// AlarmsInfo is the alarm table as /healthz and the status page show it.
type AlarmsInfo struct {
	// Active counts the conditions in the table that are active;
	// Unacknowledged those not acknowledged (active or not).
	Active         int    `json:"active"`
	Unacknowledged int    `json:"unacknowledged"`
	Events         uint64 `json:"events"` // events read from the event log
	Missed         uint64 `json:"missed,omitempty"`
	// List holds every retained condition, the most severe first.
	List   []AlarmInfo `json:"list"`
	Recent []EventInfo `json:"recent,omitempty"` // the newest plain events, newest first
	// Acks is the acknowledgements through POST /alarms/ack, when enabled.
	Acks *AckInfo `json:"acks,omitempty"`
	// Lane is the event side of the edge's JetStream forwarder; Relay the
	// central node's events read from JetStream.
	Lane  *EventsLane  `json:"lane,omitempty"`
	Relay *EventsRelay `json:"relay,omitempty"`
	// Sources are the OPC UA connectors with events or backfill enabled.
	Sources []EventsFrom `json:"sources,omitempty"`
}

// EventsRelay is the central node's EventSource.
type EventsRelay struct {
	Messages   uint64 `json:"messages"`
	Events     uint64 `json:"events"`
	Duplicates uint64 `json:"duplicates"`
	Bad        uint64 `json:"bad"`
	LastError  string `json:"last_error,omitempty"`
}

// AlarmInfo is one condition's newest state.
type AlarmInfo struct {
	Source       string         `json:"source"`    // the connector that reported it
	Condition    string         `json:"condition"` // the condition id, what /alarms/ack names
	Branch       string         `json:"branch,omitempty"`
	Name         string         `json:"name"`
	SourceNode   string         `json:"source_node,omitempty"`
	SourceName   string         `json:"source_name,omitempty"`
	EventType    string         `json:"event_type,omitempty"`
	Severity     uint16         `json:"severity"`
	Message      string         `json:"message"`
	State        string         `json:"state,omitempty"`
	Active       bool           `json:"active"`
	Acknowledged bool           `json:"acknowledged"`
	Confirmed    bool           `json:"confirmed"`
	Time         time.Time      `json:"time"`
	EventID      string         `json:"event_id"` // hex
	Fields       map[string]any `json:"fields,omitempty"`
}

// EventInfo is one plain event.
type EventInfo struct {
	Source   string    `json:"source"`
	Time     time.Time `json:"time"`
	Severity uint16    `json:"severity"`
	Message  string    `json:"message"`
	Node     string    `json:"source_node,omitempty"`
}

// EventsLane is the event side of the edge's JetStream forwarder.
type EventsLane struct {
	Events    uint64 `json:"events"` // acknowledged by the stream
	Lag       uint64 `json:"lag"`
	LastError string `json:"last_error,omitempty"`
}

// EventsFrom is the event counters of one OPC UA connector.
type EventsFrom struct {
	Source             string `json:"source"`
	Events             uint64 `json:"events"`
	BadEvents          uint64 `json:"bad_events"`
	ConditionRefreshes uint64 `json:"condition_refreshes"`
	Backfilled         uint64 `json:"backfilled"`
	HistoryErrors      uint64 `json:"history_errors"`
}

func (a *alarmTable) info() AlarmsInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	ai := AlarmsInfo{Events: a.events, Missed: a.missed, List: make([]AlarmInfo, 0, len(a.table))}
	for _, ev := range a.table {
		c := ev.Condition
		x := AlarmInfo{Source: ev.Source, Condition: c.ID, Branch: c.Branch, Name: c.Name, SourceNode: ev.SourceNode,
			SourceName: ev.SourceName, EventType: ev.EventType, Severity: ev.Severity, Message: ev.Message, State: c.State,
			Active: c.Active, Acknowledged: c.Acknowledged, Confirmed: c.Confirmed, Time: ev.Time,
			EventID: hex.EncodeToString(ev.ID), Fields: jsonFields(ev.Fields)}
		if x.Active {
			ai.Active++
		}
		if !x.Acknowledged {
			ai.Unacknowledged++
		}
		ai.List = append(ai.List, x)
	}
	slices.SortFunc(ai.List, func(x, y AlarmInfo) int {
		if x.Active != y.Active {
			if x.Active {
				return -1
			}
			return 1
		}
		if x.Severity != y.Severity {
			return int(y.Severity) - int(x.Severity)
		}
		if c := y.Time.Compare(x.Time); c != 0 {
			return c
		}
		return strings.Compare(x.Source+x.Condition+x.Branch, y.Source+y.Condition+y.Branch)
	})
	for i := len(a.recent) - 1; i >= 0; i-- {
		ev := a.recent[i]
		ai.Recent = append(ai.Recent, EventInfo{Source: ev.Source, Time: ev.Time, Severity: ev.Severity, Message: ev.Message, Node: ev.SourceNode})
	}
	return ai
}

// jsonFields makes the extra fields JSON-friendly: byte strings as hex.
func jsonFields(f map[string]any) map[string]any {
	if len(f) == 0 {
		return nil
	}
	out := make(map[string]any, len(f))
	for k, v := range f {
		if b, ok := v.([]byte); ok {
			v = hex.EncodeToString(b)
		}
		out[k] = v
	}
	return out
}

// acker is the acknowledge path: one guard.Acks per connector that
// reports events, the alarm table to find a condition's newest event, and
// the history of attempts for the page.
type acker struct {
	acks    map[string]*guard.Acks // by connector name
	table   *alarmTable
	token   []byte
	history []guard.AckRecord // newest last, at most 50
	dryRun  bool
	mu      sync.Mutex
	log     *slog.Logger
}

// newAcker builds the guards of acknowledgement over the connectors that
// can acknowledge. connected tells whether a connector is connected now.
func newAcker(cfg AlarmsConfig, conns []connector, token string, connected func(name string) bool, log *slog.Logger) (*acker, error) {
	a := &acker{acks: map[string]*guard.Acks{}, token: []byte(token), dryRun: cfg.DryRun, log: log}
	var rules []guard.Rule
	for _, r := range cfg.Rules {
		rules = append(rules, guard.Rule{Requesters: r.Requesters, Tags: r.Conditions, Deny: r.Deny})
	}
	for _, cn := range conns {
		ca, ok := cn.src.(scada.ConditionAcker)
		if !ok || !cn.events {
			continue
		}
		name := cn.name
		g, err := guard.NewAcks(guard.AckConfig{
			Acker: ca, Rules: rules, DryRun: cfg.DryRun, Logger: log,
			Connected: func() bool { return connected(name) },
			OnAudit:   a.record,
		})
		if err != nil {
			return nil, fmt.Errorf("alarms: %w", err)
		}
		a.acks[name] = g
	}
	return a, nil
}

func (a *acker) record(r guard.AckRecord) {
	a.mu.Lock()
	a.history = append(a.history, r)
	if len(a.history) > 50 {
		a.history = slices.Delete(a.history, 0, len(a.history)-50)
	}
	a.mu.Unlock()
}

// ackRequest is the body of POST /alarms/ack.
type ackRequest struct {
	Requester string `json:"requester"`
	Source    string `json:"source"`    // the connector, as the alarm list names it
	Condition string `json:"condition"` // the condition id
	Branch    string `json:"branch"`
	Action    string `json:"action"` // acknowledge (default) or confirm
	Comment   string `json:"comment"`
}

// ackResponse is its answer.
type ackResponse struct {
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

// serveAck handles POST /alarms/ack: loopback callers only, with the
// bearer token of GL001_ACK_TOKEN; the requester is the body's, the
// condition's newest event comes from the alarm table, and the guard
// decides and audits.
func (a *acker) serveAck(w http.ResponseWriter, r *http.Request) {
	reply := func(code int, resp ackResponse) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(resp)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		reply(http.StatusForbidden, ackResponse{Result: "refused", Error: "acknowledgements are accepted from this machine only"})
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), a.token) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gl001"`)
		reply(http.StatusUnauthorized, ackResponse{Result: "refused", Error: "missing or wrong bearer token"})
		return
	}
	var req ackRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		reply(http.StatusBadRequest, ackResponse{Result: "bad_request", Error: "body: " + err.Error()})
		return
	}
	action := guard.Acknowledge
	switch req.Action {
	case "", "acknowledge":
	case "confirm":
		action = guard.Confirm
	default:
		reply(http.StatusBadRequest, ackResponse{Result: "bad_request", Error: fmt.Sprintf("action %q is not acknowledge or confirm", req.Action)})
		return
	}
	g := a.acks[req.Source]
	if g == nil {
		reply(http.StatusNotFound, ackResponse{Result: "unknown_source", Error: fmt.Sprintf("no connector %q reports alarms here", req.Source)})
		return
	}
	ev, ok := a.table.find(req.Source, req.Condition, req.Branch)
	if !ok {
		reply(http.StatusNotFound, ackResponse{Result: "unknown_condition", Error: fmt.Sprintf("condition %q (branch %q) of %s is not in the alarm table", req.Condition, req.Branch, req.Source)})
		return
	}
	rec, err := g.Apply(r.Context(), guard.AckRequest{Requester: req.Requester, Ref: "http " + r.RemoteAddr, Action: action, Event: ev, Comment: req.Comment})
	code := http.StatusOK
	resp := ackResponse{Result: rec.Result.String(), Detail: rec.Detail}
	if err != nil {
		resp.Error = err.Error()
		switch {
		case errors.Is(err, guard.ErrNotPermitted):
			code = http.StatusForbidden
		case errors.Is(err, guard.ErrDisconnected):
			code = http.StatusServiceUnavailable
		case errors.Is(err, guard.ErrNotCondition):
			code = http.StatusUnprocessableEntity
		case errors.Is(err, guard.ErrCanceled):
			code = http.StatusRequestTimeout
		default:
			code = http.StatusConflict // the server refused it
		}
	}
	reply(code, resp)
}

// AckInfo is the acknowledgements as the page shows them.
type AckInfo struct {
	DryRun   bool              `json:"dry_run"`
	Attempts uint64            `json:"attempts"`
	ByResult map[string]uint64 `json:"by_result"`
	Recent   []AckRecordInfo   `json:"recent"`
}

// AckRecordInfo is one audit record of an acknowledgement.
type AckRecordInfo struct {
	Time      time.Time `json:"time"`
	Requester string    `json:"requester"`
	Action    string    `json:"action"`
	Source    string    `json:"source"`
	Condition string    `json:"condition"`
	Name      string    `json:"name"`
	Comment   string    `json:"comment,omitempty"`
	Result    string    `json:"result"`
	OK        bool      `json:"ok"`
	Detail    string    `json:"detail,omitempty"`
}

func (a *acker) info() *AckInfo {
	ai := &AckInfo{DryRun: a.dryRun, ByResult: map[string]uint64{}, Recent: []AckRecordInfo{}}
	for _, g := range a.acks {
		st := g.Stats()
		ai.Attempts += st.Attempts
		for r, n := range st.ByResult {
			ai.ByResult[r.String()] += n
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.history) - 1; i >= 0; i-- {
		r := a.history[i]
		ai.Recent = append(ai.Recent, AckRecordInfo{Time: r.Time, Requester: r.Requester, Action: r.Action.String(), Source: r.Source,
			Condition: r.Condition, Name: r.ConditionName, Comment: r.Comment, Result: r.Result.String(), OK: r.Result.OK(), Detail: r.Detail})
	}
	return ai
}

// severityBand names the OPC UA severity band of s.
func severityBand(s uint16) string {
	switch {
	case s > 800:
		return "high"
	case s > 600:
		return "medium_high"
	case s > 400:
		return "medium"
	case s > 200:
		return "medium_low"
	}
	return "low"
}
