package main

import (
	"errors"

	"github.com/greenlang/gl001/erp"
)

// newWorkdayClient builds a Workday client. The erp/workday package is not
// part of this build yet.
func newWorkdayClient(e ERPConfig, conn erp.ConnConfig, secret erp.SecretProvider) (erp.Client, func() error, error) {
	return nil, nil, errors.New("workday: not available in this build")
}
