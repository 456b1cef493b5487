package erptest

import (
	"fmt"
	"strconv"
	"time"
)

// Entity paths of the default services.
const (
	SAPProductionPath  = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV/A_ProductionOrder_2"
	SAPPlannedPath     = "/sap/opu/odata/sap/API_PLANNED_ORDERS/A_PlannedOrder"
	SAPMaintenancePath = "/sap/opu/odata/sap/API_MAINTENANCEORDER/MaintenanceOrder"
	SAPEnergyPath      = "/sap/opu/odata/sap/API_MEASUREMENTDOCUMENT_SRV/MeasurementDocument"
	SAPCostsPath       = "/sap/opu/odata/sap/API_JOURNALENTRYITEMBASIC_SRV/A_JournalEntryItemBasic"

	DynamicsWorkOrdersPath = "/api/data/v9.2/msdyn_workorders"
	FOProductionPath       = "/data/ProductionOrderHeaders"
	FOCostsPath            = "/data/GeneralJournalAccountEntries"
)

// V2Date formats t as OData V2 JSON does: /Date(ms)/.
func V2Date(t time.Time) string { return "/Date(" + strconv.FormatInt(t.UnixMilli(), 10) + ")/" }

// V2Time formats a time of day as Edm.Time: PT14H30M00S.
func V2Time(d time.Duration) string {
	return fmt.Sprintf("PT%02dH%02dM%02dS", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// V4Time formats t as Edm.DateTimeOffset: 2024-01-01T10:00:00Z.
func V4Time(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// midnight splits t into its UTC date and time of day.
func midnight(t time.Time) (time.Time, time.Duration) {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d, t.Sub(d)
}

// SAPMeasurementDocuments returns n hourly counter readings of measuring
// point "MP-<plant>-1" from start, each the consumption of the hour before
// (100.5 kWh + i), as API_MEASUREMENTDOCUMENT_SRV sends them in V2 (v2 true)
// or V4 form.
func SAPMeasurementDocuments(n int, start time.Time, plant string, v2 bool) []Row {
	rows := make([]Row, n)
	for i := range rows {
		at := start.Add(time.Duration(i+1) * time.Hour)
		day, tod := midnight(at)
		r := Row{
			"MeasurementDocument":          strconv.Itoa(100000 + i),
			"MeasuringPoint":               "MP-" + plant + "-1",
			"MsmtCounterReadingDifference": strconv.Itoa(100+i) + ".5",
			"MeasurementReadingEntryUoM":   "KWH",
			"MeasurementDocumentText":      "hourly counter reading",
			"MsmtReadingIsCounterReading":  true,
		}
		if v2 {
			r["MsmtRdngDate"], r["MsmtRdngTime"] = V2Date(day), V2Time(tod)
		} else {
			r["MsmtRdngDate"], r["MsmtRdngTime"] = day.Format("2006-01-02"), fmt.Sprintf("%02d:%02d:%02d", int(tod.Hours()), int(tod.Minutes())%60, 0)
		}
		rows[i] = r
	}
	return rows
}

// SAPProductionOrders returns n production orders of plant, one starting
// each day from start, as API_PRODUCTION_ORDER_2_SRV sends them (V2).
func SAPProductionOrders(n int, start time.Time, plant string) []Row {
	rows := make([]Row, n)
	for i := range rows {
		s := start.Add(time.Duration(i) * 24 * time.Hour)
		rows[i] = Row{
			"ManufacturingOrder":        strconv.Itoa(1000000 + i),
			"ManufacturingOrderType":    "YP01",
			"ProductionPlant":           plant,
			"Material":                  "FG-STEAM-" + strconv.Itoa(i%3),
			"MfgOrderPlannedStartDate":  V2Date(s),
			"MfgOrderPlannedStartTime":  "PT06H00M00S",
			"MfgOrderPlannedEndDate":    V2Date(s),
			"MfgOrderPlannedEndTime":    "PT18H00M00S",
			"MfgOrderActualStartDate":   nil,
			"MfgOrderActualEndDate":     nil,
			"TotalQuantity":             "1200.000",
			"MfgOrderConfirmedYieldQty": "0.000",
			"ProductionUnit":            "TO",
			"LastChangeDateTime":        "/Date(" + strconv.FormatInt(s.Add(-48*time.Hour).UnixMilli(), 10) + "+0000)/",
		}
	}
	return rows
}

// SAPMaintenanceOrders returns n maintenance orders of plant (V2).
func SAPMaintenanceOrders(n int, start time.Time, plant string) []Row {
	rows := make([]Row, n)
	for i := range rows {
		s := start.Add(time.Duration(i) * 24 * time.Hour)
		rows[i] = Row{
			"MaintenanceOrder":       strconv.Itoa(4000000 + i),
			"MaintenanceOrderType":   "PM01",
			"MaintenanceOrderDesc":   "Boiler " + strconv.Itoa(i%4+1) + " burner inspection",
			"MaintenancePlant":       plant,
			"Equipment":              "BOILER-" + strconv.Itoa(i%4+1),
			"FunctionalLocation":     plant + "-UTIL-STEAM",
			"MaintPriority":          "2",
			"MaintOrdBasicStartDate": V2Date(s),
			"MaintOrdBasicStartTime": "PT08H00M00S",
			"MaintOrdBasicEndDate":   V2Date(s),
			"MaintOrdBasicEndTime":   "PT16H00M00S",
			"LastChangeDateTime":     "/Date(" + strconv.FormatInt(s.UnixMilli(), 10) + "+0000)/",
		}
	}
	return rows
}

// SAPJournalEntryItems returns n energy cost postings of plant, one per day (V2).
func SAPJournalEntryItems(n int, start time.Time, plant string) []Row {
	rows := make([]Row, n)
	for i := range rows {
		d := start.Add(time.Duration(i) * 24 * time.Hour)
		rows[i] = Row{
			"CompanyCode":                 "1010",
			"FiscalYear":                  strconv.Itoa(d.Year()),
			"AccountingDocument":          strconv.Itoa(5100000000 + i),
			"LedgerGLLineItem":            "000001",
			"Plant":                       plant,
			"CostCenter":                  "CC-UTIL",
			"GLAccount":                   "61001000",
			"DocumentItemText":            "Natural gas supply",
			"PostingDate":                 V2Date(d),
			"AmountInCompanyCodeCurrency": strconv.Itoa(1000+i) + ".10",
			"CompanyCodeCurrency":         "EUR",
			"Quantity":                    "12.500",
			"BaseUnit":                    "MWH",
			"LastChangeDateTime":          "/Date(" + strconv.FormatInt(d.UnixMilli(), 10) + "+0000)/",
		}
	}
	return rows
}

// DynamicsWorkOrders returns n Field Service work orders (Web API form).
func DynamicsWorkOrders(n int, start time.Time) []Row {
	rows := make([]Row, n)
	for i := range rows {
		s := start.Add(time.Duration(i) * 24 * time.Hour)
		rows[i] = Row{
			"@odata.etag":                `W/"` + strconv.Itoa(9000+i) + `"`,
			"msdyn_workorderid":          fmt.Sprintf("6d3c1a2e-0000-4000-8000-%012d", i),
			"msdyn_name":                 "WO-" + strconv.Itoa(10000+i),
			"msdyn_workordersummary":     "Inspect steam trap bank " + strconv.Itoa(i%5),
			"msdyn_systemstatus":         690970000,
			"_msdyn_priority_value":      "b1d3c2a0-0000-4000-8000-000000000001",
			"_msdyn_workordertype_value": "b1d3c2a0-0000-4000-8000-000000000002",
			"msdyn_timefrompromised":     V4Time(s),
			"msdyn_timetopromised":       V4Time(s.Add(4 * time.Hour)),
			"modifiedon":                 V4Time(s.Add(-time.Hour)),
		}
	}
	return rows
}

// FOProductionOrders returns n F&O production order headers of site.
func FOProductionOrders(n int, start time.Time, site string) []Row {
	rows := make([]Row, n)
	for i := range rows {
		s := start.Add(time.Duration(i) * 24 * time.Hour)
		rows[i] = Row{
			"@odata.etag":           `W/"JzEsNTYzNzE0NDU3Nic="`,
			"dataAreaId":            "usmf",
			"ProductionOrderNumber": "P" + strconv.Itoa(1000+i),
			"ProductionSiteId":      site,
			"ItemNumber":            "P0111",
			"ProductionOrderStatus": "Scheduled",
			"ScheduledStartDate":    V4Time(s),
			"ScheduledEndDate":      V4Time(s.Add(8 * time.Hour)),
			"ScheduledQuantity":     25.0,
		}
	}
	return rows
}
