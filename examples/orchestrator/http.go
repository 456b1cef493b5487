package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/greenlang/gl001/scada/buffer"
)

// statusServer is the part that serves the operations endpoints on a
// listener opened before the parts start:
//
//	/         the status page (renders /healthz, and refreshes itself from it)
//	/healthz  Health as JSON; 503 when degraded
//	/metrics  Prometheus text format
//	POST /alarms/ack  acknowledge or confirm an alarm (with [alarms] ack)
type statusServer struct {
	o       *Orchestrator
	ln      net.Listener
	metrics *metrics
	log     *slog.Logger
}

func (s *statusServer) Run(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	mux.HandleFunc("GET /{$}", s.serveStatus)
	if s.o.acker != nil {
		mux.HandleFunc("POST /alarms/ack", s.o.acker.serveAck)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(s.ln)
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *statusServer) serveHealth(w http.ResponseWriter, r *http.Request) {
	h := s.o.Health(r.Context(), true)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if h.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(h)
}

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Parse(statusHTML))

// serveStatus sends the page with the snapshot embedded as JSON: the page's
// script renders it at once and then every refresh from /healthz, so every
// figure on the page has one source.
func (s *statusServer) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	h := s.o.Health(r.Context(), true)
	data := struct {
		ID        string
		Health    Health
		RefreshMS int
	}{h.ID, h, s.o.cfg.HTTP.Refresh * 1000}
	if err := statusTemplate.Execute(w, data); err != nil {
		s.log.Warn("status page", "err", err)
	}
}

// metrics is the orchestrator's Prometheus registry: its own, not the
// global one, so that embedding programs keep theirs.
type metrics struct {
	reg           *prometheus.Registry
	roundDuration *prometheus.HistogramVec
}

