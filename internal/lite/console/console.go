package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nebula-open/nebula-br/internal/nebula/client"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula/graph"
)

// Executor runs one statement; *client.GraphClient is one.
type Executor interface {
	Execute(ctx context.Context, stmt string) (*graph.ExecutionResponse, error)
}

// Console prints statements' results to Out and errors to Err.
type Console struct {
	Exec Executor
	User string // for the prompt
	Out  io.Writer
	Err  io.Writer

	space string // current space, from the last answer
}

// Space is the session's current space as graphd last reported it.
func (c *Console) Space() string { return c.space }

// Prompt is nebula-console's prompt, e.g. "(root@nebula) [(none)]> ".
func (c *Console) Prompt() string {
	space := c.space
	if space == "" {
		space = "(none)"
	}
	user := c.User
	if user == "" {
		user = "root"
	}
	return fmt.Sprintf("(%s@nebula) [%s]> ", user, space)
}

// Run executes one statement and prints its answer: a table and
// "Got N rows (time spent X us)", or "Execution succeeded (time spent X
// us)" for statements without data. A failure is printed to Err as
// "[ERROR (code)]: message" and returned.
func (c *Console) Run(ctx context.Context, stmt string) error {
	resp, err := c.Exec.Execute(ctx, stmt)
	if resp != nil && len(resp.SpaceName) > 0 {
		c.space = string(resp.SpaceName)
	}
	if err != nil {
		fmt.Fprintln(c.Err, ErrorLine(err))
		return err
	}
	return WriteResponse(c.Out, resp)
}

// RunScript runs every statement of text (see Split) and stops at the
// first failure, which it returns (already printed).
func (c *Console) RunScript(ctx context.Context, text string) error {
	for _, stmt := range Split(text) {
		if err := c.Run(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// Interactive reads statements from in: a statement ends at ';' or at the
// end of a line (a line ending in '\' or inside a quoted string goes on on
// the next one); "exit" or "quit" ends it. With prompt, the prompt is written to Out before each
// line. With stopOnError it returns the first failure; otherwise failures
// are printed and reading goes on, and the last one is returned at the
// end of the input.
func (c *Console) Interactive(ctx context.Context, in io.Reader, prompt, stopOnError bool) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var pending strings.Builder
	var last error
	for {
		if prompt {
			if pending.Len() == 0 {
				fmt.Fprint(c.Out, c.Prompt())
			} else {
				fmt.Fprint(c.Out, "... ")
			}
		}
		if !sc.Scan() {
			break
		}
		line := sc.Text()
		if strings.HasSuffix(line, "\\") && !openQuote(pending.String()+line) {
			pending.WriteString(strings.TrimSuffix(line, "\\"))
			pending.WriteByte('\n')
			continue
		}
		pending.WriteString(line)
		text := pending.String()
		if openQuote(text) {
			pending.WriteByte('\n')
			continue
		}
		pending.Reset()
		if isQuit(text) {
			return last
		}
		for _, stmt := range Split(text) {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := c.Run(ctx, stmt); err != nil {
				if stopOnError {
					return err
				}
				last = err
			}
		}
	}
	if prompt {
		fmt.Fprintln(c.Out)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if rest := strings.TrimSpace(pending.String()); rest != "" {
		for _, stmt := range Split(rest) {
			if err := c.Run(ctx, stmt); err != nil {
				if stopOnError {
					return err
				}
				last = err
			}
		}
	}
	return last
}

func isQuit(text string) bool {
	switch strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";"))) {
	case "exit", "quit", ":exit", ":quit":
		return true
	}
	return false
}

// WriteResponse prints a successful answer: its DataSet as a table and
// "Got N rows (time spent X us)", or "Execution succeeded (time spent X
// us)" when it carries no data.
func WriteResponse(w io.Writer, resp *graph.ExecutionResponse) error {
	var latency int64
	var ds *nebula.DataSet
	if resp != nil {
		latency, ds = resp.LatencyInUs, resp.Data
	}
	if ds == nil || len(ds.ColumnNames) == 0 && len(ds.Rows) == 0 {
		_, err := fmt.Fprintf(w, "Execution succeeded (time spent %d us)\n\n", latency)
		return err
	}
	if err := WriteTable(w, ds); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "Got %d rows (time spent %d us)\n\n", len(ds.Rows), latency)
	return err
}

// ErrorLine renders a failure as nebula-console does:
// "[ERROR (-1009)]: SemanticError: ...". A server that cannot be reached
// is E_FAIL_TO_CONNECT (-2); other failures without a server code (lost
// connection, timeout) are E_RPC_FAILURE (-3).
func ErrorLine(err error) string {
	var ce *client.CodeError
	if errors.As(err, &ce) {
		msg := ce.Msg
		if msg == "" {
			msg = ce.Code.String()
		}
		return fmt.Sprintf("[ERROR (%d)]: %s", int64(ce.Code), msg)
	}
	code := nebula.ErrorCode_E_RPC_FAILURE
	var te *client.TransportError
	if errors.As(err, &te) && te.Method == "" {
		code = nebula.ErrorCode_E_FAIL_TO_CONNECT
	}
	return fmt.Sprintf("[ERROR (%d)]: %s", int64(code), err)
}
