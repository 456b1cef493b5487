package erp_test

import (
	"fmt"

	"github.com/greenlang/gl001/erp"
)

// Amounts stay exact: Edm.Decimal text is parsed into a Decimal, not a float.
func ExampleParseDecimal() {
	a, _ := erp.ParseDecimal("0.10")
	b, _ := erp.ParseDecimal("0.2")
	sum, _ := a.Add(b)
	bill := erp.Money{Amount: sum, Currency: "EUR"}
	cents, _ := bill.MinorUnits(2)
	fmt.Println(bill, cents)
	// Output: 0.30 EUR 30
}