func newMetrics(o *Orchestrator) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		roundDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gl001_coordination_duration_seconds",
			Help:    "Duration of coordination commands, from sending to the last reply or the timeout.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"command"}),
	}
	version, revision := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	buildInfo := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "gl001_build_info",
		Help:        "Always 1; the labels say which build of the orchestrator runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	}, func() float64 { return 1 })
	m.reg.MustRegister(m.roundDuration, buildInfo, snapshotCollector{o},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(command string, d time.Duration) {
	m.roundDuration.WithLabelValues(command).Observe(d.Seconds())
}

// snapshotCollector reads the SDK's snapshot structs at scrape time.
type snapshotCollector struct{ o *Orchestrator }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// Every SCADA series carries source and protocol; every ERP series system.
// Both breaker gauges are 1 while the breaker is open (refusing calls) and
// 0 while it is closed or half-open (letting calls through).
var (
	descPoints        = desc("gl001_scada_points_total", "Points accepted from a SCADA source.", "source", "protocol")
	descBadPoints     = desc("gl001_scada_bad_points_total", "Points with Bad quality accepted from a SCADA source.", "source", "protocol")
	descSCADAErrors   = desc("gl001_scada_errors_total", "Errors of a SCADA source by kind: tag_error, bad_input, sequence_gap, disconnect (OPC UA); exception, timeout, bad_input, dial_error (Modbus); bad_message, unmatched, reply_dropped (MQTT).", "source", "protocol", "kind")
	descReconnects    = desc("gl001_scada_reconnects_total", "Connections a SCADA source made again after losing one.", "source", "protocol")
	descConnected     = desc("gl001_scada_connected", "1 when the SCADA source is connected.", "source", "protocol")
	descBreaker       = desc("gl001_scada_breaker_open", "1 when the SCADA source's circuit breaker is open, 0 when closed or half-open.", "source", "protocol")
	descLastPoint     = desc("gl001_scada_last_point_timestamp_seconds", "Source time of the newest point a SCADA source delivered (Unix seconds).", "source", "protocol")
	descGrades        = desc("gl001_pipeline_points_total", "Points scored by the pipeline, by quality grade.", "grade")
	descBufAppended   = desc("gl001_buffer_appended_points_total", "Points appended to the store-and-forward buffer.")
	descBufPoints     = desc("gl001_buffer_points", "Points retained in the buffer.")
	descBufBytes      = desc("gl001_buffer_bytes", "Storage the buffer uses.")
	descBufDropped    = desc("gl001_buffer_dropped_points_total", "Points retention dropped, by reason.", "reason")
	descBufLag        = desc("gl001_buffer_consumer_lag_points", "Durable points a buffer consumer has not committed.", "consumer")
	descFwdLag        = desc("gl001_forward_lag_points", "Durable buffer points a forwarder has not had acknowledged.", "forwarder")
	descFwdLagAge     = desc("gl001_forward_lag_seconds", "Source-time age of the oldest point a forwarder has not had acknowledged.", "forwarder")
	descFwdPoints     = desc("gl001_forward_points_total", "Points a forwarder's target acknowledged.", "forwarder")
	descFwdRedeliv    = desc("gl001_forward_redelivered_batches_total", "Batches a forwarder sent again after a failure.", "forwarder")
	descWrites        = desc("gl001_writes_total", "Setpoint write attempts through the write guard, by result.", "result")
	descAlarmsActive  = desc("gl001_alarms_active", "Alarm conditions in the alarm table that are active.")
	descAlarmsUnack   = desc("gl001_alarms_unacknowledged", "Alarm conditions in the alarm table not yet acknowledged.")
	descAlarmsByLevel = desc("gl001_alarms_active_by_severity", "Active alarm conditions by OPC UA severity band: high (801-1000), medium_high (601-800), medium (401-600), medium_low (201-400), low (1-200).", "severity")
	descEvents        = desc("gl001_events_total", "Events and alarm state changes read by the alarm table.")
	descAlarmAcks     = desc("gl001_alarm_acks_total", "Acknowledge and confirm attempts through the guard, by result.", "result")
	descHistEnergy    = desc("gl001_historian_energy_records_total", "ERP energy records the historian stored (new or changed).")
	descSinkErrors    = desc("gl001_pipeline_sink_errors_total", "Failed deliveries of the Collector into the pipeline and buffer (retried).")
	descERPReq        = desc("gl001_erp_requests_total", "Requests to an ERP system.", "system")
	descERPRetries    = desc("gl001_erp_retries_total", "Retried requests to an ERP system.", "system")
	descERPThrottle   = desc("gl001_erp_throttled_total", "Throttling answers (429, 503 with Retry-After) from an ERP system.", "system")
	descERPErrors     = desc("gl001_erp_request_errors_total", "Errors of requests to an ERP system by kind: throttled, timeout, unauthorized, malformed, failed (requests that ended in an error).", "system", "kind")
	descERPBreaker    = desc("gl001_erp_breaker_open", "1 when the ERP system's circuit breaker is open, 0 when closed or half-open.", "system")
	descERPRecords    = desc("gl001_erp_records_total", "Records fetched from an ERP system, by kind.", "system", "kind")
	descERPIssues     = desc("gl001_erp_record_issues_total", "Findings of the ERP normalisers by kind: duplicate, overlap, gap, unit, unmapped_plant, bad_period.", "system", "kind")
	descERPSuccess    = desc("gl001_erp_last_success_timestamp_seconds", "When the last fetch from an ERP system succeeded (Unix seconds).", "system")
	descAgents        = desc("gl001_agents", "Registered agents by heartbeat health.", "health")
	descAgentLat      = desc("gl001_agent_latency_seconds", "Moving average of an agent's reply latency.", "agent")
	descAgentOK       = desc("gl001_agent_success_ratio", "Moving average of an agent's successful replies.", "agent")
	descRounds        = desc("gl001_coordination_rounds_total", "Coordination rounds started.")
	descReplies       = desc("gl001_coordination_replies_total", "Agents asked in coordination commands, by outcome (answered, timed_out, failed).", "command", "outcome")
)

func (c snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoints, descBadPoints, descSCADAErrors, descReconnects, descConnected, descBreaker, descLastPoint,
		descGrades, descBufAppended, descBufPoints, descBufBytes, descBufDropped, descBufLag, descSinkErrors,
		descFwdLag, descFwdLagAge, descFwdPoints, descFwdRedeliv, descWrites, descHistEnergy,
		descAlarmsActive, descAlarmsUnack, descAlarmsByLevel, descEvents, descAlarmAcks,
		descERPReq, descERPRetries, descERPThrottle, descERPErrors, descERPBreaker, descERPRecords, descERPIssues, descERPSuccess,
		descAgents, descAgentLat, descAgentOK, descRounds, descReplies} {
		ch <- d
	}
}

