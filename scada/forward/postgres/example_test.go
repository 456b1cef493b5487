package postgres_test

import (
	"errors"
	"fmt"

	"github.com/greenlang/gl001/scada/forward/postgres"
)

// A DSN towards a remote server must verify the server's certificate and
// name; the password is never part of an error.
func ExampleConfig_Validate() {
	for _, dsn := range []string{
		"postgres://historian:Pa55word@db.plant.example/plant?sslmode=require",
		"postgres://historian:Pa55word@db.plant.example/plant?sslmode=verify-full", // the system CAs; add &sslrootcert=/path/ca.pem for a private CA
		"host=127.0.0.1 user=historian password=Pa55word dbname=plant sslmode=disable",
	} {
		err := postgres.Config{DSN: dsn}.Validate()
		fmt.Println(errors.Is(err, postgres.ErrConfig), err)
	}
	// Output:
	// true postgres: invalid configuration: host db.plant.example is reached without TLS verify-full; set sslmode=verify-full (with sslrootcert) in the DSN, or InsecureTLS to accept it
	// false <nil>
	// false <nil>
}
