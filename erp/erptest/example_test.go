package erptest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/erptest"
	"github.com/greenlang/gl001/erp/sap"
)

// A fake SAP S/4HANA system, loaded with a day of hourly meter readings,
// read by the SDK's SAP client exactly as a real tenant would be: OAuth 2.0
// client credentials, OData V2 paging, the HTTPS certificate trusted through
// TLSConfig.
func Example() {
	srv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV2, SAPClient: "100", ClientSecret: "example-secret", MaxPageSize: 10})
	defer srv.Close()
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	srv.Put(erptest.SAPEnergyPath, []string{"MeasurementDocument"}, erptest.SAPMeasurementDocuments(24, start, "1010", true)...)

	client, err := sap.New(sap.Config{
		ConnConfig: erp.ConnConfig{System: "sap-test", TLS: srv.TLSConfig(), Auth: erp.ClientCredentials{
			TokenURL: srv.TokenURL(), ClientID: srv.ClientID(),
			Secret: erp.SecretFunc(func(context.Context) (string, error) { return "example-secret", nil }),
		}},
		BaseURL: srv.URL(), SAPClient: "100",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	n := 0
	for _, err := range client.Energy(context.Background(), erp.Query{From: start, To: start.Add(48 * time.Hour)}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		n++
	}
	fmt.Printf("%d readings in %d pages\n", n, srv.Stats().Pages)
	// Output:
	// 24 readings in 3 pages
}

// The wire format itself, for code that speaks HTTP without the SDK: a
// token from the client-credentials endpoint, then a page of entities.
func ExampleServer() {
	srv := erptest.NewServer(erptest.Config{Flavour: erptest.SAPV2, ClientSecret: "example-secret"})
	defer srv.Close()
	srv.Put(erptest.SAPProductionPath, []string{"ManufacturingOrder"},
		erptest.SAPProductionOrders(3, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "1010")...)

	hc := srv.Client() // trusts the server's certificate
	resp, err := hc.PostForm(srv.TokenURL(), url.Values{"grant_type": {"client_credentials"},
		"client_id": {srv.ClientID()}, "client_secret": {"example-secret"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}

	req, _ := http.NewRequest("GET", srv.URL()+erptest.SAPProductionPath+"?$format=json", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = hc.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var page struct {
		D struct {
			Results []struct {
				ManufacturingOrder string
			} `json:"results"`
		} `json:"d"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, len(page.D.Results), "orders, first", page.D.Results[0].ManufacturingOrder)
	// Output:
	// 200 OK 3 orders, first 1000000
}
