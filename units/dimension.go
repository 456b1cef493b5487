package units

// Dimension is the kind of quantity a [Unit] measures. Only units of the same
// Dimension convert into each other.
//
// The zero Dimension is not a dimension: it is what the zero [Unit] reports.
type Dimension uint8

// The dimensions this package knows.
const (
	Dimensionless Dimension = iota + 1 // ratios and percentages; SI unit 1
	// Temperature is a temperature on a scale (a thermometer reading); SI unit K.
	// It converts with an offset: 0 °C is 273.15 K.
	Temperature
	// TemperatureDifference is an interval between two temperatures (a rise, a
	// rate-of-change limit, a deadband); SI unit K. It converts without offset:
	// a rise of 10 °F is a rise of 5.556 K, not -12.2 °C.
	TemperatureDifference
	// Pressure is a force per area; SI unit Pa. A pressure unit is either
	// absolute or gauge (relative to the local atmosphere, see [Unit.IsGauge]);
	// the two convert into each other only through [NewGaugeConverter].
	Pressure
	VolumeFlow // volume per time; SI unit m³/s
	MassFlow   // mass per time; SI unit kg/s
	Energy     // SI unit J
	Power      // SI unit W
	Mass       // SI unit kg
	Volume     // SI unit m³
	numDimensions
)

var dimensionNames = [numDimensions]string{
	"", "dimensionless", "temperature", "temperature difference", "pressure",
	"volume flow", "mass flow", "energy", "power", "mass", "volume",
}

// String returns the dimension's name in lower case, e.g. "mass flow".
func (d Dimension) String() string {
	if d == 0 || d >= numDimensions {
		return "invalid dimension"
	}
	return dimensionNames[d]
}

// SI returns the coherent SI unit of d (K, Pa, m³/s, kg/s, J, W, kg, m³ or 1);
// for Pressure it returns the absolute pascal. It returns the zero Unit for an
// invalid Dimension.
func (d Dimension) SI() Unit {
	if d == 0 || d >= numDimensions {
		return Unit{}
	}
	return siUnit[d]
}

// Dimensions returns every valid Dimension, in declaration order.
func Dimensions() []Dimension {
	ds := make([]Dimension, 0, numDimensions-1)
	for d := Dimension(1); d < numDimensions; d++ {
		ds = append(ds, d)
	}
	return ds
}
