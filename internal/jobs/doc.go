// Package jobs runs the platform's long work as durable jobs on River: a job is a
// row in a database, not a goroutine, so it survives a restart of the process that
// asked for it, is retried with backoff when an attempt fails, can be unique while
// it is pending, and is taken by any process that works its queue.
//
// Two engines, chosen by the DSN: PostgreSQL (postgres://…, through pgx) for
// several processes on several machines, and SQLite (sqlite://path or a bare path)
// for the embedded default. River's SQLite driver wants one writer connection, so a
// Queue on SQLite opens its own file (conventionally <store>/.xinyi/jobs.db, beside
// the metadata database, never the same file) with a pool of one connection.
// River's own migrator brings its tables up to date at Open.
//
// River records a job's metadata only when an attempt ends, so live progress is kept
// in a table of this package (xinyi_job_progress, in the same database): a worker
// reports done/total and a note through Progress, and List and Get join it.
//
// The package holds no domain logic: a domain package defines its job arguments
// (a type with Kind) and a handler, and registers it with Handle.
//
//	ws := jobs.NewWorkers()
//	jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[ScreenArgs]) error {
//		j.Progress.Report(ctx, 10, 100, "scoring")
//		return jobs.RecordOutput(ctx, result)
//	})
//	q, err := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{"default": 2}})
//	q.Start(ctx)
//	ins, err := q.Insert(ctx, ScreenArgs{…}, jobs.InsertOptions{})
//	info, err := q.Get(ctx, ins.ID)
package jobs
