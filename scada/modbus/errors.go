package modbus

import (
	"errors"
	"fmt"

	"github.com/greenlang/gl001/scada"
)

// Exception is a Modbus exception code, as a device answers a request it
// cannot serve. It is an error, so errors.Is(err, modbus.ServerDeviceBusy)
// matches an [ExceptionError] carrying that code.
type Exception uint8

// The exception codes of the Modbus Application Protocol v1.1b3, 7.
const (
	IllegalFunction              Exception = 0x01 // the device does not implement the function
	IllegalDataAddress           Exception = 0x02 // an address of the request does not exist on the device
	IllegalDataValue             Exception = 0x03 // a value of the request is not acceptable
	ServerDeviceFailure          Exception = 0x04 // the device failed while serving the request
	Acknowledge                  Exception = 0x05 // accepted, but the result takes long; poll later
	ServerDeviceBusy             Exception = 0x06 // the device is busy; retry later
	MemoryParityError            Exception = 0x08
	GatewayPathUnavailable       Exception = 0x0A // the gateway has no path to the unit id
	GatewayTargetFailedToRespond Exception = 0x0B // the unit behind the gateway did not answer
)

var exceptionNames = map[Exception]string{
	IllegalFunction: "illegal function", IllegalDataAddress: "illegal data address",
	IllegalDataValue: "illegal data value", ServerDeviceFailure: "server device failure",
	Acknowledge: "acknowledge", ServerDeviceBusy: "server device busy",
	MemoryParityError: "memory parity error", GatewayPathUnavailable: "gateway path unavailable",
	GatewayTargetFailedToRespond: "gateway target device failed to respond",
}

// Error returns the code's name from the specification and its number.
func (e Exception) Error() string {
	if n, ok := exceptionNames[e]; ok {
		return fmt.Sprintf("modbus exception %d (%s)", uint8(e), n)
	}
	return fmt.Sprintf("modbus exception %d", uint8(e))
}

// Quality is the Point quality given to the tags of a request answered with e:
//
//	IllegalFunction                 BadNotSupported
//	IllegalDataAddress              BadNodeIDUnknown
//	IllegalDataValue                BadOutOfRange
//	Acknowledge                     BadWaitingForInitialData
//	GatewayPathUnavailable          BadNotConnected
//	GatewayTargetFailedToRespond    BadNoCommunication
//	others (device failure, busy)   BadDeviceFailure
func (e Exception) Quality() scada.Quality {
	switch e {
	case IllegalFunction:
		return scada.BadNotSupported
	case IllegalDataAddress:
		return scada.BadNodeIDUnknown
	case IllegalDataValue:
		return scada.BadOutOfRange
	case Acknowledge:
		return scada.BadWaitingForInitialData
	case GatewayPathUnavailable:
		return scada.BadNotConnected
	case GatewayTargetFailedToRespond:
		return scada.BadNoCommunication
	}
	return scada.BadDeviceFailure
}

// unitSilent reports whether e says the unit itself is unreachable, which
// counts against its breaker like a timeout.
func (e Exception) unitSilent() bool {
	return e == GatewayPathUnavailable || e == GatewayTargetFailedToRespond
}

// ExceptionError is a request a device answered with an exception. It
// unwraps to its Code. Whether a retry helps depends on the code: busy and
// the gateway codes are transient, the others repeat until the configuration
// or the device changes.
type ExceptionError struct {
	UnitID   uint8
	Function uint8  // the function code of the request (3 = read holding registers, ...)
	Address  uint16 // the first address of the request
	Quantity uint16 // registers or bits requested (1 for a single write)
	Code     Exception
}

// Error names the unit, the request and the exception.
func (e *ExceptionError) Error() string {
	return fmt.Sprintf("modbus: unit %d function %d address %d quantity %d: %v",
		e.UnitID, e.Function, e.Address, e.Quantity, e.Code)
}

// Unwrap returns the exception code.
func (e *ExceptionError) Unwrap() error { return e.Code }

// Is reports whether the exception matches [scada.ErrPermanent]: illegal
// function, illegal data address and illegal data value say the device does
// not have what the configuration asks of it (a function it does not
// implement, an address it does not have, a quantity or value it refuses),
// which no retry will change until the configuration or the device does.
func (e *ExceptionError) Is(target error) bool {
	return target == scada.ErrPermanent && e.Code.Permanent()
}

// Permanent reports whether the exception says the request itself is wrong
// for the device (codes 1, 2 and 3), so that repeating it cannot succeed.
func (e Exception) Permanent() bool {
	return e == IllegalFunction || e == IllegalDataAddress || e == IllegalDataValue
}

// RequestError is a request that got no usable answer: it timed out (matches
// [ErrTimeout]), the connection failed (matches [scada.ErrConnection]), or the
// answer was malformed (matches [scada.ErrBadInput]).
type RequestError struct {
	UnitID   uint8
	Function uint8
	Address  uint16
	Quantity uint16
	Err      error
}

// Error names the unit, the request and the cause.
func (e *RequestError) Error() string {
	return fmt.Sprintf("modbus: unit %d function %d address %d quantity %d: %v",
		e.UnitID, e.Function, e.Address, e.Quantity, e.Err)
}

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// TagError is a write or lookup refused for one tag. It unwraps to
// [scada.ErrUnknownTag], [scada.ErrNotWritable], [ErrOutOfRange] or the
// request's error.
type TagError struct {
	Tag string
	Err error
}

// Error names the tag and the cause.
func (e *TagError) Error() string { return fmt.Sprintf("modbus: tag %q: %v", e.Tag, e.Err) }

// Unwrap returns the cause.
func (e *TagError) Unwrap() error { return e.Err }

var (
	// ErrTimeout marks a request the device did not answer in Config.Timeout.
	// Retrying is safe for reads; a write may or may not have happened. The
	// connection stays usable (a late answer is recognised and dropped), but
	// Run ends with a connection error when every unit stops answering.
	ErrTimeout = errors.New("modbus: request timed out")
	// ErrOutOfRange marks a write whose value does not fit the tag's type
	// (after Scale and Offset), or is NaN or infinite. Not retryable.
	ErrOutOfRange = errors.New("modbus: value out of range for the tag's type")
	// ErrUnitUnavailable marks a request skipped because the unit's breaker is
	// open after repeated silence. Retry after Config.UnitCooldown.
	ErrUnitUnavailable = errors.New("modbus: unit skipped while its breaker is open")
	// ErrRunning is returned by Run when the Source is already running. Not
	// retryable: a Source is one connection.
	ErrRunning = errors.New("modbus: source is already running")
)

// errDecode marks registers that could not be decoded.
var errDecode = fmt.Errorf("cannot decode registers: %w", scada.ErrBadInput)
