package dynamics_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/greenlang/gl001/erp/dynamics"
	"github.com/greenlang/gl001/erp/erptest"
)

// workOrders writes fixtures as Field Service work orders: a malformed one
// has a promised end that is not a date.
func workOrders(fx []erptest.Fixture) []erptest.Row {
	rows := make([]erptest.Row, len(fx))
	for i, f := range fx {
		end := erptest.V4Time(f.Time.Add(4 * time.Hour))
		if f.Malformed {
			end = "not-a-date"
		}
		rows[i] = erptest.Row{
			"msdyn_workorderid":      f.Key,
			"msdyn_name":             "WO-" + f.Key,
			"msdyn_workordersummary": "Inspect steam trap bank " + strconv.Itoa(f.Value),
			"msdyn_timefrompromised": erptest.V4Time(f.Time),
			"msdyn_timetopromised":   end,
		}
	}
	return rows
}

// The Web API with its defaults: maintenance from Field Service work orders.
func TestConformanceWebAPI(t *testing.T) {
	erptest.TestClient(t, erptest.Harness{Kind: erptest.MaintenanceKind, New: func(t *testing.T) erptest.Instance {
		srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsWebAPI})
		c := newClient(t, srv, nil)
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put(erptest.DynamicsWorkOrdersPath, []string{"msdyn_workorderid"}, workOrders(fx)...)
		}}
	}})
}

// Another OData V4 service that speaks like Dataverse, reached through an
// explicit ServiceRoot.
func TestConformanceServiceRoot(t *testing.T) {
	const root = "/tenant-7/odata/"
	erptest.TestClient(t, erptest.Harness{Kind: erptest.MaintenanceKind, New: func(t *testing.T) erptest.Instance {
		srv := newServer(t, erptest.Config{Flavour: erptest.DynamicsWebAPI})
		c := newClient(t, srv, func(cfg *dynamics.Config) { cfg.BaseURL, cfg.ServiceRoot = "", srv.URL()+root })
		return erptest.Instance{Client: c, Server: srv, Put: func(fx ...erptest.Fixture) {
			srv.Put(root+"msdyn_workorders", []string{"msdyn_workorderid"}, workOrders(fx)...)
		}}
	}})
}
