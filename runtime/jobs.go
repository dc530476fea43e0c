package natsfn

import (
	"context"
	"time"
)

// Job is periodic work of a service that no request or event starts, e.g.
// cancelling orders that waited too long. Every replica runs it, so a job
// must be safe to run concurrently (compare-and-set, not read-then-write).
type Job struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// runJobs runs every job of every service until ctx ends. A job's context
// reaches the service's buckets (KV), JetStream and a logger, and Emit
// publishes at once (there is no input to acknowledge).
func (rt *Runtime) runJobs(ctx context.Context) {
	for _, def := range rt.services {
		for _, j := range def.Jobs {
			log := rt.log.With().Str("service", def.Name).Str("job", j.Name).Logger()
			jctx := context.WithValue(log.WithContext(ctx), runtimeKey, rt)
			rt.jobs.Add(1)
			go func() {
				defer rt.jobs.Done()
				tick := time.NewTicker(j.Every)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					if err := j.Run(jctx); err != nil && ctx.Err() == nil {
						log.Warn().AnErr("cause", err).Msg("job failed; next run in " + j.Every.String())
					}
				}
			}()
		}
	}
}
