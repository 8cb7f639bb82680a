package console

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nebula-open/nebula-br/internal/nebula/gen/nebula"
)

// Fingerprint runs `USE <space>; SHOW FINGERPRINT` (a nebula-lite
// statement answering one row per tag and edge type, columns Kind, Name,
// Count, Hash, and a final row of Kind "space" with the whole space's
// hash) and returns the DataSet with the space's hash.
func Fingerprint(ctx context.Context, exec Executor, space string) (*nebula.DataSet, string, error) {
	if _, err := exec.Execute(ctx, "USE "+QuoteName(space)); err != nil {
		return nil, "", err
	}
	resp, err := exec.Execute(ctx, "SHOW FINGERPRINT")
	if err != nil {
		return nil, "", err
	}
	ds := resp.Data
	if ds == nil {
		return nil, "", fmt.Errorf("SHOW FINGERPRINT answered no data")
	}
	kind, hash := -1, -1
	for i, c := range ds.ColumnNames {
		switch strings.ToLower(string(c)) {
		case "kind":
			kind = i
		case "hash":
			hash = i
		}
	}
	if kind < 0 || hash < 0 {
		return ds, "", fmt.Errorf("SHOW FINGERPRINT: want columns Kind and Hash, got %q", ds.ColumnNames)
	}
	for _, r := range ds.Rows {
		if len(r.Values) <= max(kind, hash) {
			continue
		}
		if k := r.Values[kind]; k != nil && strings.EqualFold(string(k.SVal), "space") {
			return ds, RawString(r.Values[hash]), nil
		}
	}
	return ds, "", fmt.Errorf("SHOW FINGERPRINT: no row of Kind \"space\"")
}

// RawString is a value as text without quotes: strings as they are,
// integers in decimal, anything else as FormatValue shows it.
func RawString(v *nebula.Value) string {
	switch {
	case v == nil:
		return ""
	case v.SVal != nil:
		return string(v.SVal)
	case v.IVal != nil:
		return strconv.FormatInt(*v.IVal, 10)
	}
	return FormatValue(v)
}

// QuoteName quotes an identifier with backticks unless it is a plain
// name (letters, digits, '_', not starting with a digit).
func QuoteName(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r)) || r > unicode.MaxASCII {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "\\`") + "`"
}
