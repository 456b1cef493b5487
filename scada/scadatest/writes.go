package scadatest

import (
	"fmt"

	"github.com/greenlang/gl001/scada"
)

// IgnoreWrites makes the server accept every write to its holding registers
// and coils (a normal answer) while keeping the old values, as a device in
// local control, or one whose program overwrites the setpoint, does.
// IgnoreWrites(false) lets writes through again.
func (s *ModbusServer) IgnoreWrites(on bool) { s.ignoreWrites.Store(on) }

// RefuseWrites makes the server answer BadUserAccessDenied to writes of
// tag, as a device that refuses a write it would otherwise take does.
func (s *OPCUAServer) RefuseWrites(tag string, on bool) error {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	v, ok := s.ns.byName[tag]
	if !ok || v.removed {
		return fmt.Errorf("scadatest: opcua tag %q: %w", tag, scada.ErrUnknownTag)
	}
	v.refuseWrites = on
	return nil
}

// IgnoreWrites makes the server answer Good to writes of tag while keeping
// its old value (and sending no change), as a device in local control does.
// IgnoreWrites(tag, false) lets writes through again.
func (s *OPCUAServer) IgnoreWrites(tag string, on bool) error {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	v, ok := s.ns.byName[tag]
	if !ok || v.removed {
		return fmt.Errorf("scadatest: opcua tag %q: %w", tag, scada.ErrUnknownTag)
	}
	v.ignoreWrites = on
	return nil
}
