package transform

import (
	"context"
	"fmt"

	"github.com/greenlang/gl001/scada"
)

// Pipeline turns a batch of points into a batch of points. Every stage of this
// package is a Pipeline, and [Chain] composes them.
//
// Process may modify the points of batch in place and may return batch itself,
// shortened (a filter) or not: the caller hands batch over and gets the result
// back, and must not use batch afterwards. A stage never keeps the slice past
// the call; stages that keep state (last values, windows) copy what they need.
//
// Stages never drop a point for being bad: they mark it (its Quality) and pass
// it on. Only filters whose purpose is to reduce the stream (deadband,
// dedupe) leave points out. Process returns an error only when it cannot run at
// all (ctx ended); bad data is never an error.
type Pipeline interface {
	Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error)
}

// Func adapts a function to a Pipeline.
type Func func(ctx context.Context, batch []scada.Point) ([]scada.Point, error)

// Process calls f(ctx, batch).
func (f Func) Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
	return f(ctx, batch)
}

// Chain returns a Pipeline that runs stages in order, each on the output of the
// one before. Nil stages are skipped; a Chain of no stages returns its batch
// unchanged. Before each stage it checks ctx, and it stops at the first error,
// returning the batch as the failing stage left it and the error wrapped with
// the stage's position.
func Chain(stages ...Pipeline) Pipeline {
	var c chain
	for _, s := range stages {
		switch s := s.(type) {
		case nil:
		case chain:
			c = append(c, s...)
		default:
			c = append(c, s)
		}
	}
	return c
}

type chain []Pipeline

func (c chain) Process(ctx context.Context, batch []scada.Point) ([]scada.Point, error) {
	for i, s := range c {
		if err := ctx.Err(); err != nil {
			return batch, err
		}
		out, err := s.Process(ctx, batch)
		if err != nil {
			return out, fmt.Errorf("transform: stage %d (%T): %w", i, s, err)
		}
		batch = out
	}
	return batch, nil
}