func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	o := c.o
	h := o.Health(context.Background(), false)
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	for _, s := range h.Connectors {
		counter(descPoints, float64(s.Points), s.Name, s.Protocol)
		counter(descBadPoints, float64(s.BadPoints), s.Name, s.Protocol)
		for kind, n := range s.Errors {
			counter(descSCADAErrors, float64(n), s.Name, s.Protocol, kind)
		}
		counter(descReconnects, float64(s.Reconnects), s.Name, s.Protocol)
		gauge(descConnected, b2f(s.Healthy), s.Name, s.Protocol)
		gauge(descBreaker, b2f(s.Breaker == "open"), s.Name, s.Protocol)
		gauge(descLastPoint, unix(s.LastPoint), s.Name, s.Protocol)
	}
	for g, n := range h.Grades {
		counter(descGrades, float64(n), g)
	}
	bs := o.buffer.Stats()
	counter(descBufAppended, float64(bs.Appended))
	gauge(descBufPoints, float64(bs.Points))
	gauge(descBufBytes, float64(bs.Bytes))
	for reason, n := range map[buffer.DropReason]uint64{buffer.DropAge: bs.Dropped.Age, buffer.DropBytes: bs.Dropped.Bytes, buffer.DropCorrupt: bs.Dropped.Corrupt} {
		counter(descBufDropped, float64(n), reason.String())
	}
	for _, cs := range bs.Consumers {
		gauge(descBufLag, float64(cs.Lag), cs.Name)
	}
	for _, f := range h.Forward.Forwarders {
		gauge(descFwdLag, float64(f.LagPoints), f.Name)
		gauge(descFwdLagAge, f.LagSeconds, f.Name)
		counter(descFwdPoints, float64(f.Points), f.Name)
		counter(descFwdRedeliv, float64(f.Redelivered), f.Name)
	}
	if h.Writes != nil {
		for result, n := range h.Writes.ByResult {
			counter(descWrites, float64(n), result)
		}
	}
	if h.Historian != nil {
		counter(descHistEnergy, float64(h.Historian.EnergyStored))
	}
	gauge(descAlarmsActive, float64(h.Alarms.Active))
	gauge(descAlarmsUnack, float64(h.Alarms.Unacknowledged))
	bands := map[string]int{"high": 0, "medium_high": 0, "medium": 0, "medium_low": 0, "low": 0}
	for _, a := range h.Alarms.List {
		if a.Active {
			bands[severityBand(a.Severity)]++
		}
	}
	for band, n := range bands {
		gauge(descAlarmsByLevel, float64(n), band)
	}
	counter(descEvents, float64(h.Alarms.Events))
	if h.Alarms.Acks != nil {
		for result, n := range h.Alarms.Acks.ByResult {
			counter(descAlarmAcks, float64(n), result)
		}
	}
	var sinkErrors uint64
	for _, in := range []*ingest{o.ingest, o.central} {
		if in != nil {
			sinkErrors += in.stats().SinkErrors
		}
	}
	counter(descSinkErrors, float64(sinkErrors))
	for _, e := range h.ERP {
		counter(descERPReq, float64(e.Requests), e.Name)
		counter(descERPRetries, float64(e.Retries), e.Name)
		counter(descERPThrottle, float64(e.Throttled), e.Name)
		for kind, n := range e.Errors {
			counter(descERPErrors, float64(n), e.Name, kind)
		}
		gauge(descERPBreaker, b2f(e.Breaker == "open"), e.Name)
		for kind, n := range e.Total {
			counter(descERPRecords, float64(n), e.Name, kind)
		}
		for kind, n := range e.Issues {
			counter(descERPIssues, float64(n), e.Name, kind)
		}
		gauge(descERPSuccess, unix(e.LastSuccess), e.Name)
	}
	gauge(descAgents, float64(h.Agents.Healthy), "healthy")
	gauge(descAgents, float64(h.Agents.Suspect), "suspect")
	gauge(descAgents, float64(h.Agents.Unreachable), "unreachable")
	for _, a := range h.Agents.List {
		gauge(descAgentLat, a.LatencyMS/1000, a.ID)
		gauge(descAgentOK, a.SuccessRate, a.ID)
	}
	counter(descRounds, float64(h.Coordination.Rounds))
	for cmd, outcomes := range o.rounds.replyCounts() {
		for outcome, n := range outcomes {
			counter(descReplies, float64(n), cmd, outcome)
		}
	}
}
