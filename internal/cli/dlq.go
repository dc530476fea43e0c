package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/natsfn/natsfn/runtime/deadletter"
	ucli "github.com/urfave/cli/v3"
)

func dlqCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "dlq",
		Usage: "inspect and replay dead letters: events that could not be processed",
		Description: "Dead letters live in the " + deadletter.Name + " stream with their original subject, payload and\n" +
			"headers, the function, the last error, the delivery count and the time. Replaying one\n" +
			"republishes it to its original subject and removes it once JetStream has stored it.",
		Flags: append([]ucli.Flag{natsURLFlag()}, natsAuthFlags()...),
		Commands: []*ucli.Command{
			{
				Name: "list", Usage: "list dead letters, oldest first",
				Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "function", Usage: "only this function (service/function or function)"},
					&ucli.BoolFlag{Name: "json", Usage: "print JSON lines instead of a table"},
				},
				Action: withDeadLetters(dlqList),
			},
			{
				Name: "show", Usage: "print one dead letter: reason, headers and payload", ArgsUsage: "<id>",
				Action: withDeadLetters(dlqShow),
			},
			{
				Name: "replay", Usage: "republish dead letters to their original subjects", ArgsUsage: "<id>... | --all",
				Flags:  []ucli.Flag{&ucli.BoolFlag{Name: "all", Usage: "replay every dead letter"}},
				Action: withDeadLetters(dlqReplay),
			},
		},
	}
}

func withDeadLetters(f func(context.Context, *ucli.Command, *deadletter.Stream) error) ucli.ActionFunc {
	return func(ctx context.Context, cmd *ucli.Command) error {
		url := cmd.String("nats-url")
		opts, err := natsOptions(cmd)
		if err != nil {
			return err
		}
		nc, err := nats.Connect(url, append(opts, nats.Name("natsfn-dlq"), nats.Timeout(5*time.Second))...)
		if err != nil {
			return fmt.Errorf("connect to NATS at %s: %w (set --nats-url or NATS_URL)", url, err)
		}
		defer nc.Close()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		d, err := deadletter.Open(ctx, nc)
		if err != nil {
			return err
		}
		return f(ctx, cmd, d)
	}
}

func dlqList(ctx context.Context, cmd *ucli.Command, d *deadletter.Stream) error {
	list, err := d.List(ctx)
	if err != nil {
		return err
	}
	if f := cmd.String("function"); f != "" {
		kept := list[:0]
		for _, dl := range list {
			if dl.Function == f || dl.Service+"/"+dl.Function == f {
				kept = append(kept, dl)
			}
		}
		list = kept
	}
	w := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(w)
		for _, dl := range list {
			_ = enc.Encode(dlqJSON(dl))
		}
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tFUNCTION\tSUBJECT\tCLASS\tDELIVERIES\tERROR")
	for _, dl := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s/%s\t%s\t%s\t%d\t%s\n", dl.ID, dl.Time.Local().Format(time.DateTime),
			dl.Service, dl.Function, dl.Subject, dl.Class, dl.Deliveries, truncate(dl.Error, 80))
	}
	return tw.Flush()
}

func dlqShow(ctx context.Context, cmd *ucli.Command, d *deadletter.Stream) error {
	ids, err := parseIDs(cmd.Args().Slice())
	if err != nil || len(ids) != 1 {
		return fmt.Errorf("name one dead letter id, e.g. `natsfn dlq show 3` (ids are in `natsfn dlq list`)")
	}
	dl, err := d.Get(ctx, ids[0])
	if err != nil {
		return err
	}
	w := cmd.Root().Writer
	fmt.Fprintf(w, "id:          %d\nfunction:    %s/%s\nsubject:     %s (stream %s, sequence %d)\nclass:       %s\ndeliveries:  %d\ntime:        %s\nerror:       %s\n",
		dl.ID, dl.Service, dl.Function, dl.Subject, dl.Stream, dl.Sequence, dl.Class, dl.Deliveries, dl.Time.Local().Format(time.RFC3339), dl.Error)
	fmt.Fprintln(w, "headers:")
	keys := make([]string, 0, len(dl.Header))
	for k := range dl.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, dl.Header.Get(k))
	}
	fmt.Fprintln(w, "payload:")
	printPayload(w, dl.Data)
	return nil
}

func dlqReplay(ctx context.Context, cmd *ucli.Command, d *deadletter.Stream) error {
	ids, err := parseIDs(cmd.Args().Slice())
	if err != nil {
		return err
	}
	if cmd.Bool("all") {
		if len(ids) > 0 {
			return fmt.Errorf("give ids or --all, not both")
		}
		list, err := d.List(ctx)
		if err != nil {
			return err
		}
		var skipped []string
		for _, dl := range list {
			if !deadletter.Replayable(dl) {
				skipped = append(skipped, strconv.FormatUint(dl.ID, 10))
				continue // a key change or a tick (see deadletter.Stream.Replay)
			}
			ids = append(ids, dl.ID)
		}
		if len(skipped) > 0 {
			fmt.Fprintf(cmd.Root().Writer, "skipped %d key changes and ticks (%s): they are not replayed, see `natsfn dlq show <id>`\n",
				len(skipped), strings.Join(skipped, ", "))
		}
	} else if len(ids) == 0 {
		return fmt.Errorf("name the dead letters to replay (ids from `natsfn dlq list`), or --all")
	}
	w := cmd.Root().Writer
	for i, id := range ids {
		if err := d.Replay(ctx, id); err != nil {
			return fmt.Errorf("%w (%d of %d replayed before this one)", err, i, len(ids))
		}
		fmt.Fprintf(w, "replayed %d (%d/%d)\n", id, i+1, len(ids))
	}
	if len(ids) == 0 {
		fmt.Fprintln(w, "no dead letters to replay")
	}
	return nil
}

func parseIDs(args []string) ([]uint64, error) {
	var ids []uint64
	for _, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%q is not a dead letter id (a positive number from `natsfn dlq list`)", a)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func dlqJSON(dl deadletter.Letter) map[string]any {
	return map[string]any{
		"id": dl.ID, "time": dl.Time, "service": dl.Service, "function": dl.Function, "subject": dl.Subject,
		"stream": dl.Stream, "sequence": dl.Sequence, "class": dl.Class, "deliveries": dl.Deliveries,
		"error": dl.Error, "headers": dl.Header, "payload": json.RawMessage(validJSONOr(dl.Data)),
	}
}

func validJSONOr(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

func printPayload(w io.Writer, data []byte) {
	var buf bytes.Buffer
	if json.Indent(&buf, data, "  ", "  ") == nil {
		fmt.Fprintf(w, "  %s\n", buf.String())
		return
	}
	fmt.Fprintf(w, "  %q\n", data)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
