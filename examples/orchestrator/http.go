package main

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"

	"github.com/greenlang/gl001/scada/buffer"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The operations endpoints:
//
//	/         the status page (refreshes itself from /healthz)
//	/healthz  Health as JSON; 503 when degraded
//	/metrics  Prometheus text format
func (o *Orchestrator) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", o.serveHealth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.metrics.reg, promhttp.HandlerOpts{Registry: o.metrics.reg}))
	mux.HandleFunc("GET /{$}", o.serveStatus)
	return mux
}

func (o *Orchestrator) serveHealth(w http.ResponseWriter, r *http.Request) {
	h := o.Health()
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

func (o *Orchestrator) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	data := struct {
		Health
		RefreshS, RefreshMS int
		GradeOrder          []string
	}{o.Health(), o.cfg.HTTP.Refresh, o.cfg.HTTP.Refresh * 1000, []string{"Excellent", "Good", "Fair", "Poor", "Invalid"}}
	if err := statusTemplate.Execute(w, data); err != nil {
		o.log.Warn("status page", "err", err)
	}
}

// metrics is the orchestrator's Prometheus registry: its own, not the
// global one, so that embedding programs keep theirs.
type metrics struct {
	reg           *prometheus.Registry
	roundDuration *prometheus.HistogramVec
	replies       *prometheus.CounterVec
}

func newMetrics(o *Orchestrator) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		roundDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gl001_coordination_duration_seconds",
			Help:    "Duration of coordination commands, from sending to the last reply or the timeout.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"command"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gl001_coordination_replies_total",
			Help: "Agents asked in coordination commands, by outcome (answered, timed_out, failed).",
		}, []string{"command", "outcome"}),
	}
	m.reg.MustRegister(m.roundDuration, m.replies, snapshotCollector{o},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// snapshotCollector reads the SDK's snapshot structs at scrape time.
type snapshotCollector struct{ o *Orchestrator }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descPoints      = desc("gl001_scada_points_total", "Points accepted from a SCADA source.", "source", "protocol")
	descBadPoints   = desc("gl001_scada_bad_points_total", "Points with Bad quality accepted from a SCADA source.", "source", "protocol")
	descReconnects  = desc("gl001_scada_reconnects_total", "Connections a SCADA source made again after losing one.", "source")
	descConnected   = desc("gl001_scada_connected", "1 when the SCADA source is connected.", "source")
	descBreaker     = desc("gl001_scada_breaker_open", "1 when the SCADA source's circuit breaker is open.", "source")
	descGrades      = desc("gl001_pipeline_points_total", "Points scored by the pipeline, by quality grade.", "grade")
	descBufAppended = desc("gl001_buffer_appended_points_total", "Points appended to the store-and-forward buffer.")
	descBufPoints   = desc("gl001_buffer_points", "Points retained in the buffer.")
	descBufBytes    = desc("gl001_buffer_bytes", "Storage the buffer uses.")
	descBufDropped  = desc("gl001_buffer_dropped_points_total", "Points retention dropped, by reason.", "reason")
	descBufLag      = desc("gl001_buffer_consumer_lag_points", "Durable points a buffer consumer has not committed.", "consumer")
	descERPReq      = desc("gl001_erp_requests_total", "Requests to an ERP system.", "system")
	descERPRetries  = desc("gl001_erp_retries_total", "Retried requests to an ERP system.", "system")
	descERPThrottle = desc("gl001_erp_throttled_total", "Throttling answers (429, 503 with Retry-After) from an ERP system.", "system")
	descERPBreaker  = desc("gl001_erp_breaker_open", "1 when the ERP system's circuit breaker is not closed.", "system")
	descERPRecords  = desc("gl001_erp_records_total", "Records fetched from an ERP system, by kind.", "system", "kind")
	descAgents      = desc("gl001_agents", "Registered agents by heartbeat health.", "health")
	descAgentLat    = desc("gl001_agent_latency_seconds", "Moving average of an agent's reply latency.", "agent")
	descAgentOK     = desc("gl001_agent_success_ratio", "Moving average of an agent's successful replies.", "agent")
	descRounds      = desc("gl001_coordination_rounds_total", "Coordination rounds started.")
)

func (c snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoints, descBadPoints, descReconnects, descConnected, descBreaker, descGrades,
		descBufAppended, descBufPoints, descBufBytes, descBufDropped, descBufLag, descERPReq, descERPRetries, descERPThrottle,
		descERPBreaker, descERPRecords, descAgents, descAgentLat, descAgentOK, descRounds} {
		ch <- d
	}
}

func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	o := c.o
	h := o.Health()
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
	for _, s := range h.Connectors {
		counter(descPoints, float64(s.Points), s.Name, s.Protocol)
		counter(descBadPoints, float64(s.BadPoints), s.Name, s.Protocol)
		counter(descReconnects, float64(s.Reconnects), s.Name)
		gauge(descConnected, b2f(s.Healthy), s.Name)
		gauge(descBreaker, b2f(s.Breaker == "open"), s.Name)
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
	for _, e := range h.ERP {
		counter(descERPReq, float64(e.Requests), e.Name)
		counter(descERPRetries, float64(e.Retries), e.Name)
		counter(descERPThrottle, float64(e.Throttled), e.Name)
		gauge(descERPBreaker, b2f(e.Breaker != "closed"), e.Name)
		for kind, n := range e.Total {
			counter(descERPRecords, float64(n), e.Name, kind)
		}
	}
	gauge(descAgents, float64(h.Agents.Healthy), "healthy")
	gauge(descAgents, float64(h.Agents.Suspect), "suspect")
	gauge(descAgents, float64(h.Agents.Unreachable), "unreachable")
	for _, a := range h.Agents.List {
		gauge(descAgentLat, a.LatencyMS/1000, a.ID)
		gauge(descAgentOK, a.SuccessRate, a.ID)
	}
	counter(descRounds, float64(h.Coordination.Rounds))
}
