package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/greenlang/gl001/erp"
	"github.com/greenlang/gl001/erp/workday"
)

// newWorkdayClient builds a Workday client: costs through Web Services
// (SOAP) as the integration system user (password from WORKDAY_PASSWORD),
// energy bought through a custom report read with the API key from
// WORKDAY_API_KEY.
func newWorkdayClient(e ERPConfig, conn erp.ConnConfig, getenv func(string) string) (erp.Client, func() error, error) {
	env := func(name string) erp.SecretProvider {
		return erp.SecretFunc(func(context.Context) (string, error) {
			if v := getenv(name); v != "" {
				return v, nil
			}
			return "", fmt.Errorf("%s is not set", name)
		})
	}
	cfg := workday.Config{BaseURL: e.BaseURL, Tenant: e.Tenant}
	if e.EnergyReport != "" {
		owner, name, _ := strings.Cut(e.EnergyReport, "/")
		cfg.EnergyReport = workday.Report{Owner: owner, Name: name}
		conn.Auth = erp.APIKey{Key: env(workday.APIKeyEnv)}
	}
	if e.Username != "" {
		cfg.Username = e.Username
		cfg.Password = env(workday.PasswordEnv)
	}
	cfg.ConnConfig = conn
	c, err := workday.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Close, nil
}
