package scada

import "fmt"

// Quality is an OPC UA status code (OPC UA Part 4, 7.39) used as the quality of a
// Point, whatever protocol delivered it. The top two bits are the severity:
// 00 Good, 01 Uncertain, 10 Bad (11 is reserved and treated as Bad). The
// remaining bits are the sub-code and info bits.
//
// Classify a Quality with [Quality.IsGood], [Quality.IsUncertain] and
// [Quality.IsBad], never by comparing with [Good]: a Good-with-info code such as
// [GoodClamped] is still Good.
type Quality uint32

// Status codes used across the SDK. The values are those of the OPC UA
// specification, so codes received from an OPC UA server are kept as they are.
const (
	Good              Quality = 0x00000000
	GoodClamped       Quality = 0x00300000 // the value was clamped to its limits
	GoodLocalOverride Quality = 0x00960000 // the value is forced locally

	Uncertain                         Quality = 0x40000000
	UncertainLastUsableValue          Quality = 0x40900000 // the source stopped updating; last value kept
	UncertainInitialValue             Quality = 0x40920000
	UncertainSensorNotAccurate        Quality = 0x40930000
	UncertainEngineeringUnitsExceeded Quality = 0x40940000 // outside the configured range
	UncertainSubNormal                Quality = 0x40950000
	UncertainConfigurationError       Quality = 0x420F0000 // a missing or doubtful configuration (no unit, say)

	Bad                      Quality = 0x80000000
	BadInternalError         Quality = 0x80020000
	BadCommunicationError    Quality = 0x80050000
	BadDecodingError         Quality = 0x80070000 // the payload or registers could not be decoded
	BadTimeout               Quality = 0x800A0000
	BadUserAccessDenied      Quality = 0x801F0000
	BadNoCommunication       Quality = 0x80310000 // the connection to the device is lost
	BadWaitingForInitialData Quality = 0x80320000
	BadNodeIDUnknown         Quality = 0x80340000 // the tag does not exist on the server
	BadNotReadable           Quality = 0x803A0000
	BadNotWritable           Quality = 0x803B0000
	BadOutOfRange            Quality = 0x803C0000
	BadNotSupported          Quality = 0x803D0000
	BadInvalidTimestamp      Quality = 0x80230000 // the timestamp is ahead of the clock
	BadTypeMismatch          Quality = 0x80740000
	BadConfigurationError    Quality = 0x80890000
	BadNotConnected          Quality = 0x808A0000
	BadDeviceFailure         Quality = 0x808B0000 // the device reported an error (a Modbus exception, say)
	BadSensorFailure         Quality = 0x808C0000
	BadOutOfService          Quality = 0x808D0000
	BadNoData                Quality = 0x809B0000
	BadDataLost              Quality = 0x809D0000
)

const severityMask Quality = 0xC0000000

// IsGood reports whether q has Good severity, whatever its sub-code.
func (q Quality) IsGood() bool { return q&severityMask == 0 }

// IsUncertain reports whether q has Uncertain severity.
func (q Quality) IsUncertain() bool { return q&severityMask == 0x40000000 }

// IsBad reports whether q has Bad severity (or the reserved severity 11).
func (q Quality) IsBad() bool { return q&0x80000000 != 0 }

// Severity returns q with only its severity bits: Good, Uncertain or Bad.
func (q Quality) Severity() Quality {
	if q.IsBad() {
		return Bad
	}
	return q & severityMask
}

// Code returns q without its info bits (the low 16 bits), as OPC UA compares codes.
func (q Quality) Code() Quality { return q & 0xFFFF0000 }

var qualityNames = map[Quality]string{
	Good: "Good", GoodClamped: "GoodClamped", GoodLocalOverride: "GoodLocalOverride",
	Uncertain: "Uncertain", UncertainLastUsableValue: "UncertainLastUsableValue",
	UncertainInitialValue: "UncertainInitialValue", UncertainSensorNotAccurate: "UncertainSensorNotAccurate",
	UncertainEngineeringUnitsExceeded: "UncertainEngineeringUnitsExceeded", UncertainSubNormal: "UncertainSubNormal",
	UncertainConfigurationError: "UncertainConfigurationError", BadInvalidTimestamp: "BadInvalidTimestamp",
	Bad: "Bad", BadInternalError: "BadInternalError", BadCommunicationError: "BadCommunicationError",
	BadDecodingError: "BadDecodingError", BadTimeout: "BadTimeout", BadUserAccessDenied: "BadUserAccessDenied",
	BadNoCommunication: "BadNoCommunication", BadWaitingForInitialData: "BadWaitingForInitialData",
	BadNodeIDUnknown: "BadNodeIdUnknown", BadNotReadable: "BadNotReadable", BadNotWritable: "BadNotWritable",
	BadOutOfRange: "BadOutOfRange", BadNotSupported: "BadNotSupported", BadTypeMismatch: "BadTypeMismatch",
	BadConfigurationError: "BadConfigurationError", BadNotConnected: "BadNotConnected",
	BadDeviceFailure: "BadDeviceFailure", BadSensorFailure: "BadSensorFailure", BadOutOfService: "BadOutOfService",
	BadNoData: "BadNoData", BadDataLost: "BadDataLost",
}

// String returns the OPC UA name of q's code, or its severity and hex value when
// the code is not one this package names.
func (q Quality) String() string {
	if n, ok := qualityNames[q.Code()]; ok {
		return n
	}
	return fmt.Sprintf("%s(0x%08X)", qualityNames[q.Severity()], uint32(q))
}
