package opcua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/greenlang/gl001/scada"
)

// CallError is a method call the server refused or that failed: the
// method's own status and the status of each input argument the server
// checked (InputArguments, in order; empty when the server reported none).
// errors.Is matches a *StatusError of the method's status (e.g.
// &StatusError{Code: BadMethodInvalid}) and each failed argument's
// *ArgumentError.
type CallError struct {
	Object, Method string
	Code           scada.Quality   // the method's status
	InputArguments []scada.Quality // per input argument
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "opcua: call %s on %s: %v", e.Method, e.Object, (&StatusError{Op: "Call", Code: e.Code}).Error())
	for i, c := range e.InputArguments {
		if c.IsBad() {
			fmt.Fprintf(&b, "; argument %d: %v", i, c)
		}
	}
	return b.String()
}

// Unwrap returns the method's *StatusError and an *ArgumentError for each
// input argument with a Bad status.
func (e *CallError) Unwrap() []error {
	errs := []error{&StatusError{Op: "Call", Code: e.Code}}
	for i, c := range e.InputArguments {
		if c.IsBad() {
			errs = append(errs, &ArgumentError{Index: i, Code: c})
		}
	}
	return errs
}

// ArgumentError is the status of one input argument of a method call.
// errors.Is matches another *ArgumentError with the same index and code.
type ArgumentError struct {
	Index int
	Code  scada.Quality
}

func (e *ArgumentError) Error() string {
	return fmt.Sprintf("opcua: argument %d: %v", e.Index, e.Code)
}

// Is matches an *ArgumentError with the same index and code.
func (e *ArgumentError) Is(target error) bool {
	t, ok := target.(*ArgumentError)
	return ok && t.Index == e.Index && t.Code.Code() == e.Code.Code()
}

// ErrArgument marks an input argument of Call that has no OPC UA type (a
// Go value gopcua cannot encode). Not retryable.
var ErrArgument = errors.New("opcua: argument has no OPC UA type")

// Call calls method on object (both node ids in any form Tag.NodeID
// accepts) with the input arguments args and returns the output arguments.
//
// Arguments are typed as OPC UA types by their Go type: int32 is Int32,
// float64 Double, string String, []byte ByteString, bool Boolean,
// time.Time DateTime, *ua.LocalizedText LocalizedText, *ua.NodeID NodeId;
// the server checks them against the method's signature. Outputs come back
// as gopcua decodes them, in the same types.
//
// A refused call is a *CallError carrying the method's status and each
// argument's. Like Write, Call uses the session of the current Run, or a
// short-lived connection of its own when Run is not connected.
func (s *Source) Call(ctx context.Context, object, method string, args ...any) ([]any, error) {
	in := make([]*ua.Variant, len(args))
	for i, a := range args {
		v, err := ua.NewVariant(a)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %d (%T): %v", ErrArgument, i, a, err)
		}
		in[i] = v
	}
	var out []any
	err := s.withSession(ctx, func(ss *session) error {
		var err error
		out, err = ss.callMethod(ctx, object, method, in)
		return err
	})
	return out, err
}

// callMethod calls one method with its arguments already typed.
func (ss *session) callMethod(ctx context.Context, object, method string, in []*ua.Variant) ([]any, error) {
	ns := ss.c.Namespaces()
	obj, err := ua.ParseExpandedNodeID(object, ns)
	if err != nil {
		return nil, fmt.Errorf("opcua: call: object %q: %w", object, err)
	}
	meth, err := ua.ParseExpandedNodeID(method, ns)
	if err != nil {
		return nil, fmt.Errorf("opcua: call: method %q: %w", method, err)
	}
	if in == nil {
		in = []*ua.Variant{}
	}
	res, err := call[*ua.CallResponse](ctx, ss, "Call", &ua.CallRequest{MethodsToCall: []*ua.CallMethodRequest{{
		ObjectID: obj.NodeID, MethodID: meth.NodeID, InputArguments: in,
	}}})
	if err != nil {
		return nil, err
	}
	if len(res.Results) != 1 || res.Results[0] == nil {
		return nil, fmt.Errorf("opcua: call %s: %d results for 1 method: %w", method, len(res.Results), scada.ErrBadInput)
	}
	r := res.Results[0]
	bad := scada.Quality(r.StatusCode).IsBad()
	args := make([]scada.Quality, len(r.InputArgumentResults))
	for i, c := range r.InputArgumentResults {
		args[i] = scada.Quality(c)
		bad = bad || args[i].IsBad()
	}
	if bad {
		return nil, &CallError{Object: object, Method: method, Code: scada.Quality(r.StatusCode), InputArguments: args}
	}
	out := make([]any, len(r.OutputArguments))
	for i, v := range r.OutputArguments {
		if v != nil {
			out[i] = v.Value()
		}
	}
	return out, nil
}

// ErrNotCondition is returned by Acknowledge and Confirm for an event that
// is not a condition's (no Condition or no ID). Not retryable.
var ErrNotCondition = errors.New("opcua: the event is not a condition's")

// Acknowledge acknowledges the condition state ev reported
// (AcknowledgeableConditionType.Acknowledge, called on the condition with
// ev.ID and comment). It implements scada.ConditionAcker.
func (s *Source) Acknowledge(ctx context.Context, ev scada.Event, comment string) error {
	return s.ackOrConfirm(ctx, ev, comment, id.AcknowledgeableConditionType_Acknowledge)
}

// Confirm confirms the condition state ev reported
// (AcknowledgeableConditionType.Confirm). It implements scada.ConditionAcker.
func (s *Source) Confirm(ctx context.Context, ev scada.Event, comment string) error {
	return s.ackOrConfirm(ctx, ev, comment, id.AcknowledgeableConditionType_Confirm)
}

func (s *Source) ackOrConfirm(ctx context.Context, ev scada.Event, comment string, method uint32) error {
	if ev.Condition == nil || ev.Condition.ID == "" || len(ev.ID) == 0 {
		return ErrNotCondition
	}
	_, err := s.Call(ctx, ev.Condition.ID, ua.NewNumericNodeID(0, method).String(), ev.ID, ua.NewLocalizedText(comment))
	return err
}

var _ scada.ConditionAcker = (*Source)(nil)
